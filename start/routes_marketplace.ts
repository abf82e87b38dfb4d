/*
| Marketplace routes: the agent catalogue, buying agents, the user's agents
| (pages and the JSON API). Imported by start/routes.ts.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import { billingActionThrottle, purchaseThrottle } from '#start/limiter'

const MarketplaceController = () => import('#controllers/marketplace_controller')

/** The same actions for the pages (/marketplace/...) and the API (/api/marketplace/agents/...). */
function agentActionRoutes(prefix: string) {
  router.get(prefix, [MarketplaceController, 'index']).as('index')
  router.get(`${prefix}/:slug`, [MarketplaceController, 'show']).as('show')
  router
    .post(`${prefix}/:slug/purchase`, [MarketplaceController, 'purchase'])
    .as('purchase')
    .use(purchaseThrottle)
  router
    .post(`${prefix}/:slug/cancel`, [MarketplaceController, 'cancel'])
    .as('cancel')
    .use(billingActionThrottle)
}

router
  .group(() => {
    // Before :slug, so "mine" is not taken for an agent.
    router.get('marketplace/mine', [MarketplaceController, 'mine']).as('mine')
    agentActionRoutes('marketplace')
  })
  .as('marketplace')
  .use(middleware.auth())

router
  .group(() => {
    router.get('billing/agents', [MarketplaceController, 'mine']).as('mine')
    agentActionRoutes('marketplace/agents')
  })
  .prefix('/api')
  .as('api.marketplace')
  .use([middleware.forceJson(), middleware.auth()])
