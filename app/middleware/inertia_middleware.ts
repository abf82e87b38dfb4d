import { randomUUID } from 'node:crypto'
import type { HttpContext } from '@adonisjs/core/http'
import type { NextFn } from '@adonisjs/core/types/http'
import UserTransformer from '#transformers/user_transformer'
import BillingOverviewService from '#services/billing_overview_service'
import BaseInertiaMiddleware from '@adonisjs/inertia/inertia_middleware'

export default class InertiaMiddleware extends BaseInertiaMiddleware {
  async share(ctx: HttpContext) {
    // A page can render before the session or auth middleware ran (a 404, say).
    const { session, auth } = ctx as Partial<HttpContext>

    const errorsBag: Record<string, string> = session?.flashMessages.get('errorsBag') ?? {}
    const error: string | undefined =
      session?.flashMessages.get('error') ??
      Object.keys(errorsBag)
        .filter((code) => code !== 'E_VALIDATION_ERROR')
        .map((code) => errorsBag[code])[0]
    const success: string | undefined = session?.flashMessages.get('success')

    return {
      errors: ctx.inertia.always(this.getValidationErrors(ctx)),
      flash: ctx.inertia.always({ error: error ?? null, success: success ?? null }),
      user: ctx.inertia.always(auth?.user ? UserTransformer.transform(auth.user) : null),
      // The navigation's plan badge (Premium / Free / Past due): one query, signed-in pages only.
      planBadge: ctx.inertia.always(
        auth?.user ? await BillingOverviewService.badge(auth.user) : null
      ),
      // A fresh key per page render for its purchase forms: the same form sent twice
      // (a double click, a resubmission) reaches the same Checkout, never a second one.
      purchaseKey: ctx.inertia.always(auth?.user ? randomUUID() : null),
    }
  }

  async handle(ctx: HttpContext, next: NextFn) {
    await this.init(ctx)
    const output = await next()
    this.dispose(ctx)
    return output
  }
}

declare module '@adonisjs/inertia/types' {
  type MiddlewareSharedProps = InferSharedProps<InertiaMiddleware>
  export interface SharedProps extends MiddlewareSharedProps {}
}
