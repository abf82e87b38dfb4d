/**
 * Shape fidelity: compares the keys of the objects the sandbox produces with
 * Stripe's own example objects (`fixtures3.json` from github.com/stripe/openapi,
 * copied to tests/fixtures/stripe/) and with the field lists of the installed
 * `stripe` SDK's type declarations (23.1.0, API 2026-10-28.endive).
 *
 * For every object that carries an `object` field (at the top and nested:
 * expanded references, lists' `data`, events' `data.object`):
 *  - every key the fixture of that type has must be present, unless the
 *    difference is allowed (table below);
 *  - every field the SDK type declares non-optional must be present (null where
 *    there is no value), also those Stripe added after the fixture;
 *  - every key must be known to the fixture or to the SDK type, and a key the
 *    fixture lacks must be listed in BEYOND_FIXTURE with its reason;
 *  - where both values are non-null their JSON kinds agree (string, number,
 *    boolean, array, object), an expandable id and its expanded object counting
 *    as the same thing, and a decimal string and the SDK's `Stripe.Decimal` too;
 *  - nested hashes without `object` (`customer_details`, `automatic_tax.liability`,
 *    `items.data[].price.recurring`…) are compared the same way with the fixture's
 *    hash at the same place and the SDK interface the field declares
 *    (`Session.CustomerDetails`); `metadata` is free-form and skipped.
 *
 * Allowed differences (the missing direction), with their reasons:
 *
 * | Rule | Reason |
 * |---|---|
 * | includable | absent unless expanded (INCLUDABLE below, plus every `include` expander a resource module registers): `checkout.session.line_items`, `invoice.payments`, `customer.subscriptions`, `charge.refunds`… An includable present in a stored object or an event payload is a problem. |
 * | optional in 23.1.0 | the SDK type declares the field with `?`: Stripe omits it in some states (e.g. `bank_account.customer` on a Connect external account) |
 * | removed in endive | the fixture (spec v2436) has a key the 23.1.0 type (spec v2596) no longer declares, e.g. `invoice.subscription` |
 *
 * The SDK field lists are read from `node_modules/stripe/cjs/resources/**.d.ts`
 * (and `shared.d.ts`) at first use: every interface with its namespaces; the
 * object types are the top-level ones whose `object:` is a literal (the one with
 * `deleted: true` for `deleted_<type>`).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ExpansionRegistry } from './expand.js'
import { type JsonRecord, isPlainObject } from './json.js'
import type { Store } from './store.js'

/** Where the copy of Stripe's fixture file lives (see its README). */
export const FIXTURES_PATH = fileURLToPath(
  new URL('../../tests/fixtures/stripe/fixtures3.json', import.meta.url)
)

export type Fixtures = Record<string, JsonRecord>

export interface SdkType {
  /** Interface name, e.g. `Customer`, `Session`, `CustomerDetails`. */
  name: string
  /** Name with its namespaces, e.g. `Session.CustomerDetails`. */
  qualified: string
  /** Declaration file, relative to the SDK's `resources/`. */
  file: string
  /** Field name → declared optional (`?:`). */
  fields: Map<string, boolean>
  /** Field name → declared type (first line), e.g. `Session.CustomerDetails | null;`. */
  fieldTypes: Map<string, string>
}

export type SdkTypes = Map<string, SdkType>

export interface SdkIndex {
  /** Stripe object types by their `object` value. */
  types: SdkTypes
  /** Every interface by `<file>#<qualified name>`. */
  interfaces: Map<string, SdkType>
  /** Top-level interface names → their keys (to resolve imported names). */
  topLevel: Map<string, string[]>
}

export type AllowedReason = 'includable' | 'optional in 23.1.0' | 'removed in endive'

export interface AllowedDifference {
  path: string
  /** Object type (`customer`, `deleted_product`…). */
  type: string
  key: string
  reason: AllowedReason | string
}

export interface ShapeReport {
  problems: string[]
  /** Fixture keys that are absent for an allowed reason, and keys beyond the fixture that are known. */
  allowed: AllowedDifference[]
  /** Object types that were checked (`customer`, `event`, …). */
  checked: string[]
}

