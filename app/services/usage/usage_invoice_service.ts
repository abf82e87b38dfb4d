import { hostname } from 'node:os'
import { inject } from '@adonisjs/core'
import app from '@adonisjs/core/services/app'
import logger from '@adonisjs/core/services/logger'
import db from '@adonisjs/lucid/services/db'
import { processLock } from '#services/job_runner'
import type { TransactionClientContract } from '@adonisjs/lucid/types/database'
import { DateTime } from 'luxon'
import Stripe from 'stripe'
import billingConfig from '#config/billing'
import stripeConfig from '#config/stripe'
import User from '#models/user'
import JobRun from '#models/job_run'
import UsageInvoice, { type UsageInvoiceStatus } from '#models/usage_invoice'
import UsageInvoiceLine from '#models/usage_invoice_line'
import CreditService from '#services/credit_service'
import CustomerService from '#services/customer_service'
import EarningsService from '#services/marketplace/earnings_service'
import StripeGateway from '#services/stripe_gateway'
import UsageSyncService from '#services/usage/usage_sync_service'
import StripeUnavailableException from '#exceptions/stripe_unavailable_exception'
import UsageInvoiceException from '#exceptions/usage_invoice_exception'
import { allocateCents, microsToCents, parsePeriod, type BillingPeriod } from '#support/usage_money'
import { fromStripeTime } from '#support/stripe_time'
import { stripeId } from '#support/stripe_ids'

/** What a run did (or, dry, would do) for one user. */
export type InvoiceOutcomeStatus =
  /** Paid: by credits alone, or charged through Stripe. */
  | 'paid'
  /** Finalized in Stripe, payment not answered yet. */
  | 'open'
  /** The charge was declined (or could not be attempted); Stripe retries it. */
  | 'failed'
  /** Under the minimum charge: the usage rolls into the next period. */
  | 'carried'
  /** Stripe could not be reached: the row keeps its step, a rerun finishes it. */
  | 'retry'
  /** Stripe refused a step or something unexpected happened: see the reason. */
  | 'error'
  /** The period was already invoiced for this user: nothing done. */
  | 'already'
  /** Dry run: what would be made. */
  | 'planned'

export interface InvoiceOutcome {
  userId: number
  usageInvoiceId: number | null
  status: InvoiceOutcomeStatus
  /** This run made the invoice row. */
  created: boolean
  amountCents: number
  creditsAppliedCents: number
  chargedCents: number
  carriedCents: number
  stripeInvoiceId: string | null
  reason: string | null
}

export interface SyncStep {
  status: 'synced' | 'skipped'
  detail: string
}

export interface GenerateOptions {
  /** Only this user. */
  userId?: number
  /** Compute and report, write nothing, call nothing. */
  dryRun?: boolean
  /** Do not sync usage from LiteLLM first (the operator synced, or LiteLLM is down). */
  skipSync?: boolean
  /** The run's clock (a period can only be invoiced once it is over). */
  now?: DateTime
  /** Users invoiced at once (default from config). */
  concurrency?: number
  /** Called after each user: done of total. */
  onProgress?: (done: number, total: number) => void
  /** How long to wait for another run of the same period to finish (default 10 s). */
  lockWaitMs?: number
}

export interface GenerateResult {
  period: string
  dryRun: boolean
  sync: SyncStep
  /** Users with something to invoice or to finish. */
  users: number
  /** Invoice rows made by this run. */
  created: number
  paid: number
  open: number
  failed: number
  carried: number
  retry: number
  errors: number
  already: number
  creditsAppliedCents: number
  /** Collected through Stripe by this run. */
  chargedCents: number
  /** Declined or not yet answered: still owed. */
  unpaidCents: number
  carriedCents: number
  /** Why the run stopped before visiting every user (Stripe unreachable), else null. */
  stoppedEarly: string | null
  durationMs: number
  outcomes: InvoiceOutcome[]
}

/** Stripe's state of a usage invoice, read before the transaction that applies it. */
export interface FetchedUsageInvoice {
  invoice: Stripe.Invoice
  /** The charge that paid it (read only when an api agent's creator share needs it). */
  chargeId: string | null
  /** Why the last payment attempt failed (payment_failed only). */
  failureReason: string | null
}

type LineDraft = {
  kind: 'usage' | 'agent'
  agentId: number | null
  description: string
  requestCount: number
  costMicros: number
}

/** Opening found nothing to invoice (its transaction is rolled back). */
class NothingToInvoice extends Error {}

/** One Stripe call at most between lock extensions: its timeout x attempts, plus slack. */
const CALL_SECONDS = Math.ceil(
  (stripeConfig.timeoutMs * (1 + stripeConfig.maxNetworkRetries)) / 1000
)
const LOCK_TTL = `${CALL_SECONDS * 4 + 60}s`
/** The run's lock is extended this often (well within its TTL, whatever a user's calls take). */
const LOCK_EXTEND_MS = 15_000
/** A second run of the same period waits this long for the first, then reports it. */
const LOCK_WAIT_MS = 10_000
/** How long invoicing waits for a usage sync another host is running. */
const SYNC_WAIT_MS = 10 * 60 * 1000
/** After this many users in a row found Stripe unreachable, the run stops starting new ones. */
const OUTAGE_STREAK = 5

function message(error: unknown) {
  return (error instanceof Error ? error.message : String(error)).slice(0, 2000)
}

const formatters = new Map<string, Intl.NumberFormat>()
function formatCents(cents: number, currency: string) {
  let formatter = formatters.get(currency)
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency: currency.toUpperCase(),
    })
    formatters.set(currency, formatter)
  }
  return formatter.format(cents / 100)
}

