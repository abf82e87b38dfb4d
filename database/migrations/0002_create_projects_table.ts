import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'projects'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table
        .bigInteger('user_id')
        .notNullable()
        .references('id')
        .inTable('users')
        .onDelete('CASCADE')
      table.string('name', 80).notNullable()
      table.string('slug', 100).notNullable()

      // Deployment state ("deploy mode": a container kept running 24/7). When a
      // downgrade stops a deployment, stopped_at/stopped_reason say why.
      table.boolean('is_deployed').notNullable().defaultTo(false)
      table.timestamp('deployed_at', { useTz: true }).nullable()
      table.timestamp('stopped_at', { useTz: true }).nullable()
      table.string('stopped_reason', 255).nullable()

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()

      table.unique(['user_id', 'slug'])
      table.index(['user_id', 'is_deployed'])
    })
    this.schema.raw(`
      ALTER TABLE projects
        ADD CONSTRAINT projects_deployed_at_check CHECK (NOT is_deployed OR deployed_at IS NOT NULL)
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
