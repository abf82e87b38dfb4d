import db from '@adonisjs/lucid/services/db'
import billingConfig from '#config/billing'

/** One invariant checked against the database. */
export type AuditCheck = {
  name: string
  description: string
  passed: boolean
  /** How many rows break it (offenders holds at most `limit` of them). */
  offenderCount: number
  offenders: Record<string, unknown>[]
  /** What an operator does about it. */
  hint: string
}

export type AuditOptions = {
  /** Offending rows returned per check (the count is always the full one). */
  limit?: number
  /** Age after which an event still 'received' or 'processing' counts as stuck. */
  stuckMinutes?: number
}

type CheckDefinition = {
  description: string
  hint: string
  /** One set-based query selecting the offending rows, ordered by its first column. */
  sql: (options: Required<AuditOptions>) => { sql: string; bindings?: Record<string, unknown> }
}

/**
 * The invariants of DESIGN.md checked against the data, one set-based query
 * per check (aggregates and joins; nothing loops over rows in Node), so an
 * audit stays fast on large tables. Some invariants are also enforced by
 * constraints (CHECKs, unique indexes): the audit checks them anyway, so a
 * dropped or NOT VALID constraint is still caught.
 */
export default class AuditService {
  static readonly CHECKS = {
    credit_balances: {
      description:
        "Each user's cached credit balance is >= 0 and equals the sum of their credit ledger (and the newest entry's balance_after)",
      hint: 'Never edit users.credits_balance_cents by hand: find the write that bypassed CreditService (credits:show <user>), then correct with credits:grant / credits:grant --debit so the ledger explains the change.',
      sql: () => ({
        sql: `
          WITH sums AS (
            SELECT user_id, SUM(amount_cents) AS ledger_sum_cents, COUNT(*) AS entries
              FROM credit_ledger_entries GROUP BY user_id
          ), newest AS (
            SELECT DISTINCT ON (user_id) user_id, balance_after_cents
              FROM credit_ledger_entries ORDER BY user_id, id DESC
          )
          SELECT u.id AS user_id, u.email, u.credits_balance_cents AS cached_cents,
                 COALESCE(s.ledger_sum_cents, 0) AS ledger_sum_cents,
                 n.balance_after_cents AS newest_balance_after_cents,
                 COALESCE(s.entries, 0) AS entries
            FROM users u
            LEFT JOIN sums s ON s.user_id = u.id
            LEFT JOIN newest n ON n.user_id = u.id
           WHERE u.credits_balance_cents < 0
              OR u.credits_balance_cents <> COALESCE(s.ledger_sum_cents, 0)
              OR n.balance_after_cents <> u.credits_balance_cents`,
      }),
    },

    marketplace_splits: {
      description:
        'Every earning splits exactly (creator + platform = gross), and the refunds/disputes reversing it never take back more than its gross or its creator share',
      hint: 'A wrong split or an over-reversal is a bug in EarningsService: do not pay out the creator (payouts:run would pay the wrong net) until the rows are corrected with a compensating entry.',
      sql: () => ({
        sql: `
          WITH reversed AS (
            SELECT reverses_transaction_id AS id,
                   -SUM(gross_cents) AS reversed_gross_cents,
                   -SUM(creator_cents) AS reversed_creator_cents
              FROM marketplace_transactions
             WHERE reverses_transaction_id IS NOT NULL
             GROUP BY reverses_transaction_id
          )
          SELECT t.id AS transaction_id, t.kind, t.creator_id, t.gross_cents, t.creator_cents,
                 t.platform_cents, r.reversed_gross_cents, r.reversed_creator_cents,
                 CASE
                   WHEN t.creator_cents + t.platform_cents <> t.gross_cents
                     THEN 'creator + platform <> gross'
                   WHEN t.kind IN ('refund', 'dispute') THEN 'a refund or dispute is itself reversed'
                   WHEN r.reversed_gross_cents > t.gross_cents THEN 'reversals exceed the gross'
                   ELSE 'reversals exceed the creator share'
                 END AS problem
            FROM marketplace_transactions t
            LEFT JOIN reversed r ON r.id = t.id
           WHERE t.creator_cents + t.platform_cents <> t.gross_cents
              OR (r.id IS NOT NULL AND t.kind IN ('refund', 'dispute'))
              OR r.reversed_gross_cents > t.gross_cents
              OR r.reversed_creator_cents > t.creator_cents`,
      }),
    },

    usage_invoice_totals: {
      description:
        'Every usage invoice splits its amount exactly (credits applied + charged + carried = amount), its credits match its ledger entries, and its lines add up to it',
      hint: 'Leave the invoice alone in Stripe; compare it with invoices:list --user <id> --json, then fix the row (or the missing ledger entry) so it matches what was actually charged.',
      sql: () => ({
        sql: `
          WITH line_sums AS (
            SELECT usage_invoice_id AS id, SUM(amount_cents) AS lines_cents
              FROM usage_invoice_lines GROUP BY usage_invoice_id
          ), credit_sums AS (
            SELECT usage_invoice_id AS id, -SUM(amount_cents) AS ledger_credits_cents
              FROM credit_ledger_entries
             WHERE kind = 'usage_invoice'
             GROUP BY usage_invoice_id
          )
          SELECT i.id AS invoice_id, i.user_id, i.period, i.status, i.amount_cents,
                 i.credits_applied_cents, i.charged_cents, i.carried_cents,
                 l.lines_cents, COALESCE(c.ledger_credits_cents, 0) AS ledger_credits_cents,
                 CASE
                   WHEN i.credits_applied_cents + i.charged_cents + i.carried_cents <> i.amount_cents
                     THEN 'credits + charged + carried <> amount'
                   WHEN i.credits_applied_cents <> COALESCE(c.ledger_credits_cents, 0)
                     THEN 'credits applied <> credit ledger entries'
                   ELSE 'lines <> amount'
                 END AS problem
            FROM usage_invoices i
            LEFT JOIN line_sums l ON l.id = i.id
            LEFT JOIN credit_sums c ON c.id = i.id
           WHERE i.credits_applied_cents + i.charged_cents + i.carried_cents <> i.amount_cents
              OR i.credits_applied_cents <> COALESCE(c.ledger_credits_cents, 0)
              OR (i.status <> 'carried' AND l.lines_cents <> i.amount_cents)`,
      }),
    },

    checkout_fulfilment: {
      description:
        'Every paid credit purchase was credited exactly once (one purchase ledger entry for its credits; none while pending or failed), and no checkout session was fulfilled as two purchases',
      hint: 'A paid purchase without its entry: replay the checkout webhook (webhooks:replay) or credit it with credits:grant; a double entry: take the extra back with credits:grant --debit.',
      sql: () => ({
        sql: `
          WITH entries AS (
            SELECT credit_purchase_id AS id, COUNT(*) AS entries, SUM(amount_cents) AS cents
              FROM credit_ledger_entries
             WHERE kind = 'purchase'
             GROUP BY credit_purchase_id
          ), sessions AS (
            SELECT stripe_checkout_session_id AS session_id, COUNT(*) AS uses,
                   string_agg(source, ', ' ORDER BY source) AS sources, MIN(user_id) AS user_id
              FROM (
                SELECT stripe_checkout_session_id, user_id, 'credit_purchase ' || id AS source
                  FROM credit_purchases
                UNION ALL
                SELECT stripe_checkout_session_id, user_id, 'deploy_slot_purchase ' || id
                  FROM deploy_slot_purchases
                UNION ALL
                SELECT stripe_checkout_session_id, user_id, 'agent_entitlement ' || id
                  FROM agent_entitlements WHERE stripe_checkout_session_id IS NOT NULL
              ) used
             GROUP BY stripe_checkout_session_id
            HAVING COUNT(*) > 1
          )
          SELECT 'credit_purchase ' || p.id AS row, p.user_id, p.status,
                 p.stripe_checkout_session_id AS checkout_session,
                 format('%s purchase entr%s for %s cents (expected %s)',
                        COALESCE(e.entries, 0),
                        CASE WHEN COALESCE(e.entries, 0) = 1 THEN 'y' ELSE 'ies' END,
                        COALESCE(e.cents, 0),
                        CASE WHEN p.status IN ('paid', 'refunded')
                             THEN '1 for ' || p.credits_cents ELSE 'none' END) AS problem
            FROM credit_purchases p
            LEFT JOIN entries e ON e.id = p.id
           WHERE (p.status IN ('paid', 'refunded')
                   AND (e.entries IS DISTINCT FROM 1 OR e.cents <> p.credits_cents))
              OR (p.status IN ('pending', 'failed') AND e.entries IS NOT NULL)
          UNION ALL
          SELECT 'checkout_session ' || s.session_id, s.user_id, NULL, s.session_id,
                 format('fulfilled %s times: %s', s.uses, s.sources)
            FROM sessions s`,
      }),
    },

    limits: {
      description:
        "No user runs more deployments than their plan's deploys plus active deploy slots, or holds a project created while it put them over their plan's project limit",
      hint: 'Deployments over the limit: stop the newest ones (what a downgrade does automatically) or check the slot purchases; projects over the limit: find the path that skipped ProjectService under the user lock.',
      /*
       * Projects: a downgrade keeps existing projects (readable, not deployable), so a
       * user may legitimately hold more than the limit. What the app enforces is the
       * count at creation time; a project is an offender when, as it was created, the
       * user already had >= limit projects (counted from the rows still there: a lower
       * bound) and it was created under the current plan: for free users, after their
       * last subscription change (or ever, with no subscription).
       */
      sql: () => ({
        sql: `
          WITH deployed AS (
            SELECT user_id, COUNT(*) AS deployed FROM projects WHERE is_deployed GROUP BY user_id
          ), slots AS (
            SELECT user_id, COUNT(*) AS slots
              FROM deploy_slot_purchases WHERE status = 'active' GROUP BY user_id
          ), last_plan_change AS (
            SELECT user_id, MAX(updated_at) AS at FROM subscriptions GROUP BY user_id
          ), ranked AS (
            SELECT p.id, p.user_id, p.created_at,
                   COUNT(*) OVER (PARTITION BY p.user_id ORDER BY p.created_at, p.id
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier
              FROM projects p
          ), limits AS (
            SELECT u.id AS user_id, u.email, u.plan,
                   CASE WHEN u.plan = 'premium' THEN CAST(:premiumProjects AS integer) ELSE CAST(:freeProjects AS integer) END
                     AS project_limit,
                   (CASE WHEN u.plan = 'premium' THEN CAST(:premiumDeploys AS integer) ELSE CAST(:freeDeploys AS integer) END)
                     + COALESCE(s.slots, 0) AS deploy_limit,
                   COALESCE(d.deployed, 0) AS deployed,
                   lpc.at AS last_plan_change_at
              FROM users u
              LEFT JOIN deployed d ON d.user_id = u.id
              LEFT JOIN slots s ON s.user_id = u.id
              LEFT JOIN last_plan_change lpc ON lpc.user_id = u.id
          ), over_projects AS (
            SELECT r.user_id, COUNT(*) AS projects_over, string_agg(CAST(r.id AS text), ',' ORDER BY r.id)
                     AS project_ids
              FROM ranked r
              JOIN limits l ON l.user_id = r.user_id
             WHERE r.earlier >= l.project_limit
               AND (l.plan = 'premium' OR l.last_plan_change_at IS NULL
                    OR r.created_at > l.last_plan_change_at)
             GROUP BY r.user_id
          )
          SELECT l.user_id, l.email, l.plan, l.deployed, l.deploy_limit, l.project_limit,
                 o.project_ids AS projects_created_over_limit,
                 CASE WHEN l.deployed > l.deploy_limit THEN 'deployments over the limit'
                      ELSE 'projects created over the limit' END AS problem
            FROM limits l
            LEFT JOIN over_projects o ON o.user_id = l.user_id
           WHERE l.deployed > l.deploy_limit OR o.user_id IS NOT NULL`,
        bindings: {
          freeProjects: billingConfig.limits.free.projects,
          premiumProjects: billingConfig.limits.premium.projects,
          freeDeploys: billingConfig.limits.free.deploys,
          premiumDeploys: billingConfig.limits.premium.deploys,
        },
      }),
    },

    usage_billing: {
      description:
        "Every usage row is billed at most once (one invoice column; a carried invoice holds none) and to its own user, and an invoice's cost equals the sum of its usage rows",
      hint: 'Do not rerun invoices:generate over it: compare the invoice (invoices:list --user <id> --json) with its usage rows and fix the usage_invoice_id links; Stripe keeps what was charged.',
      sql: () => ({
        sql: `
          WITH billed AS (
            SELECT l.usage_invoice_id AS id, SUM(l.cost_micros) AS rows_micros, COUNT(*) AS rows,
                   COUNT(*) FILTER (WHERE l.user_id IS DISTINCT FROM i.user_id) AS other_users_rows
              FROM usage_logs l
              JOIN usage_invoices i ON i.id = l.usage_invoice_id
             GROUP BY l.usage_invoice_id
          )
          SELECT i.id AS invoice_id, i.user_id, i.period, i.status, i.cost_micros,
                 COALESCE(b.rows_micros, 0) AS rows_micros, COALESCE(b.rows, 0) AS rows,
                 COALESCE(b.other_users_rows, 0) AS other_users_rows,
                 CASE
                   WHEN b.other_users_rows > 0 THEN 'usage rows of another user'
                   WHEN i.status = 'carried' THEN 'carried invoice still holds usage rows'
                   ELSE 'cost <> sum of its usage rows'
                 END AS problem
            FROM usage_invoices i
            LEFT JOIN billed b ON b.id = i.id
           WHERE b.other_users_rows > 0
              OR (i.status = 'carried' AND b.rows > 0)
              OR (i.status <> 'carried' AND i.cost_micros <> COALESCE(b.rows_micros, 0))`,
      }),
    },

    payouts: {
      description:
        'Every paid payout has a transfer id and its amount (plus any top-up payout) equals the net of the earnings it paid',
      hint: 'Run payouts:reconcile to compare with Stripe; earnings moved off a paid payout, or a payout amount edited by hand, must be put back before the next payouts:run.',
      // A reconcile top-up corrects a payout to its transfer and pays the rest in a new
      // payout with no earnings of its own, naming the corrected one in failure_reason.
      sql: () => ({
        sql: `
          WITH earned AS (
            SELECT creator_payout_id AS id, SUM(creator_cents) AS earnings_cents, COUNT(*) AS earnings
              FROM marketplace_transactions
             WHERE creator_payout_id IS NOT NULL
             GROUP BY creator_payout_id
          ), top_ups AS (
            SELECT CAST(substring(failure_reason FROM '^top-up of payout ([0-9]+) ') AS bigint) AS id,
                   SUM(amount_cents) AS top_up_cents
              FROM creator_payouts
             WHERE failure_reason LIKE 'top-up of payout %' AND status IN ('paid', 'reversed')
             GROUP BY 1
          )
          SELECT p.id AS payout_id, p.creator_id, p.status, p.amount_cents,
                 COALESCE(t.top_up_cents, 0) AS top_up_cents,
                 COALESCE(e.earnings_cents, 0) AS earnings_cents, COALESCE(e.earnings, 0) AS earnings,
                 p.stripe_transfer_id,
                 CASE WHEN p.stripe_transfer_id IS NULL THEN 'paid without a transfer id'
                      ELSE 'amount <> net of its earnings' END AS problem
            FROM creator_payouts p
            LEFT JOIN earned e ON e.id = p.id
            LEFT JOIN top_ups t ON t.id = p.id
           WHERE p.status IN ('paid', 'reversed')
             AND COALESCE(p.failure_reason, '') NOT LIKE 'top-up of payout %'
             AND (p.stripe_transfer_id IS NULL
                  OR p.amount_cents + COALESCE(t.top_up_cents, 0) <> COALESCE(e.earnings_cents, 0))`,
      }),
    },

    stuck_events: {
      description:
        "No Stripe event has stayed 'received' or 'processing' longer than the stuck threshold",
      hint: 'A worker died mid-event: webhooks:replay <event id> processes it again from its stored payload (safe: handlers are idempotent).',
      sql: (options) => ({
        sql: `
          SELECT id AS event_row_id, stripe_event_id, type, status, attempts, received_at,
                 updated_at, last_error
            FROM stripe_events
           WHERE status IN ('received', 'processing')
             AND updated_at < now() - make_interval(mins => CAST(:minutes AS integer))`,
        bindings: { minutes: options.stuckMinutes },
      }),
    },

    failed_events: {
      description: 'No Stripe event is left failed (failures are kept for replay)',
      hint: 'Read last_error (webhooks:list --status failed), fix the cause, then webhooks:replay --failed.',
      sql: () => ({
        sql: `
          SELECT id AS event_row_id, stripe_event_id, type, status, attempts, received_at,
                 left(last_error, 200) AS last_error
            FROM stripe_events
           WHERE status = 'failed'`,
      }),
    },

    agent_entitlements: {
      description:
        'A user holds at most one live entitlement per agent, and a live paid (monthly or one-time) entitlement always comes from a Stripe payment',
      hint: 'Duplicates: cancel or refund the newer one; a paid entitlement with no Stripe session, subscription or payment was granted outside a verified payment: revoke it or record the payment.',
      sql: () => ({
        sql: `
          SELECT 'entitlements ' || string_agg(CAST(id AS text), ',' ORDER BY id) AS entitlement_ids,
                 user_id, agent_id, format('%s live entitlements', COUNT(*)) AS problem
            FROM agent_entitlements
           WHERE status IN ('pending', 'active', 'past_due')
           GROUP BY user_id, agent_id
          HAVING COUNT(*) > 1
          UNION ALL
          SELECT 'entitlement ' || id, user_id, agent_id,
                 format('%s %s entitlement without a Stripe payment', status, pricing_type)
            FROM agent_entitlements
           WHERE status IN ('active', 'past_due')
             AND pricing_type IN ('monthly', 'one_time')
             AND stripe_checkout_session_id IS NULL
             AND stripe_subscription_id IS NULL
             AND stripe_payment_intent_id IS NULL`,
      }),
    },
  } satisfies Record<string, CheckDefinition>

