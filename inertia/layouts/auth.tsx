import type { ReactNode } from 'react'
import { Link } from '@inertiajs/react'
import Flash from '~/components/flash.js'

/** Centered card for the login and registration pages. */
export default function AuthLayout({ children }: { children: ReactNode }) {
  return (
    <div className="auth">
      <div className="auth-side" aria-hidden="true">
        <div className="auth-side-inner">
          <span className="brand-mark brand-mark-lg">S</span>
          <h2>Build apps with AI agents.</h2>
          <p>Start free with one project and one deployment. Go Premium for $5/month: five of each.</p>
          <ul className="auth-points">
            <li>Prepaid credits, spent before any card charge</li>
            <li>Marketplace agents: creators earn 90%</li>
            <li>Usage billed to the cent, monthly</li>
          </ul>
        </div>
      </div>
      <div className="auth-main">
        <Link href="/" className="brand auth-brand">
          <span className="brand-mark" aria-hidden="true">S</span>
          <span>Studio</span>
        </Link>
        <div className="auth-card">
          <Flash />
          {children}
        </div>
      </div>
    </div>
  )
}
