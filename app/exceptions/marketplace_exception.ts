import { Exception } from '@adonisjs/core/exceptions'

/**
 * A marketplace request that cannot be honoured as asked: bad agent input,
 * an earning that does not exist, a source id reused for different money,
 * a creator who cannot be paid. Nothing was changed.
 */
export default class MarketplaceException extends Exception {
  static status = 422
  static code = 'E_MARKETPLACE'

  /** Input that fails validation (422). */
  static invalid(message: string) {
    return new MarketplaceException(message, { status: 422, code: 'E_MARKETPLACE_INVALID' })
  }

  static agentNotFound(reference: string | number) {
    return new MarketplaceException(`No agent "${reference}" (give an agent id or slug)`, {
      status: 404,
      code: 'E_AGENT_NOT_FOUND',
    })
  }

  static earningNotFound(reference: unknown) {
    return new MarketplaceException(
      `No marketplace earning matches ${JSON.stringify(reference)}: record the sale before its refund or dispute`,
      { status: 404, code: 'E_EARNING_NOT_FOUND' }
    )
  }

  /** One source id recorded twice with different money: a bug upstream, never a replay. */
  static conflictingSource(sourceType: string, sourceId: string, transactionId: number) {
    return new MarketplaceException(
      `${sourceType} ${sourceId} is already recorded (transaction ${transactionId}) with a different kind, amount or buyer`,
      { status: 409, code: 'E_EARNING_CONFLICT' }
    )
  }

  static notACreator(userId: number) {
    return new MarketplaceException(`User ${userId} has no Connect account yet`, {
      status: 409,
      code: 'E_NOT_A_CREATOR',
    })
  }
}
