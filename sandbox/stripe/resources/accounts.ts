/**
 * Connect (v1): `/v1/accounts` (create, retrieve, update, list, delete, and
 * `GET /v1/account`), account links, login links, the hosted onboarding page
 * (`/setup/e/:account/:token`) and the Express dashboard login page
 * (`/express/:account/:token`), plus sim controls to finish onboarding or make
 * requirements due.
 */
import type Stripe from 'stripe'
import type { ResourceContext, ResourceModule } from '../context.js'
import { ApiError, invalidParameter, invalidRequest, resourceMissing } from '../errors.js'
import type { EventOrigin } from '../events.js'
import { formatAmount, formatDate, html, page } from '../hosted/html.js'
import type { PageResult } from '../pages.js'
import { randomBase62 } from '../ids.js'
import { clone, previousAttributes } from '../json.js'
import { paginate } from '../list.js'
import {
  type ObjectOut,
  applyMetadata,
  boolean,
  enumOf,
  integer,
  matchesRange,
  metadata,
  object,
  paginationShape,
  range,
  required,
  string,
} from '../params.js'
import { maskKey } from '../server.js'
import { type Body, SimError, list, str } from '../sim.js'
import { computeBalance } from './balance.js'

/** An account link or Express login link: single-use token behind a hosted URL. */
export interface AccountLinkRecord {
  id: string
  kind: 'account_link' | 'login_link'
  account: string
  type: 'account_onboarding' | 'account_update' | 'login'
  refresh_url: string | null
  return_url: string | null
  created: number
  expires_at: number
  used: boolean
}

declare module '../store.js' {
  interface CollectionTypes {
    account: Stripe.Account
    /** Tokens behind account-link / login-link URLs (never rendered by the API). */
    account_link_token: AccountLinkRecord
    /** The platform's own account (`GET /v1/account` without Stripe-Account). */
    platform_account: Stripe.Account
  }
}

export const ACCOUNT_LINK_TTL_SECONDS = 300
export const LOGIN_LINK_TTL_SECONDS = 300
export const TEST_ROUTING_NUMBER = '110000000'
export const TEST_ACCOUNT_NUMBER = '000123456789'
const PLATFORM_KEY = 'platform'
const PLATFORM_NAME = 'Studio Billing'

export type OnboardingOutcome = 'complete' | 'requirements_due'

const COUNTRY_CURRENCY: Record<string, string> = {
  US: 'usd',
  CA: 'cad',
  GB: 'gbp',
  AU: 'aud',
  NZ: 'nzd',
  JP: 'jpy',
  CH: 'chf',
  SE: 'sek',
  NO: 'nok',
  DK: 'dkk',
  PL: 'pln',
  SG: 'sgd',
  HK: 'hkd',
  MX: 'mxn',
  BR: 'brl',
  IN: 'inr',
}
const EURO_COUNTRIES = new Set([
  'AT',
  'BE',
  'CY',
  'DE',
  'EE',
  'ES',
  'FI',
  'FR',
  'GR',
  'HR',
  'IE',
  'IT',
  'LT',
  'LU',
  'LV',
  'MT',
  'NL',
  'PT',
  'SI',
  'SK',
])

function currencyFor(country: string): string | undefined {
  return COUNTRY_CURRENCY[country] ?? (EURO_COUNTRIES.has(country) ? 'eur' : undefined)
}

/** Capabilities the sandbox accepts in `capabilities[...]` (others are unknown params). */
const CAPABILITY_NAMES = [
  'card_payments',
  'transfers',
  'us_bank_account_ach_payments',
  'link_payments',
  'sepa_debit_payments',
  'bancontact_payments',
  'ideal_payments',
  'tax_reporting_us_1099_k',
  'tax_reporting_us_1099_misc',
] as const

/** 403 account_invalid: the account does not exist, was deleted, or is not connected to this platform. */
export function accountAccessDenied(apiKey: string, account: string): ApiError {
  return new ApiError(
    403,
    'invalid_request_error',
    `The provided key '${maskKey(apiKey)}' does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`,
    { code: 'account_invalid', validation: true }
  )
}

// ---------------------------------------------------------------------------
// Requirements
// ---------------------------------------------------------------------------

const INDIVIDUAL_FIELDS = [
  'individual.address.city',
  'individual.address.line1',
  'individual.address.postal_code',
  'individual.address.state',
  'individual.dob.day',
  'individual.dob.month',
  'individual.dob.year',
  'individual.email',
  'individual.first_name',
  'individual.last_name',
  'individual.phone',
  'individual.ssn_last_4',
]
const COMPANY_FIELDS = [
  'company.address.city',
  'company.address.line1',
  'company.address.postal_code',
  'company.address.state',
  'company.name',
  'company.phone',
  'company.tax_id',
  'representative.first_name',
  'representative.last_name',
  'representative.relationship.title',
]

/** What Stripe asks a fresh account for (sorted, as Stripe lists them). */
export function initialRequirements(account: Pick<Stripe.Account, 'business_type'>): string[] {
  const fields = [
    'business_profile.mcc',
    'business_profile.url',
    'external_account',
    'tos_acceptance.date',
    'tos_acceptance.ip',
  ]
  if (!account.business_type) fields.push('business_type', ...INDIVIDUAL_FIELDS)
  else if (account.business_type === 'individual') fields.push(...INDIVIDUAL_FIELDS)
  else fields.push(...COMPANY_FIELDS)
  return fields.sort()
}

