/**
 * The hosted Checkout page (`/c/pay/:id`): what Stripe shows the customer between
 * the redirect from `session.url` and the redirect back to `success_url`. Pure
 * rendering; the handlers live in `resources/checkout_sessions.ts`.
 *
 * Stable hooks for browser tests: inputs `#email`, `#cardNumber`, `#cardExpiry`,
 * `#cardCvc`, `#billingName`, `#billingCountry`, `#billingPostalCode`; the submit
 * button has `data-testid="submit"` and reads `Pay $12.00` or `Subscribe`; field
 * errors are `#<field>-error`, the decline message `[data-testid="form-error"]`.
 */
import type Stripe from 'stripe'
import { type SafeHtml, formatAmount, formatDate, html, page } from './html.js'

export const CHECKOUT_FIELDS = [
  'email',
  'cardNumber',
  'cardExpiry',
  'cardCvc',
  'billingName',
  'billingCountry',
  'billingPostalCode',
] as const

export type CheckoutField = (typeof CHECKOUT_FIELDS)[number]
export type CheckoutValues = Record<CheckoutField, string>
export type CheckoutErrors = Partial<Record<CheckoutField, string>>

export interface CheckoutView {
  session: Stripe.Checkout.Session
  lineItems: Stripe.LineItem[]
  merchant: string
  values: CheckoutValues
  errors: CheckoutErrors
  /** A decline or other payment error, shown above the button. */
  formError: string | null
  /** The email comes from an existing Customer and cannot be changed. */
  emailLocked: boolean
  /** `subscription_data.trial_period_days` (subscription mode), else null. */
  trialDays: number | null
}

export const COUNTRIES: ReadonlyArray<[string, string]> = [
  ['US', 'United States'],
  ['GB', 'United Kingdom'],
  ['CA', 'Canada'],
  ['AU', 'Australia'],
  ['DE', 'Germany'],
  ['FR', 'France'],
  ['IE', 'Ireland'],
  ['NL', 'Netherlands'],
  ['ES', 'Spain'],
  ['IT', 'Italy'],
  ['BE', 'Belgium'],
  ['CH', 'Switzerland'],
  ['SE', 'Sweden'],
  ['NO', 'Norway'],
  ['DK', 'Denmark'],
  ['PT', 'Portugal'],
  ['JP', 'Japan'],
  ['SG', 'Singapore'],
  ['NZ', 'New Zealand'],
  ['BR', 'Brazil'],
  ['MX', 'Mexico'],
  ['IN', 'India'],
]

const TEST_CARDS: ReadonlyArray<[string, string]> = [
  ['4242 4242 4242 4242', 'succeeds'],
  ['4000 0000 0000 0002', 'declined'],
  ['4000 0000 0000 9995', 'insufficient funds'],
  ['4000 0000 0000 0341', 'succeeds now, fails on renewal'],
  ['5555 5555 5555 4444', 'Mastercard, succeeds'],
]

/** `per month`, `every 3 months`… as Checkout words a recurring price. */
export function intervalLabel(recurring: Stripe.Price.Recurring): string {
  const count = recurring.interval_count
  return count === 1 ? `per ${recurring.interval}` : `every ${count} ${recurring.interval}s`
}

function unitAmount(price: Stripe.Price | null): number {
  if (!price) return 0
  if (price.unit_amount !== null) return price.unit_amount
  return price.unit_amount_decimal === null ? 0 : Math.round(Number(price.unit_amount_decimal))
}

/** What the primary button says. */
export function submitLabel(session: Stripe.Checkout.Session): string {
  if (session.mode === 'subscription') return 'Subscribe'
  return `Pay ${formatAmount(session.amount_total ?? 0, session.currency ?? 'usd')}`
}

function merchantHeader(merchant: string): SafeHtml {
  return html`<div class="merchant">
    <span class="logo">${merchant.slice(0, 1).toUpperCase()}</span>
    <span data-testid="merchant-name">${merchant}</span>
  </div>`
}

function summary(view: CheckoutView): SafeHtml {
  const { session, lineItems } = view
  const currency = session.currency ?? 'usd'
  const recurring = lineItems.find((item) => item.price?.recurring)?.price?.recurring ?? null
  const trialDays = session.mode === 'subscription' ? view.trialDays : null
  const headline =
    session.mode === 'subscription'
      ? `Subscribe to ${lineItems.map((item) => item.description ?? '').join(', ')}`
      : `Pay ${view.merchant}`
  const perPeriod = lineItems.reduce((sum, item) => sum + item.amount_subtotal, 0)
  const total =
    trialDays !== null
      ? html`<div class="total" data-testid="total">${trialDays} days free</div>
          <p class="muted">
            Then ${formatAmount(perPeriod, currency)} ${recurring ? intervalLabel(recurring) : ''}
          </p>`
      : html`<div class="total" data-testid="total">
          ${formatAmount(session.amount_total ?? 0, currency)}
          ${recurring ? html`<small>${intervalLabel(recurring)}</small>` : ''}
        </div>`
  const items = lineItems.map((item) => {
    const price = item.price
    const each = formatAmount(unitAmount(price), currency)
    const detail = price?.recurring ? `${each} ${intervalLabel(price.recurring)}` : `${each} each`
    return html`<li data-testid="line-item">
      <div>
        <div class="name">${item.description ?? ''}</div>
        <div class="desc">Qty ${item.quantity ?? 1} · ${detail}</div>
      </div>
      <div class="amount">${formatAmount(item.amount_subtotal, currency)}</div>
    </li>`
  })
  const back = session.cancel_url
    ? html`<p><a class="back" id="back" href="${session.cancel_url}">← back</a></p>`
    : ''
  return html`<div class="summary">
    ${back} ${merchantHeader(view.merchant)}
    <div class="label">${headline}</div>
    ${total}
    <ul class="items">
      ${items}
    </ul>
    ${
      trialDays === null
        ? html`<p class="muted">
            Total due today: ${formatAmount(session.amount_total ?? 0, currency)}
          </p>`
        : html`<p class="muted">Total due today: ${formatAmount(0, currency)}</p>`
    }
  </div>`
}

