/**
 * Every resource the sandbox serves. To add one, write a module like
 * `customers.ts` (routes + expandable fields) and list it here.
 */
import type { ResourceModule } from '../context.js'
import { accounts } from './accounts.js'
import { applicationFees } from './application_fees.js'
import { balance } from './balance.js'
import { charges } from './charges.js'
import { checkoutSessions } from './checkout_sessions.js'
import { customers } from './customers.js'
import { disputes } from './disputes.js'
import { events } from './events.js'
import { paymentIntents } from './payment_intents.js'
import { paymentMethods } from './payment_methods.js'
import { prices } from './prices.js'
import { products } from './products.js'
import { refunds } from './refunds.js'
import { transfers } from './transfers.js'
import { webhookEndpoints } from './webhook_endpoints.js'
import { billingPortal } from './billing_portal.js'
import { invoices } from './invoices.js'
import { subscriptions } from './subscriptions.js'

export const resources: ResourceModule[] = [
  customers,
  events,
  webhookEndpoints,
  products,
  prices,
  accounts,
  checkoutSessions,
  // Money: payments, ledger, Connect transfers (payments.ts is their shared core).
  paymentMethods,
  paymentIntents,
  charges,
  refunds,
  disputes,
  balance,
  transfers,
  applicationFees,
  // Billing: subscriptions, invoices, customer portal (billing.ts is their engine).
  subscriptions,
  invoices,
  billingPortal,
]