/**
 * Monthly usage invoices: one per user per calendar month (UTC), credits
 * first, the rest charged through a Stripe invoice. Crash-safe in three
 * phases, under a named lock per (user, period):
 * 1. one transaction (no network) makes the invoice row (status draft, its
 *    key derived from user and period), links the user's unbilled usage to
 *    it, rounds the total to cents once, splits it into lines, and debits
 *    the credits that cover it (a ledger entry keyed on the invoice);
 * 2. the Stripe steps, outside any transaction, each recorded as soon as it
 *    is answered: invoice (auto_advance false so it stays a draft while we
 *    add to it), invoice item attached to it, finalize (auto_advance true
 *    from then on: Stripe retries a declined payment), pay; every call keyed
 *    `<invoice key>:<step>`;
 * 3. the answer (paid, or declined) in a transaction, with the creators'
 *    shares of api agents once paid.
 * A rerun resumes a row from the step it reached; a row whose run started
 * Stripe steps before is looked up in Stripe by its metadata first (keys are
 * forgotten after 24 h), so no step is ever made twice and no invoice is
 * charged twice. Webhooks (invoice.paid, invoice.payment_failed) apply the
 * same state through `applyStripeInvoice`.
 */
@inject()
export default class UsageInvoiceService {
  constructor(
    protected gateway: StripeGateway,
    protected credits: CreditService,
    protected earnings: EarningsService,
    protected customers: CustomerService
  ) {}

  /** The key of a user's invoice for a period; each Stripe step appends its name. */
  static idempotencyKey(userId: number, period: string) {
    return `studio:usage-invoice:${userId}:${period}`
  }

  static minimumChargeCents() {
    return billingConfig.usageInvoices.minimumChargeCents
  }

  /** Whether a Stripe invoice is one of ours (a usage invoice). */
  static isUsageInvoice(invoice: Stripe.Invoice) {
    return invoice.metadata?.kind === 'usage'
  }

  /** The month named `period`; UsageInvoiceException when it is not one. */
  static period(period: string): BillingPeriod {
    const parsed = parsePeriod(period)
    if (!parsed) throw UsageInvoiceException.invalidPeriod(period)
    return parsed
  }

  /**
   * Invoices every user with unbilled usage up to the end of `period` (and
   * finishes the period's invoices a crashed run left). Usage is synced from
   * LiteLLM first unless `skipSync`. Never charges twice: a rerun of a period
   * creates nothing new.
   */
  async generate(period: string, options: GenerateOptions = {}): Promise<GenerateResult> {
    const began = Date.now()
    const month = UsageInvoiceService.period(period)
    const now = options.now ?? DateTime.utc()
    if (now < month.end) {
      throw UsageInvoiceException.periodNotOver(month.period, month.end.toISO()!)
    }
    const dryRun = options.dryRun ?? false
    const sync: SyncStep =
      dryRun || options.skipSync
        ? { status: 'skipped', detail: dryRun ? 'dry run' : 'skipped (--skip-sync)' }
        : await this.syncUsageBeforeInvoicing(month)
    // One run per period at a time, across hosts (rows are also guarded by row locks and keys).
    const lock = dryRun ? null : await processLock(`usage-invoices:${month.period}`, LOCK_TTL)
    if (lock && !(await lock.acquire({ retry: { timeout: options.lockWaitMs ?? LOCK_WAIT_MS } }))) {
      throw UsageInvoiceException.runInProgress(month.period)
    }
    const keepAlive = lock
      ? setInterval(() => {
          lock.extend(LOCK_TTL).catch((error: unknown) => {
            logger.error({ err: error }, 'could not extend the invoicing lock')
          })
        }, LOCK_EXTEND_MS)
      : null
    try {
      return await this.run(month, options, sync, now, began)
    } finally {
      if (keepAlive) clearInterval(keepAlive)
      await lock?.release()
    }
  }

  /** The run itself, under the period's lock: every candidate user, `concurrency` at a time. */
  protected async run(
    month: BillingPeriod,
    options: GenerateOptions,
    sync: SyncStep,
    now: DateTime,
    began: number
  ): Promise<GenerateResult> {
    const dryRun = options.dryRun ?? false
    const userIds = await this.candidates(month, options.userId)
    const job = dryRun ? null : await this.startJob(month.period)

    const outcomes: InvoiceOutcome[] = new Array(userIds.length)
    let next = 0
    let done = 0
    let outageStreak = 0
    let stoppedEarly: string | null = null
    const worker = async () => {
      while (next < userIds.length) {
        const index = next++
        const userId = userIds[index]
        if (stoppedEarly) {
          outcomes[index] = this.blank(userId, 'retry', `not attempted: ${stoppedEarly}`)
        } else {
          const outcome = dryRun
            ? await this.plan(userId, month)
            : await this.invoiceUser(userId, month, now)
          outcomes[index] = outcome
          if (outcome.status === 'retry' && outcome.reason?.startsWith('Stripe unavailable')) {
            outageStreak += 1
            if (outageStreak >= OUTAGE_STREAK && !stoppedEarly) {
              stoppedEarly = `Stripe was unreachable for ${outageStreak} users in a row`
            }
          } else {
            outageStreak = 0
          }
        }
        done += 1
        options.onProgress?.(done, userIds.length)
      }
    }
    const concurrency = Math.max(
      1,
      Math.min(options.concurrency ?? billingConfig.usageInvoices.concurrency, userIds.length)
    )
    await Promise.all(Array.from({ length: concurrency }, worker))

    const result = this.summarize(month.period, dryRun, sync, outcomes, stoppedEarly, began)
    if (job) await this.finishJob(job, result)
    return result
  }

