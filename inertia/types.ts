import type { Data } from '@generated/data.js'

/** Props every page receives from the Inertia middleware (user, flash, errors). */
export type SharedProps = Data.SharedProps

declare module '@inertiajs/core' {
  interface InertiaConfig {
    sharedPageProps: Data.SharedProps
  }
}
