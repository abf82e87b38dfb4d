/**
 * Shape fidelity: what the sandbox answers and stores has the keys of Stripe's
 * own fixture objects (tests/fixtures/stripe/fixtures3.json) and of the SDK's
 * 23.1.0 types, with only the documented differences (sandbox/stripe/fidelity.ts).
 */
import { test } from '@japa/runner'
import Stripe from 'stripe'
import {
  BEYOND_FIXTURE,
  checkShape,
  explainShape,
  explainStore,
  loadFixtures,
  sdkTypes,
  sweepStore,
} from '../../../sandbox/stripe/fidelity.js'
import { type StripeSandbox } from '../../../sandbox/stripe/sandbox.js'
import type { CollectionTypes } from '../../../sandbox/stripe/store.js'
import { recurringPrice, useSandbox } from './helpers.js'

// ---------------------------------------------------------------------------
// Compile-time conformance: every store collection that holds a Stripe object is
// typed exactly as the SDK's type (no `any`, no looser local type). Collections
// that other modules have not declared yet are skipped, and checked once they land.
// ---------------------------------------------------------------------------
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

interface SdkCollections {
  'account': Stripe.Account
  'application_fee': Stripe.ApplicationFee
  'balance_transaction': Stripe.BalanceTransaction
  'billing_portal.configuration': Stripe.BillingPortal.Configuration
  'billing_portal.session': Stripe.BillingPortal.Session
  'charge': Stripe.Charge
  'checkout.session': Stripe.Checkout.Session
  'customer': Stripe.Customer
  'dispute': Stripe.Dispute
  'event': Stripe.Event
  'invoice': Stripe.Invoice
  'invoice_payment': Stripe.InvoicePayment
  'invoiceitem': Stripe.InvoiceItem
  'payment_intent': Stripe.PaymentIntent
  'payment_method': Stripe.PaymentMethod
  'price': Stripe.Price
  'product': Stripe.Product
  'refund': Stripe.Refund
  'subscription': Stripe.Subscription
  'subscription_item': Stripe.SubscriptionItem
  'transfer': Stripe.Transfer
  'webhook_endpoint': Stripe.WebhookEndpoint
}
type Shared = keyof CollectionTypes & keyof SdkCollections
type Drifted = {
  [K in Shared]: Equal<CollectionTypes[K], SdkCollections[K]> extends true ? never : K
}[Shared]
/** tsc fails here, naming the collection, when a collection's type is not exactly the SDK's. */
const collectionsAreSdkTypes: [Drifted] extends [never] ? true : Drifted = true
// The three collections of the core must be among the checked ones.
const coreCollections: Array<Shared> = ['customer', 'event', 'webhook_endpoint']

/** Retrieve paths by object type, for fetching any stored object back through the SDK. */
const RETRIEVE_PATHS: Record<string, string> = {
  'account': '/v1/accounts',
  'application_fee': '/v1/application_fees',
  'balance_transaction': '/v1/balance_transactions',
  'billing_portal.configuration': '/v1/billing_portal/configurations',
  'charge': '/v1/charges',
  'checkout.session': '/v1/checkout/sessions',
  'customer': '/v1/customers',
  'dispute': '/v1/disputes',
  'event': '/v1/events',
  'invoice': '/v1/invoices',
  'invoice_payment': '/v1/invoice_payments',
  'invoiceitem': '/v1/invoiceitems',
  'payment_intent': '/v1/payment_intents',
  'payment_method': '/v1/payment_methods',
  'price': '/v1/prices',
  'product': '/v1/products',
  'refund': '/v1/refunds',
  'subscription': '/v1/subscriptions',
  'subscription_item': '/v1/subscription_items',
  'transfer': '/v1/transfers',
  'webhook_endpoint': '/v1/webhook_endpoints',
}

/** `true` when the route is registered (other helpers' resources land in parallel). */
function routed(sandbox: StripeSandbox, method: string, pattern: string): boolean {
  return sandbox.router.routes.some((route) => route.method === method && route.pattern === pattern)
}

