import type { HandlerTable } from './types.js'

/** Premium subscriptions and their invoices. */
export const subscriptionHandlers: HandlerTable = {}
