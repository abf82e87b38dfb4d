/**
 * What a resource module gets to work with, and how it plugs in.
 * A resource is `{ name, register(ctx) }`: it declares routes and expandable
 * fields against the shared store, clock and event bus.
 */
import type { SandboxClock } from './clock.js'
import type { EventBus } from './events.js'
import type { Expander, ExpansionRegistry } from './expand.js'
import type { PageDefinition } from './pages.js'
import type { Shape } from './params.js'
import type { SimRouteDefinition } from './sim.js'
import type { RouteDefinition } from './router.js'
import type { Store } from './store.js'
import type { WebhookDispatcher } from './webhooks.js'

/** Account-wide behaviour a test or the demo can tune (Stripe's Dashboard settings). */
export interface SandboxSettings {
  billing: {
    /** Days after a failed renewal payment at which it is retried (Stripe's retry schedule). */
    retryScheduleDays: number[]
    /** After the last retry fails: cancel the subscription, mark it unpaid, or leave it past_due. */
    afterFinalFailure: 'cancel' | 'mark_unpaid' | 'leave_past_due'
  }
}

export const DEFAULT_SETTINGS: SandboxSettings = {
  billing: { retryScheduleDays: [3, 5, 7], afterFinalFailure: 'cancel' },
}

export interface SandboxServices {
  store: Store
  clock: SandboxClock
  events: EventBus
  webhooks: WebhookDispatcher
  expansions: ExpansionRegistry
  /** The API version stamped on events. */
  apiVersion: string
  /** Mutable settings (see SandboxSettings); read them at the moment of use. */
  settings: SandboxSettings
  /** Base URL of the running sandbox (`http://127.0.0.1:12111`): hosted pages live under it. */
  publicUrl(): string
}

export interface ResourceContext extends SandboxServices {
  route<S extends Shape>(definition: RouteDefinition<S>): void
  expandable(type: string, field: string, expander: Expander): void
  /**
   * Plain references of `type`: each field (key) holds the id of an object of a collection
   * (value), expanded with `store.find`. The collection is the expander's `target`, so
   * nested paths below the field are validated against it; `{ target: false }` registers
   * them without one (nested paths below are not validated).
   */
  references(type: string, fields: Record<string, string>, options?: { target?: boolean }): void
  /** A hosted page (Checkout, portal, onboarding) served by the sandbox itself. */
  page(definition: PageDefinition): void
  /** A `/_sim/…` control route (test and demo controls of this resource). */
  sim(definition: SimRouteDefinition): void
}

export interface ResourceModule {
  name: string
  register(ctx: ResourceContext): void
}