  static get checkNames() {
    return Object.keys(AuditService.CHECKS) as AuditCheckName[]
  }

  /** Runs the named checks (all by default), one query each, in order. */
  async run(names: AuditCheckName[] = AuditService.checkNames, options: AuditOptions = {}) {
    const resolved = { limit: options.limit ?? 20, stuckMinutes: options.stuckMinutes ?? 30 }
    const checks: AuditCheck[] = []
    for (const name of names) checks.push(await this.check(name, resolved))
    return { passed: checks.every((check) => check.passed), checks }
  }

  /** One check: its query, capped at `limit` rows, with the full count alongside. */
  async check(name: AuditCheckName, options: Required<AuditOptions>): Promise<AuditCheck> {
    const definition: CheckDefinition = AuditService.CHECKS[name]
    const { sql, bindings } = definition.sql(options)
    const result = await db
      .rawQuery(
        `SELECT offending.*, COUNT(*) OVER () AS audit_total
           FROM (${sql}) offending
          ORDER BY 1
          LIMIT :auditLimit`,
        { ...bindings, auditLimit: options.limit }
      )
      .catch((error: Error) => {
        // node-postgres puts the whole statement in the message: keep the reason only.
        const reason = error.message.split(' - ').at(-1)
        throw new Error(`audit check ${name} could not run: ${reason}`, { cause: error })
      })
    const rows = result.rows as Record<string, unknown>[]
    const offenderCount = rows.length > 0 ? Number(rows[0].audit_total) : 0
    return {
      name,
      description: definition.description,
      passed: offenderCount === 0,
      offenderCount,
      offenders: rows.map(({ audit_total: _total, ...row }) => plain(row)),
      hint: definition.hint,
    }
  }
}

export type AuditCheckName = keyof typeof AuditService.CHECKS

/** node-postgres returns bigint and counts as strings: numbers read better (ids, cents, counts). */
function plain(row: Record<string, unknown>) {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    out[key] =
      typeof value === 'string' && /^-?\d{1,15}$/.test(value) && key !== 'period'
        ? Number(value)
        : value
  }
  return out
}
