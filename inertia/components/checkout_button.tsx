import { Form, usePage } from '@inertiajs/react'
import type { SharedProps } from '~/types.js'

/**
 * One purchase button: posts the purchase to /billing/checkout (or to
 * `action`, an agent's purchase route), whose answer sends the browser to
 * Stripe Checkout (or back, for what needs no payment now). The page's
 * `purchaseKey` rides along, so the same form sent twice reaches the same
 * Checkout, never a second one.
 */
export default function CheckoutButton(props: {
  action?: string
  kind?: 'premium' | 'credits' | 'deploy_slot'
  packageKey?: string
  busyLabel?: string
  label: string
  primary?: boolean
  block?: boolean
  autoFocus?: boolean
}) {
  const { purchaseKey } = usePage<SharedProps>().props
  const classes = ['button', props.primary ? 'button-primary' : 'button-secondary']
  if (props.block) classes.push('button-block')
  return (
    <Form action={props.action ?? '/billing/checkout'} method="post">
      {({ processing }) => (
        <>
          {props.kind ? <input type="hidden" name="kind" value={props.kind} /> : null}
          {props.packageKey ? <input type="hidden" name="packageKey" value={props.packageKey} /> : null}
          {purchaseKey ? <input type="hidden" name="requestKey" value={purchaseKey} /> : null}
          <button type="submit" className={classes.join(' ')} disabled={processing} autoFocus={props.autoFocus}>
            {processing ? (props.busyLabel ?? 'Opening checkout…') : props.label}
          </button>
        </>
      )}
    </Form>
  )
}
