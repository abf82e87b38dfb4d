import { useEffect, useRef, useState, type ReactNode } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import type { Data } from '@generated/data.js'
import { formatCents, formatDate } from '~/lib/format.js'
import CheckoutButton from '~/components/checkout_button.js'

type Plan = 'free' | 'premium'

type Limits = {
  plan: Plan
  projects: { used: number; limit: number }
  /** `limit` is the plan's deploys (`planLimit`) plus purchased slots. */
  deploys: { used: number; limit: number; planLimit: number }
  slots: number
}

/** Which limit the last action hit (flashed by LimitExceededException). */
type LimitHit = {
  /** New for every refusal. */
  id: string
  kind: 'projects' | 'deploys'
  limit: number
  plan: string
  slots: number
  message: string
}

type Props = {
  projects: Data.Project[]
  limits: Limits
  premium: { projects: number; deploys: number; priceCents: number; interval: string }
  deploySlot: { priceCents: number }
  currency: string
  limitHit: LimitHit | null
}

function plural(count: number, word: string) {
  return `${count} ${word}${count === 1 ? '' : 's'}`
}

function formatDateTime(iso: string | null) {
  if (!iso) return ''
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso))
}

/** Deployed since …, Stopped (with the reason when one was recorded) or Not deployed. */
function DeployState({ project }: { project: Data.Project }) {
  if (project.isDeployed) {
    return (
      <p className="deploy-state small">
        <span className="badge badge-live">Live</span> Deployed since {formatDateTime(project.deployedAt)}
      </p>
    )
  }
  return (
    <p className="deploy-state small">
      <span className="badge badge-stopped">{project.deployedAt ? 'Stopped' : 'Not deployed'}</span>
      {project.stoppedReason ? <span className="deploy-reason"> {project.stoppedReason}</span> : null}
    </p>
  )
}

function ProjectRow({ project }: { project: Data.Project }) {
  const [editing, setEditing] = useState(false)

  return (
    <li className="project">
      <div className="project-icon" aria-hidden="true">
        {project.name.charAt(0).toUpperCase()}
      </div>
      {editing ? (
        <Form
          action={`/projects/${project.id}`}
          method="put"
          className="project-rename"
          onSuccess={() => setEditing(false)}
          options={{ preserveScroll: true }}
        >
          {({ errors, processing }) => (
            <>
              <label className="sr-only" htmlFor={`rename-${project.id}`}>
                New name for {project.name}
              </label>
              <input
                id={`rename-${project.id}`}
                name="name"
                defaultValue={project.name}
                maxLength={80}
                required
                autoFocus
                aria-invalid={errors.name ? true : undefined}
                aria-describedby={errors.name ? `rename-${project.id}-error` : undefined}
              />
              <button type="submit" className="button button-primary button-small" disabled={processing}>
                Save
              </button>
              <button type="button" className="button button-ghost button-small" onClick={() => setEditing(false)}>
                Cancel
              </button>
              {errors.name ? (
                <p className="field-error" id={`rename-${project.id}-error`}>
                  {errors.name}
                </p>
              ) : null}
            </>
          )}
        </Form>
      ) : (
        <div className="project-body">
          <h3>{project.name}</h3>
          <p className="muted small">
            {project.slug} · created {formatDate(project.createdAt)}
          </p>
          <DeployState project={project} />
        </div>
      )}
      {!editing ? (
        <div className="project-actions">
          <Form
            action={`/projects/${project.id}/deploy`}
            method={project.isDeployed ? 'delete' : 'post'}
            options={{ preserveScroll: true }}
          >
            {({ processing }) => (
              <button
                type="submit"
                className={`button button-small ${project.isDeployed ? 'button-secondary' : 'button-primary'}`}
                disabled={processing}
              >
                {project.isDeployed ? 'Undeploy' : 'Deploy'}
                <span className="sr-only"> {project.name}</span>
              </button>
            )}
          </Form>
          <button type="button" className="button button-ghost button-small" onClick={() => setEditing(true)}>
            Rename<span className="sr-only"> {project.name}</span>
          </button>
          <Form
            action={`/projects/${project.id}`}
            method="delete"
            onBefore={() => window.confirm(`Delete "${project.name}"? This cannot be undone.`)}
            options={{ preserveScroll: true }}
          >
            <button type="submit" className="button button-danger button-small">
              Delete<span className="sr-only"> {project.name}</span>
            </button>
          </Form>
        </div>
      ) : null}
    </li>
  )
}

