import { inject } from '@adonisjs/core'
import type { HttpContext } from '@adonisjs/core/http'
import logger from '@adonisjs/core/services/logger'
import UsageIntakeService from '#services/usage/usage_intake_service'

/** LiteLLM's generic_api callback (machine to machine: a shared secret, no session, no CSRF). */
export default class LitellmCallbacksController {
  @inject()
  async store({ request, response }: HttpContext, intake: UsageIntakeService) {
    intake.authenticate(request.header('authorization'))
    const result = await intake.receive(request.raw() ?? '')
    const unpriced = Object.keys(result.unpriced)
    if (unpriced.length > 0) {
      logger.warn({ unpriced: result.unpriced }, 'LiteLLM usage for unpriced model groups')
    }
    if (result.mismatches > 0 || result.unattributed > 0) {
      logger.warn(
        { mismatches: result.mismatches, unattributed: result.unattributed },
        'LiteLLM callback rows need attention'
      )
    }
    return response.ok({
      received: result.seen + result.skippedCacheHits,
      inserted: result.inserted,
      duplicates: result.duplicates,
      mismatches: result.mismatches,
      unattributed: result.unattributed,
      skippedCacheHits: result.skippedCacheHits,
      unpriced: result.unpriced,
    })
  }
}
