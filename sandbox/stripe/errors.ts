/**
 * Errors in Stripe's wire format: `{ error: { type, code?, message, param?, doc_url? } }`.
 */

export type StripeErrorType =
  'invalid_request_error' | 'api_error' | 'card_error' | 'idempotency_error' | 'rate_limit_error'

export interface StripeErrorBody {
  type: StripeErrorType
  message: string
  code?: string
  param?: string
  doc_url?: string
  decline_code?: string
  request_log_url?: string
  [extra: string]: unknown
}

export interface ApiErrorOptions {
  code?: string
  param?: string
  /**
   * Errors raised before the endpoint starts executing (bad params, unknown ids in
   * the path) are not saved for idempotency, so the caller can fix and retry.
   */
  validation?: boolean
  headers?: Record<string, string>
  extra?: Record<string, unknown>
}

export class ApiError extends Error {
  readonly status: number
  readonly type: StripeErrorType
  readonly code: string | undefined
  readonly param: string | undefined
  readonly validation: boolean
  readonly headers: Record<string, string>
  readonly extra: Record<string, unknown>

  constructor(
    status: number,
    type: StripeErrorType,
    message: string,
    options: ApiErrorOptions = {}
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.type = type
    this.code = options.code
    this.param = options.param
    this.validation = options.validation ?? false
    this.headers = options.headers ?? {}
    this.extra = options.extra ?? {}
  }

  toBody(): { error: StripeErrorBody } {
    const error: StripeErrorBody = { type: this.type, message: this.message }
    if (this.code) {
      error.code = this.code
      error.doc_url = `https://stripe.com/docs/error-codes/${this.code.replaceAll('_', '-')}`
    }
    if (this.param !== undefined) error.param = this.param
    Object.assign(error, this.extra)
    return { error }
  }
}

export function invalidRequest(
  message: string,
  options: ApiErrorOptions & { status?: number } = {}
) {
  return new ApiError(options.status ?? 400, 'invalid_request_error', message, options)
}

/** 404 for an unknown id in the URL, 400 for an unknown id referenced by a param. */
export function resourceMissing(label: string, id: string, param = 'id') {
  return new ApiError(
    param === 'id' ? 404 : 400,
    'invalid_request_error',
    `No such ${label}: '${id}'`,
    {
      code: 'resource_missing',
      param,
      validation: true,
    }
  )
}

export function unknownParameter(param: string) {
  return invalidRequest(`Received unknown parameter: ${param}`, {
    code: 'parameter_unknown',
    param,
    validation: true,
  })
}

export function missingParameter(param: string) {
  return invalidRequest(`Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
    validation: true,
  })
}

export function invalidParameter(
  param: string,
  message: string,
  code = 'parameter_invalid_string'
) {
  return invalidRequest(message, { code, param, validation: true })
}

export function unrecognizedUrl(method: string, path: string) {
  return invalidRequest(`Unrecognized request URL (${method}: ${path}).`, {
    status: 404,
    validation: true,
  })
}

export function internalError(message = 'An unknown error occurred') {
  return new ApiError(500, 'api_error', message)
}

export function authenticationError(message: string) {
  return new ApiError(401, 'invalid_request_error', message, { validation: true })
}
