import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import stripeConfig from '#config/stripe'
import StripeEventService from '#services/stripe_event_service'
import InvalidWebhookException from '#exceptions/invalid_webhook_exception'

/**
 * Signature timestamps (`t=` in Stripe-Signature) further in the future than
 * the tolerance. The SDK's check only bounds a signature's age, so a
 * future-dated one would stay replayable for as long as it claims; Stripe
 * signs with its current time, so only a skewed clock or a forgery sends one.
 */
function futureTimestamp(signature: string, nowSeconds: number, toleranceSeconds: number) {
  const stamps = signature
    .split(',')
    .map((part) => /^\s*t=(\d+)\s*$/.exec(part)?.[1])
    .filter((value): value is string => value !== undefined)
    .map(Number)
  return stamps.some((stamp) => stamp > nowSeconds + Math.max(toleranceSeconds, 0))
}

/**
 * POST /api/webhooks/stripe: Stripe's deliveries. No session or CSRF (shield
 * exempts this route by name); the signature is the authentication. The body
 * is the raw text (app/middleware/body_parser_middleware.ts).
 *
 * 200 once the event is recorded and processed (or ignored, or done before);
 * 400 when it can't be verified (nothing recorded); 500 when its handler
 * failed, so Stripe delivers it again.
 */
@inject()
export default class StripeWebhooksController {
  constructor(protected events: StripeEventService) {}

  async store({ request, response }: HttpContext) {
    const signature = request.header('stripe-signature') ?? ''
    if (
      futureTimestamp(
        signature,
        Math.floor(Date.now() / 1000),
        stripeConfig.webhookToleranceSeconds
      )
    ) {
      throw new InvalidWebhookException(
        'Invalid signature: the timestamp is in the future, outside the tolerance zone'
      )
    }
    const result = await this.events.receive(request.raw() ?? '', signature)
    if (result.outcome === 'failed') {
      return response.internalServerError({
        error: 'Processing the event failed; it is recorded and will be retried',
        id: result.stripeEventId,
      })
    }
    return response.ok({ received: true, id: result.stripeEventId, outcome: result.outcome })
  }
}