/** A labelled usage meter (projects, deployments). */
function Meter(props: { label: string; used: number; limit: number; unit: string; children?: ReactNode }) {
  const { used, limit } = props
  const width = Math.min(100, Math.round((used / Math.max(1, limit)) * 100))
  return (
    <div
      className="usage-meter"
      role="meter"
      aria-label={props.label}
      aria-valuenow={used}
      aria-valuemin={0}
      aria-valuemax={limit}
      aria-valuetext={`${used} of ${limit} ${props.unit} used`}
    >
      <div className="usage-meter-label">
        <span>
          {used} / {limit} {props.unit}
        </span>
        {props.children}
      </div>
      <div className="usage-meter-bar">
        <div className={used >= limit ? 'usage-meter-fill full' : 'usage-meter-fill'} style={{ width: `${width}%` }} />
      </div>
    </div>
  )
}

/** From 80% of the project limit: how many are used, and what happens over the limit. */
function ProjectLimitBanner({ limits, premium }: Pick<Props, 'limits' | 'premium'>) {
  const { used, limit } = limits.projects
  if (used < limit * 0.8) return null
  const isFree = limits.plan === 'free'
  const upsell = isFree ? ` Premium gives you ${premium.projects}.` : ''

  let text: string
  if (used > limit) {
    text = `You are over your plan's limit: ${plural(used, 'project')} on a plan that allows ${limit}. Your projects stay readable, but new projects need ${isFree ? 'Premium' : 'fewer projects: delete some to get under the limit'}.`
  } else if (used === limit) {
    text = `You have used all ${plural(limit, 'project')} of your plan. ${isFree ? `Premium gives you ${premium.projects}.` : 'Delete one to start another.'}`
  } else {
    text = `You have used ${used} of ${plural(limit, 'project')}.${upsell}`
  }
  return (
    <div className={used > limit ? 'notice limit-banner over' : 'notice limit-banner'} data-testid="project-limit-banner">
      <span>{text}</span>
      {isFree ? (
        <Link href="/plans" className="limit-banner-link">
          Compare plans
        </Link>
      ) : null}
    </div>
  )
}

/** Shown when the last action hit a limit: which one, why, and the ways past it. */
function UpgradeModal(
  props: Pick<Props, 'premium' | 'deploySlot' | 'currency' | 'limits'> & { hit: LimitHit; onClose: () => void }
) {
  const { hit, premium, deploySlot, currency, limits, onClose } = props
  const dialog = useRef<HTMLDialogElement>(null)

  useEffect(() => {
    const element = dialog.current
    if (element && !element.open) element.showModal()
  }, [])

  const isFree = limits.plan === 'free'
  const deploys = hit.kind === 'deploys'
  const title = deploys ? 'Deploy limit reached' : 'Project limit reached'
  const planName = hit.plan === 'premium' ? 'Premium' : 'Free'
  const why = deploys
    ? `Your ${planName} plan runs ${plural(hit.limit, 'deployment')} at a time${hit.slots > 0 ? `, including ${plural(hit.slots, 'purchased slot')}` : ''}, and all of them are in use.`
    : `Your ${planName} plan allows ${plural(hit.limit, 'project')}, and you have used them all.`

  return (
    <dialog
      ref={dialog}
      className="modal"
      aria-labelledby="limit-modal-title"
      aria-describedby="limit-modal-why"
      onClose={onClose}
    >
      <h2 id="limit-modal-title">{title}</h2>
      <div id="limit-modal-why">
        <p>{why}</p>
        {deploys ? (
          <p className="muted">
            Undeploy a project to free a slot
            {isFree ? `, upgrade to Premium (${plural(premium.deploys, 'deployment')})` : ''} or buy a deploy slot for{' '}
            {formatCents(deploySlot.priceCents, currency)}, yours for good.
          </p>
        ) : (
          <p className="muted">
            {isFree
              ? `Premium gives you ${plural(premium.projects, 'project')} and ${plural(premium.deploys, 'deployment')} for ${formatCents(premium.priceCents, currency)} a ${premium.interval}. Or delete a project to start another.`
              : 'Delete a project to start another.'}
          </p>
        )}
      </div>
      <div className="modal-actions">
        {isFree ? <CheckoutButton kind="premium" label="Upgrade to Premium" primary autoFocus /> : null}
        {deploys ? <CheckoutButton kind="deploy_slot" label="Buy a deploy slot" primary={!isFree} autoFocus={!isFree} /> : null}
        <button type="button" className="button button-ghost" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  )
}

