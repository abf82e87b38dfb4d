import { Form, usePage } from '@inertiajs/react'
import type { SharedProps } from '~/types.js'

/**
 * One purchase button: posts the purchase to /billing/checkout, whose answer
 * sends the browser to Stripe Checkout. The page's `purchaseKey` rides along,
 * so the same form sent twice reaches the same Checkout, never a second one.
 */
export default function CheckoutButton(props: {
  kind: 'premium' | 'credits' | 'deploy_slot'
  packageKey?: string
  label: string
  primary?: boolean
  block?: boolean
  autoFocus?: boolean
}) {
  const { purchaseKey } = usePage<SharedProps>().props
  const classes = ['button', props.primary ? 'button-primary' : 'button-secondary']
  if (props.block) classes.push('button-block')
  return (
    <Form action="/billing/checkout" method="post">
      {({ processing }) => (
        <>
          <input type="hidden" name="kind" value={props.kind} />
          {props.packageKey ? <input type="hidden" name="packageKey" value={props.packageKey} /> : null}
          {purchaseKey ? <input type="hidden" name="requestKey" value={purchaseKey} /> : null}
          <button type="submit" className={classes.join(' ')} disabled={processing} autoFocus={props.autoFocus}>
            {processing ? 'Opening checkout…' : props.label}
          </button>
        </>
      )}
    </Form>
  )
}