export interface FidelityOptions {
  /** Fixture objects by type (default: the copy in tests/fixtures/stripe). */
  fixtures?: Fixtures
  /** SDK interfaces (default: parsed from the installed package). */
  sdk?: SdkIndex
  /**
   * Also compare nested hashes (no `object`, e.g. `customer_details`) with the
   * fixture's and the SDK interface's fields (default true).
   */
  nested?: boolean
  /** Includables registered by resource modules (`sandbox.expansions`). */
  expansions?: ExpansionRegistry
  /**
   * The object was not fetched with `expand` (stored objects, event payloads):
   * an includable field that is present is then a problem.
   */
  unexpanded?: boolean
  /** Label for messages (default: `<type> <id>`). */
  path?: string
}

/**
 * Fields that Stripe leaves out unless they are expanded. From Stripe's API
 * reference ("includable" fields) for the types the product uses.
 */
export const INCLUDABLE: Record<string, readonly string[]> = {
  'checkout.session': ['line_items'],
  'customer': [
    'cash_balance',
    'invoice_credit_balance',
    'sources',
    'subscriptions',
    'tax',
    'tax_ids',
  ],
  'invoice': ['payments'],
  'charge': ['refunds'],
  'price': ['currency_options', 'tiers'],
}

/**
 * Keys the sandbox may emit although the fixture (spec v2436, 2026-08-21) lacks
 * them, by type, with the reason. `added` = declared non-optional by the 23.1.0
 * types (Stripe added it after the fixture's spec); `conditional` = optional in
 * the types and present only in some states or requests.
 */
export const BEYOND_FIXTURE: Record<string, Record<string, string>> = {
  'account': {
    company: 'conditional: business_type company (Custom/when requested)',
    individual: 'conditional: business_type individual',
    groups: 'conditional: Connect account groups',
  },
  'balance': {
    instant_available: 'conditional: Instant Payouts',
    issuing: 'conditional: Issuing',
    refund_and_dispute_prefunding: 'conditional: prefunding balance',
  },
  'bank_account': {
    account:
      'conditional: external account of a connected account (the fixture is a customer source)',
    available_payout_methods: 'conditional: external account of a connected account',
    default_for_currency: 'conditional: external account of a connected account',
    future_requirements: 'conditional: external account of a connected account',
    requirements: 'conditional: external account of a connected account',
  },
  'billing_portal.session': {
    after_expiration: 'added after v2436 (optional in 23.1.0)',
  },
  'card': {
    account:
      'conditional: external account of a connected account (the fixture is a customer source)',
    allow_redisplay: 'conditional: card sources',
    available_payout_methods: 'conditional: external account of a connected account',
    currency: 'conditional: external account of a connected account',
    default_for_currency: 'conditional: external account of a connected account',
    description: 'conditional: test cards',
    iin: 'conditional: test cards',
    issuer: 'conditional: test cards',
    networks: 'conditional: co-badged cards',
    status: 'conditional: external account of a connected account',
  },
  'charge': {
    authorization_code: 'conditional: card charges',
    level3: 'conditional: level 3 data',
    presentment_details: 'conditional: Adaptive Pricing',
    radar_options: 'conditional: Radar session',
    transfer: 'conditional: destination charges (the tr_ on the platform)',
  },
  'checkout.session': {
    allowed_payment_method_types:
      'added in 23.0.0 / 2026-09-30.endive (replaces payment_method_types in params)',
    branding_settings: 'conditional: branding_settings param',
    excluded_payment_method_types: 'conditional: excluded_payment_method_types param',
    line_items: 'includable',
    name_collection: 'conditional: name_collection param',
    optional_items: 'conditional: optional_items param',
    presentment_details: 'conditional: Adaptive Pricing',
    redirect_on_completion: 'conditional: embedded ui_mode',
    return_url: 'conditional: embedded ui_mode',
    tax_id_collection: 'conditional: tax_id_collection param',
  },
  'customer': {
    business_name: 'conditional: set with business_name (2025 customer names)',
    cash_balance: 'includable',
    customer_account: 'conditional: Accounts v2 customer',
    individual_name: 'conditional: set with individual_name (2025 customer names)',
    invoice_credit_balance: 'includable',
    sources: 'includable',
    subscriptions: 'includable',
    tax: 'includable',
    tax_ids: 'includable',
  },
  'dispute': {
    intended_submission_method: 'added after v2436 (non-optional in 23.1.0)',
    network_reason_code: 'conditional: card network reason code',
  },
  'event': {
    account: 'conditional: Connect events only',
    context: 'conditional: v2-style authentication context',
  },
  'invoice': {
    amount_paid_off_stripe: 'conditional: payments recorded off Stripe',
    confirmation_secret: 'conditional: includable confirmation secret',
    payments: 'includable',
    status_details: 'conditional: status details',
    threshold_reason: 'conditional: billing_reason subscription_threshold',
  },
  'invoiceitem': {
    frozen_fields: 'conditional',
    invoicing_rules: 'conditional',
    proration_details: 'conditional: proration items',
  },
  'payment_intent': {
    allowed_payment_method_types: 'added in 23.0.0 / 2026-09-30.endive (non-optional)',
    hooks: 'conditional',
    payment_details: 'includable',
    payment_record: 'added after v2436 (non-optional in 23.1.0)',
    presentment_details: 'conditional: Adaptive Pricing',
  },
  'item': {
    discounts: 'includable (line_items.data.discounts)',
    taxes: 'includable (line_items.data.taxes)',
  },
  'payment_method': {
    radar_options: 'conditional: Radar session',
  },
  'plan': {
    tiers: 'includable',
  },
  'price': {
    currency_options: 'includable',
    tiers: 'includable',
  },
  'product': {
    tax_details: 'added after v2436 (non-optional in 23.1.0)',
  },
  'refund': {
    description: 'conditional',
    failure_balance_transaction: 'conditional: failed refunds',
    failure_reason: 'conditional: failed refunds',
    instructions_email: 'conditional: refunds needing customer action',
    next_action: 'conditional: refunds needing customer action',
    pending_reason: 'conditional: pending refunds',
    presentment_details: 'conditional: Adaptive Pricing',
  },
  'subscription': {
    presentment_details: 'conditional: Adaptive Pricing',
    status_details: 'conditional: status details',
  },
  'subscription_item': {
    billed_until: 'conditional',
    current_trial: 'added after v2436 (non-optional in 23.1.0)',
  },
  'webhook_endpoint': {
    secret: 'conditional: only in the response to create',
  },
}