export default function ProjectsIndex({ projects, limits, premium, deploySlot, currency, limitHit }: Props) {
  // Every refusal has a new id: a new hit opens the modal again, Close hides this one.
  const [closedHitId, setClosedHitId] = useState<string | null>(null)
  const showModal = limitHit !== null && limitHit.id !== closedHitId
  const planBadge = (
    <span className={`badge badge-${limits.plan}`}>{limits.plan === 'premium' ? 'Premium' : 'Free'}</span>
  )

  return (
    <>
      <Head title="Projects" />
      <div className="page-header">
        <div>
          <h1>Projects</h1>
          <p className="muted">Apps you are building with Studio's AI agents.</p>
        </div>
        <div className="meters">
          <Meter label="Projects used" used={limits.projects.used} limit={limits.projects.limit} unit="projects">
            {planBadge}
          </Meter>
          <Meter label="Deployments used" used={limits.deploys.used} limit={limits.deploys.limit} unit="deploys">
            {limits.slots > 0 ? <span>incl. {plural(limits.slots, 'slot')}</span> : null}
          </Meter>
        </div>
      </div>

      <ProjectLimitBanner limits={limits} premium={premium} />

      <section className="card" aria-labelledby="new-project-title">
        <h2 id="new-project-title">New project</h2>
        <Form action="/projects" method="post" className="inline-form" resetOnSuccess options={{ preserveScroll: true }}>
          {({ errors, processing }) => (
            <>
              <div className="field grow">
                <label htmlFor="project-name">Project name</label>
                <input
                  id="project-name"
                  name="name"
                  placeholder="My AI app"
                  maxLength={80}
                  required
                  aria-invalid={errors.name ? true : undefined}
                  aria-describedby={errors.name ? 'project-name-error' : undefined}
                />
                {errors.name ? (
                  <p className="field-error" id="project-name-error">
                    {errors.name}
                  </p>
                ) : null}
              </div>
              <button type="submit" className="button button-primary" disabled={processing}>
                Create project
              </button>
            </>
          )}
        </Form>
      </section>

      {projects.length === 0 ? (
        <div className="empty">
          <h2>No projects yet</h2>
          <p className="muted">Create your first project above to start building.</p>
        </div>
      ) : (
        <ul className="project-list" aria-label="Your projects">
          {projects.map((project) => (
            <ProjectRow key={project.id} project={project} />
          ))}
        </ul>
      )}
      <p className="muted small center">
        Need to change your details? <Link href="/profile">Edit your profile</Link>
      </p>

      {showModal ? (
        <UpgradeModal
          hit={limitHit}
          onClose={() => setClosedHitId(limitHit.id)}
          limits={limits}
          premium={premium}
          deploySlot={deploySlot}
          currency={currency}
        />
      ) : null}
    </>
  )
}
