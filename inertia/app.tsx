import './css/app.css'
import './types'
import type { ComponentType, ReactNode } from 'react'
import { createRoot } from 'react-dom/client'
import { createInertiaApp } from '@inertiajs/react'
import Layout from '~/layouts/default.js'

type PageModule = {
  default: ComponentType & { layout?: (page: ReactNode) => ReactNode }
}

const pages = import.meta.glob<PageModule>('./pages/**/*.tsx')

createInertiaApp({
  title: (title) => (title ? `${title} · Studio Billing` : 'Studio Billing'),
  resolve: async (name) => {
    const load = pages[`./pages/${name}.tsx`]
    if (!load) throw new Error(`Unknown page: ${name}`)
    const page = (await load()).default
    // Pages use the app layout unless they bring their own (auth pages do).
    page.layout ??= (children: ReactNode) => <Layout>{children}</Layout>
    return page
  },
  setup({ el, App, props }) {
    createRoot(el).render(<App {...props} />)
  },
  progress: { color: '#4f46e5' },
})
