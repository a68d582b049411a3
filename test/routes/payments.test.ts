import { request as httpRequest } from 'node:http'
import { test } from 'tap'
import { CREATOR_AGENT } from '../../lib/gateway/client.js'
import { CARD, PURCHASE, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { payerMessage } from '../../lib/outcome/payer-message.js'
import { firedExactly } from '../helpers/outcomes.js'

test('a card without 3DS is executed, onExecuted fires once with a masked PAN', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, 'executed')
  t.match(res.body.purchase_id, /^[0-9a-f-]{36}$/)
  t.same(Object.keys(res.body).sort(), ['purchase_id', 'status'])
  // The success callback arrives too: still once.
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, status: 'executed', source: 'direct', reference: 'order-42', maskedPan: '444433******1111' }])
  t.equal(shop.events.executed.length, 1, 'no other purchase reported')
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
    success_callback: `${shop.url}/qorepay/callback`,
    creator_agent: CREATOR_AGENT
  })
  t.match(CREATOR_AGENT, /^fastify-qorepay\/\d+\.\d+\.\d+/)
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

test('browser fields from the request\'s own headers: cut to 2048 characters, the first usable language, else the documented defaults', async (t) => {
  const shop = await startShop(t)
  /** A payment with exactly these headers (node:http adds no user-agent); the card post it made. */
  const cardPostFor = async (headers: Record<string, string>, body: Record<string, unknown> = {}) => {
    const payload = JSON.stringify({ ...CARD, ...body })
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${shop.url}/qorepay/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
        res.resume()
        res.on('end', () => { res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)) })
      })
      req.on('error', reject)
      req.end(payload)
    })
    return JSON.parse(shop.sim.requests.filter((r) => r.route === 'direct_post').at(-1)!.body)
  }
  t.match(await cardPostFor({}), {
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.96 Safari/537.36',
    accept_header: 'text/html',
    language: 'en-US'
  })
  const long = await cardPostFor({ 'user-agent': 'u'.repeat(3000), accept: 'a'.repeat(3000) })
  t.equal(long.user_agent, 'u'.repeat(2048))
  t.equal(long.accept_header, 'a'.repeat(2048))
  t.equal((await cardPostFor({ accept: 'application/xhtml+xml' })).accept_header, 'application/xhtml+xml')
  t.equal((await cardPostFor({ accept: 'application/xhtml+xml' }, { accept_header: 'text/plain' })).accept_header, 'text/plain', 'the body wins')
  for (const [header, language] of [['de', 'de'], ['zh-Hant', 'zh-Hant'], ['fr-CA ;q=0.9, fr', 'fr-CA'], ['*', 'en-US'], ['12de', 'en-US'], ['french', 'en-US'], ['de-', 'en-US']]) {
    t.equal((await cardPostFor({ 'accept-language': header })).language, language, header)
  }
})

test('without trustProxy, X-Forwarded-For is the payer\'s word only: remote_ip is the connection\'s address', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', CARD, { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '198.51.100.9' })
  t.equal(res.statusCode, 200)
  const sent = JSON.parse(shop.sim.requests.find((r) => r.route === 'direct_post')!.body)
  t.equal(sent.remote_ip, '127.0.0.1')
})

test('skip_capture purchases end authorized', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, skip_capture: true }) } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'authorized', purchase_id: res.body.purchase_id })
  await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, [{ status: 'authorized', source: 'direct' }])
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, 0)
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'hold')
})

for (const [name, number, code] of [
  ['declined', TEST_CARDS.declined, 'do_not_honour'],
  ['insufficient funds', TEST_CARDS.insufficientFunds, 'insufficient_funds']
] as const) {
  test(`${name}: 402 with the gateway's code and the plugin's fixed text, onFailed fires`, async (t) => {
    const shop = await startShop(t)
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: number })
    t.equal(res.statusCode, 402)
    t.same(res.body, { status: 'error', purchase_id: res.body.purchase_id, code, message: payerMessage(code) })
    const [failed] = await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, status: 'error', source: 'direct', error: { code } }])
    t.not(res.body.message, failed.error.message, 'never the gateway\'s own words')
  })
}

test('a past expiry fails at once', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, expires: '01/20' })
  t.equal(res.statusCode, 402)
  t.match(shop.events.failed[0], { error: { code: 'expired_card' } })
})

test('a card number too short to mask by 6+4 is masked whole', async (t) => {
  const shop = await startShop(t)
  // The sandbox fails a number it does not know: the failure's event carries the mask.
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: '123456789012' })
  t.equal(res.body.status, 'error')
  t.equal(shop.events.failed[0].maskedPan, '************')
})