  /**
   * Hook: usage is synced from LiteLLM before a period closes, so late rows
   * land on this invoice rather than the next (UsageSyncService, `usage:sync`:
   * waits for a sync another host is running). A failed sync stops the run:
   * fix LiteLLM, or invoice what is stored with `skipSync` (late usage is then
   * billed next month, never lost).
   */
  async syncUsageBeforeInvoicing(month: BillingPeriod): Promise<SyncStep> {
    const sync = await app.container.make(UsageSyncService)
    const report = await sync.sync({ waitMs: SYNC_WAIT_MS })
    if (report.status !== 'succeeded') {
      throw UsageInvoiceException.syncFailed(month.period, report.error ?? report.status)
    }
    return {
      status: 'synced',
      detail: `usage synced up to ${report.window?.until ?? 'now'} (${report.counts.inserted} new rows)`,
    }
  }

  /**
   * Users to visit: unbilled attributed usage started before the period's
   * end (earlier months' late or carried usage included) and no invoice for
   * the period yet; plus the period's invoices a run left unfinished.
   */
  protected async candidates(month: BillingPeriod, userId?: number): Promise<number[]> {
    const result = await db.rawQuery(
      `SELECT user_id FROM (
         SELECT l.user_id FROM usage_logs l
          WHERE l.usage_invoice_id IS NULL AND l.attribution = 'attributed' AND l.started_at < :end
            ${userId === undefined ? '' : 'AND l.user_id = :userId'}
          GROUP BY l.user_id
         EXCEPT
         SELECT i.user_id FROM usage_invoices i WHERE i.period = :period
         UNION
         SELECT i.user_id FROM usage_invoices i
          WHERE i.period = :period AND i.status IN ('draft', 'open')
            ${userId === undefined ? '' : 'AND i.user_id = :userId'}
       ) c ORDER BY user_id`,
      {
        end: month.end.toJSDate(),
        period: month.period,
        ...(userId === undefined ? {} : { userId }),
      }
    )
    return (result.rows as { user_id: string }[]).map((row) => Number(row.user_id))
  }

  /** One user's invoice for the period: open it, then charge it. */
  protected async invoiceUser(
    userId: number,
    month: BillingPeriod,
    now: DateTime
  ): Promise<InvoiceOutcome> {
    let invoice: UsageInvoice | null = null
    let created = false
    try {
      const opened = await this.open(userId, month, now)
      if (!opened) return this.blank(userId, 'already', 'nothing left to invoice')
      invoice = opened.invoice
      created = opened.created
      if (!created && !invoice.isUnfinished) return this.outcomeOf(invoice, 'already', false)
      if (invoice.isUnfinished) {
        invoice = await this.charge(invoice, created, opened.hasShares)
      }
      return this.outcomeOf(invoice, null, created)
    } catch (error) {
      const unavailable =
        StripeGateway.isUnavailable(error) || error instanceof StripeUnavailableException
      if (invoice) {
        await db
          .from('usage_invoices')
          .where('id', invoice.id)
          .update({ failure_reason: message(error), updated_at: new Date() })
        invoice = (await UsageInvoice.find(invoice.id)) ?? invoice
      }
      if (unavailable) {
        logger.warn({ err: error, userId }, 'usage invoice not finished: Stripe unavailable')
        return {
          ...(invoice
            ? this.outcomeOf(invoice, 'retry', created)
            : this.blank(userId, 'retry', null)),
          reason: `Stripe unavailable (${message(error)}); a rerun finishes it`,
        }
      }
      logger.error({ err: error, userId }, 'usage invoice failed')
      return {
        ...(invoice
          ? this.outcomeOf(invoice, 'error', created)
          : this.blank(userId, 'error', null)),
        reason: message(error),
      }
    }
  }

