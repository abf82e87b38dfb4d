/**
 * Every resource the sandbox serves. To add one, write a module like
 * `customers.ts` (routes + expandable fields) and list it here.
 */
import type { ResourceModule } from '../context.js'
import { customers } from './customers.js'
import { events } from './events.js'
import { webhookEndpoints } from './webhook_endpoints.js'

export const resources: ResourceModule[] = [customers, events, webhookEndpoints]
