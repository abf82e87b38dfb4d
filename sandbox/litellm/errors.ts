/**
 * Error bodies as the LiteLLM proxy writes them: `ProxyException`
 * (`{"error":{"message","type","param","code"}}`, code a string, param often the
 * string "None") and FastAPI's 422 validation body (`{"detail":[…]}`).
 */
export interface FastApiIssue {
  type: string
  loc: [string, string]
  msg: string
  input: string
  ctx?: Record<string, number>
}

export class ProxyError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message = 'LiteLLM error'
  ) {
    super(message)
  }

  /** `ProxyException(message, type, param, code)`. */
  static proxy(status: number, message: string, type: string, param: string | null = 'None') {
    return new ProxyError(
      status,
      { error: { message, type, param, code: String(status) } },
      message
    )
  }

  static badRequest(message: string, param: string | null = 'None') {
    return ProxyError.proxy(400, message, 'bad_request', param)
  }

  static auth(message: string) {
    return ProxyError.proxy(401, `Authentication Error, ${message}`, 'auth_error', 'None')
  }

  static validation(issues: FastApiIssue[]) {
    return new ProxyError(422, { detail: issues }, 'Validation error')
  }
}
