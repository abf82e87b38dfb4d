import { Head, Link } from '@inertiajs/react'

export default function ServerError() {
  return (
    <div className="empty">
      <Head title="Something went wrong" />
      <h1>Something went wrong</h1>
      <p className="muted">We could not finish that request. Nothing was charged. Please try again in a minute.</p>
      <Link href="/projects" className="button button-primary">Back to projects</Link>
    </div>
  )
}