const CARD = { number: '4242424242424242', exp_month: 12, exp_year: 2040, cvc: '123' }

/** `true` when `GET /_sim` lists a control starting with `prefix` (e.g. `POST /_sim/charges/:id/dispute`). */
async function simRouted(sandbox: StripeSandbox, prefix: string): Promise<boolean> {
  const response = await fetch(`${sandbox.url}/_sim`)
  const { routes } = (await response.json()) as { routes: string[] }
  return routes.some((route) => route.startsWith(prefix))
}

async function simPost(sandbox: StripeSandbox, path: string, body: object = {}): Promise<void> {
  const response = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (response.status !== 200)
    throw new Error(`${path}: ${response.status} ${await response.text()}`)
}

type CompleteCheckout = (
  ctx: StripeSandbox['context'],
  id: string,
  input?: { card?: typeof CARD; email?: string | null; name?: string | null }
) => unknown

/** The checkout module's `completeCheckoutSession` (the hosted page's Pay), when that module exists. */
async function checkoutCompleter(): Promise<CompleteCheckout | null> {
  const specifier = '../../../sandbox/stripe/resources/checkout_sessions.js'
  try {
    const module: unknown = await import(specifier)
    if (typeof module !== 'object' || module === null) return null
    const fn: unknown = Reflect.get(module, 'completeCheckoutSession')
    return typeof fn === 'function' ? (fn as CompleteCheckout) : null
  } catch {
    return null
  }
}

/**
 * A fixture brought up to the 23.1.0 types: the non-optional fields Stripe added
 * after the fixture's spec (e.g. `product.tax_details`) set to null.
 */
function current(type: string): Record<string, unknown> {
  const fixture: Record<string, unknown> = { ...loadFixtures()[type] }
  for (const [key, optional] of sdkTypes().get(type)?.fields ?? []) {
    if (!optional && !(key in fixture)) fixture[key] = null
  }
  return fixture
}

