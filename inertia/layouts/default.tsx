import type { ReactNode } from 'react'
import { Form, Link, usePage } from '@inertiajs/react'
import Flash from '~/components/flash.js'
import { formatCents, formatDate } from '~/lib/format.js'
import type { SharedProps } from '~/types.js'

const BADGES = {
  premium: { label: 'Premium', className: 'badge-premium' },
  free: { label: 'Free', className: 'badge-free' },
  past_due: { label: 'Past due', className: 'badge-past-due' },
} as const

/** The plan badge: Premium, Free or Past due (a renewal payment is owed); links to billing. */
function PlanBadge({ badge, plan }: { badge: SharedProps['planBadge']; plan: 'free' | 'premium' }) {
  const status = badge?.status ?? plan
  const { label, className } = BADGES[status]
  const title =
    status === 'past_due'
      ? 'A renewal payment failed: update your card on the billing page'
      : badge?.cancelsAt
        ? `Premium cancels on ${formatDate(badge.cancelsAt)}`
        : `${label} plan`
  return (
    <Link
      href="/billing"
      className={`badge ${className}`}
      data-testid="plan-badge"
      title={title}
      aria-label={`Plan: ${label}${badge?.cancelsAt ? `, cancels on ${formatDate(badge.cancelsAt)}` : ''}`}
    >
      {label}
    </Link>
  )
}

/** The signed-in app frame: brand, navigation, account summary, flash. */
export default function Layout({ children }: { children: ReactNode }) {
  const page = usePage<SharedProps>()
  const { user, planBadge } = page.props
  const url = page.url
  const nav = [
    { href: '/projects', label: 'Projects' },
    { href: '/marketplace', label: 'Marketplace' },
    { href: '/usage', label: 'Usage' },
    { href: '/plans', label: 'Plans' },
    { href: '/billing', label: 'Billing' },
    { href: '/creator', label: 'Creator' },
    { href: '/profile', label: 'Profile' },
  ]

  return (
    <div className="app">
      <header className="topbar">
        <div className="topbar-inner">
          <Link href="/projects" className="brand" aria-label="Studio home">
            <span className="brand-mark" aria-hidden="true">S</span>
            <span>Studio</span>
          </Link>
          {user ? (
            <nav className="nav" aria-label="Main">
              {nav.map((item) => (
                <Link
                  key={item.href}
                  href={item.href}
                  className={url.startsWith(item.href) ? 'nav-link active' : 'nav-link'}
                  aria-current={url.startsWith(item.href) ? 'page' : undefined}
                >
                  {item.label}
                </Link>
              ))}
            </nav>
          ) : null}
          <div className="account">
            {user ? (
              <>
                <PlanBadge badge={planBadge} plan={user.plan} />
                <span className="credits" title="Prepaid credits">
                  {formatCents(user.creditsBalanceCents)} credits
                </span>
                <span className="avatar" role="img" aria-label={user.fullName} title={user.fullName}>
                  {user.initials}
                </span>
                <Form action="/logout" method="post">
                  <button type="submit" className="button button-ghost">
                    Log out
                  </button>
                </Form>
              </>
            ) : (
              <>
                <Link href="/login" className="nav-link">Log in</Link>
                <Link href="/register" className="button button-primary">Create account</Link>
              </>
            )}
          </div>
        </div>
      </header>
      <main className="main">
        <Flash />
        {children}
      </main>
    </div>
  )
}