let cachedFixtures: Fixtures | undefined
let cachedSdk: SdkIndex | undefined

/** Stripe's fixture objects by type, from `fixtures3.json`. */
export function loadFixtures(path = FIXTURES_PATH): Fixtures {
  if (path === FIXTURES_PATH && cachedFixtures) return cachedFixtures
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
  if (!isPlainObject(parsed) || !isPlainObject(parsed.resources))
    throw new Error(`${path} is not a Stripe fixtures file ({"resources": {...}})`)
  const fixtures: Fixtures = {}
  for (const [type, value] of Object.entries(parsed.resources)) {
    if (isPlainObject(value)) fixtures[type] = value
  }
  if (path === FIXTURES_PATH) cachedFixtures = fixtures
  return fixtures
}

function declarationFiles(dir: string, prefix = ''): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) files.push(...declarationFiles(join(dir, entry.name), relative))
    else if (entry.name.endsWith('.d.ts')) files.push(relative)
  }
  return files
}

interface Scope {
  kind: 'namespace' | 'interface'
  name: string
  indent: number
  type?: SdkType
}

/**
 * Parses the installed SDK's declaration files (`resources/**.d.ts` and
 * `shared.d.ts`) into every interface's fields, by qualified name
 * (`Session.CustomerDetails`), and the Stripe object types among them: an
 * interface whose `object:` is a literal (`deleted_<type>` when it has `deleted: true`).
 */
