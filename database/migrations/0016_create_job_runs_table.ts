import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'job_runs'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('job', 64).notNullable()
      table.string('status', 16).notNullable().defaultTo('running')
      table.text('host').notNullable()
      table.integer('pid').notNullable()
      table.timestamp('started_at', { useTz: true }).notNullable()
      table.timestamp('finished_at', { useTz: true }).nullable()
      table.integer('duration_ms').nullable()
      table.jsonb('summary').nullable()
      table.text('error').nullable()
    })
    this.schema.raw(`
      ALTER TABLE job_runs
        ADD CONSTRAINT job_runs_status_check
          CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'skipped')),
        ADD CONSTRAINT job_runs_finished_at_check
          CHECK ((status = 'running') = (finished_at IS NULL)),
        ADD CONSTRAINT job_runs_duration_check CHECK (duration_ms IS NULL OR duration_ms >= 0)
    `)
    this.schema.raw(`
      CREATE INDEX job_runs_job_started_at_index ON job_runs (job, started_at DESC)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
