import { createHash } from 'node:crypto'
import { test } from 'tap'
import { CARD, CREDENTIALS, PURCHASE, logsSaying, startShop, type Shop, type ShopOptions } from '../helpers/shop.js'
import type { Tap } from '../helpers/tap.js'
import { firedExactly } from '../helpers/outcomes.js'
import { TEST_CARDS, createSimulator } from '../../lib/simulator/index.js'
import type { FastifyRequest } from 'fastify'
import { MemoryStore, type OutcomeEvent, type PurchaseInput } from '../../lib/index.js'

/** app.qorepay.payWithSavedCard over real HTTP against the simulator. */

const REFILL: PurchaseInput = { client: { email: 'payer@example.com' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 4500 }] }, reference: 'order-43' }

/** A shop whose hooks also record the request they got, and a card saved through POST /payments. */
async function shopWithSavedCard (t: Tap, plugin: ShopOptions = {}): Promise<{ shop: Shop, token: string, requests: Array<FastifyRequest | undefined> }> {
  const requests: Array<FastifyRequest | undefined> = []
  const events: Shop['events'] = { executed: [], authorized: [], failed: [], threeDS: [], webhook: [] }
  const record = (list: OutcomeEvent[]) => async (event: OutcomeEvent, request: FastifyRequest | undefined) => {
    list.push(event)
    requests.push(request)
  }
  const started = await startShop(t, {
    ...plugin,
    plugin: { onExecuted: record(events.executed), onAuthorized: record(events.authorized), onFailed: record(events.failed), ...plugin.plugin }
  })
  const shop = { ...started, events: { ...started.events, executed: events.executed, authorized: events.authorized, failed: events.failed } }
  const saved = await shop.post('/qorepay/payments', { ...CARD, remember_card: 'on' })
  const token = shop.events.executed[0].status === 'executed' ? shop.events.executed[0].recurringToken : undefined
  if (saved.statusCode !== 200 || token === undefined) throw new Error('no card saved')
  shop.events.executed.length = 0
  requests.length = 0
  return { shop, token, requests }
}

test('a saved card pays a new purchase: executed, the hook once with source saved_card and no request', async (t) => {
  const { shop, token, requests } = await shopWithSavedCard(t)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
  t.same(result, { status: 'executed', purchaseId: result.purchaseId })
  const charged = shop.sim.purchases.get(result.purchaseId)!
  t.match(charged, { status: 'paid', recurring_token: token, reference: 'order-43', success_callback: `${shop.url}/qorepay/callback`, purchase: { total: 4500 } })
  t.equal(charged.success_redirect, null, 'no payer to send anywhere')
  t.equal(shop.sim.count('purchases.charge'), 1)

  // Once, though the webhook and the success callback came too.
  const [event] = await firedExactly(t, shop, 'onExecuted', result.purchaseId, [{ purchaseId: result.purchaseId, status: 'executed', source: 'saved_card', reference: 'order-43', purchase: { status: 'paid' } }])
  t.equal(shop.events.executed.length, 1, 'no other purchase reported')
  t.notOk('recurringToken' in event, 'the new purchase is no token itself')
  t.same(requests, [undefined], 'no request carries it')
})

test('skip_capture: a hold, or preauthorized for a zero amount', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  const { reference, ...noReference } = REFILL
  const held = await shop.app.qorepay.payWithSavedCard({ ...noReference, skip_capture: true }, token)
  t.same(held, { status: 'authorized', purchaseId: held.purchaseId, authorization: 'hold' })
  t.match(shop.events.authorized[0], { source: 'saved_card', authorization: 'hold' })
  t.equal(shop.events.authorized[0].reference, undefined, `no reference (${String(reference)} was the other's)`)
  const check = await shop.app.qorepay.payWithSavedCard({ ...REFILL, skip_capture: true, purchase: { currency: 'NGN', products: [{ name: 'Card check', price: 0 }] } }, token)
  t.same(check, { status: 'authorized', purchaseId: check.purchaseId, authorization: 'preauthorized' })
  t.equal(shop.sim.purchases.get(check.purchaseId)?.status, 'preauthorized')
})

test('a declined charge: the error with the bank\'s code and the plugin\'s own text, onFailed once', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  shop.sim.declineCharges = 'insufficient_funds'
  const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
  t.same(result, { status: 'error', purchaseId: result.purchaseId, code: 'insufficient_funds', message: 'The card has insufficient funds.' })
  await firedExactly(t, shop, 'onFailed', result.purchaseId, [{ purchaseId: result.purchaseId, source: 'saved_card', error: { code: 'insufficient_funds' } }])
  t.equal(shop.sim.count('purchases.charge'), 1)
})

