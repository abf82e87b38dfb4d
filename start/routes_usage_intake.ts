/*
|--------------------------------------------------------------------------
| Usage intake routes
|--------------------------------------------------------------------------
|
| LiteLLM pushes request logs here (generic_api callback). Authenticated by a
| shared secret (LITELLM_CALLBACK_SECRET), exempt from CSRF (config/shield.ts),
| body read raw by app/middleware/body_parser_middleware.ts.
|
*/

import router from '@adonisjs/core/services/router'

const LitellmCallbacksController = () => import('#controllers/litellm_callbacks_controller')

router
  .post('/api/litellm/callback', [LitellmCallbacksController, 'store'])
  .as('usage.litellm_callback')
