import { Exception } from '@adonisjs/core/exceptions'
import type { HttpContext } from '@adonisjs/core/http'
import { wantsJson } from '#support/negotiation'

/** A debit larger than the user's credit balance: refused, nothing written. */
export default class InsufficientCreditsException extends Exception {
  static status = 422
  static code = 'E_INSUFFICIENT_CREDITS'

  static forDebit(debitCents: number, balanceCents: number) {
    return new InsufficientCreditsException(
      `Not enough credits: debiting ${debitCents} would take the balance of ${balanceCents} below zero.`
    )
  }

  async handle(error: this, ctx: HttpContext) {
    if (!wantsJson(ctx) && ctx.session) {
      ctx.session.flash('error', error.message)
      return ctx.response.redirect().back()
    }
    return ctx.response.status(error.status).send({ error: error.message, code: error.code })
  }
}
