import type { HandlerTable } from './types.js'
import { checkoutHandlers } from './checkout_handlers.js'
import { subscriptionHandlers } from './subscription_handlers.js'
import { connectHandlers } from './connect_handlers.js'

/**
 * The one table of webhook handlers. Each domain keeps its handlers beside
 * its service; an event type appears in exactly one of them.
 */
export const handlers: HandlerTable = {
  ...checkoutHandlers,
  ...subscriptionHandlers,
  ...connectHandlers,
}
