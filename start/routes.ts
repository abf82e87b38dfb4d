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
import { authThrottle } from '#start/limiter'

const NewAccountController = () => import('#controllers/new_account_controller')
const SessionController = () => import('#controllers/session_controller')
const ProfileController = () => import('#controllers/profile_controller')
const ProjectsController = () => import('#controllers/projects_controller')
const BillingController = () => import('#controllers/billing_controller')

router.get('/health', async () => ({ status: 'ok' })).as('health')
router.on('/').redirectToPath('/projects').as('home')

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

    router.get('billing', [BillingController, 'show']).as('billing.show')
    router.post('billing/checkout', [BillingController, 'start']).as('billing.checkout')
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

    router.post('billing/checkout', [BillingController, 'start']).as('billing.checkout')
  })
  .prefix('/api')
  .as('api')
  .use([middleware.forceJson(), middleware.auth()])
