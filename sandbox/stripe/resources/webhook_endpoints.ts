/** `/v1/webhook_endpoints`: create (returns the `whsec_…` secret once), retrieve, update, list, delete. */
import type Stripe from 'stripe'
import type { ResourceModule, SandboxServices } from '../context.js'
import { invalidParameter, resourceMissing } from '../errors.js'
import { newId } from '../ids.js'
import { paginate } from '../list.js'
import {
  applyMetadata,
  array,
  boolean,
  metadata,
  paginationShape,
  required,
  string,
} from '../params.js'
import { newWebhookSecret } from '../webhooks.js'

export interface NewWebhookEndpoint {
  url: string
  enabledEvents?: string[]
  /** Fixed secret (e.g. the app's STRIPE_WEBHOOK_SECRET); random `whsec_…` otherwise. */
  secret?: string
  connect?: boolean
  apiVersion?: string | null
  description?: string | null
  metadata?: Record<string, string>
}

function checkUrl(url: string, param = 'url'): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalidParameter(param, `Invalid URL: ${url}`, 'url_invalid')
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw invalidParameter(
      param,
      `Invalid URL: ${url}. URLs must begin with http:// or https://`,
      'url_invalid'
    )
  }
  return url
}

/** Shared by the API route and StripeSandbox.addWebhookEndpoint(). Returns the object with its `secret`. */
export function createWebhookEndpoint(
  services: SandboxServices,
  input: NewWebhookEndpoint
): Stripe.WebhookEndpoint {
  const id = newId('webhook_endpoint')
  const secret = input.secret ?? newWebhookSecret()
  const endpoint: Stripe.WebhookEndpoint = {
    id,
    object: 'webhook_endpoint',
    api_version: input.apiVersion ?? null,
    application: null,
    created: services.clock.now(),
    description: input.description ?? null,
    enabled_events:
      input.enabledEvents && input.enabledEvents.length > 0 ? [...input.enabledEvents] : ['*'],
    livemode: false,
    metadata: input.metadata ?? {},
    status: 'enabled',
    url: checkUrl(input.url),
  }
  services.store.insert('webhook_endpoint_internal', id, {
    id,
    secret,
    connect: input.connect ?? false,
  })
  services.store.insert('webhook_endpoint', id, endpoint)
  return { ...endpoint, secret }
}

export const webhookEndpoints: ResourceModule = {
  name: 'webhook_endpoints',
  register(ctx) {
    const find = (id: string) => {
      const endpoint = ctx.store.get('webhook_endpoint', id)
      if (!endpoint) throw resourceMissing('webhook endpoint', id)
      return endpoint
    }

    ctx.route({
      method: 'POST',
      path: '/v1/webhook_endpoints',
      params: {
        url: required(string({ maxLength: 5000 })),
        enabled_events: required(array(string())),
        api_version: string(),
        connect: boolean(),
        description: string({ maxLength: 5000 }),
        metadata: metadata(),
      },
      returns: 'webhook_endpoint',
      handler({ params }) {
        if (params.enabled_events.length === 0) {
          throw invalidParameter(
            'enabled_events',
            'Invalid enabled_events: must contain at least one event type',
            'parameter_missing'
          )
        }
        return createWebhookEndpoint(ctx, {
          url: params.url,
          enabledEvents: params.enabled_events,
          apiVersion: params.api_version,
          connect: params.connect ?? false,
          description: params.description,
          metadata: applyMetadata({}, params.metadata),
        })
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/webhook_endpoints/:id',
      params: {},
      returns: 'webhook_endpoint',
      handler: ({ path }) => find(path.id),
    })

    ctx.route({
      method: 'POST',
      path: '/v1/webhook_endpoints/:id',
      params: {
        url: string({ maxLength: 5000 }),
        enabled_events: array(string()),
        disabled: boolean(),
        description: string({ maxLength: 5000 }),
        metadata: metadata(),
      },
      returns: 'webhook_endpoint',
      handler({ params, path }) {
        const current = find(path.id)
        const next: Stripe.WebhookEndpoint = { ...current }
        if (params.url) next.url = checkUrl(params.url)
        if (params.enabled_events && params.enabled_events.length > 0)
          next.enabled_events = params.enabled_events
        if (params.disabled !== undefined && params.disabled !== null)
          next.status = params.disabled ? 'disabled' : 'enabled'
        if (params.description !== undefined) next.description = params.description
        next.metadata = applyMetadata(current.metadata, params.metadata)
        ctx.store.replace('webhook_endpoint', path.id, next)
        return next
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/webhook_endpoints',
      params: paginationShape,
      returns: 'list:webhook_endpoint',
      handler({ params }) {
        const records = ctx.store.records('webhook_endpoint').filter(({ deleted }) => !deleted)
        return paginate(records, params, {
          url: '/v1/webhook_endpoints',
          label: 'webhook endpoint',
          seqOf: (id) => ctx.store.seqOf('webhook_endpoint', id),
        })
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/webhook_endpoints/:id',
      params: {},
      handler({ path }) {
        find(path.id)
        ctx.store.markDeleted('webhook_endpoint', path.id)
        ctx.store.purge('webhook_endpoint_internal', path.id)
        const deleted: Stripe.DeletedWebhookEndpoint = {
          id: path.id,
          object: 'webhook_endpoint',
          deleted: true,
        }
        return deleted
      },
    })
  },
}
