import type { ModelPrice } from '#config/usage'

/**
 * Usage money, once per request and on integers only.
 *
 * - LiteLLM's `spend` (float USD) becomes integer micro-dollars exactly once,
 *   at ingestion: the float's decimal spelling (the shortest one that reads
 *   back as the same float: what LiteLLM's Python wrote, and what JavaScript
 *   prints) is taken digit by digit and rounded half to even at 1e-6 USD. No
 *   float arithmetic touches the amount, so sums of micro-dollars are exact.
 * - Our cost is token counts x integer prices per million tokens (x markup in
 *   basis points), divided once, rounded half to even to the micro-dollar.
 * - Cents appear only on invoices (one rounding per invoice line, elsewhere).
 */

export type PricingSource = 'cache_hit' | 'agent_api' | 'model_price' | 'litellm_spend'

export type PricingSettings = {
  markupBps: number
  modelPrices: Record<string, ModelPrice>
}

/** The agent a request ran for, with its API prices when it is priced per token. */
export type PricedAgent = {
  pricingType: string
  inputPriceMicrosPerMillion: number | null
  outputPriceMicrosPerMillion: number | null
}

export type PricingInput = {
  modelGroup: string
  promptTokens: number
  completionTokens: number
  totalTokens: number
  spendMicros: number
  cacheHit: boolean
  agent?: PricedAgent | null
}

export type PricedRequest = {
  costMicros: number
  source: PricingSource
  /** No price of ours for the model group: billed at LiteLLM's spend (maybe 0), reported. */
  unpriced: boolean
}

const MICROS_PER_USD_EXP = 6n
const MILLION = 1_000_000n
const BPS = 10_000n

/** n / d rounded half to even (d > 0, n >= 0). */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  const q = n / d
  const r = n % d
  const twice = r * 2n
  if (twice > d) return q + 1n
  if (twice === d) return q % 2n === 0n ? q : q + 1n
  return q
}

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/**
 * USD as LiteLLM sent it (a JSON number, or its text) to integer micro-dollars,
 * rounded half to even. Missing, empty, NaN and negative spends are 0
 * (LiteLLM writes 0 for unpriced models and most failures; a negative spend is
 * not a charge). Throws on text that is not a decimal number.
 */
export function spendToMicros(spend: number | string | null | undefined): number {
  if (spend === null || spend === undefined) return 0
  if (typeof spend === 'number') {
    if (!Number.isFinite(spend) || spend <= 0) return 0
    if (spend >= 1e15) throw new RangeError(`LiteLLM spend ${spend} is out of range`)
    // String(n) is the shortest decimal that reads back as n: LiteLLM's own digits.
    return decimalToMicros(String(spend))
  }
  const text = spend.trim()
  if (text === '') return 0
  if (text === 'NaN' || text === 'nan') return 0
  return decimalToMicros(text)
}

/** Plain decimals with a short integer part: exact in doubles once scaled to micros. */
const PLAIN_DECIMAL = /^\d{1,9}(?:\.\d*)?$/

function decimalToMicros(text: string): number {
  if (PLAIN_DECIMAL.test(text)) {
    // The common case (e.g. `0.0008617499999999999`), without BigInt: the first six
    // fraction digits are the micros, the rest decides the rounding (half to even).
    // Every intermediate is an integer below 1e15, so the arithmetic is exact.
    const dot = text.indexOf('.')
    const fraction = dot < 0 ? '' : text.slice(dot + 1)
    let micros =
      Number(dot < 0 ? text : text.slice(0, dot)) * 1_000_000 +
      Number(fraction.length >= 6 ? fraction.slice(0, 6) : fraction.padEnd(6, '0'))
    if (fraction.length > 6) {
      const next = fraction.charCodeAt(6) - 48
      const rest = fraction.slice(7)
      if (next > 5 || (next === 5 && (/[1-9]/.test(rest) || micros % 2 === 1))) micros += 1
    }
    return micros
  }
  const match = DECIMAL.exec(text)
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) {
    throw new TypeError(`"${text}" is not a decimal amount of USD`)
  }
  if (match[1] === '-') return 0
  const fraction = match[3] ?? ''
  const digits = `${match[2]}${fraction}`.replace(/^0+/, '') || '0'
  // value = digits x 10^exponent; micros = value x 10^6
  const exponent = BigInt(Number(match[4] ?? 0) - fraction.length) + MICROS_PER_USD_EXP
  let micros: bigint
  if (exponent >= 0n) {
    micros = BigInt(digits) * 10n ** exponent
  } else {
    micros = divRoundHalfEven(BigInt(digits), 10n ** -exponent)
  }
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`LiteLLM spend "${text}" is out of range`)
  }
  return Number(micros)
}

/**
 * Tokens at prices per million tokens, times (10000 + markupBps) / 10000,
 * in micro-dollars: one division, rounded half to even.
 */
export function tokenCostMicros(
  promptTokens: number,
  completionTokens: number,
  price: ModelPrice,
  markupBps = 0
): number {
  const base =
    BigInt(Math.max(0, promptTokens)) * BigInt(price.inputMicrosPerMillion) +
    BigInt(Math.max(0, completionTokens)) * BigInt(price.outputMicrosPerMillion)
  return Number(divRoundHalfEven(base * (BPS + BigInt(markupBps)), MILLION * BPS))
}

/** micro-dollars plus a markup in basis points, rounded half to even. */
export function withMarkup(micros: number, markupBps: number): number {
  if (markupBps === 0) return micros
  return Number(divRoundHalfEven(BigInt(micros) * (BPS + BigInt(markupBps)), BPS))
}

/**
 * What we bill for one request (see config/usage.ts for the rules, in order):
 * cache hit 0; an `api`-priced agent's own token prices; our model-group price
 * with markup; else LiteLLM's spend with markup, flagged unpriced.
 */
export function priceRequest(input: PricingInput, settings: PricingSettings): PricedRequest {
  if (input.cacheHit) return { costMicros: 0, source: 'cache_hit', unpriced: false }

  const agent = input.agent
  if (
    agent &&
    agent.pricingType === 'api' &&
    agent.inputPriceMicrosPerMillion !== null &&
    agent.outputPriceMicrosPerMillion !== null
  ) {
    const costMicros = tokenCostMicros(input.promptTokens, input.completionTokens, {
      inputMicrosPerMillion: agent.inputPriceMicrosPerMillion,
      outputMicrosPerMillion: agent.outputPriceMicrosPerMillion,
    })
    return { costMicros, source: 'agent_api', unpriced: false }
  }

  const price = Object.hasOwn(settings.modelPrices, input.modelGroup)
    ? settings.modelPrices[input.modelGroup]
    : undefined
  if (price) {
    return {
      costMicros: tokenCostMicros(
        input.promptTokens,
        input.completionTokens,
        price,
        settings.markupBps
      ),
      source: 'model_price',
      unpriced: false,
    }
  }
  return {
    costMicros: withMarkup(input.spendMicros, settings.markupBps),
    source: 'litellm_spend',
    unpriced: true,
  }
}

/** Micro-dollars for people: 1234567 → "$1.234567". */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : ''
  const abs = Math.abs(micros)
  const dollars = Math.floor(abs / 1_000_000)
  const rest = String(abs % 1_000_000).padStart(6, '0')
  return `${sign}$${dollars.toLocaleString('en-US')}.${rest}`
}