  /**
   * Phase 1, one transaction, no network: the period's row if it exists;
   * else a new one with the user's unbilled usage linked to it, rounded once,
   * split into lines, and credits applied first. Null: nothing to invoice.
   */
  protected async open(
    userId: number,
    month: BillingPeriod,
    now: DateTime
  ): Promise<{ invoice: UsageInvoice; created: boolean; hasShares?: boolean } | null> {
    try {
      return await db.transaction(async (trx) => {
        // The user's row lock first: the order every per-user section (and the credit ledger) uses.
        const user = await User.query({ client: trx }).where('id', userId).forUpdate().firstOrFail()
        const stamp = new Date()
        const [row] = await trx
          .knexQuery()
          .table('usage_invoices')
          .insert({
            user_id: userId,
            period: month.period,
            cost_micros: 0,
            amount_cents: 0,
            currency: billingConfig.currency,
            status: 'draft',
            idempotency_key: UsageInvoiceService.idempotencyKey(userId, month.period),
            stripe_customer_id: user.stripeCustomerId,
            created_at: stamp,
            updated_at: stamp,
          })
          .onConflict(['user_id', 'period'])
          .ignore()
          .returning('*')
        if (!row) {
          const existing = await UsageInvoice.query({ client: trx })
            .where('user_id', userId)
            .where('period', month.period)
            .firstOrFail()
          return { invoice: existing, created: false }
        }
        const invoice = UsageInvoice.$createFromAdapterResult(row, [], { client: trx })!
        // Link first, then sum what was linked: a row ingested meanwhile is either in both or in
        // neither. Earlier carried periods (their usage is among these rows) point to this invoice.
        const linked = await trx.rawQuery(
          `WITH linked AS (
             UPDATE usage_logs SET usage_invoice_id = :invoiceId
              WHERE user_id = :userId AND usage_invoice_id IS NULL
                AND attribution = 'attributed' AND started_at < :end
             RETURNING agent_id, cost_micros),
           carried AS (
             UPDATE usage_invoices SET carried_into_invoice_id = :invoiceId, updated_at = now()
              WHERE user_id = :userId AND status = 'carried' AND carried_into_invoice_id IS NULL
                AND period < :period
             RETURNING id)
           SELECT CASE WHEN a.pricing_type = 'api' THEN a.id END AS agent_id,
                  MIN(CASE WHEN a.pricing_type = 'api' THEN a.name END) AS agent_name,
                  COUNT(*)::bigint AS requests,
                  COALESCE(SUM(l.cost_micros), 0)::bigint AS micros
             FROM linked l LEFT JOIN marketplace_agents a ON a.id = l.agent_id
            GROUP BY 1
            ORDER BY 1 NULLS LAST`,
          { invoiceId: invoice.id, userId, end: month.end.toJSDate(), period: month.period }
        )
        const groups = linked.rows as {
          agent_id: string | null
          agent_name: string | null
          requests: string
          micros: string
        }[]
        if (groups.length === 0) throw new NothingToInvoice()

        const lines: LineDraft[] = groups.map((group) => ({
          kind: group.agent_id === null ? 'usage' : 'agent',
          agentId: group.agent_id === null ? null : Number(group.agent_id),
          description:
            group.agent_id === null ? 'AI usage' : `Agent: ${group.agent_name ?? group.agent_id}`,
          requestCount: Number(group.requests),
          costMicros: Number(group.micros),
        }))
        const costMicros = lines.reduce((sum, line) => sum + line.costMicros, 0)
        const requestCount = lines.reduce((sum, line) => sum + line.requestCount, 0)
        // Rounded once, for the whole invoice (half up); the lines split it exactly.
        const amountCents = microsToCents(costMicros)
        const creditsCents = Math.min(user.creditsBalanceCents, amountCents)
        const remainderCents = amountCents - creditsCents
        invoice.merge({ costMicros, amountCents, requestCount })

        if (remainderCents > 0 && remainderCents < UsageInvoiceService.minimumChargeCents()) {
          // Under Stripe's minimum: nothing is billed now, no credits taken. The usage stays
          // unbilled and rolls into the next period's invoice, where credits again go first.
          await trx.from('usage_logs').where('usage_invoice_id', invoice.id).update({
            usage_invoice_id: null,
          })
          await trx
            .from('usage_invoices')
            .where('carried_into_invoice_id', invoice.id)
            .update({ carried_into_invoice_id: null })
          invoice.merge({ status: 'carried', carriedCents: amountCents })
          await invoice.useTransaction(trx).save()
          return { invoice, created: true }
        }

        const amounts = allocateCents(
          lines.map((line) => line.costMicros),
          amountCents
        )
        await trx.table('usage_invoice_lines').multiInsert(
          lines.map((line, index) => ({
            usage_invoice_id: invoice.id,
            kind: line.kind,
            agent_id: line.agentId,
            description: line.description.slice(0, 255),
            request_count: line.requestCount,
            cost_micros: line.costMicros,
            amount_cents: amounts[index],
            created_at: new Date(),
          }))
        )

        if (creditsCents > 0) {
          await this.credits.record(
            userId,
            -creditsCents,
            'usage_invoice',
            {
              idempotencyKey: `${invoice.idempotencyKey}:credits`,
              usageInvoiceId: invoice.id,
              description: `AI usage ${month.period}`,
              createdBy: 'invoices:generate',
            },
            trx
          )
        }
        invoice.merge({
          creditsAppliedCents: creditsCents,
          chargedCents: remainderCents,
          lineCount: lines.length,
        })
        if (remainderCents > 0) {
          // This run starts its Stripe steps: were it to crash, the rerun looks Stripe up first.
          invoice.stripeAttempts = 1
        }
        if (remainderCents === 0) {
          // Credits (or a zero total) paid it all: nothing goes to Stripe.
          invoice.merge({ status: 'paid', paidAt: now, finalizedAt: now })
          await invoice.useTransaction(trx).save()
          await this.recordCreatorShares(invoice, null, now, trx)
          return { invoice, created: true }
        }
        await invoice.useTransaction(trx).save()
        return { invoice, created: true, hasShares: lines.some((line) => line.kind === 'agent') }
      })
    } catch (error) {
      if (error instanceof NothingToInvoice) return null
      throw error
    }
  }

  /** Phase 2 and 3: the Stripe steps from the one the row reached, then their answer. */
  protected async charge(
    invoice: UsageInvoice,
    fresh: boolean,
    hasShares?: boolean
  ): Promise<UsageInvoice> {
    const applied = await this.chargeSteps(invoice, fresh, hasShares)
    return applied ?? (await UsageInvoice.findOrFail(invoice.id))
  }

