import type { HandlerTable } from './types.js'

/** Checkout, payments, credits and deploy slots. */
export const checkoutHandlers: HandlerTable = {}
