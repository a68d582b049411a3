import { test } from 'tap'
import { request } from 'undici'
import { CARD, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { answerKey, sessionKey } from '../../lib/three-ds/session.js'
import { firedExactly } from '../helpers/outcomes.js'

test('3DS with POST: redirect page, ACS approve, TermUrl completes and redirects to success', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, '3DS_required')
  const token = res.body.redirect_url.slice(`${shop.url}/qorepay/3ds/`.length)
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  t.not(token, res.body.purchase_id)
  t.same(shop.events.threeDS, [{ purchaseId: res.body.purchase_id, status: '3DS_required', source: 'direct', redirectUrl: res.body.redirect_url, reference: 'order-42', maskedPan: '555555******4444' }])
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'pending_execute')

  const page = await shop.get(`/qorepay/3ds/${token}`)
  t.equal(page.statusCode, 200)
  t.equal(page.headers['cache-control'], 'no-store')
  const csp = page.headers['content-security-policy'] as string
  const nonce = /'nonce-([^']+)'/.exec(csp)![1]
  t.match(csp, /default-src 'none'/)
  t.match(page.text, `<script nonce="${nonce}">`)
  t.match(page.text, /<form id="qorepay-3ds" method="post" action="http:\/\/127\.0\.0\.1:\d+\/acs\/">/)
  t.match(page.text, /<noscript><button type="submit">/)
  t.notMatch(page.text, '<PaReq', 'PaReq is escaped')
  t.match(page.text, '&lt;PaReq id=&quot;')

  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  t.equal(termUrl, `${shop.url}/qorepay/3ds/${token}/return`)
  const back = await postTermUrl(termUrl, body)
  t.equal(back.statusCode, 303)
  t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${res.body.purchase_id}&status=executed`)
  // The gateway's success callback and webhook come too: still once.
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, source: '3ds', maskedPan: '555555******4444' }])
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'paid')

  t.test('the TermUrl completes the payment once: a replay answers the first post\'s redirect without a gateway call', async (t) => {
    const calls = shop.sim.count('callback')
    const replay = await postTermUrl(termUrl, body)
    t.same(replay, back)
    t.equal(shop.sim.count('callback'), calls)
    await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, 1)
  })
  t.test('the redirect page is gone once used', async (t) => {
    const again = await shop.get(`/qorepay/3ds/${token}`)
    t.equal(again.statusCode, 404)
    t.notMatch(again.text, /<form/)
    t.match(again.text, /expired/)
    t.equal(again.headers['cache-control'], 'no-store')
  })
})

test('3DS fail at the bank: failure redirect and onFailed', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'fail')
  const back = await postTermUrl(termUrl, body)
  t.equal(back.location, `https://shop.example/failed?purchase_id=${res.body.purchase_id}&status=error`)
  await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, source: '3ds', status: 'error', error: { code: '3ds_failed' } }])
})

test('3DS with a wrong CVC fails at the callback step', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, cvc: '999' })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/failed\?purchase_id=/)
  await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ source: '3ds', error: { code: 'incorrect_cvc' } }])
})

test('3DS with GET and an empty MD: the fields travel in the query, MD posted back empty', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSGet })
  const token = res.body.redirect_url.split('/').at(-1)
  const page = await shop.get(`/qorepay/3ds/${token}`)
  t.match(page.text, /<form id="qorepay-3ds" method="get"/)
  t.match(page.text, /name="MD" value=""/)
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  t.equal(new URLSearchParams(body).get('MD'), '')
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid\?from=qorepay&purchase_id=/)
  const callback = shop.sim.requests.find((r) => r.route === 'callback')!
  t.equal(callback.headers.authorization, undefined, 'no auth header on the callback')
  t.equal(new URLSearchParams(callback.body).get('MD'), '')
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ source: '3ds' }])
})

