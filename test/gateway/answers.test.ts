import { test } from 'tap'
import { request } from 'undici'
import { gatewayMessage } from '../../lib/gateway/gateway-message.js'
import { outcomeOfAnswer, outcomeOfPurchase, outcomeOfStatus } from '../../lib/outcome/mapping.js'
import { redactingSerializers } from '../../lib/routes/log-redaction.js'
import { readFileSync } from 'node:fs'
import { CARD, PURCHASE, startShop } from '../helpers/shop.js'
import { TEST_CARDS, type Purchase } from '../../lib/simulator/index.js'

test('the gateway\'s own words, from every error shape it uses', async (t) => {
  t.same(gatewayMessage({ __all__: [{ message: 'Invalid token.', code: 'authentication_failed' }] }), { message: 'Invalid token.', code: 'authentication_failed' })
  t.same(gatewayMessage({ currency: [{ message: 'Unknown currency', code: 'invalid' }] }), { message: 'currency: Unknown currency', code: 'invalid' })
  t.same(gatewayMessage({ client: { email: [{ message: 'Enter a valid email.', code: 'invalid' }] } }), { message: 'client.email: Enter a valid email.', code: 'invalid' })
  t.same(gatewayMessage({ status: 'error', message: 'Do not honour', code: 'do_not_honour' }), { message: 'Do not honour', code: 'do_not_honour' })
  t.same(gatewayMessage({ status: 'error', message: 'Declined', code: 42 }), { message: 'Declined', code: undefined })
  t.strictSame(gatewayMessage({ field: [{}] }), { message: 'field: error', code: undefined })
  // A list of plain strings: unworded, since only `message` fields are masked of card data.
  t.strictSame(gatewayMessage({ card_number: ['4444333322221111 is not valid'] }), { message: 'card_number: error', code: undefined })
  t.strictSame(gatewayMessage({ __all__: ['Invalid token.'] }), { message: 'error', code: undefined })
  // Entries that are no words: an unworded error, never a crash (a 4xx with these would otherwise read as unreachable).
  t.strictSame(gatewayMessage({ field: [null] }), { message: 'field: error', code: undefined })
  t.strictSame(gatewayMessage({ field: [5, 'later'] }), { message: 'field: error', code: undefined })
  t.strictSame(gatewayMessage({ __all__: [{ message: 7, code: 'x' }] }), { message: 'error', code: 'x' })
  t.strictSame(gatewayMessage({ message: 5, detail: ['Not found.'] }), undefined, 'a message that is no string is the first field, and no list')
  t.strictSame(gatewayMessage({ a: { b: { c: [{ message: 'deep', code: 'invalid' }] } } }), { message: 'a.b.c: deep', code: 'invalid' })
  t.strictSame(gatewayMessage({ email: [{ message: 'Enter a valid email.' }], __all__: [{ message: 'Invalid token.', code: 'authentication_failed' }] }), { message: 'Invalid token.', code: 'authentication_failed' }, '__all__ first wherever it stands')
  t.strictSame(gatewayMessage({ __all__: [{ message: 'Declined', code: 42 }] }), { message: 'Declined', code: undefined }, 'a code that is no string is none')
  t.equal(gatewayMessage({ field: [] }), undefined)
  t.equal(gatewayMessage({ field: 'text' }), undefined)
  t.equal(gatewayMessage({ field: {} }), undefined)
  t.equal(gatewayMessage({}), undefined)
  t.equal(gatewayMessage('<html>Bad gateway</html>'), undefined)
  t.equal(gatewayMessage(null), undefined)
})

test('what a purchase status says about the payment', async (t) => {
  for (const status of ['paid', 'cleared', 'settled', 'pending_refund', 'refunded', 'chargeback']) t.equal(outcomeOfStatus(status), 'executed', status)
  for (const status of ['hold', 'preauthorized', 'pending_capture']) t.equal(outcomeOfStatus(status), 'authorized', status)
  for (const status of ['error', 'blocked']) t.equal(outcomeOfStatus(status), 'error', status)
  for (const status of ['created', 'pending_execute', 'released', 'cancelled', 'expired']) t.equal(outcomeOfStatus(status), undefined, status)
  const failed = { status: 'error', transaction_data: { attempts: [] } } as unknown as Purchase
  t.match(outcomeOfPurchase(failed), { status: 'error', code: 'payment_failed', message: 'The payment failed' })
  t.match(outcomeOfPurchase({ status: 'error' } as unknown as Purchase), { code: 'payment_failed' })
  // The platform lists attempts newest first: the first one decided the purchase.
  const twice = { status: 'error', transaction_data: { attempts: [{ error: { code: 'insufficient_funds', message: 'second' } }, { error: { code: 'do_not_honour', message: 'first' } }] } } as unknown as Purchase
  t.match(outcomeOfPurchase(twice), { status: 'error', code: 'insufficient_funds', message: 'second' })
  t.same(outcomeOfAnswer({ status: 'error' }), { status: 'error', code: 'declined', message: 'The payment was declined' })
})

test('log serializers leave what is not a body or a URL alone', async (t) => {
  t.equal(redactingSerializers.body(undefined), undefined)
  t.same(redactingSerializers.body(['card_number']), ['card_number'])
  t.same(redactingSerializers.body({ card_number: '4444', order: 'x' }), { card_number: '[redacted]', order: 'x' })
  t.equal(redactingSerializers.url(42), 42)
  t.equal(redactingSerializers.url('/qorepay/3ds/abc/return?x=1'), '/qorepay/3ds/[token]/return?x=1')
})

