/** `/v1/events`: retrieve and list (last 30 days only, like Stripe). */
import type { ResourceModule } from '../context.js'
import { invalidRequest, resourceMissing } from '../errors.js'
import { paginate } from '../list.js'
import { array, boolean, matchesRange, paginationShape, range, string } from '../params.js'

export const EVENT_RETENTION_SECONDS = 30 * 24 * 60 * 60

/** `customer.*` matches every `customer.…` type; anything else must match exactly. */
function typeMatches(pattern: string, type: string): boolean {
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1))
  return pattern === type
}

export const events: ResourceModule = {
  name: 'events',
  register(ctx) {
    const visibleSince = () => ctx.clock.now() - EVENT_RETENTION_SECONDS

    ctx.route({
      method: 'GET',
      path: '/v1/events/:id',
      params: {},
      returns: 'event',
      handler({ path, request }) {
        const event = ctx.store.get('event', path.id)
        // Connect: events of a connected account are only visible with its Stripe-Account.
        if (!event || event.created < visibleSince() || event.account !== request.stripeAccount) {
          throw resourceMissing('event', path.id)
        }
        return event
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/events',
      params: {
        ...paginationShape,
        created: range(),
        delivery_success: boolean(),
        type: string(),
        types: array(string(), { maxItems: 20 }),
      },
      returns: 'list:event',
      handler({ params, request }) {
        if (params.type && params.types && params.types.length > 0) {
          throw invalidRequest('You cannot specify both the `type` and `types` parameters.', {
            validation: true,
          })
        }
        const patterns = params.type
          ? [params.type]
          : params.types && params.types.length > 0
            ? params.types
            : null
        const since = visibleSince()
        const records = ctx.store.records('event').filter(({ value, deleted }) => {
          if (deleted || value.created < since) return false
          if (value.account !== request.stripeAccount) return false
          if (patterns && !patterns.some((pattern) => typeMatches(pattern, value.type)))
            return false
          if (!matchesRange(value.created, params.created)) return false
          if (params.delivery_success === true && value.pending_webhooks > 0) return false
          if (params.delivery_success === false && value.pending_webhooks === 0) return false
          return true
        })
        return paginate(records, params, {
          url: '/v1/events',
          label: 'event',
          seqOf: (id) => ctx.store.seqOf('event', id),
        })
      },
    })
  },
}