function requirementsOf(
  due: string[],
  disabledReason: Stripe.Account.Requirements.DisabledReason | null,
  pastDue: string[] = []
): Stripe.Account.Requirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [...due],
    disabled_reason: disabledReason,
    errors: [],
    eventually_due: [...due],
    past_due: [...pastDue],
    pending_verification: [],
  }
}

function emptyFutureRequirements(): Stripe.Account.FutureRequirements {
  return {
    alternatives: [],
    current_deadline: null,
    currently_due: [],
    disabled_reason: null,
    errors: [],
    eventually_due: [],
    past_due: [],
    pending_verification: [],
  }
}

// ---------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------

const addressShape = object({
  city: string(),
  country: string(),
  line1: string(),
  line2: string(),
  postal_code: string(),
  state: string(),
})

const businessProfileShape = object({
  mcc: string({ maxLength: 4 }),
  name: string({ maxLength: 5000 }),
  product_description: string({ maxLength: 40000 }),
  support_address: addressShape,
  support_email: string(),
  support_phone: string(),
  support_url: string(),
  url: string(),
})

const capabilitiesShape = object(
  Object.fromEntries(CAPABILITY_NAMES.map((name) => [name, object({ requested: boolean() })]))
)

const tosShape = object({
  date: integer(),
  ip: string(),
  service_agreement: enumOf(['full', 'recipient']),
  user_agent: string(),
})

const writableShape = {
  business_profile: businessProfileShape,
  business_type: enumOf(['company', 'government_entity', 'individual', 'non_profit']),
  capabilities: capabilitiesShape,
  default_currency: string(),
  email: string(),
  metadata: metadata(),
  tos_acceptance: tosShape,
}

const createShape = {
  ...writableShape,
  type: enumOf(['custom', 'express', 'standard']),
  country: string(),
  controller: object({
    fees: object({ payer: required(enumOf(['account', 'application'])) }),
    losses: object({ payments: required(enumOf(['application', 'stripe'])) }),
    requirement_collection: enumOf(['application', 'stripe']),
    stripe_dashboard: object({ type: enumOf(['express', 'full', 'none']) }),
  }),
}

type WritableParams = ObjectOut<typeof writableShape>
type ControllerParams = NonNullable<ObjectOut<typeof createShape>['controller']>

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

function blankBusinessProfile(): Stripe.Account.BusinessProfile {
  return {
    annual_revenue: null,
    estimated_worker_count: null,
    mcc: null,
    minority_owned_business_designation: null,
    name: null,
    product_description: null,
    specified_commercial_transactions_act_url: null,
    support_address: null,
    support_email: null,
    support_phone: null,
    support_url: null,
    url: null,
  }
}

function blankSettings(name: string | null, country: string): Stripe.Account.Settings {
  return {
    bacs_debit_payments: { display_name: null, service_user_number: null },
    branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
    card_issuing: { tos_acceptance: { date: null, ip: null } },
    card_payments: {
      decline_on: { avs_failure: false, cvc_failure: false },
      statement_descriptor_prefix: null,
      statement_descriptor_prefix_kana: null,
      statement_descriptor_prefix_kanji: null,
    },
    dashboard: { display_name: name, timezone: country === 'US' ? 'America/New_York' : 'Etc/UTC' },
    invoices: { default_account_tax_ids: null, hosted_payment_method_save: 'offer' },
    payments: {
      statement_descriptor: null,
      statement_descriptor_kana: null,
      statement_descriptor_kanji: null,
      statement_descriptor_prefix_kana: null,
      statement_descriptor_prefix_kanji: null,
    },
    payouts: {
      debit_negative_balances: true,
      schedule: { delay_days: 2, interval: 'daily' },
      statement_descriptor: null,
    },
    sepa_debit_payments: {},
  }
}

function externalAccounts(id: string, data: Stripe.ExternalAccount[] = []) {
  return {
    object: 'list' as const,
    data,
    has_more: false,
    total_count: data.length,
    url: `/v1/accounts/${id}/external_accounts`,
  }
}

/** The v1 `type` and full `controller` hash for a create request. */
function resolveController(
  type: 'custom' | 'express' | 'standard' | null | undefined,
  controller: ControllerParams | null | undefined
): { type: Stripe.Account.Type; controller: Stripe.Account.Controller } {
  if (type && controller) {
    throw invalidRequest(
      'You cannot specify both `type` and `controller` when creating an account. `type` is a legacy parameter; use `controller` instead.',
      { param: 'controller', validation: true }
    )
  }
  if (type === 'express') {
    return {
      type,
      controller: {
        type: 'application',
        is_controller: true,
        fees: { payer: 'application_express' },
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
        stripe_dashboard: { type: 'express' },
      },
    }
  }
  if (type === 'standard') {
    return {
      type,
      controller: {
        type: 'application',
        is_controller: true,
        fees: { payer: 'account' },
        losses: { payments: 'stripe' },
        requirement_collection: 'stripe',
        stripe_dashboard: { type: 'full' },
      },
    }
  }
  if (type === 'custom') {
    return {
      type,
      controller: {
        type: 'application',
        is_controller: true,
        fees: { payer: 'application_custom' },
        losses: { payments: 'application' },
        requirement_collection: 'application',
        stripe_dashboard: { type: 'none' },
      },
    }
  }
  if (!controller) {
    throw invalidRequest(
      'You must specify either `type` or `controller` when creating an account.',
      { code: 'parameter_missing', param: 'controller', validation: true }
    )
  }
  const fees = controller.fees?.payer ?? 'account'
  const losses = controller.losses?.payments ?? 'stripe'
  const collection = controller.requirement_collection ?? 'stripe'
  const dashboard = controller.stripe_dashboard?.type ?? 'full'
  if (losses === 'application' && fees !== 'application') {
    throw invalidParameter(
      'controller[fees][payer]',
      'When `controller[losses][payments]` is `application`, `controller[fees][payer]` must also be `application`.'
    )
  }
  if (collection === 'application' && (dashboard !== 'none' || losses !== 'application')) {
    throw invalidParameter(
      'controller[requirement_collection]',
      'When `controller[requirement_collection]` is `application`, `controller[stripe_dashboard][type]` must be `none` and `controller[losses][payments]` must be `application`.'
    )
  }
  if (dashboard === 'none' && collection !== 'application') {
    throw invalidParameter(
      'controller[stripe_dashboard][type]',
      'When `controller[stripe_dashboard][type]` is `none`, `controller[requirement_collection]` must be `application`.'
    )
  }
  let v1Type: Stripe.Account.Type = 'none'
  if (dashboard === 'express') v1Type = 'express'
  else if (dashboard === 'full') v1Type = 'standard'
  else if (dashboard === 'none') v1Type = 'custom'
  return {
    type: v1Type,
    controller: {
      type: 'application',
      is_controller: true,
      fees: { payer: fees },
      losses: { payments: losses },
      requirement_collection: collection,
      stripe_dashboard: { type: dashboard },
    },
  }
}

