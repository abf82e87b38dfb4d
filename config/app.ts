import env from '#start/env'
import app from '@adonisjs/core/services/app'
import { defineConfig } from '@adonisjs/core/http'

/**
 * Encrypts cookies and signs URLs. Losing or changing it logs everyone out.
 */
export const appKey = env.get('APP_KEY')

/**
 * The public origin of the app. Every absolute URL we hand to Stripe
 * (checkout success/cancel, portal return) is built from this, never
 * from request headers.
 */
export const appUrl = env.get('APP_URL')

export const http = defineConfig({
  generateRequestId: true,
  allowMethodSpoofing: true,
  useAsyncLocalStorage: false,
  cookie: {
    domain: '',
    path: '/',
    maxAge: '2h',
    httpOnly: true,
    secure: app.inProduction,
    sameSite: 'lax',
  },
})
