import vine from '@vinejs/vine'
import billingConfig from '#config/billing'

/** What a checkout request may name: a kind and, for credits, one of the configured packages. */
export const checkoutValidator = vine.create({
  kind: vine.enum(['premium', 'credits', 'deploy_slot'] as const),
  packageKey: vine
    .enum(billingConfig.creditPackages.map((pack) => pack.key))
    .optional()
    .requiredWhen('kind', '=', 'credits'),
})