function applyWritable(account: Stripe.Account, params: WritableParams): Stripe.Account {
  const next: Stripe.Account = clone(account)
  if (params.business_profile !== undefined) {
    const profile: Stripe.Account.BusinessProfile = {
      ...(next.business_profile ?? blankBusinessProfile()),
    }
    const update = params.business_profile
    if (update === null) {
      next.business_profile = blankBusinessProfile()
    } else {
      for (const key of [
        'mcc',
        'name',
        'product_description',
        'support_email',
        'support_phone',
        'support_url',
        'url',
      ] as const) {
        const value = update[key]
        if (value !== undefined) profile[key] = value
      }
      if (update.mcc && !/^\d{4}$/.test(update.mcc)) {
        throw invalidParameter('business_profile[mcc]', `Invalid mcc: ${update.mcc}`)
      }
      if (update.support_address !== undefined) {
        const a = update.support_address
        profile.support_address = a
          ? {
              city: a.city ?? null,
              country: a.country ?? null,
              line1: a.line1 ?? null,
              line2: a.line2 ?? null,
              postal_code: a.postal_code ?? null,
              state: a.state ?? null,
            }
          : null
      }
      next.business_profile = profile
    }
  }
  if (params.business_type !== undefined) next.business_type = params.business_type
  if (params.email !== undefined) next.email = params.email
  if (params.default_currency !== undefined && params.default_currency !== null) {
    next.default_currency = params.default_currency.toLowerCase()
  }
  if (params.metadata !== undefined) {
    next.metadata = applyMetadata(account.metadata ?? {}, params.metadata)
  }
  if (params.capabilities) {
    const capabilities: Record<string, string> = { ...next.capabilities }
    for (const [name, value] of Object.entries(params.capabilities)) {
      if (!value || value.requested === undefined || value.requested === null) continue
      if (value.requested) {
        if (!capabilities[name]) capabilities[name] = next.details_submitted ? 'active' : 'inactive'
      } else {
        delete capabilities[name]
      }
    }
    next.capabilities = capabilities
  }
  if (params.tos_acceptance) {
    const tos = params.tos_acceptance
    next.tos_acceptance = {
      ...next.tos_acceptance,
      ...(tos.date !== undefined ? { date: tos.date } : {}),
      ...(tos.ip !== undefined ? { ip: tos.ip } : {}),
      ...(tos.user_agent !== undefined ? { user_agent: tos.user_agent } : {}),
      ...(tos.service_agreement ? { service_agreement: tos.service_agreement } : {}),
    }
  }
  return next
}

function validateCapabilities(account: Stripe.Account) {
  const capabilities = account.capabilities ?? {}
  if (capabilities.card_payments && !capabilities.transfers) {
    throw invalidParameter(
      'capabilities',
      'The `card_payments` capability cannot be requested without also requesting the `transfers` capability.'
    )
  }
}

function platformAccount(ctx: ResourceContext): Stripe.Account {
  const existing = ctx.store.get('platform_account', PLATFORM_KEY)
  if (existing) return existing
  const id = `acct_${randomBase62(16)}`
  const account: Stripe.Account = {
    id,
    object: 'account',
    business_profile: { ...blankBusinessProfile(), name: PLATFORM_NAME },
    business_type: 'company',
    capabilities: { card_payments: 'active', transfers: 'active' },
    charges_enabled: true,
    controller: { type: 'account' },
    country: 'US',
    created: ctx.clock.now(),
    default_currency: 'usd',
    details_submitted: true,
    email: 'platform@example.com',
    external_accounts: externalAccounts(id),
    future_requirements: emptyFutureRequirements(),
    metadata: {},
    payouts_enabled: true,
    requirements: requirementsOf([], null),
    settings: blankSettings(PLATFORM_NAME, 'US'),
    tos_acceptance: { date: ctx.clock.now(), ip: '127.0.0.1', user_agent: null },
    type: 'standard',
  }
  return ctx.store.insert('platform_account', PLATFORM_KEY, account)
}

/** The platform's display name (onboarding page title). */
export function platformName(ctx: ResourceContext): string {
  const platform = platformAccount(ctx)
  return platform.settings?.dashboard.display_name ?? platform.business_profile?.name ?? 'Platform'
}