  protected async chargeSteps(
    invoice: UsageInvoice,
    fresh: boolean,
    hasShares?: boolean
  ): Promise<UsageInvoice | null> {
    // A row this run just made counts its attempt already; any other was started by an earlier run.
    const resumed = !fresh
    if (resumed) {
      await db
        .from('usage_invoices')
        .where('id', invoice.id)
        .update({ stripe_attempts: db.raw('stripe_attempts + 1'), updated_at: new Date() })
    }
    const stripe = this.gateway.client
    const key = (step: string) => `${invoice.idempotencyKey}:${step}`

    let customerId = invoice.stripeCustomerId
    if (!customerId) {
      const user = await User.findOrFail(invoice.userId)
      customerId = await this.customers.ensureCustomer(user)
      await this.record(invoice, { stripe_customer_id: customerId })
    }

    let stripeInvoice: Stripe.Invoice | null = null
    if (invoice.stripeInvoiceId) {
      stripeInvoice = await StripeGateway.call(() =>
        stripe.invoices.retrieve(invoice.stripeInvoiceId!)
      )
    } else {
      // A run that started before may have made it and crashed before recording it.
      if (resumed) stripeInvoice = await this.findStripeInvoice(invoice, customerId)
      stripeInvoice ??= await StripeGateway.call(() =>
        stripe.invoices.create(this.invoiceParams(invoice, customerId!), {
          idempotencyKey: key('invoice'),
        })
      )
      await this.record(invoice, { stripe_invoice_id: stripeInvoice.id })
    }

    if (stripeInvoice.status === 'draft') {
      let itemId = invoice.stripeInvoiceItemId
      if (!itemId) {
        // Resuming: the item may be on the invoice already (it is recorded with the finalize).
        const line = stripeInvoice.lines?.data.find(
          (candidate) => candidate.metadata?.usage_invoice_id === String(invoice.id)
        )
        itemId = line?.parent?.invoice_item_details?.invoice_item ?? null
        if (!itemId) {
          const item = await StripeGateway.call(() =>
            stripe.invoiceItems.create(this.itemParams(invoice, customerId!, stripeInvoice!.id!), {
              idempotencyKey: key('item'),
            })
          )
          itemId = item.id
        }
      }
      // From here Stripe advances it: a declined payment is retried on Stripe's schedule.
      stripeInvoice = await StripeGateway.call(() =>
        stripe.invoices.finalizeInvoice(
          stripeInvoice!.id!,
          { auto_advance: true },
          { idempotencyKey: key('finalize') }
        )
      )
      if (stripeInvoice.amount_due !== invoice.chargedCents && stripeInvoice.status === 'open') {
        logger.warn(
          {
            usageInvoiceId: invoice.id,
            amountDue: stripeInvoice.amount_due,
            charged: invoice.chargedCents,
          },
          'usage invoice: Stripe asks a different amount (customer balance applied?)'
        )
      }
      await this.markOpen(invoice.id, stripeInvoice, itemId)
    }

    if (stripeInvoice.status === 'open') {
      if (resumed && stripeInvoice.attempt_count > 0) {
        // Paid for before (by us or by Stripe) and declined: Stripe retries it; we do not.
        const fetched = await this.fetch(stripeInvoice, { failure: true })
        return this.applyStripeInvoice(fetched, { eventCreated: DateTime.utc(), failed: true })
      }
      try {
        stripeInvoice = await StripeGateway.call(() =>
          stripe.invoices.pay(
            stripeInvoice!.id!,
            { off_session: true },
            { idempotencyKey: key('pay') }
          )
        )
      } catch (error) {
        if (
          !(error instanceof Stripe.errors.StripeCardError) &&
          !(error instanceof Stripe.errors.StripeInvalidRequestError)
        ) {
          throw error
        }
        // Declined, or refused (no payment method, already paid): what Stripe holds decides.
        const current = await StripeGateway.call(() => stripe.invoices.retrieve(stripeInvoice!.id!))
        if (current.status !== 'open') {
          return this.applyStripeInvoice(await this.fetch(current), {
            eventCreated: DateTime.utc(),
          })
        }
        return this.applyStripeInvoice(
          { invoice: current, chargeId: null, failureReason: this.declineReason(error) },
          { eventCreated: DateTime.utc(), failed: true }
        )
      }
    }
    if (stripeInvoice.status === 'paid' && hasShares === false) {
      // The common case, in one statement: paid, and no creator is owed a share.
      await this.markPaid(invoice, stripeInvoice)
      return invoice
    }
    return this.applyStripeInvoice(await this.fetch(stripeInvoice, { hasShares }), {
      eventCreated: DateTime.utc(),
      hasShares,
    })
  }

  /** The invoice params: a pure function of the row, so every retry sends the same. */
  protected invoiceParams(invoice: UsageInvoice, customerId: string): Stripe.InvoiceCreateParams {
    return {
      customer: customerId,
      collection_method: 'charge_automatically',
      auto_advance: false,
      pending_invoice_items_behavior: 'exclude',
      currency: invoice.currency,
      description: `Studio AI usage ${invoice.period}`,
      metadata: this.metadata(invoice),
    }
  }

  protected itemParams(
    invoice: UsageInvoice,
    customerId: string,
    stripeInvoiceId: string
  ): Stripe.InvoiceItemCreateParams {
    const credits =
      invoice.creditsAppliedCents > 0
        ? `, ${formatCents(invoice.creditsAppliedCents, invoice.currency)} paid with credits`
        : ''
    return {
      customer: customerId,
      invoice: stripeInvoiceId,
      amount: invoice.chargedCents,
      currency: invoice.currency,
      description: `AI usage ${invoice.period}: ${formatCents(invoice.amountCents, invoice.currency)}${credits}`,
      metadata: this.metadata(invoice),
    }
  }

  protected metadata(invoice: UsageInvoice) {
    return {
      kind: 'usage',
      usage_invoice_id: String(invoice.id),
      user_id: String(invoice.userId),
      period: invoice.period,
    }
  }

