/*
| Creator routes: earnings, Connect onboarding, agent publishing (pages and
| the JSON API). Imported by start/routes.ts.
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import { billingActionThrottle } from '#start/limiter'

const CreatorController = () => import('#controllers/creator_controller')
const CreatorConnectController = () => import('#controllers/creator_connect_controller')
const CreatorAgentsController = () => import('#controllers/creator_agents_controller')

/**
 * Publishing and changing agents: the same actions for the page and the API.
 * They call Stripe: throttled per user like other billing actions.
 */
function creatorAgentRoutes() {
  router
    .post('creator/agents', [CreatorAgentsController, 'store'])
    .as('creator.agents.store')
    .use(billingActionThrottle)
  for (const [path, action, name] of [
    ['price', 'updatePrice', 'price'],
    ['publish', 'publish', 'publish'],
    ['unpublish', 'unpublish', 'unpublish'],
  ] as const) {
    router[path === 'price' ? 'put' : 'post'](`creator/agents/:id/${path}`, [
      CreatorAgentsController,
      action,
    ])
      .as(`creator.agents.${name}`)
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
  }
}

// Pages.
router
  .group(() => {
    router.get('creator', [CreatorController, 'show']).as('creator.show')
    router
      .post('creator/connect', [CreatorConnectController, 'start'])
      .as('creator.connect')
      .use(billingActionThrottle)
    // Stripe's return_url and refresh_url (config/billing.ts marketplace.onboarding*Path).
    router.get('creator/payouts', [CreatorConnectController, 'returned']).as('creator.payouts')
    router
      .get('creator/payouts/onboarding', [CreatorConnectController, 'refreshLink'])
      .as('creator.payouts.onboarding')
      .use(billingActionThrottle)

    creatorAgentRoutes()
  })
  .use(middleware.auth())

// JSON API.
router
  .group(() => {
    router.get('billing/earnings', [CreatorController, 'earnings']).as('billing.earnings')
    router
      .post('billing/connect', [CreatorConnectController, 'start'])
      .as('billing.connect')
      .use(billingActionThrottle)

    creatorAgentRoutes()
  })
  .prefix('/api')
  .as('api')
  .use([middleware.forceJson(), middleware.auth()])
