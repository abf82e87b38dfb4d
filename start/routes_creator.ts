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

// Pages. Onboarding and agent changes call Stripe: throttled per user like other billing actions.
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

    router
      .post('creator/agents', [CreatorAgentsController, 'store'])
      .as('creator.agents.store')
      .use(billingActionThrottle)
    router
      .put('creator/agents/:id/price', [CreatorAgentsController, 'updatePrice'])
      .as('creator.agents.price')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
    router
      .post('creator/agents/:id/publish', [CreatorAgentsController, 'publish'])
      .as('creator.agents.publish')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
    router
      .post('creator/agents/:id/unpublish', [CreatorAgentsController, 'unpublish'])
      .as('creator.agents.unpublish')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
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

    router
      .post('creator/agents', [CreatorAgentsController, 'store'])
      .as('creator.agents.store')
      .use(billingActionThrottle)
    router
      .put('creator/agents/:id/price', [CreatorAgentsController, 'updatePrice'])
      .as('creator.agents.price')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
    router
      .post('creator/agents/:id/publish', [CreatorAgentsController, 'publish'])
      .as('creator.agents.publish')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
    router
      .post('creator/agents/:id/unpublish', [CreatorAgentsController, 'unpublish'])
      .as('creator.agents.unpublish')
      .where('id', router.matchers.number())
      .use(billingActionThrottle)
  })
  .prefix('/api')
  .as('api')
  .use([middleware.forceJson(), middleware.auth()])
