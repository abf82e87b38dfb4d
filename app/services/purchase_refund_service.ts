import { type DateTime } from 'luxon'
import type Stripe from 'stripe'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import CreditPurchase from '#models/credit_purchase'
import DeploySlotPurchase from '#models/deploy_slot_purchase'
import User from '#models/user'
import app from '@adonisjs/core/services/app'
import { Exception } from '@adonisjs/core/exceptions'
import CreditService from '#services/credit_service'
import StripeGateway from '#services/stripe_gateway'
import PlanLimits from '#services/plan_limits'
import DeploymentService from '#services/deployment_service'
import { stripeId } from '#support/stripe_ids'

/**
 * A refund or dispute of a Checkout payment of ours whose purchase is not
 * recorded yet (its checkout.session.completed has not been processed: Stripe
 * does not promise the order). The event fails and is retried, by Stripe or
 * `webhooks:replay`, once the purchase exists.
 */
export class PurchaseNotRecordedYetException extends Exception {
  static code = 'E_PURCHASE_NOT_RECORDED_YET'
}

export type RefundOutcome =
  | { purchase: 'none' }
  | {
      purchase: 'credits'
      clawedCents: number
      shortfallCents: number
      refunded: boolean
      already: boolean
    }
  | { purchase: 'deploy_slot'; refunded: boolean }

/**
 * Refunds and disputes of what users bought through Checkout (credit packs and
 * deploy slots), found by the charge's payment intent. Credits: what is left of
 * the purchase is taken back in proportion to the amount refunded, never below
 * a zero balance (the shortfall is recorded in the ledger entry); a full refund
 * or a dispute marks the purchase refunded. A deploy slot is marked refunded,
 * which lowers the deploy limit. Every effect is keyed on the refund step or
 * dispute id, so a duplicate event changes nothing.
 */
export default class PurchaseRefundService {
  constructor(protected credits = new CreditService()) {}

  /**
   * charge.refunded: `previousAmountRefunded` from the event's
   * previous_attributes when present; `kind` is `purchaseKindOf(charge)`.
   */
  async chargeRefunded(
    charge: Stripe.Charge,
    options: {
      trx: TransactionClientContract
      previousAmountRefunded?: number | null
      at: DateTime
      kind: string | null
    }
  ): Promise<RefundOutcome> {
    const paymentIntentId = stripeId(charge.payment_intent)
    if (!paymentIntentId || charge.amount_refunded <= 0) return { purchase: 'none' }
    const full = charge.refunded || charge.amount_refunded >= charge.amount
    return this.apply(paymentIntentId, {
      trx: options.trx,
      at: options.at,
      metadata: { kind: options.kind ?? '' },
      full,
      key: `refund:${charge.id}:${charge.amount_refunded}`,
      reason: full ? `Refund of charge ${charge.id}` : `Partial refund of charge ${charge.id}`,
      wanted: (purchase, alreadyClawed) => {
        if (full) return purchase.creditsCents - alreadyClawed
        const share = (refunded: number) =>
          Math.floor((purchase.creditsCents * Math.min(refunded, charge.amount)) / charge.amount)
        const before =
          options.previousAmountRefunded === undefined || options.previousAmountRefunded === null
            ? alreadyClawed
            : share(options.previousAmountRefunded)
        return share(charge.amount_refunded) - before
      },
    })
  }

  /**
   * What a refunded or disputed payment bought (`metadata.kind`): from the
   * charge's own metadata when it has it, else read from its payment intent
   * (a dispute carries no metadata), else from the subscription of the
   * invoice it paid (renewals), before any lock. Null when none says.
   */
  static async purchaseKindOf(object: Stripe.Charge | Stripe.Dispute): Promise<string | null> {
    if (object.object === 'charge' && object.metadata?.kind !== undefined) {
      return object.metadata.kind
    }
    const paymentIntentId = stripeId(object.payment_intent)
    if (!paymentIntentId) return null
    const gateway = await app.container.make(StripeGateway)
    const intent = await StripeGateway.call(() =>
      gateway.client.paymentIntents.retrieve(paymentIntentId)
    )
    if (intent.metadata?.kind !== undefined) return intent.metadata.kind
    // A subscription invoice's payment carries no metadata: the subscription's rides on its invoice.
    const payments = await StripeGateway.call(() =>
      gateway.client.invoicePayments.list({
        payment: { type: 'payment_intent', payment_intent: paymentIntentId },
        limit: 1,
      })
    )
    const invoiceId = stripeId(payments.data[0]?.invoice)
    if (!invoiceId) return null
    const invoice = await StripeGateway.call(() => gateway.client.invoices.retrieve(invoiceId))
    return invoice.parent?.subscription_details?.metadata?.kind ?? null
  }

