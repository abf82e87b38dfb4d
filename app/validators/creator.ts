import vine, { SimpleMessagesProvider } from '@vinejs/vine'
import type { FieldContext } from '@vinejs/vine/types'
import billingConfig from '#config/billing'
import type { AgentPricing } from '#services/marketplace/agent_catalog_service'

/** A per-token price is at most $1,000 per million tokens (the catalogue's own cap). */
export const MAX_MICROS_PER_MILLION = 1_000_000_000

const PRICING_TYPES = ['free', 'monthly', 'one_time', 'api'] as const

/**
 * "9.99", "$1,250" or "0.15" as an integer number of 1/10^decimals units
 * (cents for 2, micro-dollars for 6), parsed from the digits (no floats).
 * null when it is not such an amount.
 */
export function parseAmount(text: string, decimals: number): number | null {
  const match = /^\$?\s*(\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.(\d+))?$/.exec(text.trim())
  if (!match) return null
  const fraction = match[2] ?? ''
  if (fraction.length > decimals) return null
  const whole = Number(match[1].replaceAll(',', ''))
  const units = whole * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0')
  return Number.isSafeInteger(units) ? units : null
}

function dollars(units: number, decimals: number) {
  const amount = units / 10 ** decimals
  return `$${amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: decimals })}`
}

/** An amount typed in dollars, within [min, max] units of 1/10^decimals dollar. */
const amountRule = vine.createRule(
  (
    value: unknown,
    options: { decimals: number; min: number; max: number; example: string },
    field: FieldContext
  ) => {
    if (typeof value !== 'string') return
    const units = parseAmount(value, options.decimals)
    if (units === null) {
      field.report(`Enter an amount in dollars, like ${options.example}`, 'amount', field, options)
    } else if (units < options.min || units > options.max) {
      field.report(
        `Must be from ${dollars(options.min, options.decimals)} to ${dollars(options.max, options.decimals)}`,
        'amountRange',
        field,
        options
      )
    }
  }
)

const price = () =>
  vine
    .string()
    .trim()
    .use(
      amountRule({
        decimals: 2,
        min: billingConfig.marketplace.minPriceCents,
        max: billingConfig.marketplace.maxPriceCents,
        example: '9.99',
      })
    )
    .transform((value) => parseAmount(value, 2)!)

const tokenPrice = () =>
  vine
    .string()
    .trim()
    .use(amountRule({ decimals: 6, min: 0, max: MAX_MICROS_PER_MILLION, example: '3.00' }))
    .transform((value) => parseAmount(value, 6)!)

const pricingFields = {
  pricingType: vine.enum(PRICING_TYPES),
  /** Dollars (monthly and one_time). */
  price: price().optional().requiredWhen('pricingType', 'in', ['monthly', 'one_time']),
  /** Dollars per million input / output tokens (api). */
  inputPrice: tokenPrice().optional().requiredWhen('pricingType', '=', 'api'),
  outputPrice: tokenPrice().optional().requiredWhen('pricingType', '=', 'api'),
}

const messages = new SimpleMessagesProvider(
  {
    'required': 'Required',
    'price.required': 'Enter a price for a monthly or one-time agent',
    'inputPrice.required': 'Enter a price per million input tokens',
    'outputPrice.required': 'Enter a price per million output tokens',
    'pricingType.enum': 'Choose free, monthly, one-time or per-token (API) pricing',
    'name.minLength': 'The name needs at least 2 characters',
    'name.maxLength': 'The name can be at most 120 characters',
    'description.maxLength': 'The description can be at most 2000 characters',
    'string': 'Must be text',
  },
  {}
)

/** Publishing a new agent: name, description and its price. */
export const publishAgentValidator = vine.create({
  name: vine.string().trim().minLength(2).maxLength(120),
  description: vine.string().trim().maxLength(2000).optional(),
  ...pricingFields,
})
publishAgentValidator.messagesProvider = messages

/** Changing an agent's price (a new Stripe price; buyers pay the new one from then on). */
export const changePriceValidator = vine.create(pricingFields)
changePriceValidator.messagesProvider = messages

/** The pricing a validated form names, with only the fields its type uses. */
export function pricingFrom(payload: {
  pricingType: (typeof PRICING_TYPES)[number]
  price?: number | null
  inputPrice?: number | null
  outputPrice?: number | null
}): AgentPricing {
  switch (payload.pricingType) {
    case 'free':
      return { pricingType: 'free' }
    case 'monthly':
    case 'one_time':
      return { pricingType: payload.pricingType, priceCents: payload.price! }
    case 'api':
      return {
        pricingType: 'api',
        inputPriceMicrosPerMillion: payload.inputPrice!,
        outputPriceMicrosPerMillion: payload.outputPrice!,
      }
  }
}
