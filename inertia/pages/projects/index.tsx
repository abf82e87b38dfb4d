import { useState } from 'react'
import { Form, Head, Link } from '@inertiajs/react'
import type { Data } from '@generated/data.js'
import { formatDate } from '~/lib/format.js'

type Props = {
  projects: Data.Project[]
  limits: { projects: number; plan: string }
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
            {project.isDeployed ? <span className="badge badge-live">Live</span> : null}
          </p>
          {project.stoppedReason ? <p className="notice small">{project.stoppedReason}</p> : null}
        </div>
      )}
      {!editing ? (
        <div className="project-actions">
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

export default function ProjectsIndex({ projects, limits }: Props) {
  const atLimit = projects.length >= limits.projects
  const used = Math.min(100, Math.round((projects.length / Math.max(1, limits.projects)) * 100))

  return (
    <>
      <Head title="Projects" />
      <div className="page-header">
        <div>
          <h1>Projects</h1>
          <p className="muted">Apps you are building with Studio's AI agents.</p>
        </div>
        <div
          className="usage-meter"
          role="meter"
          aria-label="Projects used"
          aria-valuenow={projects.length}
          aria-valuemin={0}
          aria-valuemax={limits.projects}
          aria-valuetext={`${projects.length} of ${limits.projects} projects used`}
        >
          <div className="usage-meter-label">
            <span>
              {projects.length} / {limits.projects} projects
            </span>
            <span className={`badge badge-${limits.plan}`}>{limits.plan === 'premium' ? 'Premium' : 'Free'}</span>
          </div>
          <div className="usage-meter-bar">
            <div className={atLimit ? 'usage-meter-fill full' : 'usage-meter-fill'} style={{ width: `${used}%` }} />
          </div>
        </div>
      </div>

      <section className="card" aria-labelledby="new-project-title">
        <h2 id="new-project-title">New project</h2>
        {atLimit ? (
          <p className="notice">
            You have used all {limits.projects} project{limits.projects === 1 ? '' : 's'} of your plan.{' '}
            {limits.plan === 'premium' ? 'Delete one to start another.' : 'Premium ($5/month) gives you 5.'}
          </p>
        ) : null}
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
    </>
  )
}
