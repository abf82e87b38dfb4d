import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import { Exception } from '@adonisjs/core/exceptions'
import BodyParserMiddleware from '@adonisjs/core/bodyparser_middleware'

/** Routes whose body is kept exactly as received and never parsed (signed webhooks). */
const RAW_BODY_PREFIX = '/api/webhooks/'
/** Stripe events are far smaller; anything larger is not one. */
const RAW_BODY_LIMIT_BYTES = 1024 * 1024
/**
 * LiteLLM's generic_api callback: parsed by its own service (JSON array, NDJSON
 * or one object; a malformed body is a 422 there, not a parser error), and
 * larger (up to 512 payloads with prompts and responses per batch).
 */
const LITELLM_CALLBACK_PREFIX = '/api/litellm/'
const LITELLM_CALLBACK_LIMIT_BYTES = 32 * 1024 * 1024

/**
 * The framework's body parser, except for webhook routes: a signature is
 * computed over the exact bytes sent, so there the body is read as is
 * (UTF-8 text, `request.raw()`), never parsed or normalised, and an
 * unparsable body reaches the controller (which answers its own 400)
 * instead of failing in the parser.
 */
@inject()
export default class AppBodyParserMiddleware {
  constructor(protected bodyParser: BodyParserMiddleware) {}

  async handle(ctx: HttpContext, next: NextFn) {
    const url = ctx.request.url()
    const limit = url.startsWith(RAW_BODY_PREFIX)
      ? RAW_BODY_LIMIT_BYTES
      : url.startsWith(LITELLM_CALLBACK_PREFIX)
        ? LITELLM_CALLBACK_LIMIT_BYTES
        : null
    if (limit === null || ctx.request.method() !== 'POST') {
      return this.bodyParser.handle(ctx, next)
    }
    const raw = await readRawBody(ctx, limit)
    ctx.request.setInitialBody({})
    ctx.request.updateRawBody(raw)
    ctx.request.bodyType = 'raw'
    return next()
  }
}

async function readRawBody(ctx: HttpContext, limitBytes: number): Promise<string> {
  const stream = ctx.request.request
  const declared = Number(ctx.request.header('content-length') ?? 0)
  if (declared > limitBytes) {
    throw new Exception('Request body too large', {
      status: 413,
      code: 'E_REQUEST_ENTITY_TOO_LARGE',
    })
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buffer.length
    if (size > limitBytes) {
      throw new Exception('Request body too large', {
        status: 413,
        code: 'E_REQUEST_ENTITY_TOO_LARGE',
      })
    }
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
