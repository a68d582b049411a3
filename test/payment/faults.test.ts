import { test } from 'tap'
import { request } from 'undici'
import { CARD, freePort, logsSaying, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { firedExactly } from '../helpers/outcomes.js'

const FAST = { timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 2 }

/** Every outcome hook call, once the simulator's webhooks and callbacks have all arrived. */
async function hooksFired (shop: Shop): Promise<number> {
  await shop.sim.idle()
  return shop.events.executed.length + shop.events.authorized.length + shop.events.failed.length
}

test('purchase create answers 500: 502 with a code, not retried, no card post', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body, { code: 'FST_QOREPAY_GATEWAY', message: /HTTP 500/ })
  t.equal(shop.sim.count('purchases.create'), 1, 'a create is not repeated once sent')
  t.equal(shop.sim.count('direct_post'), 0)
  t.equal(await hooksFired(shop), 0)
})

test('bad credentials: the gateway 401 surfaces as a clear FST_QOREPAY_AUTH error', async (t) => {
  const shop = await startShop(t, { plugin: { apiKey: 'wrong-key' } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.same(res.body, { statusCode: 502, code: 'FST_QOREPAY_AUTH', error: 'Bad Gateway', message: 'QorePay rejected the credentials: HTTP 401 authentication_failed' })
  t.ok(shop.logs.some((line) => line.includes('"gatewayMessage":"Invalid token')), "the gateway's own words are in the log")
  t.notMatch(res.text, 'wrong-key')
})

test('the wrong S2S token is refused at the card post: a definite refusal, no lookup', async (t) => {
  const shop = await startShop(t, { plugin: { s2sToken: 'wrong-token' } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body, { code: 'FST_QOREPAY_AUTH' })
  t.notMatch(res.text, 'wrong-token')
  t.equal(shop.sim.count('direct_post'), 1)
  t.equal(shop.sim.count('purchases.get'), 0)
})

test('card fields refused by the gateway: 502 with its code (its words in the log), no lookup, no 202', async (t) => {
  const shop = await startShop(t)
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 400, body: { remote_ip: [{ message: 'Enter a valid IPv4 or IPv6 address.', code: 'invalid' }] } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body, { code: 'FST_QOREPAY_GATEWAY', message: 'QorePay answered an error: HTTP 400 invalid' })
  t.ok(shop.logs.some((line) => line.includes('"gatewayMessage":"remote_ip: Enter a valid IPv4')), "the gateway's own words are in the log")
  t.equal(shop.sim.count('purchases.get'), 0)
})

test('the gateway unreachable: retried only because nothing was sent, then 502 FST_QOREPAY_UNAVAILABLE', async (t) => {
  const port = await freePort()
  const shop = await startShop(t, { plugin: { ...FAST, baseUrl: `http://127.0.0.1:${port}/api/v1/`, retries: 2 } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body, { code: 'FST_QOREPAY_UNAVAILABLE', message: /ECONNREFUSED/ })
  // The client's one debug line per try: a refused connection sent nothing, so the create is tried 1 + retries times.
  const tries = shop.logs.map((l) => JSON.parse(l)).filter((l) => l.operation === 'purchases.create')
  t.strictSame(tries.map((l) => l.error), ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED'])
})

test('a purchase create reset once it may have been sent is not retried', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, retries: 2 } })
  shop.sim.inject({ route: 'purchases.create', kind: 'reset' })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.match(res.body, { code: 'FST_QOREPAY_UNAVAILABLE' })
  t.equal(shop.sim.count('purchases.create'), 1, 'one create: the gateway may have made the first')
  t.equal(shop.sim.count('direct_post'), 0)
})

test('purchase create hangs: 504 FST_QOREPAY_TIMEOUT', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'purchases.create', kind: 'hang' })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 504)
  t.match(res.body, { code: 'FST_QOREPAY_TIMEOUT' })
  t.equal(shop.sim.count('direct_post'), 0)
})

test('card post reset after the gateway charged: looked up, never re-sent, executed once', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'direct_post', kind: 'reset' })
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id })
  t.equal(shop.sim.count('direct_post'), 1, 'never two card posts')
  t.equal(shop.sim.count('purchases.get'), 1)
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ source: 'direct', purchase: { status: 'paid' } }])
})

test('card post times out after a decline: looked up, 402 with the failure', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'direct_post', kind: 'hang', process: true })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.declined })
  t.equal(res.statusCode, 402)
  t.equal(res.body.status, 'error')
  t.equal(shop.sim.count('direct_post'), 1)
  await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ source: 'direct', error: { code: 'do_not_honour' } }])
})

test('card post skipped by a hold: authorized through the lookup', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 5 }] }, skip_capture: true }) } })
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 502, process: true })
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'authorized', purchase_id: res.body.purchase_id })
  await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, [{ source: 'direct', authorization: 'hold' }])
})