/** A live connected account by id, or undefined (unknown or deleted). */
export function findAccount(ctx: ResourceContext, id: string): Stripe.Account | undefined {
  return ctx.store.get('account', id)
}

function accountOrDenied(ctx: ResourceContext, id: string, apiKey: string): Stripe.Account {
  const account = ctx.store.get('account', id)
  if (!account) throw accountAccessDenied(apiKey, id)
  return account
}

/** The Capability object (`/v1/accounts/:id/capabilities/:name`) of an account. */
export function capabilityOf(account: Stripe.Account, name: string): Stripe.Capability | undefined {
  const status = (account.capabilities as Record<string, string> | undefined)?.[name]
  if (!status) return undefined
  const active = status === 'active'
  const due = active ? [] : (account.requirements?.currently_due ?? [])
  return {
    id: name,
    object: 'capability',
    account: account.id,
    future_requirements: {
      alternatives: [],
      current_deadline: null,
      currently_due: [],
      disabled_reason: null,
      errors: [],
      eventually_due: [],
      past_due: [],
      pending_verification: [],
    },
    requested: true,
    requested_at: account.created ?? null,
    requirements: {
      alternatives: [],
      current_deadline: null,
      currently_due: [...due],
      disabled_reason: active ? null : 'requirements.fields_needed',
      errors: [],
      eventually_due: [...due],
      past_due: active ? [] : [...(account.requirements?.past_due ?? [])],
      pending_verification: [],
    },
    status,
  }
}

/**
 * Replaces the account and emits `capability.updated` for each capability whose
 * status changed, then `account.updated` (Connect events: `account` = its id).
 */
export function saveAccount(
  ctx: ResourceContext,
  before: Stripe.Account,
  after: Stripe.Account,
  origin: EventOrigin | null
): Stripe.Account {
  const previous = previousAttributes(before, after)
  if (Object.keys(previous).length === 0) return before
  ctx.store.replace('account', after.id, after)
  const oldStatuses = (before.capabilities ?? {}) as Record<string, string | undefined>
  for (const [name, status] of Object.entries(after.capabilities ?? {})) {
    const old = oldStatuses[name]
    const capability = capabilityOf(after, name)
    if (!capability || old === status) continue
    ctx.events.emit('capability.updated', capability, {
      request: origin,
      previousAttributes: { status: old ?? 'unrequested' },
      account: after.id,
    })
  }
  ctx.events.emit('account.updated', after, {
    request: origin,
    previousAttributes: previous,
    account: after.id,
  })
  return after
}

// ---------------------------------------------------------------------------
// Onboarding
// ---------------------------------------------------------------------------

export interface OnboardingInput {
  country?: string | null
  business_type?: 'individual' | 'company' | null
  first_name?: string | null
  last_name?: string | null
  company_name?: string | null
  email?: string | null
  routing_number?: string | null
  account_number?: string | null
  /** IP recorded as the ToS acceptance IP. */
  ip?: string | null
}

function bankAccount(
  accountId: string,
  country: string,
  currency: string,
  routing: string,
  number: string,
  holder: string | null
): Stripe.BankAccount {
  return {
    id: `ba_${randomBase62(24)}`,
    object: 'bank_account',
    account: accountId,
    account_holder_name: holder,
    account_holder_type: null,
    account_type: null,
    available_payout_methods: ['standard', 'instant'],
    bank_name: routing === TEST_ROUTING_NUMBER ? 'STRIPE TEST BANK' : 'SANDBOX BANK',
    country,
    currency,
    default_for_currency: true,
    fingerprint: randomBase62(16),
    future_requirements: {
      currently_due: [],
      errors: [],
      past_due: [],
      pending_verification: [],
    },
    last4: number.slice(-4),
    metadata: {},
    requirements: { currently_due: [], errors: [], past_due: [], pending_verification: [] },
    routing_number: routing,
    status: 'new',
  }
}

/** Validates the bank details of the onboarding form (throws 400 with the field as param). */
function validateBank(input: OnboardingInput): { routing: string; number: string } {
  const routing = (input.routing_number ?? TEST_ROUTING_NUMBER).replace(/\s/g, '')
  const number = (input.account_number ?? TEST_ACCOUNT_NUMBER).replace(/\s/g, '')
  if (!/^\d{9}$/.test(routing)) {
    throw invalidParameter('routing_number', 'Routing number must have 9 digits.')
  }
  if (!/^\d{4,17}$/.test(number)) {
    throw invalidParameter('account_number', 'Account number must have 4 to 17 digits.')
  }
  return { routing, number }
}

/**
 * What the hosted onboarding page does when the user submits: `complete` finishes
 * onboarding (charges/payouts enabled, capabilities active, requirements empty,
 * bank account added); `requirements_due` submits details but leaves
 * `external_account` due (payouts disabled). Emits `account.external_account.created`
 * (complete) and `account.updated`, both as Connect events.
 */
