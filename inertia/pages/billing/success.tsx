import { Head, Link } from '@inertiajs/react'
import { formatCents } from '~/lib/format.js'

interface Props {
  checkout: {
    id: string
    kind: string | null
    status: string | null
    paymentStatus: string
    amountTotalCents: number | null
    currency: string | null
  }
}

const LABELS: Record<string, string> = {
  premium: 'Premium',
  credits: 'Credit pack',
  deploy_slot: 'Deploy slot',
}

/** Checkout sent the user back. What they bought takes effect when Stripe confirms it (webhook). */
export default function CheckoutSuccess({ checkout }: Props) {
  const paid = checkout.status === 'complete' && checkout.paymentStatus !== 'unpaid'
  const what = (checkout.kind && LABELS[checkout.kind]) ?? 'Your purchase'
  return (
    <>
      <Head title="Thank you" />
      <section className="card narrow" aria-labelledby="thanks-title">
        <h1 id="thanks-title">{paid ? 'Payment received' : 'Checkout not finished'}</h1>
        {paid ? (
          <p>
            {what}
            {checkout.amountTotalCents !== null
              ? ` (${formatCents(checkout.amountTotalCents, checkout.currency ?? 'usd')})`
              : ''}{' '}
            is paid. It becomes active as soon as Stripe confirms it, usually within seconds.
          </p>
        ) : (
          <p>This checkout has not been paid. Nothing was charged.</p>
        )}
        <p className="muted">Reference: {checkout.id}</p>
        <Link href="/billing" className="button button-primary">
          Back to billing
        </Link>
      </section>
    </>
  )
}
