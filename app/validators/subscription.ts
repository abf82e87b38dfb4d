import vine from '@vinejs/vine'

/** How to cancel Premium: at the end of the paid period (default) or now. */
export const cancelSubscriptionValidator = vine.create({
  mode: vine.enum(['period_end', 'now'] as const).optional(),
})