test('a deleted token is refused: the error, no hook, no second charge', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  await shop.app.qorepay.deleteRecurringToken(token)
  const gets = shop.sim.count('purchases.get')
  await t.rejects(shop.app.qorepay.payWithSavedCard(REFILL, token), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 400, gatewayCode: 'purchase_charge_error' })
  t.equal(shop.sim.count('purchases.get') - gets, 1, 'one look: a refused charge left the purchase created')
  const purchaseId = [...shop.sim.purchases.values()].at(-1)!.id
  const warned = logsSaying(shop, 'charge with a saved card')
  t.match(warned, [{ level: 40, purchaseId, err: { gatewayCode: 'purchase_charge_error' }, msg: `qorepay: charge with a saved card for purchase ${purchaseId} was refused; looking it up` }])
  t.equal(warned.length, 1)
  t.equal(shop.sim.count('purchases.charge'), 1)
  t.equal(shop.events.failed.length + shop.events.executed.length, 0)
})

test('an unknown outcome is looked up, never charged again', async (t) => {
  const { shop, token } = await shopWithSavedCard(t, { plugin: { lookupAttempts: 2 } })

  await t.test('charged, and the answer lost', async (t) => {
    shop.sim.inject({ route: 'purchases.charge', kind: 'reset' })
    const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
    t.same(result, { status: 'executed', purchaseId: result.purchaseId })
    // Reported once, by the lookup or by the success callback that may come first.
    await firedExactly(t, shop, 'onExecuted', result.purchaseId, 1)
    t.ok(shop.logs.some((line) => line.includes('has an unknown outcome; looking it up')))
  })

  await t.test('a 502 before anything happened: pending, nothing reported', async (t) => {
    const charges = shop.sim.count('purchases.charge')
    const hooks = shop.events.executed.length + shop.events.failed.length
    shop.sim.inject({ route: 'purchases.charge', kind: 'status', status: 502 })
    const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
    t.same(result, { status: 'pending', purchaseId: result.purchaseId })
    t.equal(shop.sim.count('purchases.charge') - charges, 1, 'not sent again')
    t.equal(shop.sim.purchases.get(result.purchaseId)?.status, 'created')
    t.equal(shop.events.executed.length + shop.events.failed.length, hooks)
  })

  await t.test('pending_charge from a slow acquirer: pending, then the webhook reports it', async (t) => {
    shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
    shop.sim.slowAcquirer = true
    const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
    t.same(result, { status: 'pending', purchaseId: result.purchaseId })
    t.equal(shop.sim.purchases.get(result.purchaseId)?.status, 'pending_charge')
    shop.sim.completePending(result.purchaseId)
    await firedExactly(t, shop, 'onExecuted', result.purchaseId, [{ source: 'webhook' }])
  })
})

test('idempotencyKey: the same call resolves the first answer, one purchase, one charge', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  const api = shop.app.qorepay
  const first = await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-43' })
  const creates = shop.sim.count('purchases.create')
  const gets = shop.sim.count('purchases.get')
  t.same(await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-43' }), first)
  t.equal(shop.sim.count('purchases.create'), creates, 'no second purchase')
  t.equal(shop.sim.count('purchases.get'), gets, 'a final result is replayed, not looked up')
  t.equal(shop.sim.count('purchases.charge'), 1, 'no second charge')
  t.equal(shop.events.executed.length, 1)

  await t.rejects(api.payWithSavedCard({ ...REFILL, reference: 'other' }, token, { idempotencyKey: 'refill-43' }), { code: 'FST_QOREPAY_IDEMPOTENCY_MISMATCH' })
  await t.rejects(api.payWithSavedCard(REFILL, token, { idempotencyKey: 'two words' }), { code: 'FST_QOREPAY_VALIDATION' })

  shop.sim.inject({ route: 'purchases.charge', kind: 'latency', ms: 300 })
  const running = api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-44' })
  while (shop.sim.count('purchases.charge') < 2) await new Promise((resolve) => setTimeout(resolve, 10))
  // Bound before the charge: a second call meanwhile looks the purchase up (lookupAttempts spaced over 600 ms, past
  // the charge's 300 ms) and gets what the gateway says, never a second charge.
  const during = await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-44' })
  const done = await running
  t.same(during, { status: 'executed', purchaseId: done.purchaseId })
  t.match(done, { status: 'executed' })
  t.same(await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-44' }), done)
  t.equal(shop.sim.count('purchases.charge'), 2, 'one charge per key')

  // A key of POST /payments is another namespace: the same string pays here afresh.
  const paid = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'refill-45' })
  const mine = await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-45' })
  t.not(mine.purchaseId, paid.body.purchase_id)
})