test.group('Stripe sandbox: fidelity checker', () => {
  test('reads field lists and optionality from the installed SDK types', ({ assert }) => {
    const types = sdkTypes()
    const customer = types.get('customer')
    assert.equal(customer?.name, 'Customer')
    assert.isFalse(customer?.fields.get('email'))
    assert.isTrue(customer?.fields.get('address'))
    assert.isTrue(customer?.fields.get('subscriptions'))
    assert.deepEqual([...(types.get('deleted_customer')?.fields.keys() ?? [])].sort(), [
      'deleted',
      'id',
      'object',
    ])
    const session = types.get('checkout.session')
    assert.equal(session?.file, 'Checkout/Sessions.d.ts')
    assert.isFalse(session?.fields.get('allowed_payment_method_types'))
    assert.isFalse(types.get('invoice')?.fields.has('subscription') ?? true) // removed in basil
    assert.isFalse(types.get('event')?.fields.get('pending_webhooks'))
    assert.isAbove(types.size, 150)
  })

  test('the fixture copy is Stripe’s fixtures3.json with one example per type', ({ assert }) => {
    const fixtures = loadFixtures()
    assert.isAbove(Object.keys(fixtures).length, 170)
    assert.equal(fixtures.customer.object, 'customer')
    assert.equal(fixtures['checkout.session'].object, 'checkout.session')
    assert.property(fixtures.invoice, 'subscription')
    assert.notProperty(fixtures['checkout.session'], 'allowed_payment_method_types')
  })

  test('a fixture object passes its own check; every BEYOND_FIXTURE key is an SDK field the fixture lacks', ({
    assert,
  }) => {
    const fixtures = loadFixtures()
    const types = sdkTypes()
    // Not `event`: its fixture's payload is a plan with `aggregate_usage`, removed from Plan in basil.
    for (const type of ['customer', 'webhook_endpoint', 'price', 'invoice']) {
      assert.deepEqual(checkShape(fixtures[type]), [], type)
    }
    // The raw fixture lacks what Stripe added since; brought up to date it passes.
    assert.deepEqual(checkShape(fixtures.product, { path: 'p' }), [
      "p: missing 'tax_details' (non-optional in the SDK's Product)",
    ])
    for (const type of ['product', 'checkout.session', 'subscription_item']) {
      assert.deepEqual(checkShape(current(type)), [], type)
    }
    for (const [type, keys] of Object.entries(BEYOND_FIXTURE)) {
      for (const key of Object.keys(keys)) {
        assert.isTrue(types.get(type)?.fields.has(key), `${type}.${key} is an SDK field`)
        assert.notProperty(fixtures[type], key, `${type}.${key} is not in the fixture`)
      }
    }
  })

  test('flags missing keys, unknown keys, wrong kinds and unexpanded includables', ({ assert }) => {
    const { description, ...withoutDescription } = loadFixtures().customer
    assert.isNull(description)
    assert.deepEqual(checkShape(withoutDescription, { path: 'c' }), [
      "c: missing 'description' (the customer fixture has it)",
    ])

    const fixture = loadFixtures().customer
    assert.deepEqual(checkShape({ ...fixture, colour: 'red' }, { path: 'c' }), [
      "c: unknown key 'colour' (neither the customer fixture nor the SDK's Customer has it)",
    ])
    assert.deepEqual(checkShape({ ...fixture, balance: '0' }, { path: 'c' }), [
      'c.balance: string where the customer fixture has number',
    ])
    assert.deepEqual(checkShape({ ...fixture, sources: { object: 'list', data: [] } }), [])
    assert.deepEqual(
      checkShape(
        { ...fixture, sources: { object: 'list', data: [] } },
        { unexpanded: true, path: 'c' }
      ),
      ["c: includable 'sources' is present although nothing was expanded"]
    )
    // An expandable id and its expanded object are the same field.
    assert.deepEqual(checkShape({ ...loadFixtures().price, product: current('product') }), [])
  })

  test('compares nested hashes with the fixture’s and the SDK interface’s fields', ({ assert }) => {
    const session = current('checkout.session')
    assert.deepEqual(
      checkShape(
        {
          ...session,
          automatic_tax: { enabled: false, liability: { type: 'self', bogus: 1 }, status: null },
        },
        { path: 'cs' }
      ),
      [
        "cs.automatic_tax: missing 'provider' (the fixture's automatic_tax has it)",
        "cs.automatic_tax.liability: unknown key 'bogus' (neither the fixture nor the SDK's Session.AutomaticTax.Liability has it)",
      ]
    )
    const customer = loadFixtures().customer
    assert.deepEqual(
      checkShape(
        {
          ...customer,
          address: { city: 'Paris', country: 'FR', line1: null, line2: null, postal_code: null },
          invoice_settings: { custom_fields: null, default_payment_method: null, footer: null },
        },
        { path: 'c' }
      ),
      [
        "c.address: missing 'state' (the fixture's address has it)",
        "c.invoice_settings: missing 'rendering_options' (the fixture's invoice_settings has it)",
      ]
    )
    // Where the fixture has null, the SDK interface alone decides (non-optional fields).
    const invoice = loadFixtures().invoice
    assert.isNull(invoice.custom_fields)
    assert.deepEqual(checkShape({ ...invoice, custom_fields: [{ name: 'PO' }] }, { path: 'in' }), [
      "in.custom_fields[0]: missing 'value' (non-optional in the SDK's Invoice.CustomField)",
    ])
    // Metadata is free-form; SDK Decimals stand for decimal strings; nested can be turned off.
    assert.deepEqual(checkShape({ ...customer, metadata: { anything: 'x' } }), [])
    assert.deepEqual(
      checkShape({ ...invoice, custom_fields: [{ name: 'PO' }] }, { path: 'in', nested: false }),
      []
    )
  })

  test('recurses into lists, expanded references and event payloads', ({ assert }) => {
    const fixtures = loadFixtures()
    const { email, ...customer } = fixtures.customer
    assert.isNull(email)
    const list = {
      object: 'list',
      data: [fixtures.customer, customer],
      has_more: false,
      url: '/v1/customers',
    }
    assert.deepEqual(checkShape(list, { path: 'list' }), [
      "list.data[1]: missing 'email' (the customer fixture has it)",
    ])
    const event = { ...fixtures.event, data: { object: { ...customer, id: 'cus_1' } } }
    assert.deepEqual(checkShape(event, { path: 'evt' }), [
      "evt.data.object: missing 'email' (the customer fixture has it)",
    ])
    const price = { ...fixtures.price, product: { ...current('product'), active: 'yes' } }
    assert.deepEqual(checkShape(price, { path: 'p' }), [
      'p.product.active: string where the product fixture has boolean',
    ])
  })

  test('documents allowed differences: removed in endive, optional in 23.1.0, added after the fixture', ({
    assert,
  }) => {
    const fixtures = loadFixtures()
    assert.property(fixtures.invoice, 'subscription')
    const invoice = Object.fromEntries(
      Object.entries(fixtures.invoice).filter(([key]) => key !== 'subscription')
    )
    const report = explainShape(invoice, { path: 'in' })
    assert.deepEqual(report.problems, [])
    assert.deepInclude(report.allowed, {
      path: 'in',
      type: 'invoice',
      key: 'subscription',
      reason: 'removed in endive',
    })

    const { address, ...customer } = fixtures.customer
    assert.exists(address)
    assert.deepInclude(explainShape(customer, { path: 'c' }).allowed, {
      path: 'c',
      type: 'customer',
      key: 'address',
      reason: 'optional in 23.1.0',
    })

    const session = { ...fixtures['checkout.session'], allowed_payment_method_types: ['card'] }
    const sessionReport = explainShape(session, { path: 'cs' })
    assert.deepEqual(sessionReport.problems, [])
    assert.equal(
      sessionReport.allowed.find((entry) => entry.key === 'allowed_payment_method_types')?.reason,
      BEYOND_FIXTURE['checkout.session'].allowed_payment_method_types
    )
    // An SDK field the fixture lacks that is not in the known list is a problem.
    assert.deepEqual(checkShape({ ...fixtures.payment_method, sepa_debit: null }, { path: 'pm' }), [
      "pm: 'sepa_debit' is not in the payment_method fixture and not in BEYOND_FIXTURE (fields added after spec v2436)",
    ])
  })
})