export function parseSdk(resourcesDir = sdkResourcesDir()): SdkIndex {
  const index: SdkIndex = { types: new Map(), interfaces: new Map(), topLevel: new Map() }
  const files = declarationFiles(resourcesDir)
    .sort()
    .map((file) => ({ file, path: join(resourcesDir, file) }))
  files.push({ file: '../shared.d.ts', path: join(resourcesDir, '..', 'shared.d.ts') })
  for (const { file, path } of files) {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      continue
    }
    const stack: Scope[] = []
    for (const line of text.split('\n')) {
      const trimmed = line.trim()
      if (trimmed.startsWith('*') || trimmed.startsWith('/*') || trimmed.startsWith('//')) continue
      const indent = line.length - line.trimStart().length
      const namespace = /^\s*(?:export )?(?:declare )?namespace (\w+) \{$/.exec(line)
      const header = /^\s*(?:export )?interface (\w+)(?:<[^>]*>)?(?: extends [^{]+)? \{$/.exec(line)
      if (namespace || header) {
        const name = (namespace ?? header)?.[1] ?? ''
        const scope: Scope = { kind: namespace ? 'namespace' : 'interface', name, indent }
        if (header) {
          const qualified = [...stack.map((entry) => entry.name), name].join('.')
          scope.type = { name, qualified, file, fields: new Map(), fieldTypes: new Map() }
          index.interfaces.set(`${file}#${qualified}`, scope.type)
          if (stack.length === 0) {
            const keys = index.topLevel.get(name) ?? []
            keys.push(`${file}#${qualified}`)
            index.topLevel.set(name, keys)
          }
        }
        stack.push(scope)
        continue
      }
      if (trimmed === '}') {
        if (stack.at(-1)?.indent === indent) {
          const closed = stack.pop()
          if (closed?.type && stack.length === 0) register(index, closed.type)
        }
        continue
      }
      const top = stack.at(-1)
      if (top?.type && indent === top.indent + 4) {
        const field = /^\s*(\w+)(\??): (.*)$/.exec(line)
        if (field) {
          top.type.fields.set(field[1], field[2] === '?')
          top.type.fieldTypes.set(field[1], field[3])
        }
      }
    }
  }
  return index
}

/** A top-level interface with a literal `object` is a Stripe object type. */
function register(index: SdkIndex, type: SdkType) {
  const object = /^'([\w.]+)';$/.exec(type.fieldTypes.get('object') ?? '')
  if (!object) return
  const deleted = type.fieldTypes.get('deleted') === 'true;'
  const name = deleted ? `deleted_${object[1]}` : object[1]
  if (!index.types.has(name)) index.types.set(name, type)
}

/** Field lists by object type (`customer`, `checkout.session`, `deleted_customer`…). */
export function parseSdkTypes(resourcesDir = sdkResourcesDir()): SdkTypes {
  return parseSdk(resourcesDir).types
}

function sdkResourcesDir(): string {
  const entry = createRequire(import.meta.url).resolve('stripe')
  return join(dirname(entry), 'resources')
}

/** The installed SDK's interfaces (parsed once). */
export function sdkIndex(): SdkIndex {
  cachedSdk ??= parseSdk()
  return cachedSdk
}

/** The installed SDK's field lists by object type (parsed once). */
export function sdkTypes(): SdkTypes {
  return sdkIndex().types
}

const NOT_HASHES = new Set(['Array', 'ApiList', 'Decimal', 'Metadata', 'OtherString', 'Stripe'])

/**
 * The interface a field's declared type names, for a nested hash (no `object`):
 * `Session.CustomerDetails | null` inside `Session`, `Liability` inside
 * `Session.AutomaticTax`, or an imported top-level one such as `Address`.
 */
export function resolveFieldType(
  index: SdkIndex,
  owner: SdkType,
  field: string
): SdkType | undefined {
  const text = owner.fieldTypes.get(field)
  if (!text) return undefined
  const scopes = owner.qualified.split('.')
  for (const name of text.match(/\b[A-Z]\w*(?:\.[A-Z]\w*)*/g) ?? []) {
    if (NOT_HASHES.has(name)) continue
    for (let depth = scopes.length; depth >= 0; depth--) {
      const qualified = [...scopes.slice(0, depth), name].join('.')
      const found = index.interfaces.get(`${owner.file}#${qualified}`)
      if (found) return usable(found)
    }
    const [first, ...rest] = name.split('.')
    const keys = index.topLevel.get(first)
    if (keys?.length === 1 && rest.length === 0) {
      const found = index.interfaces.get(keys[0])
      if (found) return usable(found)
    }
  }
  return undefined
}

/** Only plain hashes with declared fields (not Stripe objects, not index signatures). */
function usable(type: SdkType): SdkType | undefined {
  return type.fields.size > 0 && !type.fields.has('object') ? type : undefined
}

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null'

function kindOf(value: unknown): Kind {
  if (value === null || value === undefined) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object') return 'object'
  if (typeof value === 'number') return 'number'
  if (typeof value === 'boolean') return 'boolean'
  return 'string'
}

function typeOf(value: JsonRecord): string | undefined {
  if (typeof value.object !== 'string') return undefined
  return value.deleted === true ? `deleted_${value.object}` : value.object
}

function isIncludable(type: string, key: string, expansions: ExpansionRegistry | undefined) {
  return (
    (INCLUDABLE[type]?.includes(key) ?? false) || expansions?.get(type, key)?.kind === 'include'
  )
}

/** stripe-node turns `decimal_string` fields into `Stripe.Decimal` instances. */
function isSdkDecimal(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) !== Object.prototype &&
    /^-?\d+(\.\d+)?$/.test(String(value))
  )
}