export function completeOnboarding(
  ctx: ResourceContext,
  accountId: string,
  outcome: OnboardingOutcome,
  input: OnboardingInput = {}
): Stripe.Account {
  const before = ctx.store.get('account', accountId)
  if (!before) throw resourceMissing('account', accountId, 'account')
  const bank = outcome === 'complete' ? validateBank(input) : null
  const next = clone(before)
  const country = (input.country ?? before.country ?? 'US').toUpperCase()
  next.country = country
  next.default_currency = before.default_currency ?? currencyFor(country) ?? 'usd'
  next.business_type = input.business_type ?? before.business_type ?? 'individual'
  if (input.email) next.email = input.email
  const profile = { ...(next.business_profile ?? blankBusinessProfile()) }
  if (input.company_name) profile.name = input.company_name
  profile.mcc = profile.mcc ?? '5734'
  profile.url = profile.url ?? 'https://example.com'
  next.business_profile = profile
  next.details_submitted = true
  next.tos_acceptance = {
    ...next.tos_acceptance,
    date: ctx.clock.now(),
    ip: input.ip ?? '127.0.0.1',
    user_agent: next.tos_acceptance?.user_agent ?? 'Mozilla/5.0 (Stripe sandbox)',
  }
  const capabilities: Record<string, string> = { ...next.capabilities }
  if (Object.keys(capabilities).length === 0) capabilities.transfers = 'inactive'
  let created: Stripe.BankAccount | null = null
  if (outcome === 'complete' && bank) {
    for (const name of Object.keys(capabilities)) capabilities[name] = 'active'
    next.capabilities = capabilities
    const holder =
      input.business_type === 'company'
        ? (input.company_name ?? null)
        : [input.first_name, input.last_name].filter(Boolean).join(' ') || null
    created = bankAccount(
      accountId,
      country,
      next.default_currency,
      bank.routing,
      bank.number,
      holder
    )
    const existing = (before.external_accounts?.data ?? []).map((item) =>
      item.object === 'bank_account' ? { ...item, default_for_currency: false } : item
    )
    next.external_accounts = externalAccounts(accountId, [created, ...existing])
    next.requirements = requirementsOf([], null)
    next.future_requirements = emptyFutureRequirements()
    next.charges_enabled = 'card_payments' in capabilities || next.type === 'standard'
    next.payouts_enabled = true
  } else {
    for (const name of Object.keys(capabilities)) {
      capabilities[name] = name === 'transfers' ? 'inactive' : 'active'
    }
    next.capabilities = capabilities
    const due = ['external_account']
    next.requirements = requirementsOf(due, null, due)
    next.charges_enabled = 'card_payments' in capabilities
    next.payouts_enabled = false
  }
  if (created) {
    ctx.events.emit('account.external_account.created', created, {
      request: null,
      account: accountId,
    })
  }
  return saveAccount(ctx, before, next, null)
}

/**
 * Makes requirements due later (or clears them with an empty list): payouts are
 * disabled while anything is due; emits `account.updated`.
 */
export function setRequirements(
  ctx: ResourceContext,
  accountId: string,
  currentlyDue: string[],
  disabledReason: Stripe.Account.Requirements.DisabledReason | null = null
): Stripe.Account {
  const before = ctx.store.get('account', accountId)
  if (!before) throw resourceMissing('account', accountId, 'account')
  const next = clone(before)
  const due = [...new Set(currentlyDue)].sort()
  if (due.length === 0) {
    next.requirements = requirementsOf([], null)
    const hasBank = (next.external_accounts?.data.length ?? 0) > 0
    next.payouts_enabled = next.details_submitted && hasBank
  } else {
    next.requirements = requirementsOf(due, disabledReason ?? 'requirements.past_due', due)
    next.payouts_enabled = false
  }
  return saveAccount(ctx, before, next, null)
}

// ---------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------

function newLinkToken(
  ctx: ResourceContext,
  fields: Omit<AccountLinkRecord, 'id' | 'created' | 'used'>
): AccountLinkRecord {
  const record: AccountLinkRecord = {
    id: randomBase62(24),
    created: ctx.clock.now(),
    used: false,
    ...fields,
  }
  return ctx.store.insert('account_link_token', record.id, record)
}

function activeLink(
  ctx: ResourceContext,
  accountId: string,
  token: string,
  kind: AccountLinkRecord['kind']
): { link: AccountLinkRecord | undefined; valid: boolean } {
  const link = ctx.store.get('account_link_token', token)
  if (!link || link.account !== accountId || link.kind !== kind) {
    return { link: undefined, valid: false }
  }
  const valid =
    !link.used && ctx.clock.now() < link.expires_at && !!ctx.store.get('account', accountId)
  return { link, valid }
}

function consume(ctx: ResourceContext, link: AccountLinkRecord) {
  ctx.store.replace('account_link_token', link.id, { ...link, used: true })
}

function invalidLinkPage(message: string): PageResult {
  return {
    status: 404,
    html: page(
      'Link expired',
      html`<div class="wrap">
        <div class="panel">
          <h1>This link is no longer valid</h1>
          <p class="error">${message}</p>
        </div>
      </div>`
    ),
  }
}

function statusBadge(account: Stripe.Account) {
  const due = account.requirements?.currently_due ?? []
  if (account.payouts_enabled && account.charges_enabled && due.length === 0) {
    return html`<span class="badge ok">Complete</span>`
  }
  if (account.details_submitted) return html`<span class="badge warn">Restricted</span>`
  return html`<span class="badge bad">Not onboarded</span>`
}