test.group('Stripe sandbox: shapes through the SDK match Stripe’s fixtures', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )

  test('store collections are the SDK types (compile-time) and hold what the SDK receives', async ({
    assert,
  }) => {
    assert.isTrue(collectionsAreSdkTypes)
    assert.lengthOf(coreCollections, 3)
    const created: Stripe.Customer = await stripe.customers.create({ email: 'types@example.com' })
    const stored: Stripe.Customer | undefined = sandbox.store.get('customer', created.id)
    assert.deepEqual(stored, { ...created })
    const endpoint: Stripe.WebhookEndpoint = await stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:9/hook',
      enabled_events: ['*'],
    })
    const storedEndpoint: Stripe.WebhookEndpoint | undefined = sandbox.store.get(
      'webhook_endpoint',
      endpoint.id
    )
    const { secret, ...withoutSecret } = endpoint
    assert.match(secret ?? '', /^whsec_/)
    assert.deepEqual(storedEndpoint, withoutSecret)
    const event: Stripe.Event = await stripe.events.retrieve(sandbox.eventLog()[0].id)
    const storedEvent: Stripe.Event | undefined = sandbox.store.get('event', event.id)
    assert.equal(storedEvent?.id, event.id)
  })

  test('every fixture type the sandbox produces now, fetched through the SDK', async ({
    assert,
  }) => {
    const fetched: Array<{ label: string; value: object }> = []
    const keep = (label: string, value: object) => fetched.push({ label, value })

    const customer = await stripe.customers.create({
      email: 'shape@example.com',
      name: 'Shape',
      address: { city: 'Paris', country: 'FR' },
      shipping: { name: 'Shape', address: { line1: '1 rue' } },
      metadata: { k: 'v' },
    })
    keep('customers.create', customer)
    keep('customers.retrieve', await stripe.customers.retrieve(customer.id))
    keep(
      'customers.retrieve expand includables',
      await stripe.customers.retrieve(customer.id, { expand: ['subscriptions', 'tax_ids'] })
    )
    keep('customers.update', await stripe.customers.update(customer.id, { phone: '+331' }))
    keep('customers.list', await stripe.customers.list({ limit: 3 }))
    const doomed = await stripe.customers.create({ email: 'doomed@example.com' })
    keep('customers.del', await stripe.customers.del(doomed.id))
    keep('customers.retrieve deleted', await stripe.customers.retrieve(doomed.id))

    const endpoint = await stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:9/shape',
      enabled_events: ['customer.created'],
    })
    keep('webhookEndpoints.create', endpoint)
    keep('webhookEndpoints.retrieve', await stripe.webhookEndpoints.retrieve(endpoint.id))
    keep('webhookEndpoints.del', await stripe.webhookEndpoints.del(endpoint.id))

    const events = await stripe.events.list({ limit: 100 })
    keep('events.list', events)
    keep('events.retrieve', await stripe.events.retrieve(events.data[0].id))

    if (routed(sandbox, 'POST', '/v1/products')) {
      const product = await stripe.products.create({ name: 'Shape product' })
      keep('products.create', product)
      keep('products.retrieve', await stripe.products.retrieve(product.id))
      if (routed(sandbox, 'POST', '/v1/prices')) {
        keep(
          'prices.create one-time',
          await stripe.prices.create({ currency: 'usd', unit_amount: 500, product: product.id })
        )
        const recurring = await recurringPrice(stripe, 500, 'Shape plan')
        keep('prices.create recurring', recurring)
        keep(
          'prices.retrieve expand product',
          await stripe.prices.retrieve(recurring.id, { expand: ['product'] })
        )
        keep('prices.list', await stripe.prices.list({ limit: 5 }))
      }
      if (routed(sandbox, 'DELETE', '/v1/products/:id')) {
        const empty = await stripe.products.create({ name: 'Deleted product' })
        keep('products.del', await stripe.products.del(empty.id))
      }
    }
    if (routed(sandbox, 'GET', '/v1/balance')) {
      keep('balance.retrieve', await stripe.balance.retrieve())
    }
    if (routed(sandbox, 'POST', '/v1/accounts')) {
      const account = await stripe.accounts.create({ type: 'express', country: 'US' })
      keep('accounts.create', account)
      keep('accounts.retrieve', await stripe.accounts.retrieve(account.id))
      if (routed(sandbox, 'POST', '/v1/account_links')) {
        keep(
          'accountLinks.create',
          await stripe.accountLinks.create({
            account: account.id,
            type: 'account_onboarding',
            refresh_url: 'http://localhost:3333/refresh',
            return_url: 'http://localhost:3333/return',
          })
        )
      }
    }
    if (routed(sandbox, 'POST', '/v1/checkout/sessions')) {
      const session = await stripe.checkout.sessions.create({
        mode: 'payment',
        customer: customer.id,
        success_url: 'http://localhost:3333/success',
        line_items: [
          {
            quantity: 1,
            price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'Credits' } },
          },
        ],
      })
      keep('checkout.sessions.create', session)
      keep(
        'checkout.sessions.retrieve expand line_items',
        await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] })
      )
      keep(
        'checkout.sessions.listLineItems',
        await stripe.checkout.sessions.listLineItems(session.id)
      )
    }
    if (routed(sandbox, 'POST', '/v1/billing_portal/sessions')) {
      keep(
        'billingPortal.sessions.create',
        await stripe.billingPortal.sessions.create({
          customer: customer.id,
          return_url: 'http://localhost:3333/billing',
        })
      )
    }

    const checked = new Set<string>()
    const problems: string[] = []
    for (const { label, value } of fetched) {
      const report = explainShape(value, { path: label, expansions: sandbox.expansions })
      problems.push(...report.problems)
      for (const type of report.checked) checked.add(type)
    }
    assert.deepEqual(problems, [])
    for (const type of [
      'customer',
      'deleted_customer',
      'event',
      'webhook_endpoint',
      'deleted_webhook_endpoint',
    ]) {
      assert.isTrue(checked.has(type), `${type} was checked`)
    }
    if (routed(sandbox, 'POST', '/v1/prices')) assert.isTrue(checked.has('price'))
    if (routed(sandbox, 'POST', '/v1/checkout/sessions'))
      assert.isTrue(checked.has('checkout.session'))
  }).timeout(20_000)
})

