import vine from '@vinejs/vine'
import billingConfig from '#config/billing'

/** A credit pack purchase: one of the configured packages. */
export const creditPurchaseValidator = vine.create({
  package: vine.enum(billingConfig.creditPackages.map((pack) => pack.key)),
})

/** Page of a paginated list. */
export const pageValidator = vine.create({
  page: vine.number().withoutDecimals().min(1).optional(),
  perPage: vine.number().withoutDecimals().range([1, 100]).optional(),
})