function onboardingForm(
  ctx: ResourceContext,
  account: Stripe.Account,
  action: string,
  error: string | null,
  values: URLSearchParams
): string {
  const name = platformName(ctx)
  const value = (key: string, fallback: string) => values.get(key) ?? fallback
  const country = value('country', account.country ?? 'US')
  const businessType = value('business_type', account.business_type ?? 'individual')
  const due = account.requirements?.currently_due ?? []
  return page(
    `Set up payouts for ${name}`,
    html`<div class="wrap">
      <div class="summary">
        <div class="merchant"><span class="logo">${name.slice(0, 1)}</span>${name}</div>
        <h1>Set up payouts for ${name}</h1>
        <p class="label">
          ${name} partners with Stripe for secure payments and financial services. Provide your
          details to start receiving payouts.
        </p>
        <p class="muted">Account <code>${account.id}</code> ${statusBadge(account)}</p>
        ${due.length > 0 ? html`<p class="muted">Currently due: ${due.join(', ')}</p>` : html``}
      </div>
      <div class="panel">
        ${error ? html`<p class="error">${error}</p>` : html``}
        <form method="post" action="${action}">
          <label for="country">Country</label>
          <select id="country" name="country">
            ${['US', 'CA', 'GB', 'FR', 'DE', 'AU'].map(
              (code) =>
                html`<option value="${code}" ${code === country ? 'selected' : ''}>${code}</option>`
            )}
          </select>
          <label for="business_type">Business type</label>
          <select id="business_type" name="business_type">
            <option value="individual" ${businessType === 'individual' ? 'selected' : ''}>
              Individual
            </option>
            <option value="company" ${businessType === 'company' ? 'selected' : ''}>Company</option>
          </select>
          <div class="row">
            <div>
              <label for="first_name">First name</label>
              <input id="first_name" name="first_name" value="${value('first_name', 'Jenny')}" />
            </div>
            <div>
              <label for="last_name">Last name</label>
              <input id="last_name" name="last_name" value="${value('last_name', 'Rosen')}" />
            </div>
          </div>
          <label for="company_name">Business name (companies)</label>
          <input id="company_name" name="company_name" value="${value('company_name', '')}" />
          <label for="email">Email</label>
          <input
            id="email"
            name="email"
            type="email"
            value="${value('email', account.email ?? '')}"
          />
          <h2>Bank account for payouts</h2>
          <label for="routing_number">Routing number</label>
          <input
            id="routing_number"
            name="routing_number"
            inputmode="numeric"
            value="${value('routing_number', TEST_ROUTING_NUMBER)}"
          />
          <label for="account_number">Account number</label>
          <input
            id="account_number"
            name="account_number"
            inputmode="numeric"
            value="${value('account_number', TEST_ACCOUNT_NUMBER)}"
          />
          <button type="submit" name="outcome" value="complete">Agree and submit</button>
          <button type="submit" name="outcome" value="requirements_due" class="secondary">
            Save and leave requirements due
          </button>
          <p class="hint">
            Test bank account: routing <code>${TEST_ROUTING_NUMBER}</code>, account
            <code>${TEST_ACCOUNT_NUMBER}</code>. By submitting you agree to the Stripe Connected
            Account Agreement (sandbox).
          </p>
        </form>
      </div>
    </div>`
  )
}

function expressDashboard(ctx: ResourceContext, account: Stripe.Account): string {
  const name = platformName(ctx)
  const due = account.requirements?.currently_due ?? []
  const bank = account.external_accounts?.data.find((item) => item.object === 'bank_account')
  const capabilities = Object.entries(account.capabilities ?? {})
  const balance = computeBalance(ctx, account.id)
  const amounts = (entries: Array<{ amount: number; currency: string }>) =>
    entries.map((entry) => formatAmount(entry.amount, entry.currency)).join(' + ')
  return page(
    'Express dashboard',
    html`<div class="wrap">
      <div class="panel">
        <div class="merchant"><span class="logo">${name.slice(0, 1)}</span>${name} · Express</div>
        <h1>${account.business_profile?.name ?? account.email ?? account.id}</h1>
        <p class="muted">Account <code>${account.id}</code> ${statusBadge(account)}</p>
        <p class="label">Available balance</p>
        <p class="total">${amounts(balance.available)}</p>
        <p class="muted">Pending: ${amounts(balance.pending)}</p>
        <ul class="items">
          <li>
            <span class="name">Charges</span
            ><span>${account.charges_enabled ? 'Enabled' : 'Disabled'}</span>
          </li>
          <li>
            <span class="name">Payouts</span
            ><span>${account.payouts_enabled ? 'Enabled' : 'Disabled'}</span>
          </li>
          <li>
            <span class="name">Payout account</span>
            <span
              >${bank && bank.object === 'bank_account' ? `${bank.bank_name ?? 'Bank'} ••••${bank.last4}` : 'None'}</span
            >
          </li>
          ${capabilities.map(
            ([capability, status]) =>
              html`<li><span class="name">${capability}</span><span>${String(status)}</span></li>`
          )}
          <li><span class="name">Joined</span><span>${formatDate(account.created ?? 0)}</span></li>
        </ul>
        ${
          due.length > 0
            ? html`<p class="notice">Information needed: ${due.join(', ')}</p>`
            : html``
        }
      </div>
    </div>`
  )
}

// ---------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------

