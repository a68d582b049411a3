import { test } from 'tap'
import { CARD, startShop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

test('the same Idempotency-Key and body answer the first answer without a second purchase', async (t) => {
  const shop = await startShop(t)
  for (const card of [TEST_CARDS.noThreeDS, TEST_CARDS.declined, TEST_CARDS.threeDSPost]) {
    const key = `order-${card}`
    const first = await shop.post('/qorepay/payments', { ...CARD, card_number: card }, { 'idempotency-key': key })
    const creates = shop.sim.count('purchases.create')
    const again = await shop.post('/qorepay/payments', { ...CARD, card_number: card }, { 'idempotency-key': key })
    t.equal(again.statusCode, first.statusCode, card)
    t.same(again.body, first.body)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.notOk(first.headers['idempotent-replayed'])
    t.equal(shop.sim.count('purchases.create'), creates, 'no second purchase')
  }
  t.equal(shop.events.executed.length, 1)
  t.equal(shop.events.failed.length, 1)
})

test('the same key with another body is 422; without a key every post is a new payment', async (t) => {
  const shop = await startShop(t)
  await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k1' })
  const other = await shop.post('/qorepay/payments', { ...CARD, cardholder_name: 'Jane Doe' }, { 'idempotency-key': 'k1' })
  t.equal(other.statusCode, 422)
  t.equal(other.body.code, 'FST_QOREPAY_IDEMPOTENCY_MISMATCH')
  await shop.post('/qorepay/payments', CARD)
  await shop.post('/qorepay/payments', CARD)
  t.equal(shop.sim.count('purchases.create'), 3)
})

test('while the first is in flight a second gets 409; a failure frees the key for the retry', async (t) => {
  const shop = await startShop(t)
  shop.sim.inject({ route: 'direct_post', kind: 'latency', ms: 300 })
  const [a, b] = await Promise.all([
    shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k2' }),
    new Promise((resolve) => setTimeout(resolve, 100)).then(() => shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k2' }))
  ])
  t.equal(a.statusCode, 200)
  t.equal(b.statusCode, 409)
  t.equal(b.body.code, 'FST_QOREPAY_IDEMPOTENCY_CONFLICT')

  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
  const failed = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k3' })
  t.equal(failed.statusCode, 502)
  const retried = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k3' })
  t.equal(retried.statusCode, 200)
  t.equal(retried.body.status, 'executed')
})

test('malformed keys are 400 before any gateway call; the store holds no card data', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const written: string[] = []
  const set = store.set.bind(store)
  store.set = async (key, value, ttl) => { written.push(key + JSON.stringify(value)); return set(key, value, ttl) }
  const shop = await startShop(t, { plugin: { store } })
  for (const key of ['', 'has space', 'x'.repeat(256), 'naïve']) {
    const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': key })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.equal(res.body.code, 'FST_QOREPAY_VALIDATION')
  }
  t.equal(shop.sim.count('purchases.create'), 0)
  await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-7' })
  const records = written.filter((w) => w.startsWith('idem:'))
  t.equal(records.length, 1)
  t.notMatch(records[0], CARD.card_number)
  t.notMatch(records[0], 'order-7', 'the key itself is hashed')
  t.notMatch(records[0], /12\/39|"cvc"/)
})

test('a store failure while keeping the answer does not fail the payment', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const set = store.set.bind(store)
  store.set = async (key, value, ttl) => {
    if (key.startsWith('idem:')) throw new Error('READONLY You can\'t write against a read only replica')
    return set(key, value, ttl)
  }
  const shop = await startShop(t, { plugin: { store } })
  const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k4' })
  t.equal(res.statusCode, 200)
  t.ok(shop.logs.some((l) => l.includes('could not keep the answer of an Idempotency-Key')))
  const again = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k4' })
  t.equal(again.statusCode, 409, 'the running record still guards the key')

  store.delete = async () => { throw new Error('down') }
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
  const failed = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k5' })
  t.equal(failed.statusCode, 502)
  t.ok(shop.logs.some((l) => l.includes('could not free an Idempotency-Key')))
})
