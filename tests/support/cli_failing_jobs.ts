/**
 * Preloaded (node --import) into CLI child processes by the jobs tests: once
 * the app has booted, swaps AgentCatalogService for one whose `syncPending`
 * throws, so `agents:sync` fails the way a database outage would (a fault the
 * sandbox cannot produce). Never loaded outside tests.
 */
import { Ignitor } from '@adonisjs/core'

const createApp = Ignitor.prototype.createApp
Ignitor.prototype.createApp = function (this: Ignitor, ...args: Parameters<Ignitor['createApp']>) {
  const app = createApp.apply(this, args)
  app.booted(async () => {
    const { default: AgentCatalogService } =
      await import('#services/marketplace/agent_catalog_service')
    const failing = Object.create(AgentCatalogService.prototype) as InstanceType<
      typeof AgentCatalogService
    >
    failing.syncPending = async () => {
      throw new Error('catalog unavailable (test fault)')
    }
    app.container.swap(AgentCatalogService, () => failing)
  })
  return app
}