/** An id and the object it expands to are the same field; so are a decimal string and its SDK Decimal. */
function compatible(sample: unknown, value: unknown): boolean {
  const a = kindOf(sample)
  const b = kindOf(value)
  if (a === 'null' || b === 'null' || a === b) return true
  if (a === 'string' && isSdkDecimal(value)) return true
  const pair = new Set([a, b])
  if (pair.has('string') && pair.has('object')) {
    const object = isPlainObject(sample) ? sample : value
    return isPlainObject(object) && typeof object.object === 'string'
  }
  return false
}

/** Checks one object (and every nested object with an `object` field); returns the full report. */
export function explainShape(value: unknown, options: FidelityOptions = {}): ShapeReport {
  const report: ShapeReport = { problems: [], allowed: [], checked: [] }
  const fixtures = options.fixtures ?? loadFixtures()
  const sdkInterfaces = options.sdk ?? sdkIndex()
  const sdk = sdkInterfaces.types
  const nested = options.nested ?? true
  walk(value, options.path)
  return report

  function walk(node: unknown, label: string | undefined) {
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, `${label ?? ''}[${index}]`))
      return
    }
    if (!isPlainObject(node)) return
    const type = typeOf(node)
    const here =
      label ?? (type ? `${type}${typeof node.id === 'string' ? ` ${node.id}` : ''}` : 'object')
    if (type && type !== 'list' && type !== 'search_result') check(node, type, here)
    for (const [key, child] of Object.entries(node)) {
      // Partial old values, not objects of their own.
      if (key === 'previous_attributes') continue
      walk(child, `${here}.${key}`)
    }
  }

  function check(node: JsonRecord, type: string, here: string) {
    const fixture = fixtures[type]
    const declared = sdk.get(type)
    if (!fixture && !declared) return
    report.checked.push(type)
    const baseType = type.startsWith('deleted_') ? type.slice('deleted_'.length) : type

    if (fixture) {
      for (const key of Object.keys(fixture)) {
        if (key in node) continue
        if (isIncludable(baseType, key, options.expansions)) {
          report.allowed.push({ path: here, type, key, reason: 'includable' })
        } else if (declared && !declared.fields.has(key)) {
          report.allowed.push({ path: here, type, key, reason: 'removed in endive' })
        } else if (declared?.fields.get(key) === true) {
          report.allowed.push({ path: here, type, key, reason: 'optional in 23.1.0' })
        } else {
          report.problems.push(`${here}: missing '${key}' (the ${type} fixture has it)`)
        }
      }
    }
    if (declared) {
      // Every field the 23.1.0 type declares non-optional (null where no value).
      for (const [key, optional] of declared.fields) {
        if (optional || key in node || (fixture && key in fixture)) continue
        report.problems.push(
          `${here}: missing '${key}' (non-optional in the SDK's ${declared.name})`
        )
      }
      if (nested) {
        for (const [key, child] of Object.entries(node)) {
          if (key === 'metadata') continue
          checkHashes(child, fixture?.[key], declared, key, `${here}.${key}`)
        }
      }
    }
    for (const key of Object.keys(node)) {
      if (options.unexpanded && isIncludable(baseType, key, options.expansions)) {
        report.problems.push(
          `${here}: includable '${key}' is present although nothing was expanded`
        )
        continue
      }
      if (fixture && key in fixture) {
        if (!compatible(fixture[key], node[key])) {
          report.problems.push(
            `${here}.${key}: ${kindOf(node[key])} where the ${type} fixture has ${kindOf(fixture[key])}`
          )
        }
        continue
      }
      if (declared && !declared.fields.has(key)) {
        report.problems.push(
          `${here}: unknown key '${key}' (neither the ${type} fixture nor the SDK's ${declared.name} has it)`
        )
        continue
      }
      if (!declared) {
        report.problems.push(`${here}: unknown key '${key}' (not in the ${type} fixture)`)
        continue
      }
      if (!fixture) continue
      const known = BEYOND_FIXTURE[baseType]?.[key]
      if (known) report.allowed.push({ path: here, type, key, reason: known })
      else if (isIncludable(baseType, key, options.expansions))
        report.allowed.push({ path: here, type, key, reason: 'includable' })
      else
        report.problems.push(
          `${here}: '${key}' is not in the ${type} fixture and not in BEYOND_FIXTURE (fields added after spec v2436)`
        )
    }
  }

  /**
   * A nested hash (no `object`): its keys against the fixture's hash at the same
   * place and against the SDK interface its field declares, recursively.
   */
  function checkHashes(
    hash: unknown,
    sample: unknown,
    owner: SdkType,
    field: string,
    here: string
  ) {
    if (Array.isArray(hash)) {
      const first: unknown = Array.isArray(sample) ? sample[0] : undefined
      hash.forEach((item, i) => checkHashes(item, first, owner, field, `${here}[${i}]`))
      return
    }
    if (!isPlainObject(hash) || typeof hash.object === 'string' || isSdkDecimal(hash)) return
    const shape = resolveFieldType(sdkInterfaces, owner, field)
    if (!shape) return
    const fixtureHash =
      isPlainObject(sample) && typeof sample.object !== 'string' ? sample : undefined
    for (const key of Object.keys(fixtureHash ?? {})) {
      if (key in hash || shape.fields.get(key) === true || !shape.fields.has(key)) continue
      report.problems.push(`${here}: missing '${key}' (the fixture's ${field} has it)`)
    }
    for (const [key, optional] of shape.fields) {
      if (optional || key in hash || (fixtureHash && key in fixtureHash)) continue
      report.problems.push(
        `${here}: missing '${key}' (non-optional in the SDK's ${shape.qualified})`
      )
    }
    for (const [key, child] of Object.entries(hash)) {
      if (!shape.fields.has(key) && !(fixtureHash && key in fixtureHash)) {
        report.problems.push(
          `${here}: unknown key '${key}' (neither the fixture nor the SDK's ${shape.qualified} has it)`
        )
        continue
      }
      if (fixtureHash && key in fixtureHash && !compatible(fixtureHash[key], child)) {
        report.problems.push(
          `${here}.${key}: ${kindOf(child)} where the fixture has ${kindOf(fixtureHash[key])}`
        )
      }
      if (key !== 'metadata') checkHashes(child, fixtureHash?.[key], shape, key, `${here}.${key}`)
    }
  }
}

