/**
 * Shared look of the hosted pages (Checkout, portal, Connect onboarding): a
 * clean, Stripe-like card layout with no external assets. Every dynamic value
 * goes through `escapeHtml` (or the `html` tag, which escapes interpolations).
 */
import { ZERO_DECIMAL_CURRENCIES } from '../currency.js'

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (char) => ENTITIES[char])
}

/** Markup that must not be escaped again when interpolated into `html`. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString() {
    return this.value
  }
}

/** Tagged template: interpolated values are escaped unless already SafeHtml (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]
  values.forEach((value, index) => {
    const items = Array.isArray(value) ? value : [value]
    for (const item of items) {
      out += item instanceof SafeHtml ? item.value : escapeHtml(item)
    }
    out += strings[index + 1]
  })
  return new SafeHtml(out)
}

/** `$5.00`, `€12.50`, `¥500`: an amount in the smallest unit, as Checkout shows it. */
export function formatAmount(amount: number, currency: string): string {
  const code = currency.toUpperCase()
  const divisor = ZERO_DECIMAL_CURRENCIES.has(currency.toLowerCase()) ? 1 : 100
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(
    amount / divisor
  )
}

export function formatDate(unixSeconds: number): string {
  return new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(
    new Date(unixSeconds * 1000)
  )
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1a1f36;background:#f6f9fc;line-height:1.45}
.sandbox-banner{background:#ffe8cc;color:#7a4100;text-align:center;font-size:12px;padding:6px;letter-spacing:.02em}
.wrap{max-width:980px;margin:0 auto;padding:40px 24px;display:flex;gap:48px;flex-wrap:wrap}
.summary{flex:1 1 340px}
.panel{flex:1 1 380px;background:#fff;border-radius:10px;box-shadow:0 2px 5px rgba(50,50,93,.1),0 1px 2px rgba(0,0,0,.07);padding:28px}
.merchant{font-weight:600;color:#697386;margin-bottom:24px;display:flex;align-items:center;gap:8px}
.merchant .logo{width:28px;height:28px;border-radius:50%;background:#635bff;color:#fff;display:inline-flex;align-items:center;justify-content:center;font-size:14px}
.label{color:#697386;font-size:15px}
.total{font-size:36px;font-weight:600;margin:4px 0 24px}
.total small{font-size:15px;color:#697386;font-weight:400}
.items{list-style:none;padding:0;margin:0;border-top:1px solid #e3e8ee}
.items li{display:flex;justify-content:space-between;gap:16px;padding:14px 0;border-bottom:1px solid #e3e8ee}
.items .name{font-weight:500}
.items .desc{color:#697386;font-size:13px}
h1{font-size:22px;margin:0 0 16px}
h2{font-size:17px;margin:24px 0 10px}
label{display:block;font-size:13px;color:#3c4257;font-weight:500;margin:14px 0 6px}
input,select{width:100%;padding:10px 12px;font-size:15px;border:1px solid #cfd7df;border-radius:6px;background:#fff}
input:focus,select:focus{outline:2px solid #635bff33;border-color:#635bff}
.row{display:flex;gap:12px}.row>div{flex:1}
button,.button{display:inline-block;width:100%;margin-top:22px;padding:12px 16px;font-size:16px;font-weight:600;border:0;border-radius:6px;background:#635bff;color:#fff;cursor:pointer;text-align:center;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:#3c4257;border:1px solid #cfd7df}
button.danger{background:#df1b41}
.error{background:#fff0f2;color:#a41c2a;border:1px solid #f5c2c9;border-radius:6px;padding:10px 12px;margin:12px 0;font-size:14px}
.notice{background:#eef6ff;color:#1d4f91;border:1px solid #c7ddf7;border-radius:6px;padding:10px 12px;margin:12px 0;font-size:14px}
.muted{color:#697386;font-size:13px}
.back{color:#635bff;text-decoration:none;font-size:14px}
.hint{margin-top:16px;font-size:12px;color:#697386}
.hint code{background:#f1f3f7;padding:1px 4px;border-radius:3px}
.badge{display:inline-block;font-size:12px;padding:2px 8px;border-radius:10px;background:#e3e8ee;color:#3c4257}
.badge.ok{background:#d7f7c2;color:#05690d}.badge.warn{background:#fcedb9;color:#a04f00}.badge.bad{background:#ffe7f2;color:#b3093c}
`

/** A full HTML document with the sandbox banner. */
export function page(title: string, body: SafeHtml): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<div class="sandbox-banner">Stripe sandbox: test mode, no real money moves</div>
${body.value}
</body>
</html>`
}