test('card post lost and the gateway still undecided: 202 pending, no hook, no second post', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'direct_post', kind: 'hang' })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 202)
  t.same(res.body, { status: 'pending', purchase_id: res.body.purchase_id })
  t.equal(shop.sim.count('direct_post'), 1)
  t.equal(shop.sim.count('purchases.get'), 2, 'lookupAttempts')
  t.equal(await hooksFired(shop), 0)
})

test('card post answered 500: the outcome is unknown, looked up, never re-sent', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, retries: 0 } })
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 500, process: true })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 200)
  t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id })
  t.equal(shop.sim.count('direct_post'), 1)
  t.equal(shop.sim.count('purchases.get'), 1)
})

test('lookups of an undecided purchase are spaced 200 ms, then 400 ms, with no wait after the last', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, lookupAttempts: 3 } })
  shop.sim.inject({ route: 'direct_post', kind: 'hang' })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 202)
  const at = shop.sim.requests.filter((r) => r.route === 'purchases.get').map((r) => r.at)
  t.equal(at.length, 3)
  // Lower bounds only (a busy machine waits longer); 10 ms of slack for timer and clock rounding.
  t.ok(at[1] - at[0] >= 190, `first gap ${at[1] - at[0]} ms`)
  t.ok(at[2] - at[1] >= 390, `second gap ${at[2] - at[1]} ms`)
})

test('lookup failing too: 202 pending, logged', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  shop.sim.inject({ route: 'direct_post', kind: 'reset' })
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 500, count: 20 })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 202)
  t.ok(shop.logs.some((l) => l.includes('looking up purchase') && l.includes(res.body.purchase_id)))
  t.notOk(Object.values(shop.events).flat().some((e) => e.source === 'direct'), 'nothing reported from the direct path')
})

test('a lookup whose first read fails asks again: the second read decides, reported once', async (t) => {
  // retries: 0, so one failed read is one failed lookup attempt, not a client retry.
  const shop = await startShop(t, { plugin: { ...FAST, retries: 0 } })
  shop.sim.inject({ route: 'direct_post', kind: 'reset' })
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 500, count: 1 })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 200)
  t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id })
  t.equal(shop.sim.count('purchases.get'), 2, 'the failed read, then the one that answered')
  const failed = logsSaying(shop, `looking up purchase ${res.body.purchase_id} failed`)
  t.match(failed, [{ level: 40, purchaseId: res.body.purchase_id, err: { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 500 }, msg: `qorepay: looking up purchase ${res.body.purchase_id} failed` }])
  t.equal(failed.length, 1)
  const unknown = logsSaying(shop, 'has an unknown outcome')
  t.match(unknown, [{ level: 40, purchaseId: res.body.purchase_id, err: { code: 'FST_QOREPAY_UNAVAILABLE', sent: true }, msg: `qorepay: card post for purchase ${res.body.purchase_id} has an unknown outcome; looking it up` }])
  t.equal(unknown.length, 1)
  // The lookup, or the success callback that may come while it waits to ask again: once.
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchase: { status: 'paid' } }])
})

test('reads are retried on 5xx and 429 with Retry-After; writes are not', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  const paid = await shop.post('/qorepay/payments', CARD)
  const id = paid.body.purchase_id
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 503 })
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: 0 })
  const before = shop.sim.count('purchases.get')
  const purchase = await shop.app.qorepay.getPurchase(id)
  t.equal(purchase.status, 'paid')
  t.equal(shop.sim.count('purchases.get') - before, 3)

  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: 60 })
  await t.rejects(shop.app.qorepay.getPurchase(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 429 }, 'a Retry-After too long to wait is an error')

  shop.sim.inject({ route: 'purchases.refund', kind: 'status', status: 429, retryAfter: 0 })
  await t.rejects(shop.app.qorepay.refund(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 429 })
  t.equal(shop.sim.count('purchases.refund'), 1)
  const refund = await shop.app.qorepay.refund(id, 1000)
  t.match(refund, { type: 'payment', amount: 1000 })
})

test('the decorator reaches capture, release, cancel and the public key', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 5000 }] }, skip_capture: true }) } })
  const a = await shop.post('/qorepay/payments', CARD)
  t.match(await shop.app.qorepay.capture(a.body.purchase_id, 4000), { status: 'paid' })
  const b = await shop.post('/qorepay/payments', CARD)
  t.match(await shop.app.qorepay.release(b.body.purchase_id), { status: 'released' })
  const created = await shop.app.qorepay.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } })
  t.match(await shop.app.qorepay.cancel(created.id), { status: 'cancelled' })
  await t.rejects(shop.app.qorepay.capture(created.id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 400 })
  t.match(await shop.app.qorepay.publicKey(), /BEGIN PUBLIC KEY/)
})

