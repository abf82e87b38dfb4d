/*
|--------------------------------------------------------------------------
| Routes
|--------------------------------------------------------------------------
|
| Pages (Inertia) and the JSON API under /api. Controllers validate, make
| one service call and respond; every billing rule lives in app/services.
|
*/

import router from '@adonisjs/core/services/router'
import { middleware } from '#start/kernel'
import './routes_marketplace.js'
import './routes_creator.js'
import './routes_usage_intake.js'
import './routes_usage.js'
import { authThrottle, billingActionThrottle, purchaseThrottle } from '#start/limiter'

const NewAccountController = () => import('#controllers/new_account_controller')
const SessionController = () => import('#controllers/session_controller')
const ProfileController = () => import('#controllers/profile_controller')
const ProjectsController = () => import('#controllers/projects_controller')
const BillingController = () => import('#controllers/billing_controller')
const SubscriptionsController = () => import('#controllers/subscriptions_controller')
const DeploymentsController = () => import('#controllers/deployments_controller')
const CreditsController = () => import('#controllers/credits_controller')
const StripeWebhooksController = () => import('#controllers/stripe_webhooks_controller')
const PlansController = () => import('#controllers/plans_controller')

router.get('/health', async () => ({ status: 'ok' })).as('health')

/**
 * Starting a Checkout, subscribing, cancel/resume and the portal: the same
 * actions (and throttles) for pages and the JSON API, registered in both groups.
 */
function billingActionRoutes() {
  router
    .post('billing/checkout', [BillingController, 'start'])
    .as('billing.checkout')
    .use(purchaseThrottle)
  router
    .post('billing/subscribe', [SubscriptionsController, 'subscribe'])
    .as('billing.subscribe')
    .use(purchaseThrottle)
  router
    .post('billing/cancel', [SubscriptionsController, 'cancel'])
    .as('billing.cancel')
    .use(billingActionThrottle)
  router
    .post('billing/resume', [SubscriptionsController, 'resume'])
    .as('billing.resume')
    .use(billingActionThrottle)
  // POST: it may create a Stripe customer and opens a portal session (never from a link).
  router
    .post('billing/portal', [SubscriptionsController, 'portal'])
    .as('billing.portal')
    .use(billingActionThrottle)
}

// Stripe's signed deliveries: no auth or CSRF (the signature is checked), the raw body kept
// (app/middleware/body_parser_middleware.ts); errors answer JSON.
router
  .post('/api/webhooks/stripe', [StripeWebhooksController, 'store'])
  .as('webhooks.stripe')
  .use(middleware.forceJson())
router.on('/').redirectToPath('/projects').as('home')
router.get('/plans', [PlansController, 'show']).as('plans.show')

router
  .group(() => {
    router.get('register', [NewAccountController, 'create']).as('register.create')
    router.post('register', [NewAccountController, 'store']).as('register.store').use(authThrottle)
    router.get('login', [SessionController, 'create']).as('session.create')
    router.post('login', [SessionController, 'store']).as('session.store').use(authThrottle)
  })
  .use(middleware.guest())

router
  .group(() => {
    router.post('logout', [SessionController, 'destroy']).as('session.destroy')

    router.get('profile', [ProfileController, 'show']).as('profile.show')
    router.put('profile', [ProfileController, 'update']).as('profile.update')
    router.put('profile/password', [ProfileController, 'updatePassword']).as('profile.password')

    router.get('projects', [ProjectsController, 'index']).as('projects.index')
    router.post('projects', [ProjectsController, 'store']).as('projects.store')
    router
      .put('projects/:id', [ProjectsController, 'update'])
      .as('projects.update')
      .where('id', router.matchers.number())
    router
      .delete('projects/:id', [ProjectsController, 'destroy'])
      .as('projects.destroy')
      .where('id', router.matchers.number())
    router
      .post('projects/:id/deploy', [DeploymentsController, 'deploy'])
      .as('projects.deploy')
      .where('id', router.matchers.number())
    router
      .delete('projects/:id/deploy', [DeploymentsController, 'undeploy'])
      .as('projects.undeploy')
      .where('id', router.matchers.number())

    router.get('billing', [BillingController, 'show']).as('billing.show')
    billingActionRoutes()
    router.get('billing/checkout/success', [BillingController, 'success']).as('billing.success')
  })
  .use(middleware.auth())

router
  .group(() => {
    router.get('me', [ProfileController, 'apiShow']).as('me.show')
    router.patch('me', [ProfileController, 'apiUpdate']).as('me.update')

    router.get('projects', [ProjectsController, 'index']).as('projects.index')
    router.post('projects', [ProjectsController, 'store']).as('projects.store')
    router
      .get('projects/:id', [ProjectsController, 'show'])
      .as('projects.show')
      .where('id', router.matchers.number())
    router
      .patch('projects/:id', [ProjectsController, 'update'])
      .as('projects.update')
      .where('id', router.matchers.number())
    router
      .delete('projects/:id', [ProjectsController, 'destroy'])
      .as('projects.destroy')
      .where('id', router.matchers.number())

    billingActionRoutes()
    router.get('billing/config', [SubscriptionsController, 'config']).as('billing.config')
    router.get('billing/subscription', [SubscriptionsController, 'show']).as('billing.subscription')

    router
      .get('projects/deployment/limits', [DeploymentsController, 'limits'])
      .as('projects.deployment.limits')
    router.post('projects/:slug/deploy', [DeploymentsController, 'deploy']).as('projects.deploy')
    router
      .delete('projects/:slug/deploy', [DeploymentsController, 'undeploy'])
      .as('projects.undeploy')

    router.get('billing/credits', [CreditsController, 'show']).as('billing.credits.show')
    router
      .post('billing/credits/purchase', [CreditsController, 'purchase'])
      .as('billing.credits.purchase')
      .use(purchaseThrottle)
    router
      .get('billing/credits/history', [CreditsController, 'history'])
      .as('billing.credits.history')
    router
      .get('billing/transactions', [CreditsController, 'transactions'])
      .as('billing.transactions')
    router
      .post('projects/deployment/purchase-slot', [CreditsController, 'purchaseSlot'])
      .as('projects.deployment.purchaseSlot')
      .use(purchaseThrottle)
  })
  .prefix('/api')
  .as('api')
  .use([middleware.forceJson(), middleware.auth()])
