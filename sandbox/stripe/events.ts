/**
 * Event creation: every state change becomes one `evt_…`, stored for the Events
 * API and handed to the webhook dispatcher.
 */
import type Stripe from 'stripe'
import type { SandboxClock } from './clock.js'
import { newId } from './ids.js'
import { type JsonRecord, clone, previousAttributes } from './json.js'
import type { CollectionName, CollectionTypes, Store } from './store.js'
import type { WebhookDispatcher } from './webhooks.js'

export type EventType = Stripe.Event['type']
export type EventOfType<T extends EventType> = Extract<Stripe.Event, { type: T }>
export type EventObject<T extends EventType> = EventOfType<T>['data']['object']

/** The API request that caused an event; `null` for automatic actions (renewals, retries…). */
export interface EventOrigin {
  requestId: string
  idempotencyKey: string | null
}

export interface EmitOptions {
  request: EventOrigin | null
  /** Old values of the changed fields, for `*.updated` events. */
  previousAttributes?: JsonRecord
  /** Connected account the event happened on (Connect). */
  account?: string
}

export type EventListener = (event: Stripe.Event) => void

export class EventBus {
  #listeners = new Set<EventListener>()

  constructor(
    private readonly store: Store,
    private readonly clock: SandboxClock,
    private readonly dispatcher: WebhookDispatcher,
    private readonly apiVersion: string
  ) {}

  emit<T extends EventType>(type: T, object: EventObject<T>, options: EmitOptions): EventOfType<T> {
    const data: Stripe.Event.Data = { object: clone(object) }
    if (options.previousAttributes) data.previous_attributes = clone(options.previousAttributes)
    const base: Stripe.EventBase = {
      id: newId('event'),
      object: 'event',
      api_version: this.apiVersion,
      created: this.clock.now(),
      data,
      livemode: false,
      pending_webhooks: this.dispatcher.targets({ type, account: options.account }).length,
      request: options.request
        ? { id: options.request.requestId, idempotency_key: options.request.idempotencyKey }
        : { id: null, idempotency_key: null },
      type,
    }
    if (options.account) base.account = options.account
    // EventBase plus a `type` of T is exactly one member of the Stripe.Event union.
    const event = base as EventOfType<T>
    this.store.insert('event', event.id, event)
    for (const listener of this.#listeners) listener(event)
    this.dispatcher.dispatch(event)
    return event
  }

  /** In-process observers (tests, later simulation logic). */
  onEvent(listener: EventListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

/**
 * Saves an update of the live object `id` of `collection`: replaces `current` with `next`
 * and emits `type` (a `*.updated` event) with the changed attributes. When nothing
 * changed, returns `current` without writing or emitting.
 */
export function saveUpdate<K extends CollectionName, T extends EventType>(
  services: { store: Store; events: EventBus },
  collection: K,
  id: string,
  current: CollectionTypes[K],
  next: CollectionTypes[K] & EventObject<T>,
  type: T,
  options: Omit<EmitOptions, 'previousAttributes'>
): CollectionTypes[K] {
  const previous = previousAttributes(current, next)
  if (Object.keys(previous).length === 0) return current
  services.store.replace(collection, id, next)
  // `next` is both (its parameter type says so); TypeScript cannot relate the generic types.
  const object = next as unknown as EventObject<T>
  services.events.emit(type, object, { ...options, previousAttributes: previous })
  return next
}