export const accounts: ResourceModule = {
  name: 'accounts',
  register(ctx) {
    ctx.route({
      method: 'POST',
      path: '/v1/accounts',
      params: createShape,
      returns: 'account',
      handler({ params }) {
        const resolved = resolveController(params.type, params.controller)
        const country = (params.country ?? 'US').toUpperCase()
        const currency = currencyFor(country)
        if (!currency) {
          throw invalidParameter('country', `Country '${country}' is unknown. Try another country.`)
        }
        const id = `acct_${randomBase62(16)}`
        const blank: Stripe.Account = {
          id,
          object: 'account',
          business_profile: blankBusinessProfile(),
          business_type: null,
          capabilities: {},
          charges_enabled: false,
          controller: resolved.controller,
          country,
          created: ctx.clock.now(),
          default_currency: currency,
          details_submitted: false,
          email: null,
          external_accounts: externalAccounts(id),
          future_requirements: emptyFutureRequirements(),
          metadata: {},
          payouts_enabled: false,
          requirements: requirementsOf([], null),
          settings: blankSettings(null, country),
          tos_acceptance: { date: null, ip: null, user_agent: null },
          type: resolved.type,
        }
        const account = applyWritable(blank, params)
        validateCapabilities(account)
        const due = initialRequirements(account).filter(
          (field) =>
            !(field === 'tos_acceptance.date' && account.tos_acceptance?.date) &&
            !(field === 'tos_acceptance.ip' && account.tos_acceptance?.ip) &&
            !(field === 'business_profile.mcc' && account.business_profile?.mcc) &&
            !(field === 'business_profile.url' && account.business_profile?.url)
        )
        account.requirements = requirementsOf(due, 'requirements.past_due')
        ctx.store.insert('account', id, account)
        return account
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/account',
      params: {},
      returns: 'account',
      handler({ request }) {
        if (request.stripeAccount)
          return accountOrDenied(ctx, request.stripeAccount, request.apiKey)
        return platformAccount(ctx)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/accounts/:id',
      params: {},
      returns: 'account',
      handler({ path, request }) {
        if (path.id === platformAccount(ctx).id) return platformAccount(ctx)
        return accountOrDenied(ctx, path.id, request.apiKey)
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/accounts/:id',
      params: writableShape,
      returns: 'account',
      handler({ params, path, request, origin }) {
        const current = accountOrDenied(ctx, path.id, request.apiKey)
        const next = applyWritable(current, params)
        validateCapabilities(next)
        if (next.business_type !== current.business_type && !current.details_submitted) {
          const due = initialRequirements(next)
          next.requirements = requirementsOf(due, 'requirements.past_due')
        }
        return saveAccount(ctx, current, next, origin)
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/accounts/:id/capabilities',
      params: {},
      returns: 'list:capability',
      handler({ path, request }) {
        const account = accountOrDenied(ctx, path.id, request.apiKey)
        const data = Object.keys(account.capabilities ?? {})
          .sort()
          .map((name) => capabilityOf(account, name))
          .filter((capability): capability is Stripe.Capability => capability !== undefined)
        const result: Stripe.ApiList<Stripe.Capability> = {
          object: 'list',
          data,
          has_more: false,
          url: `/v1/accounts/${account.id}/capabilities`,
        }
        return result
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/accounts/:id/capabilities/:capability',
      params: {},
      returns: 'capability',
      handler({ path, request }) {
        const account = accountOrDenied(ctx, path.id, request.apiKey)
        const capability = capabilityOf(account, path.capability)
        if (!capability) throw resourceMissing('capability', path.capability)
        return capability
      },
    })

    ctx.route({
      method: 'GET',
      path: '/v1/accounts',
      params: { ...paginationShape, created: range() },
      returns: 'list:account',
      handler({ params }) {
        const records = ctx.store
          .records('account')
          .filter(
            ({ value, deleted }) => !deleted && matchesRange(value.created ?? 0, params.created)
          )
        return paginate(records, params, {
          url: '/v1/accounts',
          label: 'account',
          seqOf: (id) => ctx.store.seqOf('account', id),
        })
      },
    })

    ctx.route({
      method: 'DELETE',
      path: '/v1/accounts/:id',
      params: {},
      handler({ path, request }) {
        const account = accountOrDenied(ctx, path.id, request.apiKey)
        ctx.store.markDeleted('account', account.id)
        const deleted: Stripe.DeletedAccount = { id: account.id, object: 'account', deleted: true }
        return deleted
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/account_links',
      params: {
        account: required(string()),
        type: required(enumOf(['account_onboarding', 'account_update'])),
        refresh_url: string({ maxLength: 5000 }),
        return_url: string({ maxLength: 5000 }),
        collect: enumOf(['currently_due', 'eventually_due']),
        collection_options: object({
          fields: enumOf(['currently_due', 'eventually_due']),
          future_requirements: enumOf(['include', 'omit']),
        }),
      },
      returns: 'account_link',
      handler({ params }) {
        const account = ctx.store.get('account', params.account)
        if (!account) throw resourceMissing('account', params.account, 'account')
        if (params.collect && params.collection_options) {
          throw invalidRequest(
            'You may only specify one of these parameters: collect, collection_options.',
            { validation: true }
          )
        }
        for (const key of ['refresh_url', 'return_url'] as const) {
          const url = params[key]
          if (url && !/^https?:\/\/\S+$/i.test(url)) {
            throw invalidParameter(key, `Not a valid URL`, 'url_invalid')
          }
        }
        if (params.type === 'account_update') {
          const dashboard = account.controller?.stripe_dashboard?.type
          if (dashboard !== 'none') {
            throw invalidParameter(
              'type',
              `You cannot create \`account_update\` type Account Links for accounts with access to a Stripe-hosted dashboard (\`controller[stripe_dashboard][type]\` is \`${dashboard ?? 'full'}\`). Use a login link for Express accounts.`
            )
          }
        }
        const now = ctx.clock.now()
        const link = newLinkToken(ctx, {
          kind: 'account_link',
          account: account.id,
          type: params.type,
          refresh_url: params.refresh_url ?? null,
          return_url: params.return_url ?? null,
          expires_at: now + ACCOUNT_LINK_TTL_SECONDS,
        })
        const result: Stripe.AccountLink = {
          object: 'account_link',
          created: link.created,
          expires_at: link.expires_at,
          url: `${ctx.publicUrl()}/setup/e/${account.id}/${link.id}`,
        }
        return result
      },
    })

    ctx.route({
      method: 'POST',
      path: '/v1/accounts/:id/login_links',
      params: {},
      returns: 'login_link',
      handler({ path, request }) {
        const account = accountOrDenied(ctx, path.id, request.apiKey)
        if (account.controller?.stripe_dashboard?.type !== 'express') {
          throw invalidRequest(
            'Cannot create a login link for an account that is not an Express account (`controller[stripe_dashboard][type]` must be `express`).'
          )
        }
        if (!account.details_submitted) {
          throw invalidRequest(
            'Cannot create a login link for an account that has not completed onboarding.'
          )
        }
        const link = newLinkToken(ctx, {
          kind: 'login_link',
          account: account.id,
          type: 'login',
          refresh_url: null,
          return_url: null,
          expires_at: ctx.clock.now() + LOGIN_LINK_TTL_SECONDS,
        })
        const result: Stripe.LoginLink = {
          object: 'login_link',
          created: link.created,
          url: `${ctx.publicUrl()}/express/${account.id}/${link.id}`,
        }
        return result
      },
    })

    // Hosted onboarding page.
    ctx.page({
      method: 'GET',
      path: '/setup/e/:account/:token',
      handler({ path }) {
        const { link, valid } = activeLink(ctx, path.account, path.token, 'account_link')
        if (!link) return invalidLinkPage('This onboarding link does not exist.')
        if (!valid) {
          if (link.refresh_url) return { redirect: link.refresh_url }
          return invalidLinkPage('This onboarding link has expired or was already used.')
        }
        const account = ctx.store.get('account', link.account)
        if (!account) return invalidLinkPage('This account no longer exists.')
        return {
          html: onboardingForm(
            ctx,
            account,
            `/setup/e/${account.id}/${link.id}`,
            null,
            new URLSearchParams()
          ),
        }
      },
    })

    ctx.page({
      method: 'POST',
      path: '/setup/e/:account/:token',
      handler({ path, form }) {
        const { link, valid } = activeLink(ctx, path.account, path.token, 'account_link')
        if (!link) return invalidLinkPage('This onboarding link does not exist.')
        if (!valid) {
          if (link.refresh_url) return { redirect: link.refresh_url }
          return invalidLinkPage('This onboarding link has expired or was already used.')
        }
        const account = ctx.store.get('account', link.account)
        if (!account) return invalidLinkPage('This account no longer exists.')
        const outcome = form.get('outcome') === 'requirements_due' ? 'requirements_due' : 'complete'
        const businessType = form.get('business_type') === 'company' ? 'company' : 'individual'
        try {
          completeOnboarding(ctx, account.id, outcome, {
            country: form.get('country'),
            business_type: businessType,
            first_name: form.get('first_name'),
            last_name: form.get('last_name'),
            company_name: form.get('company_name'),
            email: form.get('email'),
            routing_number: form.get('routing_number'),
            account_number: form.get('account_number'),
          })
        } catch (error) {
          if (!(error instanceof ApiError)) throw error
          return {
            status: 400,
            html: onboardingForm(
              ctx,
              account,
              `/setup/e/${account.id}/${link.id}`,
              error.message,
              form
            ),
          }
        }
        consume(ctx, link)
        if (link.return_url) return { redirect: link.return_url }
        return {
          html: page(
            'Onboarding complete',
            html`<div class="wrap">
              <div class="panel">
                <h1>You're all set</h1>
                <p class="notice">Your details were submitted. You can close this window.</p>
              </div>
            </div>`
          ),
        }
      },
    })

    // Express dashboard (login links).
    ctx.page({
      method: 'GET',
      path: '/express/:account/:token',
      handler({ path }) {
        const { link, valid } = activeLink(ctx, path.account, path.token, 'login_link')
        if (!link || !valid) {
          return invalidLinkPage('This login link has expired or was already used.')
        }
        const account = ctx.store.get('account', link.account)
        if (!account) return invalidLinkPage('This account no longer exists.')
        consume(ctx, link)
        return { html: expressDashboard(ctx, account) }
      },
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/accounts/:id/onboard',
      describe:
        'POST /_sim/accounts/:id/onboard {outcome?: complete|requirements_due} — finish Connect onboarding',
      run(body: Body, params) {
        const outcome = str(body, 'outcome') ?? 'complete'
        if (outcome !== 'complete' && outcome !== 'requirements_due') {
          throw new SimError(400, 'outcome must be complete or requirements_due')
        }
        if (!ctx.store.get('account', params.id)) {
          throw new SimError(404, `No such account: '${params.id}'`)
        }
        return completeOnboarding(ctx, params.id, outcome)
      },
    })

    ctx.sim({
      method: 'POST',
      path: '/_sim/accounts/:id/requirements',
      describe:
        'POST /_sim/accounts/:id/requirements {currently_due: [...], disabled_reason?} — make requirements due (or clear them with [])',
      run(body: Body, params) {
        if (!ctx.store.get('account', params.id)) {
          throw new SimError(404, `No such account: '${params.id}'`)
        }
        const due = list(body, 'currently_due') ?? []
        const reason = str(body, 'disabled_reason') ?? null
        return setRequirements(
          ctx,
          params.id,
          due,
          reason as Stripe.Account.Requirements.DisabledReason | null
        )
      },
    })
  },
}
