import { defineConfig, stores } from '@adonisjs/lock'

/**
 * Named locks live in PostgreSQL (table locks): two cron hosts never run
 * the same job, and per-user critical sections hold across web nodes.
 */
const lockConfig = defineConfig({
  default: 'database',
  stores: {
    database: stores.database({ tableName: 'locks' }),
  },
})

export default lockConfig

declare module '@adonisjs/lock/types' {
  export interface LockStoresList extends InferLockStores<typeof lockConfig> {}
}
