/**
 * The one in-memory store of Stripe objects, by collection (object type).
 *
 * Collections are typed through `CollectionTypes`. Resource modules add their own
 * collections by module augmentation:
 *
 *   declare module '../store.js' {
 *     interface CollectionTypes { customer: Stripe.Customer }
 *   }
 */
import type Stripe from 'stripe'

export interface CollectionTypes {
  event: Stripe.Event
  webhook_endpoint: Stripe.WebhookEndpoint
}

export type CollectionName = keyof CollectionTypes & string

export interface StoredRecord<T> {
  /** Global insertion sequence: lists are ordered by it (newest first). */
  seq: number
  value: T
  /** Deleted objects stay as tombstones so a retrieve can answer `{deleted: true}`. */
  deleted: boolean
  /**
   * Connect: the connected account (`acct_…`) whose store holds the object, set when
   * it was created with a `Stripe-Account` header or on that account's side (e.g. the
   * `py_…` payment a transfer creates). Undefined for platform objects.
   */
  account?: string
}

export interface StoreSnapshot {
  seq: number
  collections: Record<string, Array<StoredRecord<unknown> & { id: string }>>
}

type AnyRecord = StoredRecord<unknown>

export class Store {
  #seq = 0
  #collections = new Map<string, Map<string, AnyRecord>>()
  #listeners = new Set<() => void>()

  #collection(name: string): Map<string, AnyRecord> {
    let collection = this.#collections.get(name)
    if (!collection) {
      collection = new Map()
      this.#collections.set(name, collection)
    }
    return collection
  }

  #changed() {
    for (const listener of this.#listeners) listener()
  }

  /** Called after every mutation (persistence hooks in here). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  insert<K extends CollectionName>(
    name: K,
    id: string,
    value: CollectionTypes[K],
    options: { account?: string } = {}
  ): CollectionTypes[K] {
    const collection = this.#collection(name)
    if (collection.has(id)) throw new Error(`Duplicate id ${id} in ${name}`)
    const record: AnyRecord = { seq: ++this.#seq, value, deleted: false }
    if (options.account) record.account = options.account
    collection.set(id, record)
    this.#changed()
    return value
  }

  /** Live (not deleted) object, or undefined. */
  get<K extends CollectionName>(name: K, id: string): CollectionTypes[K] | undefined {
    const record = this.#collection(name).get(id)
    return record && !record.deleted ? (record.value as CollectionTypes[K]) : undefined
  }

  /**
   * Connect scoping: the live object only if it lives in `account`'s store
   * (undefined = the platform), as a request with that `Stripe-Account` sees it.
   */
  getFor<K extends CollectionName>(
    name: K,
    id: string,
    account: string | undefined
  ): CollectionTypes[K] | undefined {
    const record = this.#collection(name).get(id)
    if (!record || record.deleted || record.account !== account) return undefined
    return record.value as CollectionTypes[K]
  }

  /** The connected account an object belongs to (undefined for platform objects). */
  accountOf(name: CollectionName, id: string): string | undefined {
    return this.#collection(name).get(id)?.account
  }

  /** Record including tombstones. */
  getRecord<K extends CollectionName>(
    name: K,
    id: string
  ): StoredRecord<CollectionTypes[K]> | undefined {
    return this.#collection(name).get(id) as StoredRecord<CollectionTypes[K]> | undefined
  }

  /** Replaces a live object; returns the previous value. */
  replace<K extends CollectionName>(
    name: K,
    id: string,
    value: CollectionTypes[K]
  ): CollectionTypes[K] {
    const record = this.#collection(name).get(id)
    if (!record || record.deleted) throw new Error(`No live ${name} ${id}`)
    const previous = record.value as CollectionTypes[K]
    record.value = value
    this.#changed()
    return previous
  }

  markDeleted<K extends CollectionName>(name: K, id: string): CollectionTypes[K] {
    const record = this.#collection(name).get(id)
    if (!record || record.deleted) throw new Error(`No live ${name} ${id}`)
    record.deleted = true
    this.#changed()
    return record.value as CollectionTypes[K]
  }

  /** Removes an object for good (no tombstone). */
  purge<K extends CollectionName>(name: K, id: string) {
    if (this.#collection(name).delete(id)) this.#changed()
  }

  /** Live objects, newest first. */
  list<K extends CollectionName>(name: K): Array<CollectionTypes[K]> {
    return this.records(name)
      .filter((record) => !record.deleted)
      .map((record) => record.value)
  }

  /** All records including tombstones, newest first. */
  records<K extends CollectionName>(
    name: K
  ): Array<StoredRecord<CollectionTypes[K]> & { id: string }> {
    return [...this.#collection(name).entries()]
      .map(([id, record]) => ({ id, ...(record as StoredRecord<CollectionTypes[K]>) }))
      .sort((a, b) => b.seq - a.seq)
  }

  /**
   * Untyped lookup of a live object, for references to collections that a later
   * slice may not have registered yet (e.g. `payment_method`).
   */
  find(name: string, id: string): object | undefined {
    const record = this.#collections.get(name)?.get(id)
    return record && !record.deleted && typeof record.value === 'object' && record.value !== null
      ? record.value
      : undefined
  }

  /** Sequence number of any record (live or deleted): used to place list cursors. */
  seqOf(name: CollectionName, id: string): number | undefined {
    return this.#collection(name).get(id)?.seq
  }

  clear() {
    this.#collections.clear()
    this.#changed()
  }

  snapshot(): StoreSnapshot {
    const collections: StoreSnapshot['collections'] = {}
    for (const [name, collection] of this.#collections) {
      collections[name] = [...collection.entries()].map(([id, record]) => ({ id, ...record }))
    }
    return { seq: this.#seq, collections }
  }

  restore(snapshot: StoreSnapshot) {
    this.#collections.clear()
    this.#seq = snapshot.seq
    for (const [name, records] of Object.entries(snapshot.collections)) {
      const collection = this.#collection(name)
      for (const { id, seq, value, deleted, account } of records) {
        const record: AnyRecord = { seq, value, deleted }
        if (account) record.account = account
        collection.set(id, record)
      }
    }
  }
}
