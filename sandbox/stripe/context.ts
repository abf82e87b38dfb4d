/**
 * What a resource module gets to work with, and how it plugs in.
 * A resource is `{ name, register(ctx) }`: it declares routes and expandable
 * fields against the shared store, clock and event bus.
 */
import type { SandboxClock } from './clock.js'
import type { EventBus } from './events.js'
import type { Expander, ExpansionRegistry } from './expand.js'
import type { Shape } from './params.js'
import type { RouteDefinition } from './router.js'
import type { Store } from './store.js'
import type { WebhookDispatcher } from './webhooks.js'

export interface SandboxServices {
  store: Store
  clock: SandboxClock
  events: EventBus
  webhooks: WebhookDispatcher
  expansions: ExpansionRegistry
  /** The API version stamped on events. */
  apiVersion: string
}

export interface ResourceContext extends SandboxServices {
  route<S extends Shape>(definition: RouteDefinition<S>): void
  expandable(type: string, field: string, expander: Expander): void
}

export interface ResourceModule {
  name: string
  register(ctx: ResourceContext): void
}
