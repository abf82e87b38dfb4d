import type { ApiResponse } from '@japa/api-client'

/** Field errors a form post flashed for the page it redirects back to. */
export function flashedFieldErrors(response: ApiResponse): Record<string, string[]> {
  return (response.flashMessages().inputErrorsBag as Record<string, string[]> | undefined) ?? {}
}

/** The flash message of the last action (success or error), if any. */
export function flashed(response: ApiResponse, key: 'success' | 'error'): string | undefined {
  return response.flashMessages()[key] as string | undefined
}