test('odd but possible gateway answers', async (t) => {
  const shop = await startShop(t)
  // A purchase as the gateway writes it, to bend one field of.
  const real = await shop.app.qorepay.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } })
  t.test('a purchase without direct_post_url is a gateway error, no card post', async (t) => {
    shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { ...real, id: 'p-1', direct_post_url: null } })
    const res = await shop.post('/qorepay/payments', CARD)
    t.equal(res.statusCode, 502)
    t.equal(res.body.code, 'FST_QOREPAY_GATEWAY')
    t.equal(res.body.message, 'QorePay answered an error: purchase p-1 cannot take a card server to server (no direct_post_url): S2S card payments are most likely not enabled for this account (ask QorePay to enable them), or purchase(request) asked for request_client_details, which only the hosted payment page collects')
  })
  t.test('a direct_post_url that is not a web URL is a gateway error, no card post', async (t) => {
    shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { ...real, id: 'p-2', direct_post_url: 'file:///etc/passwd' } })
    const posts = shop.sim.count('direct_post')
    const res = await shop.post('/qorepay/payments', CARD)
    t.equal(res.statusCode, 502)
    t.same(res.body, { statusCode: 502, code: 'FST_QOREPAY_GATEWAY', error: 'Bad Gateway', message: 'QorePay answered an error: purchase p-2: direct_post_url is not an http(s) URL' })
    t.equal(shop.sim.count('direct_post'), posts)
  })
  t.test('a 3DS answer without MD: the page posts an empty MD, as the gateway left it', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: { status: '3DS_required', Method: 'POST', PaReq: 'pr', URL: `${shop.sim.origin}/acs/nothing/`, callback_url: `${shop.sim.origin}/s2s/callback/nothing/` } })
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    t.equal(res.body.status, '3DS_required')
    const page = await request(res.body.redirect_url)
    const html = await page.body.text()
    t.match(html, '<input type="hidden" name="PaReq" value="pr">')
    t.match(html, '<input type="hidden" name="MD" value="">')
  })
  t.test('an ACS URL that is not a web URL never reaches the payer', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: { status: '3DS_required', Method: 'POST', PaReq: 'pr', MD: 'md', URL: 'javascript:alert(1)', callback_url: `${shop.sim.origin}/s2s/callback/nope/` } })
    const before = shop.events.threeDS.length
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    t.equal(res.statusCode, 502)
    t.match(res.body, { code: 'FST_QOREPAY_GATEWAY', message: /ACS URL or callback_url is not an http\(s\) URL/ })
    t.equal(shop.events.threeDS.length, before)
  })
  t.test('a 5xx without the platform error body is named by its status; a 429 without Retry-After backs off', async (t) => {
    shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 502, body: '<html>Bad gateway</html>' })
    const res = await shop.post('/qorepay/payments', CARD)
    t.equal(res.statusCode, 502)
    t.match(res.body, { code: 'FST_QOREPAY_GATEWAY', message: 'QorePay answered an error: HTTP 502' })
    const paid = await shop.post('/qorepay/payments', CARD)
    shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 429 })
    const before = shop.sim.count('purchases.get')
    t.match(await shop.app.qorepay.getPurchase(paid.body.purchase_id), { status: 'paid' })
    t.equal(shop.sim.count('purchases.get') - before, 2)
  })
  t.test('a direct_post_url that is no URL: a gateway error, no card post', async (t) => {
    shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { ...real, id: 'p-2', direct_post_url: 'not a url' } })
    const before = shop.sim.count('purchases.get')
    const res = await shop.post('/qorepay/payments', CARD)
    t.equal(res.statusCode, 502)
    t.match(res.body, { code: 'FST_QOREPAY_GATEWAY', message: 'QorePay answered an error: purchase p-2: direct_post_url is not an http(s) URL' })
    t.equal(shop.sim.count('purchases.get'), before)
  })
  t.test('Retry-After as an HTTP date, and an unreadable one', async (t) => {
    const paid = await shop.post('/qorepay/payments', CARD)
    shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: new Date(Date.now() + 500).toUTCString() })
    t.match(await shop.app.qorepay.getPurchase(paid.body.purchase_id), { status: 'paid' })
    shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: 'soon' })
    t.match(await shop.app.qorepay.getPurchase(paid.body.purchase_id), { status: 'paid' })
  })
})

test('a purchase that asks for client details gets no direct post: a 502 that names the likely causes, no card post', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, request_client_details: ['phone'] }) } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body.message, /no direct_post_url\): S2S card payments are most likely not enabled for this account .* request_client_details/)
  t.equal(shop.sim.count('purchases.create'), 1)
  t.equal(shop.sim.count('direct_post'), 0)
  // The simulator, as the platform, keeps such a purchase for its hosted page.
  const [created] = shop.sim.purchases.values()
  t.equal(created?.direct_post_url, null)
})

test('creator_agent names the plugin and its version on every purchase it creates; a host\'s own value wins', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  const shop = await startShop(t)
  const paid = await shop.post('/qorepay/payments', CARD)
  t.equal(shop.sim.purchases.get(paid.body.purchase_id)?.creator_agent, `fastify-qorepay/${version}`)
  const own = await shop.app.qorepay.createPurchase({ ...PURCHASE, brand_id: 'brand-test', creator_agent: 'my-shop/2.1' })
  t.equal(own.creator_agent, 'my-shop/2.1')
  const viaHook = await startShop(t, { sim: shop.sim, plugin: { purchase: async () => ({ ...PURCHASE, creator_agent: 'my-shop/2.1' }) } })
  const mine = await viaHook.post('/qorepay/payments', CARD)
  t.equal(shop.sim.purchases.get(mine.body.purchase_id)?.creator_agent, 'my-shop/2.1')
})