function fieldError(view: CheckoutView, field: CheckoutField): SafeHtml | string {
  const message = view.errors[field]
  return message ? html`<p class="error" id="${field}-error" role="alert">${message}</p>` : ''
}

function input(
  view: CheckoutView,
  field: CheckoutField,
  label: string,
  attrs: { type?: string; placeholder?: string; autocomplete?: string; inputmode?: string } = {}
): SafeHtml {
  const invalid = view.errors[field] ? 'true' : 'false'
  const readonly = field === 'email' && view.emailLocked
  return html`<div>
    <label for="${field}">${label}</label>
    <input
      id="${field}"
      name="${field}"
      type="${attrs.type ?? 'text'}"
      value="${view.values[field]}"
      placeholder="${attrs.placeholder ?? ''}"
      autocomplete="${attrs.autocomplete ?? 'off'}"
      inputmode="${attrs.inputmode ?? 'text'}"
      aria-invalid="${invalid}"
      ${readonly ? html`readonly` : ''}
    />
    ${fieldError(view, field)}
  </div>`
}

function form(view: CheckoutView): SafeHtml {
  const { session } = view
  const countries = COUNTRIES.map(
    ([code, name]) =>
      html`<option value="${code}" ${view.values.billingCountry === code ? html`selected` : ''}>
        ${name}
      </option>`
  )
  const cards = TEST_CARDS.map(([number, what]) => html`<li><code>${number}</code> ${what}</li>`)
  return html`<div class="panel">
    <form method="post" action="/c/pay/${session.id}" novalidate>
      <h2>Contact information</h2>
      ${input(view, 'email', 'Email', { type: 'email', placeholder: 'email@example.com', autocomplete: 'email' })}
      <h2>Payment method</h2>
      ${input(view, 'cardNumber', 'Card number', {
        placeholder: '1234 1234 1234 1234',
        autocomplete: 'cc-number',
        inputmode: 'numeric',
      })}
      <div class="row">
        ${input(view, 'cardExpiry', 'Expiration', { placeholder: 'MM / YY', autocomplete: 'cc-exp' })}
        ${input(view, 'cardCvc', 'CVC', { placeholder: 'CVC', autocomplete: 'cc-csc', inputmode: 'numeric' })}
      </div>
      ${input(view, 'billingName', 'Name on card', { autocomplete: 'cc-name' })}
      <div class="row">
        <div>
          <label for="billingCountry">Country or region</label>
          <select id="billingCountry" name="billingCountry">
            ${countries}
          </select>
        </div>
        ${input(view, 'billingPostalCode', 'ZIP / Postal code', { autocomplete: 'postal-code' })}
      </div>
      ${
        view.formError
          ? html`<p class="error" data-testid="form-error" role="alert">${view.formError}</p>`
          : ''
      }
      <button type="submit" data-testid="submit">${submitLabel(session)}</button>
      <div class="hint" data-testid="test-cards">
        Test mode: use any future expiry date and any CVC.
        <ul>
          ${cards}
        </ul>
      </div>
    </form>
  </div>`
}

export function checkoutPage(view: CheckoutView): string {
  return page(
    `${view.merchant} · Checkout`,
    html`<div class="wrap">${summary(view)} ${form(view)}</div>`
  )
}

export function completedPage(
  session: Stripe.Checkout.Session,
  merchant: string,
  successUrl: string | null
): string {
  const link = successUrl
    ? html`<a class="button" id="continue" href="${successUrl}">Continue</a>`
    : ''
  // An asynchronous payment (completed `unpaid` in payment mode) is still processing.
  const processing = session.mode === 'payment' && session.payment_status === 'unpaid'
  const status = processing
    ? 'Thanks! Your payment is processing.'
    : session.mode === 'subscription'
      ? 'Thanks! Your subscription is active.'
      : 'Thanks! Your payment is complete.'
  return page(
    `${merchant} · ${processing ? 'Processing' : 'Paid'}`,
    html`<div class="wrap">
      <div class="panel">
        ${merchantHeader(merchant)}
        <h1>
          ${
            processing
              ? 'This checkout session is complete'
              : 'This checkout session is already paid'
          }
        </h1>
        <p class="notice" data-testid="status">${status}</p>
        ${link}
      </div>
    </div>`
  )
}

export function expiredPage(
  session: Stripe.Checkout.Session,
  merchant: string,
  now: number
): string {
  const back = session.cancel_url
    ? html`<a class="button secondary" id="back" href="${session.cancel_url}">← back</a>`
    : ''
  return page(
    `${merchant} · Expired`,
    html`<div class="wrap">
      <div class="panel">
        ${merchantHeader(merchant)}
        <h1>This checkout session has expired</h1>
        <p class="muted" data-testid="status">
          The session ended on ${formatDate(Math.min(session.expires_at, now))}. Go back and start
          again.
        </p>
        ${back}
      </div>
    </div>`
  )
}

export function notFoundPage(id: string): string {
  return page(
    'Checkout session not found',
    html`<div class="wrap">
      <div class="panel">
        <h1>Something went wrong</h1>
        <p class="error">No such checkout session: '${id}'</p>
      </div>
    </div>`
  )
}
