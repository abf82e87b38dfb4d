import app from '@adonisjs/core/services/app'
import logger from '@adonisjs/core/services/logger'
import Stripe from 'stripe'
import ConnectService from '#services/marketplace/connect_service'
import StripeGateway from '#services/stripe_gateway'
import { fromStripeTime } from '#support/stripe_time'
import { defineHandler, type HandlerTable } from './types.js'

/**
 * account.updated: a creator's Connect account changed (onboarding finished,
 * requirements due, payouts paused). `fetch` reads the account as Stripe holds
 * it now (outside any transaction); `apply` mirrors it stamped with the
 * event's `created`, so a late or replayed older event changes nothing.
 */
const accountUpdated = defineHandler<Stripe.Account>({
  async fetch(event) {
    const account = event.data.object as Stripe.Account
    const gateway = await app.container.make(StripeGateway)
    try {
      return await gateway.client.accounts.retrieve(account.id)
    } catch (error) {
      // Gone or no longer ours: the event's own copy is all there is.
      if (error instanceof Stripe.errors.StripePermissionError) return account
      if (error instanceof Stripe.errors.StripeInvalidRequestError) return account
      throw error
    }
  },
  async apply({ event, trx }, account) {
    const connect = await app.container.make(ConnectService)
    const result = await connect.applyAccount(account, trx, fromStripeTime(event.created))
    logger.info(
      {
        account: account.id,
        event: event.id,
        applied: result.applied,
        canReceiveFunds: result.account?.canReceiveFunds ?? null,
      },
      'connect account updated'
    )
  },
})

/** Creators' Connect accounts. Registered by the lead in handlers.ts. */
export const connectHandlers: HandlerTable = {
  'account.updated': accountUpdated,
}
