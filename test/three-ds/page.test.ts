import { test } from 'tap'
import { CARD, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { renderExpiredPage, renderRedirectPage } from '../../lib/three-ds/page.js'
import { sessionKey, type ThreeDSSession } from '../../lib/three-ds/session.js'

/**
 * The exact pages a payer's browser gets: Step 4's self-submitting form and
 * the expired page, spelled out here in full, so that a title, the style
 * under the nonce, a field, a line or the form's method and action that
 * changes fails.
 */

const STYLE = 'body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:32rem;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem}'

function expectedPage (nonce: string, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`
}

function expectedRedirect (nonce: string, method: 'get' | 'post', action: string, inputs: string[]): string {
  return expectedPage(nonce, 'Redirecting to your bank', `<form id="qorepay-3ds" method="${method}" action="${action}">
${inputs.join('\n')}
<p>Taking you to your bank to confirm the payment&hellip;</p>
<noscript><button type="submit">Continue to your bank</button></noscript>
</form>
<script nonce="${nonce}">document.getElementById('qorepay-3ds').submit()</script>`)
}

const EXPIRED_BODY = `<h1>This payment session has expired</h1>
<p>The link was already used or is too old. Please go back to the shop and start the payment again.</p>`

/** What a browser reads back as `value` (the simulator's PaReq is XML-like). */
function escaped (value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;')
}

const TERM_URL = 'https://shop.example/qorepay/3ds/tok/return'

function session (method: 'GET' | 'POST', acsUrl: string): ThreeDSSession {
  return { purchaseId: 'p-1', callbackUrl: 'https://gw.example/s2s/callback/p-1/', acsUrl, method, paReq: 'pa<req>', md: 'm"d', expiresAt: Date.now() + 60_000 }
}

test('the redirect page for POST: the ACS URL as the action, query and all, and exactly PaReq, MD and TermUrl, one input a line', async (t) => {
  const html = renderRedirectPage(session('POST', 'https://acs.example/pareq?bank=7&lang=en'), TERM_URL, 'n0nce')
  t.equal(html, expectedRedirect('n0nce', 'post', 'https://acs.example/pareq?bank=7&amp;lang=en', [
    '<input type="hidden" name="PaReq" value="pa&lt;req&gt;">',
    '<input type="hidden" name="MD" value="m&quot;d">',
    `<input type="hidden" name="TermUrl" value="${TERM_URL}">`
  ]))
})

test('the redirect page for GET: the ACS URL\'s query becomes fields before PaReq, MD and TermUrl, the action keeps none', async (t) => {
  const html = renderRedirectPage(session('GET', 'https://acs.example/pareq?bank=7&lang=en'), TERM_URL, 'n0nce')
  t.equal(html, expectedRedirect('n0nce', 'get', 'https://acs.example/pareq', [
    '<input type="hidden" name="bank" value="7">',
    '<input type="hidden" name="lang" value="en">',
    '<input type="hidden" name="PaReq" value="pa&lt;req&gt;">',
    '<input type="hidden" name="MD" value="m&quot;d">',
    `<input type="hidden" name="TermUrl" value="${TERM_URL}">`
  ]))
})

test('the expired page: its title, its text, the style under the nonce', async (t) => {
  t.equal(renderExpiredPage('n0nce'), expectedPage('n0nce', 'Payment session expired', EXPIRED_BODY))
})

test('over HTTP: the page route serves exactly these pages under the nonce of its CSP', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { store } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const token: string = res.body.redirect_url.slice(`${shop.url}/qorepay/3ds/`.length)
  const stored = await store.get(sessionKey(token)) as ThreeDSSession
  const nonceOf = (csp: unknown) => /'nonce-([^']+)'/.exec(csp as string)![1]

  const page = await shop.get(`/qorepay/3ds/${token}`)
  t.equal(page.statusCode, 200)
  const nonce = nonceOf(page.headers['content-security-policy'])
  t.equal(page.text, expectedRedirect(nonce, 'post', `${shop.sim.origin}/acs/`, [
    `<input type="hidden" name="PaReq" value="${escaped(stored.paReq)}">`,
    `<input type="hidden" name="MD" value="${escaped(stored.md)}">`,
    `<input type="hidden" name="TermUrl" value="${shop.url}/qorepay/3ds/${token}/return">`
  ]))

  const expired = await shop.get(`/qorepay/3ds/${'A'.repeat(43)}`)
  t.equal(expired.statusCode, 404)
  t.equal(expired.text, expectedPage(nonceOf(expired.headers['content-security-policy']), 'Payment session expired', EXPIRED_BODY))
})
