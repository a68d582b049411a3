import { test } from 'tap'
import { CARD, PURCHASE, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

test('a card without 3DS is executed, onExecuted fires once with a masked PAN', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, 'executed')
  t.match(res.body.purchase_id, /^[0-9a-f-]{36}$/)
  t.same(Object.keys(res.body).sort(), ['purchase_id', 'status'])
  t.equal(shop.events.executed.length, 1)
  t.match(shop.events.executed[0], { purchaseId: res.body.purchase_id, status: 'executed', source: 'direct', reference: 'order-42', maskedPan: '444433******1111' })
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'paid')
  t.equal(shop.sim.count('direct_post'), 1)
})

test('the purchase is created with the brand, the redirects, a success_callback and the host details only', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, order: 'sku-1' })
  t.equal(res.statusCode, 200)
  const created = JSON.parse(shop.sim.requests.find((r) => r.route === 'purchases.create')!.body)
  t.same(created, {
    ...PURCHASE,
    brand_id: 'brand-test',
    success_redirect: 'https://shop.example/paid?from=qorepay',
    failure_redirect: 'https://shop.example/failed',
    success_callback: `${shop.url}/qorepay/callback`
  })
  const cardPost = shop.sim.requests.find((r) => r.route === 'direct_post')!
  t.equal(cardPost.headers.authorization, 'Bearer test-s2s-token')
  t.match(cardPost.path, /\?s2s=true$/)
  const sent = JSON.parse(cardPost.body)
  t.notOk('order' in sent, 'the host-only order value is not sent to the gateway')
  t.match(sent, { remote_ip: '127.0.0.1', accept_header: 'text/html', language: 'en-US', java_enabled: false, javascript_enabled: true, color_depth: 24, utc_offset: 0, screen_width: 1920, screen_height: 1080 })
})

test('browser fields default from the request, honouring trustProxy', async (t) => {
  const shop = await startShop(t, { server: { trustProxy: true } })
  await shop.post('/qorepay/payments', CARD, { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'Payer/1.0', accept: 'text/html', 'accept-language': 'fr-CA,fr;q=0.9' })
  const sent = JSON.parse(shop.sim.requests.find((r) => r.route === 'direct_post')!.body)
  t.match(sent, { remote_ip: '203.0.113.7', user_agent: 'Payer/1.0', accept_header: 'text/html', language: 'fr-CA' })
  await shop.post('/qorepay/payments', { ...CARD, remote_ip: '2001:db8::1', language: 'de', color_depth: 30, screen_width: 800 }, { 'accept-language': '*' })
  const second = JSON.parse(shop.sim.requests.filter((r) => r.route === 'direct_post')[1].body)
  t.match(second, { remote_ip: '2001:db8::1', language: 'de', color_depth: 30, screen_width: 800 })
})

test('skip_capture purchases end authorized', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, skip_capture: true }) } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'authorized', purchase_id: res.body.purchase_id })
  t.equal(shop.events.authorized.length, 1)
  t.equal(shop.events.executed.length, 0)
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'hold')
})

for (const [name, number, code] of [
  ['declined', TEST_CARDS.declined, 'do_not_honour'],
  ['insufficient funds', TEST_CARDS.insufficientFunds, 'insufficient_funds']
] as const) {
  test(`${name}: 402 with the gateway's message, onFailed fires`, async (t) => {
    const shop = await startShop(t)
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: number })
    t.equal(res.statusCode, 402)
    t.same(Object.keys(res.body).sort(), ['message', 'purchase_id', 'status'])
    t.equal(res.body.status, 'error')
    t.ok(res.body.message.length > 0)
    t.equal(shop.events.failed.length, 1)
    t.match(shop.events.failed[0], { purchaseId: res.body.purchase_id, status: 'error', source: 'direct', error: { code } })
  })
}

test('a past expiry fails at once', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, expires: '01/20' })
  t.equal(res.statusCode, 402)
  t.match(shop.events.failed[0], { error: { code: 'expired_card' } })
})

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
  t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${res.body.purchase_id}`)
  t.equal(shop.events.executed.length, 1)
  t.match(shop.events.executed[0], { purchaseId: res.body.purchase_id, source: '3ds', maskedPan: '555555******4444' })
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'paid')

  t.test('the TermUrl is single use: a replay goes to the failure page without a gateway call', async (t) => {
    const calls = shop.sim.count('callback')
    const replay = await postTermUrl(termUrl, body)
    t.equal(replay.statusCode, 303)
    t.equal(replay.location, 'https://shop.example/failed')
    t.equal(shop.sim.count('callback'), calls)
    t.equal(shop.events.executed.length, 1)
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
  t.equal(back.location, `https://shop.example/failed?purchase_id=${res.body.purchase_id}`)
  t.match(shop.events.failed, [{ purchaseId: res.body.purchase_id, source: '3ds', status: 'error', error: { code: '3ds_failed' } }])
})

test('3DS with a wrong CVC fails at the callback step', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, cvc: '999' })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/failed\?purchase_id=/)
  t.match(shop.events.failed, [{ error: { code: 'incorrect_cvc' } }])
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
  t.equal(shop.events.executed.length, 1)
})

test('concurrent TermUrl posts complete the payment once', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const answers = await Promise.all(Array.from({ length: 5 }, () => postTermUrl(termUrl, body)))
  t.equal(answers.filter((a) => a.location?.startsWith('https://shop.example/paid')).length, 1)
  t.equal(shop.sim.count('callback'), 1)
  t.equal(shop.events.executed.length, 1)
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

test('a card number too short to mask by 6+4 is masked whole', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: '123456789012' })
  t.equal(res.body.status, 'executed')
  t.equal(shop.events.executed[0].maskedPan, '************')
})
