import app from '@adonisjs/core/services/app'
import logger from '@adonisjs/core/services/logger'
import type Stripe from 'stripe'
import CheckoutService, { type FulfilPrefetch } from '#services/checkout_service'
import PurchaseRefundService from '#services/purchase_refund_service'
import AgentEntitlementService, {
  type ChargeReversalStep,
} from '#services/marketplace/entitlement_service'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { fromStripeTime } from '#support/stripe_time'
import { defineHandler, type HandlerTable } from './types.js'

/**
 * Completed or paid later: grant once through the shared `fulfil` (a mismatch
 * throws and fails the event). A Premium session's subscription is read first.
 */
const fulfil = defineHandler<FulfilPrefetch | null>({
  fetch: async (event) => {
    const session = event.data.object as Stripe.Checkout.Session
    if (!CheckoutService.isOurs(session)) return null
    const checkout = await app.container.make(CheckoutService)
    return checkout.prefetch(session)
  },
  apply: async ({ event, trx }, prefetched) => {
    const session = event.data.object as Stripe.Checkout.Session
    if (!CheckoutService.isOurs(session)) return
    const checkout = await app.container.make(CheckoutService)
    if (!prefetched) return
    const result = await checkout.fulfilIn(session, prefetched, trx, {
      eventCreated: fromStripeTime(event.created),
      source: 'webhook',
    })
    logger.info({ session: session.id, event: event.id, ...result }, 'checkout fulfilment')
  },
})

/** The asynchronous payment failed: a pending purchase becomes failed; nothing is granted. */
const asyncPaymentFailed = defineHandler({
  apply: async ({ event, trx }) => {
    const session = event.data.object as Stripe.Checkout.Session
    if (!CheckoutService.isOurs(session)) return
    const checkout = await app.container.make(CheckoutService)
    await checkout.markFailed(session, { trx })
  },
})

/**
 * Handled on purpose, and changes nothing: fulfilment belongs to the Checkout
 * Session, whose completion carries the intent id that fulfil records. Matching
 * a pending purchase by user and amount could pin one session's payment on
 * another purchase.
 */
const paymentIntentSucceeded = defineHandler({ apply: async () => {} })

/** What the payment bought is read first when the charge does not say (see purchaseKindOf). */
const chargeRefunded = defineHandler<string | null>({
  fetch: (event) => PurchaseRefundService.purchaseKindOf(event.data.object as Stripe.Charge),
  apply: async ({ event, trx }, kind) => {
    const charge = event.data.object as Stripe.Charge
    const previous = event.data.previous_attributes as Partial<Stripe.Charge> | undefined
    const outcome = await new PurchaseRefundService().chargeRefunded(charge, {
      trx,
      kind,
      previousAmountRefunded: previous?.amount_refunded ?? null,
      at: fromStripeTime(event.created),
    })
    if (outcome.purchase !== 'none')
      logger.info({ charge: charge.id, ...outcome }, 'refund applied')
    if (kind === 'agent' && charge.amount_refunded > 0) {
      await reverseAgentEarnings(trx, charge.id, {
        kind: 'refund',
        sourceId: `${charge.id}:${charge.amount_refunded}`,
        refundedTotalCents: charge.amount_refunded,
        full: charge.refunded || charge.amount_refunded >= charge.amount,
        at: fromStripeTime(event.created),
      })
    }
  },
})

const disputeCreated = defineHandler<string | null>({
  fetch: (event) => PurchaseRefundService.purchaseKindOf(event.data.object as Stripe.Dispute),
  apply: async ({ event, trx }, kind) => {
    const dispute = event.data.object as Stripe.Dispute
    const outcome = await new PurchaseRefundService().disputeCreated(dispute, {
      trx,
      kind,
      at: fromStripeTime(event.created),
    })
    if (outcome.purchase !== 'none')
      logger.info({ dispute: dispute.id, ...outcome }, 'dispute applied')
    const chargeId = typeof dispute.charge === 'string' ? dispute.charge : dispute.charge.id
    if (kind === 'agent') {
      await reverseAgentEarnings(trx, chargeId, {
        kind: 'dispute',
        sourceId: dispute.id,
        grossCents: dispute.amount,
        full: true,
        at: fromStripeTime(event.created),
      })
    }
  },
})

/**
 * The creator's share of a refunded or disputed agent payment is taken back
 * (AgentEntitlementService.reverseCharge). A payment whose earning is not
 * recorded yet (its checkout or invoice event not processed) fails the
 * event, which is delivered again once it is.
 */
async function reverseAgentEarnings(
  trx: TransactionClientContract,
  chargeId: string,
  step: ChargeReversalStep
) {
  const entitlements = await app.container.make(AgentEntitlementService)
  const reversals = await entitlements.reverseCharge({ ...step, chargeId }, trx)
  logger.info({ charge: chargeId, reversals: reversals.length }, 'agent earnings reversed')
}

/** Checkout, payments, credits, deploy slots and agent purchases. */
export const checkoutHandlers: HandlerTable = {
  'checkout.session.completed': fulfil,
  'checkout.session.async_payment_succeeded': fulfil,
  'checkout.session.async_payment_failed': asyncPaymentFailed,
  'payment_intent.succeeded': paymentIntentSucceeded,
  'charge.refunded': chargeRefunded,
  'charge.dispute.created': disputeCreated,
}
