import { createHash } from 'node:crypto'
import app from '@adonisjs/core/services/app'
import { defineConfig } from '@adonisjs/shield'

/**
 * Routes that authenticate by a signature or a bearer key instead of a
 * session, so they take no CSRF token: named here one by one (never by a URL
 * prefix, so a route added next to them still needs its token).
 * tests/functional/security/csrf.spec.ts checks every other state-changing
 * route refuses a request without one.
 */
export const CSRF_EXEMPT_ROUTES = ['webhooks.stripe', 'usage.litellm_callback'] as const

/**
 * The React refresh preamble `@viteReactRefresh()` writes inline while the
 * Vite dev server runs (development and tests; never in a production build).
 * Allowed by its hash; security/headers.spec.ts checks every inline script a
 * page carries is allowed by the policy.
 */
const REACT_REFRESH_PREAMBLE = [
  '',
  `import RefreshRuntime from '/@react-refresh'`,
  `RefreshRuntime.injectIntoGlobalHook(window)`,
  `window.$RefreshReg$ = () => {}`,
  `window.$RefreshSig$ = () => (type) => type`,
  `window.__vite_plugin_react_preamble_installed__ = true`,
  '',
].join('\n')

export const reactRefreshHash = `'sha256-${createHash('sha256').update(REACT_REFRESH_PREAMBLE).digest('base64')}'`

const devServer = !app.inProduction

const shieldConfig = defineConfig({
  /**
   * Same-origin scripts, styles, images, fonts and requests (production
   * assets are served from /assets). Stripe's Checkout, portal and Connect
   * pages are navigations away, never embedded, so no Stripe origin is
   * needed. Inline styles stay allowed (React `style` props, Inertia's
   * progress bar). The Vite dev server adds its inline preamble (by hash),
   * its own URL and its HMR websocket outside production.
   */
  csp: {
    enabled: true,
    directives: {
      defaultSrc: [`'self'`],
      scriptSrc: [`'self'`, '@nonce', '@viteUrl', ...(devServer ? [reactRefreshHash] : [])],
      styleSrc: [`'self'`, `'unsafe-inline'`, '@viteUrl'],
      imgSrc: [`'self'`, 'data:'],
      fontSrc: [`'self'`, 'data:'],
      connectSrc: [`'self'`, '@viteUrl', ...(devServer ? ['ws:', 'wss:'] : [])],
      objectSrc: [`'none'`],
      baseUri: [`'self'`],
      frameAncestors: [`'none'`],
    },
    reportOnly: false,
  },
  csrf: {
    enabled: true,
    exceptRoutes: (ctx) =>
      (CSRF_EXEMPT_ROUTES as readonly string[]).includes(ctx.route?.name ?? ''),
    enableXsrfCookie: true,
    methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
  },
  xFrame: {
    enabled: true,
    action: 'DENY',
  },
  hsts: {
    enabled: true,
    maxAge: '180 days',
  },
  contentTypeSniffing: {
    enabled: true,
  },
})

export default shieldConfig