test('idempotencyKey after a lost charge answer: the retry looks the purchase up and never charges again', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { shop, token } = await shopWithSavedCard(t, { plugin: { store, timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 1 } })
  const api = shop.app.qorepay
  // The gateway charges the card; its answer never comes, and the lookup fails too.
  shop.sim.inject({ route: 'purchases.charge', kind: 'hang', process: true })
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 500, count: 3 })
  const first = await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-50' })
  t.equal(first.status, 'pending')
  const retry = await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-50' })
  t.same(retry, { status: 'executed', purchaseId: first.purchaseId }, 'looked up again, not the stale pending')
  t.same(await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-50' }), retry)
  // The request record gone (as a claim whose process died would be): the binding still answers; the purchase
  // the retry created is never charged.
  await store.delete(`idem:brand-test/qorepay:saved_card:${createHash('sha256').update('refill-50').digest('base64url')}`)
  const creates = shop.sim.count('purchases.create')
  t.same(await api.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-50' }), retry)
  t.equal(shop.sim.count('purchases.create') - creates, 1)
  await shop.sim.idle()
  t.equal(shop.sim.count('purchases.charge'), 1, 'one charge')
  t.equal(shop.events.executed.filter((e) => e.purchaseId === first.purchaseId).length, 1, 'reported once')
})

test('reconcile: false: a saved card pays, and a late retry\'s unused purchase needs no untracking', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { shop, token } = await shopWithSavedCard(t, { plugin: { store, reconcile: false } })
  const first = await shop.app.qorepay.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-46' })
  t.match(first, { status: 'executed' })
  // The request record's minute passed (its process died, say); the binding stays.
  await store.delete(`idem:brand-test/qorepay:saved_card:${createHash('sha256').update('refill-46').digest('base64url')}`)
  t.same(await shop.app.qorepay.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-46' }), first)
  t.equal(shop.sim.count('purchases.charge'), 1)
  t.notOk(shop.logs.some((l) => JSON.parse(l).level >= 40), 'no warning or error')
})

test('a charge that never left (the gateway went away after the purchase was made): thrown as it is, nothing looked up', async (t) => {
  const sim = await createSimulator({ ...CREDENTIALS })
  let down = false
  // The binding is claimed right before the charge: the simulator stops there, its sockets closed.
  class StoppingStore extends MemoryStore {
    override async claim (key: string, value: unknown, ttl: number) {
      if (key.endsWith(':purchase') && !down) { down = true; await sim.close() }
      return await super.claim(key, value, ttl)
    }
  }
  const store = new StoppingStore()
  t.teardown(() => store.close())
  const { shop, token } = await shopWithSavedCard(t, { sim, plugin: { store, retries: 0 } })
  await t.rejects(shop.app.qorepay.payWithSavedCard(REFILL, token, { idempotencyKey: 'refill-47' }), { code: 'FST_QOREPAY_UNAVAILABLE', sent: false })
  t.ok(down)
  t.notOk(shop.logs.some((l) => l.includes('charge with a saved card') || l.includes('looking up purchase')), 'no lookup of a charge that never left')
})

