import { BaseSchema } from '@adonisjs/lucid/schema'

export default class extends BaseSchema {
  protected tableName = 'users'

  async up() {
    this.schema.createTable(this.tableName, (table) => {
      table.bigIncrements('id')
      table.string('full_name', 120).notNullable()
      table.string('email', 254).notNullable().unique()
      table.string('password').notNullable()

      // Billing state: written only by billing services (verified payments, operator commands).
      table.string('plan', 16).notNullable().defaultTo('free')
      table.bigInteger('credits_balance_cents').notNullable().defaultTo(0)
      table.string('stripe_customer_id', 255).nullable().unique()
      table.string('creator_stripe_account_id', 255).nullable().unique()
      table.boolean('creator_payouts_enabled').notNullable().defaultTo(false)

      table.timestamp('created_at', { useTz: true }).notNullable()
      table.timestamp('updated_at', { useTz: true }).notNullable()
    })
    this.schema.raw(`
      ALTER TABLE users
        ADD CONSTRAINT users_plan_check CHECK (plan IN ('free', 'premium')),
        ADD CONSTRAINT users_credits_balance_check CHECK (credits_balance_cents >= 0),
        ADD CONSTRAINT users_email_lowercase_check CHECK (email = lower(email))
    `)
  }

  async down() {
    this.schema.dropTable(this.tableName)
  }
}
