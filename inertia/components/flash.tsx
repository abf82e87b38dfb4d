import { useEffect, useState } from 'react'
import { usePage } from '@inertiajs/react'
import type { SharedProps } from '~/types.js'

/** Shows the flash message of the last action (success or error), dismissible. */
export default function Flash() {
  const { flash } = usePage<SharedProps>().props
  const [hidden, setHidden] = useState(false)
  useEffect(() => setHidden(false), [flash.success, flash.error])

  const message = flash.error ?? flash.success
  if (!message || hidden) return null
  const kind = flash.error ? 'error' : 'success'
  return (
    <div className={`flash flash-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      <span>{message}</span>
      <button type="button" className="flash-close" aria-label="Dismiss message" onClick={() => setHidden(true)}>
        ×
      </button>
    </div>
  )
}