  /** Our invoice in Stripe, found by its metadata among the customer's invoices (null: none). */
  async findStripeInvoice(
    invoice: UsageInvoice,
    customerId: string
  ): Promise<Stripe.Invoice | null> {
    return StripeGateway.call(async () => {
      for await (const candidate of this.gateway.client.invoices.list({
        customer: customerId,
        limit: 100,
      })) {
        if (candidate.metadata?.usage_invoice_id === String(invoice.id)) return candidate
        // Newest first: nothing older than the row can be its invoice.
        if (fromStripeTime(candidate.created) < invoice.createdAt.minus({ days: 1 })) return null
      }
      return null
    })
  }

  /** Records Stripe ids on the row as soon as they are known (never overwriting one). */
  protected async record(
    invoice: UsageInvoice,
    values: Partial<
      Record<'stripe_customer_id' | 'stripe_invoice_id' | 'stripe_invoice_item_id', string>
    >
  ) {
    const [column, value] = Object.entries(values)[0]
    await db
      .from('usage_invoices')
      .where('id', invoice.id)
      .whereNull(column)
      .update({ [column]: value, updated_at: new Date() })
    const attribute = {
      stripe_customer_id: 'stripeCustomerId',
      stripe_invoice_id: 'stripeInvoiceId',
      stripe_invoice_item_id: 'stripeInvoiceItemId',
    } as const
    invoice.$attributes[attribute[column as keyof typeof attribute]] ??= value
  }

  /** Paid in Stripe, for an invoice without api agents' lines (else applyStripeInvoice). */
  protected async markPaid(invoice: UsageInvoice, stripeInvoice: Stripe.Invoice) {
    const paidAt = fromStripeTime(stripeInvoice.status_transitions?.paid_at) ?? DateTime.utc()
    const finalizedAt = fromStripeTime(stripeInvoice.status_transitions?.finalized_at) ?? paidAt
    await db
      .from('usage_invoices')
      .where('id', invoice.id)
      .whereIn('status', ['draft', 'open', 'failed'])
      .update({
        status: 'paid',
        paid_at: paidAt.toJSDate(),
        finalized_at: db.raw('COALESCE(finalized_at, ?)', [finalizedAt.toJSDate()]),
        stripe_invoice_id: db.raw('COALESCE(stripe_invoice_id, ?)', [stripeInvoice.id!]),
        failure_reason: null,
        next_payment_attempt_at: null,
        updated_at: new Date(),
      })
    invoice.merge({ status: 'paid', paidAt, failureReason: null })
  }

  /** Finalized in Stripe: our row says open (with the item now on the invoice). */
  protected async markOpen(usageInvoiceId: number, stripeInvoice: Stripe.Invoice, itemId: string) {
    await db
      .from('usage_invoices')
      .where('id', usageInvoiceId)
      .where('status', 'draft')
      .update({
        status: 'open',
        stripe_invoice_item_id: db.raw('COALESCE(stripe_invoice_item_id, ?)', [itemId]),
        finalized_at: (
          fromStripeTime(stripeInvoice.status_transitions?.finalized_at) ?? DateTime.utc()
        ).toJSDate(),
        updated_at: new Date(),
      })
  }

  /** A decline's reason for people: Stripe's message and decline code. */
  protected declineReason(error: unknown) {
    if (error instanceof Stripe.errors.StripeError) {
      const code = error.decline_code ?? error.code
      return `${error.message}${code ? ` (${code})` : ''}`.slice(0, 2000)
    }
    return message(error)
  }

  /**
   * Reads what applying a usage invoice needs from Stripe (no transaction
   * open): the charge that paid it when an api agent's creator is owed a
   * share, and why its last payment failed.
   */
  async fetch(
    invoice: Stripe.Invoice,
    options: { failure?: boolean; hasShares?: boolean } = {}
  ): Promise<FetchedUsageInvoice> {
    const stripe = this.gateway.client
    const fetched: FetchedUsageInvoice = { invoice, chargeId: null, failureReason: null }
    const needsCharge = invoice.status === 'paid' && invoice.amount_paid > 0
    if (!needsCharge && !options.failure) return fetched
    if (needsCharge) {
      const usageInvoiceId = Number(invoice.metadata?.usage_invoice_id)
      const shares =
        options.hasShares ??
        (Number.isSafeInteger(usageInvoiceId) &&
          (await UsageInvoiceLine.query()
            .where('usage_invoice_id', usageInvoiceId)
            .where('kind', 'agent')
            .first()) !== null)
      if (!shares) return fetched
    }
    const payments = await StripeGateway.call(() =>
      stripe.invoicePayments.list({ invoice: invoice.id!, limit: 10 })
    )
    const payment = needsCharge
      ? payments.data.find((candidate) => candidate.status === 'paid')
      : payments.data[0]
    const intentId = stripeId(payment?.payment.payment_intent)
    if (needsCharge) {
      fetched.chargeId = stripeId(payment?.payment.charge)
      if (!fetched.chargeId && intentId) {
        const intent = await StripeGateway.call(() => stripe.paymentIntents.retrieve(intentId))
        fetched.chargeId = stripeId(intent.latest_charge)
      }
    } else if (intentId) {
      const intent = await StripeGateway.call(() => stripe.paymentIntents.retrieve(intentId))
      const failure = intent.last_payment_error
      if (failure) {
        const code = failure.decline_code ?? failure.code
        fetched.failureReason = `${failure.message ?? 'Payment failed'}${code ? ` (${code})` : ''}`
      }
    }
    fetched.failureReason ??= options.failure
      ? `Payment failed (attempt ${invoice.attempt_count})`
      : null
    return fetched
  }