test.group('Stripe sandbox: fidelity sweep over the store', (group) => {
  let sandbox: StripeSandbox
  let stripe: Stripe

  useSandbox(
    group,
    (started, client) => {
      sandbox = started
      stripe = client
    },
    { reset: false }
  )

  test('every stored object and event payload of the flows that exist has Stripe’s shape', async ({
    assert,
  }) => {
    // Customers and endpoints (always there).
    const customer = await stripe.customers.create({ email: 'sweep@example.com', name: 'Sweep' })
    await stripe.customers.update(customer.id, { metadata: { plan: 'free' } })
    const gone = await stripe.customers.create({ email: 'sweep-gone@example.com' })
    await stripe.customers.del(gone.id)
    await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:9/x', enabled_events: ['*'] })

    // Catalog.
    let recurringPriceId: string | undefined
    if (routed(sandbox, 'POST', '/v1/prices')) {
      const price = await recurringPrice(stripe, 500, 'Premium')
      recurringPriceId = price.id
      if (routed(sandbox, 'POST', '/v1/prices/:id'))
        await stripe.prices.update(price.id, { metadata: { tier: 'premium' } })
    }

    // Checkout: one payment, one subscription, one expired.
    const complete = await checkoutCompleter()
    if (routed(sandbox, 'POST', '/v1/checkout/sessions')) {
      const payment = await stripe.checkout.sessions.create({
        mode: 'payment',
        customer: customer.id,
        success_url: 'http://localhost:3333/ok',
        line_items: [
          {
            quantity: 1,
            price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'Credits' } },
          },
        ],
        payment_intent_data: { metadata: { kind: 'credits' } },
      })
      if (complete) await complete(sandbox.context, payment.id, { card: CARD })
      const paid = await stripe.checkout.sessions.retrieve(payment.id)
      if (routed(sandbox, 'POST', '/v1/refunds') && typeof paid.payment_intent === 'string') {
        await stripe.refunds.create({ payment_intent: paid.payment_intent, amount: 100 })
      }
      if (
        typeof paid.payment_intent === 'string' &&
        routed(sandbox, 'GET', '/v1/payment_intents/:id') &&
        (await simRouted(sandbox, 'POST /_sim/charges/:id/dispute'))
      ) {
        const intent = await stripe.paymentIntents.retrieve(paid.payment_intent)
        if (typeof intent.latest_charge === 'string')
          await simPost(sandbox, `/_sim/charges/${intent.latest_charge}/dispute`, {
            reason: 'fraudulent',
          })
      }
      if (recurringPriceId) {
        const subscription = await stripe.checkout.sessions.create({
          mode: 'subscription',
          customer: customer.id,
          success_url: 'http://localhost:3333/ok',
          line_items: [{ price: recurringPriceId, quantity: 1 }],
          subscription_data: { metadata: { plan: 'premium' } },
        })
        if (complete) await complete(sandbox.context, subscription.id, { card: CARD })
      }
      if (routed(sandbox, 'POST', '/v1/checkout/sessions/:id/expire')) {
        const abandoned = await stripe.checkout.sessions.create({
          mode: 'payment',
          success_url: 'http://localhost:3333/ok',
          line_items: [
            {
              quantity: 1,
              price_data: { currency: 'usd', unit_amount: 300, product_data: { name: 'Pack' } },
            },
          ],
        })
        await stripe.checkout.sessions.expire(abandoned.id)
      }
    }

    // PaymentIntents directly: a success and a decline.
    if (routed(sandbox, 'POST', '/v1/payment_intents')) {
      await stripe.paymentIntents.create({
        amount: 700,
        currency: 'usd',
        customer: customer.id,
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      })
      await assert.rejects(
        () =>
          stripe.paymentIntents.create({
            amount: 800,
            currency: 'usd',
            customer: customer.id,
            payment_method: 'pm_card_chargeDeclined',
            confirm: true,
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          }),
        Stripe.errors.StripeCardError
      )
    }

    // A one-off invoice: item, draft, finalize, void.
    if (routed(sandbox, 'POST', '/v1/invoiceitems') && routed(sandbox, 'POST', '/v1/invoices')) {
      await stripe.invoiceItems.create({
        customer: customer.id,
        amount: 300,
        currency: 'usd',
        description: 'Extra deploy slot',
      })
      const invoice = await stripe.invoices.create({
        customer: customer.id,
        collection_method: 'send_invoice',
        days_until_due: 30,
        pending_invoice_items_behavior: 'include',
      })
      if (routed(sandbox, 'POST', '/v1/invoices/:id/finalize'))
        await stripe.invoices.finalizeInvoice(invoice.id)
      if (routed(sandbox, 'POST', '/v1/invoices/:id/void'))
        await stripe.invoices.voidInvoice(invoice.id)
    }

    // Subscriptions: schedule a cancel, then let a period pass (renewal invoices).
    if (routed(sandbox, 'GET', '/v1/subscriptions')) {
      const subscriptions = await stripe.subscriptions.list({ customer: customer.id })
      const [first] = subscriptions.data
      if (first && routed(sandbox, 'POST', '/v1/subscriptions/:id')) {
        await sandbox.advanceClock(32 * 24 * 3600)
        await stripe.subscriptions.update(first.id, { cancel_at_period_end: true })
      }
    }

    // Portal and Connect.
    if (routed(sandbox, 'POST', '/v1/billing_portal/sessions')) {
      await stripe.billingPortal.sessions.create({
        customer: customer.id,
        return_url: 'http://localhost:3333/billing',
      })
    }
    if (routed(sandbox, 'POST', '/v1/accounts')) {
      const account = await stripe.accounts.create({ type: 'express', country: 'US' })
      if (routed(sandbox, 'POST', '/v1/account_links')) {
        await stripe.accountLinks.create({
          account: account.id,
          type: 'account_onboarding',
          refresh_url: 'http://localhost:3333/refresh',
          return_url: 'http://localhost:3333/return',
        })
      }
      // Onboarded: a destination charge with an application fee (transfer, fee, py_ on the account).
      if (await simRouted(sandbox, 'POST /_sim/accounts/:id/onboard')) {
        await simPost(sandbox, `/_sim/accounts/${account.id}/onboard`, { outcome: 'complete' })
        if (routed(sandbox, 'POST', '/v1/accounts/:id/login_links'))
          await stripe.accounts.createLoginLink(account.id)
        if (routed(sandbox, 'POST', '/v1/checkout/sessions') && complete) {
          const agent = await stripe.checkout.sessions.create({
            mode: 'payment',
            customer: customer.id,
            success_url: 'http://localhost:3333/ok',
            line_items: [
              {
                quantity: 1,
                price_data: { currency: 'usd', unit_amount: 2000, product_data: { name: 'Agent' } },
              },
            ],
            payment_intent_data: {
              application_fee_amount: 200,
              transfer_data: { destination: account.id },
            },
          })
          await complete(sandbox.context, agent.id, { card: CARD })
        }
      }
    }

    const report = explainStore(sandbox)
    if (process.env.FIDELITY_REPORT)
      console.log(
        [...new Set(report.allowed.map((a) => `${a.type}|${a.key}|${a.reason}`))].sort().join('\n')
      )
    assert.deepEqual(report.problems, [])
    for (const type of ['customer', 'event', 'webhook_endpoint'])
      assert.include(report.checked, type)
    if (recurringPriceId) assert.include(report.checked, 'price')
    if (complete) assert.include(report.checked, 'checkout.session')
    assert.deepEqual(sweepStore(sandbox), report.problems)
    assert.deepEqual(sandbox.fidelityReport().checked, report.checked)

    const response = await fetch(`${sandbox.url}/_sim/fidelity`)
    assert.equal(response.status, 200)
    const body = (await response.json()) as { ok: boolean; problems: string[]; checked: string[] }
    assert.isTrue(body.ok)
    assert.deepEqual(body.problems, [])
    assert.deepEqual(body.checked, report.checked)
  }).timeout(30_000)

  test('every stored type with a retrieve route, fetched through the SDK, has the fixture’s shape', async ({
    assert,
  }) => {
    // Runs on the state the flows above left behind (same sandbox).
    const fixtures = loadFixtures()
    const { collections } = sandbox.store.snapshot()
    const fetchedTypes: string[] = []
    const problems: string[] = []
    for (const [name, records] of Object.entries(collections)) {
      const prefix = RETRIEVE_PATHS[name]
      const live = records.filter((record) => !record.deleted)
      if (!prefix || !fixtures[name] || live.length === 0) continue
      if (!routed(sandbox, 'GET', `${prefix}/:id`)) continue
      const record = live.at(-1) ?? live[0]
      const value: unknown = await stripe.rawRequest('GET', `${prefix}/${record.id}`, undefined, {
        ...(record.account ? { stripeAccount: record.account } : {}),
      })
      problems.push(...checkShape(value, { path: `GET ${prefix}/${record.id}` }))
      fetchedTypes.push(name)
    }
    assert.deepEqual(problems, [])
    assert.includeMembers(fetchedTypes, ['customer', 'event', 'webhook_endpoint'])
    for (const type of ['price', 'checkout.session', 'subscription', 'invoice', 'payment_intent']) {
      if (collections[type]?.length && routed(sandbox, 'GET', `${RETRIEVE_PATHS[type]}/:id`))
        assert.include(fetchedTypes, type)
    }
  }).timeout(10_000)

  test('reports a stored object that drifted, over /_sim/fidelity too', async ({ assert }) => {
    const customer = await stripe.customers.create({ email: 'drift@example.com' })
    const stored = sandbox.store.get('customer', customer.id)
    assert.exists(stored)
    if (!stored) return
    const drifted = Object.assign({}, stored, { colour: 'red' })
    sandbox.store.replace('customer', customer.id, drifted)
    try {
      const expected = `customer ${customer.id}: unknown key 'colour' (neither the customer fixture nor the SDK's Customer has it)`
      assert.include(sweepStore(sandbox), expected)
      const response = await fetch(`${sandbox.url}/_sim/fidelity?verbose=1`)
      const body = (await response.json()) as {
        ok: boolean
        problems: string[]
        allowed: Array<{ key: string }>
      }
      assert.isFalse(body.ok)
      assert.include(body.problems, expected)
      assert.isArray(body.allowed)
      // The event payload was emitted before the drift: it is still fine.
      assert.isFalse(body.problems.some((problem) => problem.startsWith('event ')))
    } finally {
      sandbox.store.replace('customer', customer.id, stored)
    }
    assert.deepEqual(sweepStore(sandbox), [])
  })
})