/** A MemoryStore that can be switched off, as a Redis outage looks to the plugin. */
class SwitchableStore extends MemoryStore {
  down = false
  #check () { if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379') }
  override async get (key: string) { this.#check(); return super.get(key) }
  override async set (key: string, value: unknown, ttlMs: number) { this.#check(); return super.set(key, value, ttlMs) }
  override async claim (key: string, value: unknown, ttlMs: number) { this.#check(); return super.claim(key, value, ttlMs) }
  override async take (key: string) { this.#check(); return super.take(key) }
  override async delete (key: string) { this.#check(); return super.delete(key) }
}

test('store down: 503 with a code on each route, nothing lost, the flow completes once it is back', async (t) => {
  const store = new SwitchableStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { ...FAST, store } })

  store.down = true
  const first = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  t.equal(first.statusCode, 503)
  t.match(first.body, { code: 'FST_QOREPAY_STORE_UNAVAILABLE', message: /ECONNREFUSED/ })
  const direct = await shop.post('/qorepay/payments', CARD)
  t.equal(direct.statusCode, 503, 'a payment reconciliation could not track is refused before its card is sent')
  t.equal(shop.sim.count('direct_post'), 0, 'no card was posted')

  store.down = false
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  store.down = true
  const page = await shop.get(new URL(res.body.redirect_url).pathname)
  t.equal(page.statusCode, 503)
  const during = await shop.post(new URL(termUrl).pathname, body)
  t.equal(during.statusCode, 503)
  t.equal(shop.sim.count('callback'), 0)
  store.down = false
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid/)
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ source: '3ds' }])
})

test('a hook that throws is logged with the purchase id; the payer still gets the right answer', async (t) => {
  const shop = await startShop(t, {
    plugin: {
      onExecuted: async () => { throw new Error('shop database down') },
      on3DSRequired: async () => { throw new Error('shop queue down') }
    }
  })
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id })
  const line = shop.logs.find((l) => l.includes('onExecuted hook failed'))
  t.ok(line)
  t.match(JSON.parse(line!), { level: 50, purchaseId: res.body.purchase_id, hook: 'onExecuted', err: { message: 'shop database down' } })
  const threeDS = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  t.equal(threeDS.body.status, '3DS_required')
  t.ok(shop.logs.some((l) => l.includes('on3DSRequired hook failed') && l.includes(threeDS.body.purchase_id)))
})

test('a host purchase() that throws or returns nonsense is a clear error before any gateway call', async (t) => {
  const shop = await startShop(t, {
    plugin: {
      purchase: async (request) => {
        if ((request.body as { order?: string }).order === 'throw') throw Object.assign(new Error('unknown order'), { statusCode: 404 })
        if ((request.body as { order?: string }).order === 'null') return null as never
        return { client: { email: 'a@b.c' }, purchase: { currency: 'naira', products: [] } } as never
      }
    }
  })
  const thrown = await shop.post('/qorepay/payments', { ...CARD, order: 'throw' })
  t.equal(thrown.statusCode, 404)
  const nonsense = await shop.post('/qorepay/payments', CARD)
  t.equal(nonsense.statusCode, 500)
  // The payer gets a fixed text; the host's log gets what was wrong.
  t.same(nonsense.body, { statusCode: 500, code: 'FST_QOREPAY_PURCHASE', error: 'Internal Server Error', message: 'This payment could not be prepared; the shop has been told' })
  const refused = logsSaying(shop, 'purchase(request) returned details')
  t.match(refused, [{ level: 50, path: '/purchase/currency', msg: 'qorepay: purchase(request) returned details the gateway would refuse: /purchase/currency expected string to match \'^[A-Z]{3}$\'' }])
  const nothing = await shop.post('/qorepay/payments', { ...CARD, order: 'null' })
  t.match(nothing.body, { code: 'FST_QOREPAY_PURCHASE' })
  t.match(logsSaying(shop, 'purchase(request) returned details').at(-1), { level: 50, path: '', msg: 'qorepay: purchase(request) returned details the gateway would refuse: the value expected object' })
  t.notOk(shop.logs.some((l) => l.includes('Invalid qorepay option')))
  t.equal(shop.sim.count('purchases.create'), 0)
})

test('app.close() waits for an in-flight payment and closes the pools', async (t) => {
  const shop = await startShop(t)
  shop.sim.inject({ route: 'direct_post', kind: 'latency', ms: 300 })
  // reset: this client does not keep the connection alive, so the server may finish closing.
  const pending = request(`${shop.url}/qorepay/payments`, { method: 'POST', reset: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(CARD) })
  // Closing once the card post is at the gateway (held there 300 ms), however slow the machine: never before the request arrived.
  while (shop.sim.count('direct_post') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const closing = shop.app.close()
  const res = await pending
  t.equal(res.statusCode, 200)
  const answer = await res.body.json() as { status: string, purchase_id: string }
  t.equal(answer.status, 'executed')
  // The simulator's webhook connections to the shop would otherwise hold it open for its keep-alive time.
  await shop.sim.close()
  await closing
  await firedExactly(t, shop, 'onExecuted', answer.purchase_id, [{ source: 'direct' }])
})