  /**
   * Applies Stripe's state of a usage invoice to our row, in `trx` (a
   * webhook's) or its own transaction: paid (with the creators' shares of
   * api agents, once), a failed payment (the reason; Stripe retries it), or
   * void / uncollectible. A paid invoice never moves back, and an event older
   * than the state applied last changes nothing. Returns the row (null when
   * the invoice is not ours).
   */
  async applyStripeInvoice(
    fetched: FetchedUsageInvoice,
    options: {
      trx?: TransactionClientContract
      eventCreated: DateTime
      failed?: boolean
      /** Whether the invoice has api agents' lines, when the caller knows (saves a query). */
      hasShares?: boolean
    }
  ): Promise<UsageInvoice | null> {
    const run = async (trx: TransactionClientContract) => {
      const { invoice: stripeInvoice } = fetched
      const row = await this.findRow(stripeInvoice, trx)
      if (!row) {
        logger.warn(
          { stripeInvoiceId: stripeInvoice.id },
          'usage invoice event for no invoice of ours'
        )
        return null
      }
      if (row.stripeInvoiceId && row.stripeInvoiceId !== stripeInvoice.id) {
        logger.error(
          { usageInvoiceId: row.id, held: row.stripeInvoiceId, got: stripeInvoice.id },
          'a second Stripe invoice claims a usage invoice: ignored'
        )
        return row
      }
      row.stripeInvoiceId ??= stripeInvoice.id ?? null
      row.finalizedAt ??= fromStripeTime(stripeInvoice.status_transitions?.finalized_at)
      if (stripeInvoice.status === 'paid') {
        const paidAt =
          fromStripeTime(stripeInvoice.status_transitions?.paid_at) ?? options.eventCreated
        if (row.status !== 'paid') {
          if (stripeInvoice.amount_paid !== row.chargedCents) {
            logger.warn(
              {
                usageInvoiceId: row.id,
                amountPaid: stripeInvoice.amount_paid,
                charged: row.chargedCents,
              },
              'usage invoice paid a different amount than charged'
            )
          }
          row.merge({
            status: 'paid',
            paidAt,
            failureReason: null,
            nextPaymentAttemptAt: null,
            stripeUpdatedAt: options.eventCreated,
          })
        }
        row.stripeChargeId ??= fetched.chargeId
        await row.useTransaction(trx).save()
        // Once per invoice and agent (the earnings ledger is unique on the source): safe to repeat.
        if (options.hasShares !== false) {
          await this.recordCreatorShares(row, row.stripeChargeId, row.paidAt ?? paidAt, trx)
        }
        return row
      }
      if (row.isPaid || row.status === 'void' || row.status === 'uncollectible') {
        await row.useTransaction(trx).save()
        return row
      }
      if (row.stripeUpdatedAt && options.eventCreated < row.stripeUpdatedAt) {
        await row.useTransaction(trx).save()
        return row
      }
      if (stripeInvoice.status === 'void' || stripeInvoice.status === 'uncollectible') {
        row.merge({
          status: stripeInvoice.status === 'void' ? 'void' : 'uncollectible',
          nextPaymentAttemptAt: null,
        })
      } else if (options.failed || stripeInvoice.attempt_count > 0) {
        row.merge({
          status: 'failed',
          failureReason: fetched.failureReason ?? row.failureReason ?? 'Payment failed',
          paymentFailedAt: options.eventCreated,
          nextPaymentAttemptAt: fromStripeTime(stripeInvoice.next_payment_attempt),
        })
      } else if (stripeInvoice.status === 'open' && row.status === 'draft') {
        row.status = 'open'
      }
      row.stripeUpdatedAt = options.eventCreated
      await row.useTransaction(trx).save()
      return row
    }
    return options.trx ? run(options.trx) : db.transaction(run)
  }

  /** Our row for a Stripe usage invoice (by its metadata, else its id), locked. */
  protected async findRow(stripeInvoice: Stripe.Invoice, trx: TransactionClientContract) {
    const id = Number(stripeInvoice.metadata?.usage_invoice_id)
    if (Number.isSafeInteger(id) && id > 0) {
      const row = await UsageInvoice.query({ client: trx }).where('id', id).forUpdate().first()
      if (row && String(row.userId) === stripeInvoice.metadata?.user_id) return row
    }
    if (!stripeInvoice.id) return null
    return UsageInvoice.query({ client: trx })
      .where('stripe_invoice_id', stripeInvoice.id)
      .forUpdate()
      .first()
  }

  /** Each api agent's creator earns their share of the agent's line (gross = the line's cents). */
  protected async recordCreatorShares(
    invoice: UsageInvoice,
    chargeId: string | null,
    at: DateTime,
    trx: TransactionClientContract
  ) {
    const lines = await UsageInvoiceLine.query({ client: trx })
      .where('usage_invoice_id', invoice.id)
      .where('kind', 'agent')
      .where('amount_cents', '>', 0)
      .preload('agent')
      .orderBy('id')
    for (const line of lines) {
      await this.earnings.recordUsage(
        {
          agent: line.agent,
          buyerId: invoice.userId,
          sourceId: String(invoice.id),
          grossCents: line.amountCents,
          stripeChargeId: chargeId,
          at,
          currency: invoice.currency,
        },
        trx
      )
    }
  }