  /**
   * charge.dispute.created: the same clawback as a full refund, reason
   * dispute. `kind` is `purchaseKindOf(dispute)`, read before the transaction.
   */
  async disputeCreated(
    dispute: Stripe.Dispute,
    options: { trx: TransactionClientContract; at: DateTime; kind: string | null }
  ): Promise<RefundOutcome> {
    const paymentIntentId = stripeId(dispute.payment_intent)
    if (!paymentIntentId) return { purchase: 'none' }
    return this.apply(paymentIntentId, {
      trx: options.trx,
      at: options.at,
      metadata: { kind: options.kind ?? '' },
      full: true,
      key: `dispute:${dispute.id}`,
      reason: `Dispute ${dispute.id} (${dispute.reason})`,
      wanted: (purchase, alreadyClawed) => purchase.creditsCents - alreadyClawed,
    })
  }

  protected async apply(
    paymentIntentId: string,
    input: {
      trx: TransactionClientContract
      at: DateTime
      /** The payment's metadata (a charge carries its intent's; a dispute's kind is read first). */
      metadata: Stripe.Metadata
      full: boolean
      key: string
      reason: string
      wanted: (purchase: CreditPurchase, alreadyClawed: number) => number
    }
  ): Promise<RefundOutcome> {
    const { trx } = input
    const slot = await DeploySlotPurchase.query({ client: trx })
      .where('stripe_payment_intent_id', paymentIntentId)
      .first()
    if (slot) {
      await User.query({ client: trx }).where('id', slot.userId).forUpdate().firstOrFail()
      const locked = await DeploySlotPurchase.query({ client: trx })
        .where('id', slot.id)
        .forUpdate()
        .firstOrFail()
      // Any refund of a slot's payment takes the slot away (it cannot be partly kept).
      if (locked.status === 'refunded') return { purchase: 'deploy_slot', refunded: false }
      locked.status = 'refunded'
      locked.refundedAt = input.at
      await locked.useTransaction(trx).save()
      // One slot fewer: deployments over the new limit stop, newest first, with the reason.
      const owner = await User.query({ client: trx }).where('id', slot.userId).firstOrFail()
      const limit = await PlanLimits.deployLimit(owner, trx)
      const deployments = await app.container.make(DeploymentService)
      await deployments.stopExtraDeployments(
        owner,
        trx,
        DeploymentService.downgradeReason('your deploy slot was refunded', limit)
      )
      return { purchase: 'deploy_slot', refunded: true }
    }

    const found = await CreditPurchase.query({ client: trx })
      .where('stripe_payment_intent_id', paymentIntentId)
      .first()
    if (!found) {
      this.refuseIfOurs(paymentIntentId, input.metadata)
      return { purchase: 'none' }
    }
    await User.query({ client: trx }).where('id', found.userId).forUpdate().firstOrFail()
    const purchase = await CreditPurchase.query({ client: trx })
      .where('id', found.id)
      .forUpdate()
      .firstOrFail()
    // Credits were never granted for a purchase that was not paid: nothing to take back.
    if (purchase.status !== 'paid') {
      return {
        purchase: 'credits',
        clawedCents: 0,
        shortfallCents: 0,
        refunded: false,
        already: true,
      }
    }
    const alreadyClawed = await this.credits.clawedBack(purchase, trx)
    const result = await this.credits.clawBack(
      purchase,
      input.wanted(purchase, alreadyClawed),
      { idempotencyKey: input.key, reason: input.reason, createdBy: 'webhook' },
      trx
    )
    if (input.full && !result.already) {
      purchase.status = 'refunded'
      purchase.refundedAt = input.at
      await purchase.useTransaction(trx).save()
    }
    return {
      purchase: 'credits',
      clawedCents: result.clawedCents,
      shortfallCents: result.shortfallCents,
      refunded: input.full,
      already: result.already,
    }
  }

  /** Throws PurchaseNotRecordedYetException when the payment is one of our Checkout purchases. */
  protected refuseIfOurs(paymentIntentId: string, metadata: Stripe.Metadata) {
    const kind = metadata.kind
    if (kind === 'credits' || kind === 'deploy_slot') {
      throw new PurchaseNotRecordedYetException(
        `Payment ${paymentIntentId} (${kind}) has no purchase recorded yet: retry once its checkout.session.completed is processed`
      )
    }
  }
}
