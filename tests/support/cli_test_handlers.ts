/**
 * Preloaded (node --import) into CLI child processes by the webhook tests:
 * once the app has booted, registers the test-only handler for
 * customer.updated, so `webhooks:replay` in another process has something
 * to apply. Never loaded outside tests.
 */
import { Ignitor } from '@adonisjs/core'

const createApp = Ignitor.prototype.createApp
Ignitor.prototype.createApp = function (this: Ignitor, ...args: Parameters<Ignitor['createApp']>) {
  const app = createApp.apply(this, args)
  app.booted(async () => {
    const { handlers } = await import('#services/webhooks/handlers')
    const { renameUserFromCustomer, TEST_EVENT_TYPE } =
      await import('#tests/support/webhook_test_handlers')
    handlers[TEST_EVENT_TYPE] = renameUserFromCustomer
  })
  return app
}