  /** Dry run: what opening this user's invoice would do, read only. */
  protected async plan(userId: number, month: BillingPeriod): Promise<InvoiceOutcome> {
    const existing = await UsageInvoice.query()
      .where('user_id', userId)
      .where('period', month.period)
      .first()
    if (existing) {
      return {
        ...this.outcomeOf(existing, 'planned', false),
        reason: `would finish invoice ${existing.id} (${existing.status})`,
      }
    }
    const [usage] = await db
      .from('usage_logs')
      .where('user_id', userId)
      .whereNull('usage_invoice_id')
      .where('attribution', 'attributed')
      .where('started_at', '<', month.end.toJSDate())
      .select(db.raw('COALESCE(SUM(cost_micros), 0)::bigint AS micros'))
    const user = await User.findOrFail(userId)
    const amountCents = microsToCents(Number(usage.micros))
    const creditsCents = Math.min(user.creditsBalanceCents, amountCents)
    const rest = amountCents - creditsCents
    const carried = rest > 0 && rest < UsageInvoiceService.minimumChargeCents()
    return {
      userId,
      usageInvoiceId: null,
      status: 'planned',
      created: false,
      amountCents,
      creditsAppliedCents: carried ? 0 : creditsCents,
      chargedCents: carried ? 0 : rest,
      carriedCents: carried ? amountCents : 0,
      stripeInvoiceId: null,
      reason: carried
        ? 'would carry (under the minimum charge)'
        : rest === 0
          ? 'would be paid with credits'
          : 'would charge',
    }
  }

  protected outcomeOf(
    invoice: UsageInvoice,
    status: InvoiceOutcomeStatus | null,
    created: boolean
  ): InvoiceOutcome {
    const byRow: Record<UsageInvoiceStatus, InvoiceOutcomeStatus> = {
      draft: 'retry',
      open: 'open',
      paid: 'paid',
      failed: 'failed',
      carried: 'carried',
      void: 'error',
      uncollectible: 'error',
    }
    return {
      userId: invoice.userId,
      usageInvoiceId: invoice.id,
      status: status ?? byRow[invoice.status],
      created,
      amountCents: invoice.amountCents,
      creditsAppliedCents: invoice.creditsAppliedCents,
      chargedCents: invoice.chargedCents,
      carriedCents: invoice.carriedCents,
      stripeInvoiceId: invoice.stripeInvoiceId,
      reason: invoice.status === 'paid' ? null : invoice.failureReason,
    }
  }

  protected blank(
    userId: number,
    status: InvoiceOutcomeStatus,
    reason: string | null
  ): InvoiceOutcome {
    return {
      userId,
      usageInvoiceId: null,
      status,
      created: false,
      amountCents: 0,
      creditsAppliedCents: 0,
      chargedCents: 0,
      carriedCents: 0,
      stripeInvoiceId: null,
      reason,
    }
  }

  protected summarize(
    period: string,
    dryRun: boolean,
    sync: SyncStep,
    outcomes: InvoiceOutcome[],
    stoppedEarly: string | null,
    began: number
  ): GenerateResult {
    const count = (status: InvoiceOutcomeStatus) =>
      outcomes.filter((outcome) => outcome.status === status).length
    const sum = (
      pick: (outcome: InvoiceOutcome) => number,
      where: (o: InvoiceOutcome) => boolean
    ) => outcomes.filter(where).reduce((total, outcome) => total + pick(outcome), 0)
    const touched = (outcome: InvoiceOutcome) => outcome.created || outcome.status === 'planned'
    return {
      period,
      dryRun,
      sync,
      users: outcomes.length,
      created: outcomes.filter((outcome) => outcome.created).length,
      paid: count('paid'),
      open: count('open'),
      failed: count('failed'),
      carried: count('carried'),
      retry: count('retry'),
      errors: count('error'),
      already: count('already'),
      creditsAppliedCents: sum((o) => o.creditsAppliedCents, touched),
      chargedCents: sum(
        (o) => o.chargedCents,
        (o) => o.status === 'paid' || (o.status === 'planned' && o.chargedCents > 0)
      ),
      unpaidCents: sum(
        (o) => o.chargedCents,
        (o) => ['open', 'failed', 'retry', 'error'].includes(o.status)
      ),
      carriedCents: sum(
        (o) => o.carriedCents,
        (o) => o.status === 'carried' || o.status === 'planned'
      ),
      stoppedEarly,
      durationMs: Date.now() - began,
      outcomes,
    }
  }

  /** The run in job_runs (operators see when invoicing last ran, where, and how it ended). */
  protected async startJob(period: string) {
    return JobRun.create({
      job: 'invoices:generate',
      status: 'running',
      host: hostname(),
      pid: process.pid,
      startedAt: DateTime.utc(),
      summary: { period },
    })
  }

  protected async finishJob(job: JobRun, result: GenerateResult) {
    const troubled = result.failed + result.retry + result.errors > 0
    job.merge({
      status: troubled ? (result.paid + result.carried > 0 ? 'partial' : 'failed') : 'succeeded',
      finishedAt: DateTime.utc(),
      durationMs: result.durationMs,
      summary: { ...result, outcomes: undefined },
      error: result.stoppedEarly,
    })
    await job.save()
  }

  /** Usage invoices, newest period first (for `invoices:list` and the billing pages). */
  list(
    filters: { period?: string; userId?: number; status?: UsageInvoiceStatus; limit?: number } = {}
  ) {
    return UsageInvoice.query()
      .if(filters.period, (query) => query.where('period', filters.period!))
      .if(filters.userId !== undefined, (query) => query.where('user_id', filters.userId!))
      .if(filters.status, (query) => query.where('status', filters.status!))
      .orderBy('period', 'desc')
      .orderBy('user_id')
      .limit(filters.limit ?? 1000)
  }

  /** A user's usage invoices whose payment failed and is still owed (Stripe retries them). */
  pastDue(userId: number) {
    return UsageInvoice.query()
      .where('user_id', userId)
      .withScopes((scopes) => scopes.pastDue())
      .orderBy('period')
  }
}
