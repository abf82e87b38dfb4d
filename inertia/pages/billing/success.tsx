import { Head, Link } from '@inertiajs/react'
import { formatCents } from '~/lib/format.js'

interface Props {
  /** What fulfil did for this session: granted now or before, still processing, or refused. */
  fulfilment: {
    status: 'fulfilled' | 'already' | 'pending' | 'failed' | 'refused' | 'unavailable'
    message: string | null
  }
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

/** Checkout sent the user back; the page confirms through fulfil and says "processing" until paid. */
export default function CheckoutSuccess({ checkout, fulfilment }: Props) {
  const paid = checkout.status === 'complete' && checkout.paymentStatus !== 'unpaid'
  const what = (checkout.kind && LABELS[checkout.kind]) ?? 'Your purchase'
  const active = fulfilment.status === 'fulfilled' || fulfilment.status === 'already'
  if (fulfilment.status === 'refused' || fulfilment.status === 'failed') {
    return (
      <>
        <Head title="Payment not completed" />
        <section className="card narrow" aria-labelledby="thanks-title">
          <h1 id="thanks-title">
            {fulfilment.status === 'failed' ? 'Payment failed' : 'We could not confirm this purchase'}
          </h1>
          <p role="alert">
            {fulfilment.message ?? 'The payment did not go through. Nothing was added to your account.'}
          </p>
          <p className="muted">Reference: {checkout.id}</p>
          <Link href="/billing" className="button button-primary">
            Back to billing
          </Link>
        </section>
      </>
    )
  }
  if (checkout.status === 'complete' && !active) {
    return (
      <>
        <Head title="Processing payment" />
        <section className="card narrow" aria-labelledby="thanks-title">
          <h1 id="thanks-title">Processing your payment</h1>
          <p role="status">
            {what} becomes active as soon as the payment is confirmed. Reload this page in a moment.
          </p>
          <p className="muted">Reference: {checkout.id}</p>
          <Link href="/billing" className="button button-primary">
            Back to billing
          </Link>
        </section>
      </>
    )
  }
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
            is paid and active on your account.
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
