import vine from '@vinejs/vine'
import type { HttpContext } from '@adonisjs/core/http'
import billingConfig from '#config/billing'

/** A purchase form's own key, or the API's Idempotency-Key header: 8-100 letters, digits, _ or -. */
const requestKeyRule = vine
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{8,100}$/)
  .optional()

const requestKeyValidator = vine.create({ requestKey: requestKeyRule })

/**
 * The key that makes a purchase request safe to send twice: the form's
 * hidden `requestKey` field, else the `Idempotency-Key` header; undefined
 * when neither is sent (each request is then a new Checkout). A malformed
 * key is a 422.
 */
export async function purchaseRequestKey(ctx: HttpContext): Promise<string | undefined> {
  const { requestKey } = await requestKeyValidator.validate({
    requestKey: ctx.request.input('requestKey') ?? ctx.request.header('idempotency-key'),
  })
  return requestKey
}

/** What a checkout request may name: a kind and, for credits, one of the configured packages. */
export const checkoutValidator = vine.create({
  kind: vine.enum(['premium', 'credits', 'deploy_slot'] as const),
  packageKey: vine
    .enum(billingConfig.creditPackages.map((pack) => pack.key))
    .optional()
    .requiredWhen('kind', '=', 'credits'),
})
