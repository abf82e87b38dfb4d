import { defineConfig, stores } from '@adonisjs/limiter'

/**
 * Rate-limit counters live in PostgreSQL so every web node sees the same
 * counts (table rate_limits).
 */
const limiterConfig = defineConfig({
  default: 'database',
  stores: {
    database: stores.database({ connectionName: 'limiter', tableName: 'rate_limits' }),
  },
})

export default limiterConfig

declare module '@adonisjs/limiter/types' {
  export interface LimitersList extends InferLimiters<typeof limiterConfig> {}
}
