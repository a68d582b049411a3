import type { ThreeDSSession } from './session.js'
import { escapeHtml } from '../wire/html.js'

/** Only the page's own nonce'd script and style run; nothing may frame it. */
export function contentSecurityPolicy (nonce: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; base-uri 'none'; frame-ancestors 'none'`
}

const STYLE = 'body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:32rem;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem}'

function page (nonce: string, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`
}

/**
 * Step 4: a form that submits itself to the issuer's ACS with PaReq, MD and
 * TermUrl, by the gateway's `Method`. For GET the browser builds the query
 * from the fields, dropping the action's own query, so that query is carried
 * over as fields too.
 */
export function renderRedirectPage (session: ThreeDSSession, termUrl: string, nonce: string): string {
  let action = session.acsUrl
  const fields: Array<[string, string]> = []
  if (session.method === 'GET') {
    const url = new URL(action)
    fields.push(...url.searchParams)
    url.search = ''
    action = url.href
  }
  fields.push(['PaReq', session.paReq], ['MD', session.md], ['TermUrl', termUrl])
  const inputs = fields.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n')
  return page(nonce, 'Redirecting to your bank', `<form id="qorepay-3ds" method="${session.method === 'GET' ? 'get' : 'post'}" action="${escapeHtml(action)}">
${inputs}
<p>Taking you to your bank to confirm the payment&hellip;</p>
<noscript><button type="submit">Continue to your bank</button></noscript>
</form>
<script nonce="${nonce}">document.getElementById('qorepay-3ds').submit()</script>`)
}

export function renderExpiredPage (nonce: string): string {
  return page(nonce, 'Payment session expired', `<h1>This payment session has expired</h1>
<p>The link was already used or is too old. Please go back to the shop and start the payment again.</p>`)
}