test('an expired session: clear page, and the TermUrl goes to the failure page without a gateway call', async (t) => {
  const shop = await startShop(t, { plugin: { sessionTtl: 1 } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const page = await shop.get(new URL(res.body.redirect_url).pathname)
  t.equal(page.statusCode, 404)
  t.notMatch(page.text, /<form/)
  const back = await postTermUrl(termUrl, body)
  t.equal(back.location, 'https://shop.example/failed')
  t.equal(shop.sim.count('callback'), 0)
  t.equal(shop.events.executed.length + shop.events.failed.length, 0)
})

test('unknown tokens of any shape get the expired page', async (t) => {
  const shop = await startShop(t)
  for (const token of ['x', 'A'.repeat(43), '%3Cscript%3E', '..%2F..%2Fpayments', 'a'.repeat(99)]) {
    const page = await shop.get(`/qorepay/3ds/${token}`)
    t.equal(page.statusCode, 404, token)
    t.notMatch(page.text, /script>|<form/)
    const back = await postTermUrl(`${shop.url}/qorepay/3ds/${token}/return`, 'MD=a&PaRes=b')
    t.equal(back.location, 'https://shop.example/failed')
  }
  // Past Fastify's maxParamLength the router itself answers 414, still without a gateway call.
  t.equal((await shop.get(`/qorepay/3ds/${'a'.repeat(500)}`)).statusCode, 414)
  t.equal(shop.sim.count('callback'), 0)
})

test('odd but possible 3DS answers of the gateway', async (t) => {
  const shop = await startShop(t)
  t.test('3DS_required without MD: sent back empty', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, process: true, body: { status: '3DS_required', Method: 'POST', PaReq: 'pr', URL: `${shop.sim.origin}/acs/`, callback_url: `${shop.sim.origin}/s2s/callback/nope/` } })
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    t.equal(res.body.status, '3DS_required')
    const page = await shop.get(new URL(res.body.redirect_url).pathname)
    t.match(page.text, 'name="MD" value=""')
  })
  t.test('a TermUrl post without a body: the session MD and an empty PaRes go to the gateway', async (t) => {
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    const { termUrl } = await passAcs(shop, res.body.redirect_url, 'approve')
    const before = shop.sim.requests.length
    const back = await postTermUrl(termUrl, '')
    t.equal(back.statusCode, 303)
    t.match(back.location, /failed\?purchase_id=/)
    const callback = shop.sim.requests.slice(before).find((r) => r.route === 'callback')!
    const sent = new URLSearchParams(callback.body)
    t.ok(sent.get('MD')!.length > 0, 'the MD the gateway issued')
    t.equal(sent.get('PaRes'), '')
  })
  t.test('a GET ACS URL with its own query: carried over as fields', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: { status: '3DS_required', Method: 'GET', PaReq: 'pr', MD: '', URL: `${shop.sim.origin}/acs/?bank=7&lang=en`, callback_url: `${shop.sim.origin}/s2s/callback/nope/` } })
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSGet })
    const page = await shop.get(new URL(res.body.redirect_url).pathname)
    t.match(page.text, `action="${shop.sim.origin}/acs/"`)
    t.match(page.text, 'name="bank" value="7"')
    t.match(page.text, 'name="lang" value="en"')
  })
  t.test('a TermUrl post with no body at all still completes through the gateway', async (t) => {
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    const { termUrl } = await passAcs(shop, res.body.redirect_url, 'approve')
    const back = await request(termUrl, { method: 'POST' })
    await back.body.dump()
    t.equal(back.statusCode, 303)
    t.match(back.headers.location, /failed\?purchase_id=/)
  })
  t.test('a callback that asks for 3DS again is a failed 3DS', async (t) => {
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
    shop.sim.inject({ route: 'callback', kind: 'status', status: 200, body: { status: '3DS_required', Method: 'POST', PaReq: 'again', MD: '', URL: 'http://127.0.0.1:1/', callback_url: 'http://127.0.0.1:1/' } })
    const back = await postTermUrl(termUrl, body)
    t.equal(back.location, `https://shop.example/failed?purchase_id=${res.body.purchase_id}&status=error`)
    await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, status: 'error', source: '3ds', error: { code: '3ds_failed', message: '3-D Secure did not complete' } }])
  })
})

test('a store that answers something other than a session under its key: a store fault (503), never a page or a gateway call', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { store } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const token = res.body.redirect_url.slice(`${shop.url}/qorepay/3ds/`.length)
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const session = await store.get(sessionKey(token)) as Record<string, unknown>
  t.match(session, { purchaseId: res.body.purchase_id, expiresAt: Number }, 'what the card post stored')
  for (const [name, value, problem] of [
    ['another method', { ...session, method: 'PUT' }, '/method expected union value'],
    ['no PaReq', { ...session, paReq: undefined }, '/paReq expected required property'],
    ['a string', 'not a session', 'the value expected object']
  ] as const) {
    await store.set(sessionKey(token), value, 60_000)
    const page = await shop.get(`/qorepay/3ds/${token}`)
    t.equal(page.statusCode, 503, `${name}: the page`)
    t.notMatch(page.text, /<form|PaReq id=/, `${name}: nothing of it reaches the payer`)
    t.match(JSON.parse(page.text), { code: 'FST_QOREPAY_STORE_UNAVAILABLE', message: `The session store is unavailable: the value under a 3DS session key is not a 3DS session: ${problem}` })
    const back = await shop.post(new URL(termUrl).pathname, body)
    t.equal(back.statusCode, 503, `${name}: the TermUrl`)
    t.match(back.body, { code: 'FST_QOREPAY_STORE_UNAVAILABLE' })
  }
  t.match(await store.get(answerKey(token)), { purchaseId: res.body.purchase_id }, 'the answer record the card post stored')
  await store.delete(sessionKey(token))
  for (const [name, value, problem] of [
    ['a status of another version', { purchaseId: res.body.purchase_id, status: 'refunded' }, '/status expected union value'],
    ['no purchase', { status: 'executed' }, '/purchaseId expected required property'],
    ['a string', 'not an answer', 'the value expected object']
  ] as const) {
    await store.set(answerKey(token), value, 60_000)
    const back = await shop.post(new URL(termUrl).pathname, body)
    t.equal(back.statusCode, 503, `${name}: the TermUrl`)
    t.match(back.body, { code: 'FST_QOREPAY_STORE_UNAVAILABLE', message: `The session store is unavailable: the value under a 3DS answer key is not a 3DS answer: ${problem}` })
  }
  t.equal(shop.sim.count('callback'), 0, 'the gateway never got anything read from it')
  t.equal(shop.events.executed.length + shop.events.failed.length, 0)
  t.notOk(shop.logs.some((line) => line.includes(token)), 'the token is in no log line')
})
