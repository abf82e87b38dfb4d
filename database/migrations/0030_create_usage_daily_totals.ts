import { BaseSchema } from '@adonisjs/lucid/schema'

/**
 * Daily usage totals per user, model, agent and project, kept by PostgreSQL
 * itself: statement-level triggers on usage_logs add what each INSERT (or
 * COPY) brings, move what an UPDATE changes (rows invoiced, attributed to a
 * user, their project deleted) and take back what a DELETE removes, with one
 * grouped upsert per statement (not per row); a TRUNCATE empties them. Every
 * writer of usage_logs (the sync, the intake, tests writing rows straight
 * in) keeps them right without knowing they exist.
 *
 * The usage dashboard (UsageReportService.summary) sums a range of whole UTC
 * days from here: a few hundred rows for a month, however many requests.
 * A key whose rows are all gone keeps a row of zeros (skipped when read). The
 * functions are CREATE OR REPLACE: a wiped schema (db:wipe drops tables only) migrates again.
 */

const COLUMNS = `user_id, day, model, agent_id, project_id, requests, prompt_tokens,
  completion_tokens, total_tokens, cost_micros, unbilled_micros`

/** The grouped upsert of `source` rows (each with a `sign`: +1 in, -1 out), keys in order. */
function upsert(source: string) {
  return `
    INSERT INTO usage_daily_totals AS t (${COLUMNS})
    SELECT user_id, (started_at AT TIME ZONE 'UTC')::date, COALESCE(model_group, model),
           COALESCE(agent_id, 0), COALESCE(project_id, 0),
           sum(sign), sum(sign * prompt_tokens), sum(sign * completion_tokens),
           sum(sign * total_tokens), sum(sign * cost_micros),
           COALESCE(sum(sign * cost_micros) FILTER (WHERE usage_invoice_id IS NULL), 0)
      FROM (${source}) AS d
     WHERE user_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(sign) <> 0 OR sum(sign * cost_micros) <> 0 OR sum(sign * total_tokens) <> 0
        OR sum(sign * prompt_tokens) <> 0 OR sum(sign * completion_tokens) <> 0
        OR COALESCE(sum(sign * cost_micros) FILTER (WHERE usage_invoice_id IS NULL), 0) <> 0
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (user_id, day, model, agent_id, project_id) DO UPDATE SET
      requests = t.requests + EXCLUDED.requests,
      prompt_tokens = t.prompt_tokens + EXCLUDED.prompt_tokens,
      completion_tokens = t.completion_tokens + EXCLUDED.completion_tokens,
      total_tokens = t.total_tokens + EXCLUDED.total_tokens,
      cost_micros = t.cost_micros + EXCLUDED.cost_micros,
      unbilled_micros = t.unbilled_micros + EXCLUDED.unbilled_micros`
}

const FIELDS = `user_id, started_at, model_group, model, agent_id, project_id, prompt_tokens,
  completion_tokens, total_tokens, cost_micros, usage_invoice_id`

function triggerFunction(name: string, source: string) {
  return `
    CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      ${upsert(source)};
      RETURN NULL;
    END
    $$`
}

export default class extends BaseSchema {
  async up() {
    this.schema.raw(`
      CREATE TABLE usage_daily_totals (
        user_id bigint NOT NULL,
        day date NOT NULL,
        model text NOT NULL,
        -- 0: no agent / no project (a key column cannot be NULL)
        agent_id bigint NOT NULL,
        project_id bigint NOT NULL,
        requests bigint NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        total_tokens bigint NOT NULL,
        cost_micros bigint NOT NULL,
        unbilled_micros bigint NOT NULL,
        PRIMARY KEY (user_id, day, model, agent_id, project_id)
      )
    `)
    this.schema.raw(
      triggerFunction('usage_daily_totals_on_insert', `SELECT 1 AS sign, ${FIELDS} FROM new_rows`)
    )
    this.schema.raw(
      triggerFunction('usage_daily_totals_on_delete', `SELECT -1 AS sign, ${FIELDS} FROM old_rows`)
    )
    this.schema.raw(
      triggerFunction(
        'usage_daily_totals_on_update',
        `SELECT 1 AS sign, ${FIELDS} FROM new_rows UNION ALL SELECT -1, ${FIELDS} FROM old_rows`
      )
    )
    this.schema.raw(`
      CREATE OR REPLACE FUNCTION usage_daily_totals_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- DELETE, not TRUNCATE: the same TRUNCATE statement may be emptying both tables.
        DELETE FROM usage_daily_totals;
        RETURN NULL;
      END
      $$
    `)
    this.schema.raw(`
      CREATE TRIGGER usage_logs_daily_totals_insert AFTER INSERT ON usage_logs
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_totals_on_insert();
      CREATE TRIGGER usage_logs_daily_totals_delete AFTER DELETE ON usage_logs
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_totals_on_delete();
      CREATE TRIGGER usage_logs_daily_totals_update AFTER UPDATE ON usage_logs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_totals_on_update();
      CREATE TRIGGER usage_logs_daily_totals_truncate AFTER TRUNCATE ON usage_logs
        FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_totals_on_truncate();
    `)
    // What is there already.
    this.schema.raw(upsert(`SELECT 1 AS sign, ${FIELDS} FROM usage_logs`))
  }

  async down() {
    this.schema.raw(`
      DROP TRIGGER IF EXISTS usage_logs_daily_totals_insert ON usage_logs;
      DROP TRIGGER IF EXISTS usage_logs_daily_totals_delete ON usage_logs;
      DROP TRIGGER IF EXISTS usage_logs_daily_totals_update ON usage_logs;
      DROP TRIGGER IF EXISTS usage_logs_daily_totals_truncate ON usage_logs;
      DROP FUNCTION IF EXISTS usage_daily_totals_on_insert();
      DROP FUNCTION IF EXISTS usage_daily_totals_on_delete();
      DROP FUNCTION IF EXISTS usage_daily_totals_on_update();
      DROP FUNCTION IF EXISTS usage_daily_totals_on_truncate();
      DROP TABLE IF EXISTS usage_daily_totals;
    `)
  }
}
