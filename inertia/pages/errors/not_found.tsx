import { Head, Link } from '@inertiajs/react'

export default function NotFound() {
  return (
    <div className="empty">
      <Head title="Not found" />
      <h1>Page not found</h1>
      <p className="muted">This page does not exist, or it is not yours to see.</p>
      <Link href="/projects" className="button button-primary">Back to projects</Link>
    </div>
  )
}