test('the purchase input rules: each refused with its field before any request, each edge taken', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  const product = REFILL.purchase.products[0]
  const refused: Array<[string, PurchaseInput, string]> = [
    ['email of 2', { ...REFILL, client: { email: 'ab' } }, 'input.client.email: expected string length greater or equal to 3'],
    ['currency in lower case', { ...REFILL, purchase: { currency: 'ngn', products: [product] } }, 'input.purchase.currency: expected string to match \'^[A-Z]{3}$\''],
    ['no product', { ...REFILL, purchase: { currency: 'NGN', products: [] } }, 'input.purchase.products: expected array length to be greater or equal to 1'],
    ['a nameless product', { ...REFILL, purchase: { currency: 'NGN', products: [{ ...product, name: '' }] } }, 'input.purchase.products.0.name: expected string length greater or equal to 1'],
    ['a negative price', { ...REFILL, purchase: { currency: 'NGN', products: [{ ...product, price: -1 }] } }, 'input.purchase.products.0.price: expected integer to be greater or equal to 0'],
    ['a fractional price', { ...REFILL, purchase: { currency: 'NGN', products: [{ ...product, price: 1.5 }] } }, 'input.purchase.products.0.price: expected integer'],
    ['a quantity of 0', { ...REFILL, purchase: { currency: 'NGN', products: [{ ...product, quantity: 0 }] } }, 'input.purchase.products.0.quantity: expected number to be greater than 0']
  ]
  const before = shop.sim.requests.length
  for (const [name, input, message] of refused) {
    await t.rejects(shop.app.qorepay.payWithSavedCard(input, token), { code: 'FST_QOREPAY_VALIDATION', message }, name)
  }
  t.equal(shop.sim.requests.length, before, 'the gateway was not called')
  const taken: Array<[string, PurchaseInput]> = [
    ['email of 3, and a field of the platform\'s own on the client', { ...REFILL, client: { email: 'a@b', full_name: 'Ada' } as PurchaseInput['client'] }],
    ['a free product, a fractional quantity, fields of the platform\'s own', { ...REFILL, due: 2_000_000_000, purchase: { currency: 'NGN', notes: 'gift', products: [{ name: 'Sample', price: 0, quantity: 0.5, category: 'x' }] } } as unknown as PurchaseInput]
  ]
  for (const [name, input] of taken) {
    t.match(await shop.app.qorepay.payWithSavedCard(input, token), { status: String }, name)
  }
  const [sent] = shop.sim.requests.filter((r) => r.route === 'purchases.create').slice(-1).map((r) => JSON.parse(r.body))
  t.match(sent, { due: 2_000_000_000, purchase: { notes: 'gift', products: [{ category: 'x', quantity: 0.5 }] } }, 'passed through')
})

test('input and token are checked before any request', async (t) => {
  const { shop, token } = await shopWithSavedCard(t)
  const before = shop.sim.requests.length
  await t.rejects(shop.app.qorepay.payWithSavedCard({ ...REFILL, client: {} } as unknown as PurchaseInput, token), { code: 'FST_QOREPAY_VALIDATION', message: /^input\.client\.email: expected required property/ })
  await t.rejects(shop.app.qorepay.payWithSavedCard({ ...REFILL, purchase: { currency: 'NGN', products: [] } }, token), { code: 'FST_QOREPAY_VALIDATION', message: /^input\.purchase\.products: / })
  await t.rejects(shop.app.qorepay.payWithSavedCard(REFILL, '../tokens'), { code: 'FST_QOREPAY_VALIDATION', message: /^recurringToken: / })
  t.equal(shop.sim.requests.length, before, 'the gateway was not called')

  // A purchase id the gateway answers that is no id is never charged.
  const real = await shop.app.qorepay.createPurchase({ ...PURCHASE, brand_id: 'brand-test' })
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { ...real, id: 'not/an/id' } })
  await t.rejects(shop.app.qorepay.payWithSavedCard(REFILL, token), { code: 'FST_QOREPAY_VALIDATION', message: /^id: / })
  t.equal(shop.sim.count('purchases.charge'), 0)
})

test('the card is saved only with remember_card on; TEST_CARDS.noThreeDS pays it', async (t) => {
  const shop = await startShop(t)
  const plain = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.noThreeDS })
  await t.rejects(shop.app.qorepay.payWithSavedCard(REFILL, plain.body.purchase_id), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_charge_error' }, 'not a token')
})

test('a store that fails while reporting: the result still comes, the failure is logged, the webhook reports later', async (t) => {
  let failing = false
  class FlakyStore extends MemoryStore {
    override async claim (key: string, value: unknown, ttlMs: number): Promise<boolean> {
      if (failing && key.startsWith('outcome:')) throw new Error('store down')
      return await super.claim(key, value, ttlMs)
    }
  }
  const store = new FlakyStore()
  t.teardown(() => store.close())
  const { shop, token } = await shopWithSavedCard(t, { plugin: { store } })
  failing = true
  const result = await shop.app.qorepay.payWithSavedCard(REFILL, token)
  t.same(result, { status: 'executed', purchaseId: result.purchaseId })
  t.equal(shop.events.executed.length, 0)
  t.ok(shop.logs.some((line) => line.includes(`could not report executed for purchase ${result.purchaseId}`)))
})
