import { formatCents } from '~/lib/format.js'

// A type alias, not an interface: page props must be plain JSON records.
export type UsageInvoice = {
  id: number
  period: string
  status: string
  amountCents: number
  creditsAppliedCents: number
  chargedCents: number
  currency: string
  paidAt: string | null
  failureReason: string | null
}

const INVOICE_STATUS: Record<string, string> = {
  draft: 'Being prepared',
  open: 'Awaiting payment',
  paid: 'Paid',
  failed: 'Payment failed',
  void: 'Void',
  uncollectible: 'Uncollectible',
}

/** Monthly usage invoices: credits applied first, the rest charged to the card. */
export default function UsageInvoices({ invoices }: { invoices: UsageInvoice[] }) {
  if (invoices.length === 0) return <p className="muted">No usage invoices yet. They are made on the 1st of each month (UTC).</p>
  const failed = invoices.filter((invoice) => invoice.status === 'failed')
  return (
    <div className="table-scroll">
      {failed.length > 0 ? (
        <p className="alert alert-danger" role="alert">
          Your AI usage invoice for {failed.map((invoice) => invoice.period).join(', ')} could not be charged. Update
          your card in the billing portal: Stripe tries the payment again.
        </p>
      ) : null}
      <table className="table" data-testid="usage-invoices">
        <thead>
          <tr>
            <th scope="col">Month</th>
            <th scope="col">Amount</th>
            <th scope="col">Paid with credits</th>
            <th scope="col">Charged</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((invoice) => (
            <tr key={invoice.id}>
              <td>{invoice.period}</td>
              <td>{formatCents(invoice.amountCents, invoice.currency)}</td>
              <td>{formatCents(invoice.creditsAppliedCents, invoice.currency)}</td>
              <td>{formatCents(invoice.chargedCents, invoice.currency)}</td>
              <td>
                {INVOICE_STATUS[invoice.status] ?? invoice.status}
                {invoice.failureReason ? <span className="muted small"> ({invoice.failureReason})</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
