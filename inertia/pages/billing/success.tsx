import { useEffect, useState } from 'react'
import { Head, Link, router } from '@inertiajs/react'
import { formatCents } from '~/lib/format.js'

// A type alias, not an interface: page props must be plain JSON records.
type Props = {
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

/** While the payment is processing the page asks again every 2 s, for about 30 s. */
const REFRESH_EVERY_MS = 2000
const MAX_REFRESHES = 15

/**
 * Reloads the page's props (Inertia partial visit, state kept) while
 * `waiting`; returns whether it gave up, so the page can say so.
 */
function useAutoRefresh(waiting: boolean) {
  const [refreshes, setRefreshes] = useState(0)
  useEffect(() => {
    if (!waiting || refreshes >= MAX_REFRESHES) return
    const timer = setTimeout(() => {
      router.reload({ onFinish: () => setRefreshes((count) => count + 1) })
    }, REFRESH_EVERY_MS)
    return () => clearTimeout(timer)
  }, [waiting, refreshes])
  return { refreshes, gaveUp: waiting && refreshes >= MAX_REFRESHES }
}

const LABELS: Record<string, string> = {
  premium: 'Premium',
  credits: 'Credit pack',
  deploy_slot: 'Deploy slot',
  agent: 'Your agent',
}

/** Checkout sent the user back; the page confirms through fulfil and says "processing" until paid. */
export default function CheckoutSuccess({ checkout, fulfilment }: Props) {
  const paid = checkout.status === 'complete' && checkout.paymentStatus !== 'unpaid'
  const what = (checkout.kind && LABELS[checkout.kind]) ?? 'Your purchase'
  const active = fulfilment.status === 'fulfilled' || fulfilment.status === 'already'
  const processing =
    checkout.status === 'complete' &&
    !active &&
    fulfilment.status !== 'refused' &&
    fulfilment.status !== 'failed'
  const { gaveUp } = useAutoRefresh(processing)
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
          <p className="muted wrap-anywhere">Reference: {checkout.id}</p>
          <Link href="/billing" className="button button-primary">
            Back to billing
          </Link>
        </section>
      </>
    )
  }
  if (processing) {
    return (
      <>
        <Head title="Processing payment" />
        <section className="card narrow" aria-labelledby="thanks-title" aria-busy={!gaveUp}>
          <h1 id="thanks-title">Processing your payment</h1>
          {gaveUp ? (
            <p role="status">
              The payment is taking longer than usual to confirm. {what} becomes active as soon as
              it is confirmed: reload this page in a few minutes, or check the billing page.
            </p>
          ) : (
            <p role="status">
              <span className="spinner" aria-hidden="true" /> {what} becomes active as soon as the
              payment is confirmed. This page updates by itself.
            </p>
          )}
          {gaveUp ? (
            <button
              type="button"
              className="button button-secondary"
              onClick={() => router.reload()}
            >
              Check again
            </button>
          ) : null}
          <p className="muted wrap-anywhere">Reference: {checkout.id}</p>
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
        <p className="muted wrap-anywhere">Reference: {checkout.id}</p>
        {paid && checkout.kind === 'agent' ? (
          <Link href="/marketplace/mine" className="button button-primary">
            Go to my agents
          </Link>
        ) : (
          <Link href="/billing" className="button button-primary">
            Back to billing
          </Link>
        )}
      </section>
    </>
  )
}