/** Problems of one object's shape (empty when it matches Stripe's). */
export function checkShape(value: unknown, options: FidelityOptions = {}): string[] {
  return explainShape(value, options).problems
}

export interface SweepTarget {
  store: Store
  expansions: ExpansionRegistry
}

/**
 * Checks every live object in every store collection whose type has a fixture
 * or an SDK type (stored objects are never expanded), and so every event's
 * `data.object`.
 */
export function explainStore(sandbox: SweepTarget, options: FidelityOptions = {}): ShapeReport {
  const total: ShapeReport = { problems: [], allowed: [], checked: [] }
  const { collections } = sandbox.store.snapshot()
  for (const name of Object.keys(collections).sort()) {
    for (const record of collections[name]) {
      if (record.deleted || !isPlainObject(record.value)) continue
      if (typeof record.value.object !== 'string') continue
      const report = explainShape(record.value, {
        ...options,
        expansions: options.expansions ?? sandbox.expansions,
        unexpanded: true,
        path: `${name} ${record.id}`,
      })
      total.problems.push(...report.problems)
      total.allowed.push(...report.allowed)
      total.checked.push(...report.checked)
    }
  }
  total.checked = [...new Set(total.checked)].sort()
  return total
}

/** Shape problems of everything in the store (empty when all match Stripe's). */
export function sweepStore(sandbox: SweepTarget, options: FidelityOptions = {}): string[] {
  return explainStore(sandbox, options).problems
}
