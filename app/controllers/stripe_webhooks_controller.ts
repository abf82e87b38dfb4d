import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import StripeEventService from '#services/stripe_event_service'

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
    const result = await this.events.receive(
      request.raw() ?? '',
      request.header('stripe-signature') ?? ''
    )
    if (result.outcome === 'failed') {
      return response.internalServerError({
        error: 'Processing the event failed; it is recorded and will be retried',
        id: result.stripeEventId,
      })
    }
    return response.ok({ received: true, id: result.stripeEventId, outcome: result.outcome })
  }
}
