/*
| Usage routes: the usage dashboard, its JSON and the request log (pages and
| the JSON API). Imported by start/routes.ts.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import { billingActionThrottle } from '#start/limiter'

const UsageController = () => import('#controllers/usage_controller')

router
  .group(() => {
    router.get('usage', [UsageController, 'show']).as('usage.show')
    router.post('usage/sync', [UsageController, 'sync']).as('usage.sync').use(billingActionThrottle)
  })
  .use(middleware.auth())

router
  .group(() => {
    router.get('billing/usage', [UsageController, 'show']).as('billing.usage')
    router.get('billing/usage/logs', [UsageController, 'logs']).as('billing.usage.logs')
    router
      .post('billing/usage/sync', [UsageController, 'sync'])
      .as('billing.usage.sync')
      .use(billingActionThrottle)
  })
  .prefix('/api')
  .as('api')
  .use([middleware.forceJson(), middleware.auth()])
