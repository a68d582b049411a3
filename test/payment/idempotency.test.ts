import { createHash } from 'node:crypto'
import { test } from 'tap'
import { CARD, PURCHASE, freePort, logsSaying, startShop, type Shop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { ANSWER_TTL_MS, RUNNING_TTL_MS } from '../../lib/payment/idempotency.js'
import { maskPan } from '../../lib/wire/pan.js'

const FAST = { timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 1 }
const DAY = 24 * 3600_000

/** The request record of `key` for the test shop (brand `brand-test`, prefix `/qorepay`). */
const requestKey = (key: string) => `idem:brand-test/qorepay:${createHash('sha256').update(key).digest('base64url')}`

interface Write { method: 'set' | 'claim', key: string, value: unknown, ttl: number }

/** A MemoryStore that records every write with the ttl it was given, and can be made to fail. */
class RecordingStore extends MemoryStore {
  writes: Write[] = []
  /** Throws for the next call of `method` on a key `match` accepts, once. */
  failNext: { method: 'set' | 'claim' | 'delete', match: (key: string) => boolean } | undefined
  #fail (method: string, key: string) {
    if (this.failNext?.method === method && this.failNext.match(key)) {
      this.failNext = undefined
      throw new Error('READONLY You can\'t write against a read only replica')
    }
  }

  override async set (key: string, value: unknown, ttl: number) { this.#fail('set', key); this.writes.push({ method: 'set', key, value, ttl }); return await super.set(key, value, ttl) }
  override async claim (key: string, value: unknown, ttl: number) { this.#fail('claim', key); this.writes.push({ method: 'claim', key, value, ttl }); return await super.claim(key, value, ttl) }
  override async delete (key: string) { this.#fail('delete', key); return await super.delete(key) }
  idem (): Write[] { return this.writes.filter((w) => w.key.startsWith('idem:')) }
}

function recordingStore (t: { teardown: (fn: () => void) => void }): RecordingStore {
  const store = new RecordingStore()
  t.teardown(() => store.close())
  return store
}

const posts = (shop: Shop) => shop.sim.count('direct_post')

/** The records written (not claimed) under `key`'s request record: answers another instance would replay. */
const keptOf = (store: RecordingStore, key: string) => store.idem().filter((w) => w.method === 'set' && w.key === requestKey(key))

/** The one log line saying `text`, parsed. */
function logLine (shop: Shop, text: string): Record<string, any> {
  const lines = logsSaying(shop, text)
  if (lines.length !== 1) throw new Error(`${lines.length} log lines say ${text}`)
  return lines[0]
}

const IN_PROGRESS = 'A request with this Idempotency-Key is still in progress'

test('the same Idempotency-Key and body answer the first answer without a second purchase', async (t) => {
  const shop = await startShop(t)
  for (const card of [TEST_CARDS.noThreeDS, TEST_CARDS.declined, TEST_CARDS.threeDSPost]) {
    const key = `order-${card}`
    const first = await shop.post('/qorepay/payments', { ...CARD, card_number: card }, { 'idempotency-key': key })
    const creates = shop.sim.count('purchases.create')
    const cardPosts = posts(shop)
    const again = await shop.post('/qorepay/payments', { ...CARD, card_number: card }, { 'idempotency-key': key })
    t.equal(again.statusCode, first.statusCode, card)
    t.same(again.body, first.body)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.notOk(first.headers['idempotent-replayed'])
    t.equal(shop.sim.count('purchases.create'), creates, 'no second purchase')
    t.equal(posts(shop), cardPosts, 'no second card post')
  }
  t.equal(shop.events.executed.length, 1)
  t.equal(shop.events.failed.length, 1)
})

test('a final answer is replayed without a gateway call; a 3DS answer is replayed while the bank decides, then the outcome', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, sessionTtl: 1, store } })
  const paid = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'final' })
  // The success callback and the public key it needs come first.
  await shop.sim.idle()
  const calls = shop.sim.requests.length
  await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'final' })
  t.equal(shop.sim.requests.length, calls, 'a final answer asks the gateway nothing')
  t.equal(paid.body.status, 'executed')

  const threeDS = { ...CARD, card_number: TEST_CARDS.threeDSPost }
  const first = await shop.post('/qorepay/payments', threeDS, { 'idempotency-key': '3ds' })
  t.equal(first.body.status, '3DS_required')
  const again = await shop.post('/qorepay/payments', threeDS, { 'idempotency-key': '3ds' })
  t.same(again.body, first.body, 'undecided at the gateway, the session alive: the same 3DS page')
  // Not kept again: the page is replayed only while the session the first answer made lives, whatever the retries.
  t.equal(keptOf(store, '3ds').length, 1)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const late = await shop.post('/qorepay/payments', threeDS, { 'idempotency-key': '3ds' })
  t.equal(late.statusCode, 202, 'the session gone: pending, never a second card post')
  t.same(late.body, { status: 'pending', purchase_id: first.body.purchase_id })
  await shop.sim.completeThreeDS(first.body.purchase_id, 'approve')
  const done = await shop.post('/qorepay/payments', threeDS, { 'idempotency-key': '3ds' })
  t.same(done.body, { status: 'executed', purchase_id: first.body.purchase_id })
  t.match(keptOf(store, '3ds').map((w) => w.value), [{ state: 'done', answer: { statusCode: 200, body: first.body } }, { state: 'done', answer: { statusCode: 200, body: done.body } }], 'the outcome is kept once final')
  t.equal(keptOf(store, '3ds').length, 2)
  t.equal(keptOf(store, 'final').length, 1, 'a replayed final answer writes nothing')
  t.equal(shop.sim.count('purchases.create'), 2)
  t.equal(posts(shop), 2, 'one card post per key')
})

test('a recorded 202 pending is looked up again, and kept once final (a 2xx card-post answer that is not a status)', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  const body = { ...CARD, card_number: TEST_CARDS.threeDSPost }
  // The gateway takes the card (3-D Secure pending at the bank) and answers something that is no status.
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, process: true, body: '<html>Thank you</html>' })
  const first = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'pending' })
  t.equal(first.statusCode, 202)
  const id = first.body.purchase_id
  const still = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'pending' })
  t.equal(still.statusCode, 202)
  t.equal(still.headers['idempotent-replayed'], 'true')
  await shop.sim.completeThreeDS(id, 'approve')
  const lookups = shop.sim.count('purchases.get')
  const after = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'pending' })
  t.equal(after.statusCode, 200, 'never the stale pending')
  t.same(after.body, { status: 'executed', purchase_id: id })
  t.equal(shop.sim.count('purchases.get') - lookups, 1, 'looked up')
  const kept = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'pending' })
  t.same(kept.body, after.body)
  t.equal(shop.sim.count('purchases.get') - lookups, 1, 'the final answer was kept: no further lookup')
  await shop.sim.idle()
  t.equal(posts(shop), 1, 'one card post')
  t.equal(shop.events.executed.filter((e) => e.purchaseId === id).length, 1, 'reported once')
})

test('a retry that learns a 3DS outcome no callback reported: reported once, as the direct payment it is', async (t) => {
  // The gateway's success callback goes where nobody listens: only the retry's lookup can tell.
  const shop = await startShop(t, { plugin: { ...FAST, purchase: async () => ({ ...PURCHASE, success_callback: `http://127.0.0.1:${await freePort()}/callback` }) } })
  const body = { ...CARD, card_number: TEST_CARDS.threeDSPost }
  const first = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'k16' })
  const id = first.body.purchase_id
  await shop.sim.completeThreeDS(id, 'approve')
  const after = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'k16' })
  t.same(after.body, { status: 'executed', purchase_id: id })
  t.match(shop.events.executed, [{ purchaseId: id, source: 'direct', reference: 'order-42', maskedPan: maskPan(TEST_CARDS.threeDSPost) }])
  t.equal(shop.events.executed.length, 1)
})

test('only card data differing is a replay, never a 422: a known key tells nothing about a guessed CVC', async (t) => {
  const shop = await startShop(t)
  const first = await shop.post('/qorepay/payments', { ...CARD, order: 'o-1' }, { 'idempotency-key': 'k1' })
  t.equal(first.statusCode, 200)
  await shop.sim.idle()
  const calls = shop.sim.requests.length
  for (const guess of [{ cvc: '124' }, { cvc: '9999' }, { card_number: '4111111111111111' }, { expires: '01/30' }, { cardholder_name: 'Jane Roe' }]) {
    const res = await shop.post('/qorepay/payments', { ...CARD, order: 'o-1', ...guess }, { 'idempotency-key': 'k1' })
    t.equal(res.statusCode, 200, JSON.stringify(guess))
    t.same(res.body, first.body)
    t.equal(res.headers['idempotent-replayed'], 'true')
  }
  t.equal(shop.sim.requests.length, calls, 'no gateway call: no purchase, no card post, no lookup')
  for (const other of [{ order: 'o-2' }, { order: { amount: 1 } }, { remember_card: 'on' }]) {
    const res = await shop.post('/qorepay/payments', { ...CARD, order: 'o-1', ...other }, { 'idempotency-key': 'k1' })
    t.equal(res.statusCode, 422, JSON.stringify(other))
    t.equal(res.body.code, 'FST_QOREPAY_IDEMPOTENCY_MISMATCH')
    t.equal(res.body.message, 'This Idempotency-Key was used with a different request body')
  }
  await shop.post('/qorepay/payments', CARD)
  await shop.post('/qorepay/payments', CARD)
  t.equal(shop.sim.count('purchases.create'), 3, 'without a key every post is a new payment')
})

test('before its purchase is bound a second request gets 409; once bound it gets what the gateway says, never a second card post', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { lookupAttempts: 1, store } })
  shop.sim.inject({ route: 'purchases.create', kind: 'latency', ms: 300 })
  const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  const [a, b] = await Promise.all([
    shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k2' }),
    later(100).then(() => shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k2' }))
  ])
  t.equal(a.statusCode, 200)
  t.equal(b.statusCode, 409)
  t.equal(b.body.code, 'FST_QOREPAY_IDEMPOTENCY_CONFLICT')
  t.equal(b.body.message, IN_PROGRESS)

  shop.sim.inject({ route: 'direct_post', kind: 'latency', ms: 400 })
  const first = shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k3' })
  while (posts(shop) < 2) await later(5)
  const during = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k3' })
  t.equal(during.statusCode, 202, 'the card post in flight: the gateway has not decided')
  t.equal(during.headers['idempotent-replayed'], 'true')
  const other = await shop.post('/qorepay/payments', { ...CARD, order: 'x' }, { 'idempotency-key': 'k3' })
  t.equal(other.statusCode, 422, 'another body, even while bound')
  t.equal((await first).statusCode, 200)
  const after = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k3' })
  t.same(after.body, { status: 'executed', purchase_id: during.body.purchase_id })
  t.equal(posts(shop), 2, 'one card post per key')
  // The retries kept nothing: only the request that holds the claim records the answer.
  t.match(keptOf(store, 'k3'), [{ value: { answer: { statusCode: 200 } } }])
  t.equal(keptOf(store, 'k3').length, 1)
})

test('a failure before the card post frees the key: a create that failed, a card post that never left', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, retries: 0 } })
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
  const failed = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k4' })
  t.equal(failed.statusCode, 502)
  const retried = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k4' })
  t.equal(retried.statusCode, 200)
  t.equal(retried.body.status, 'executed')

  // A purchase whose direct_post_url nobody listens on: the card post is refused before anything is sent.
  const template = [...shop.sim.purchases.values()][0]
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { ...template, id: 'never-posted', direct_post_url: `http://127.0.0.1:${await freePort()}/p/never-posted/` } })
  const unreachable = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k5' })
  t.equal(unreachable.statusCode, 502)
  t.equal(unreachable.body.code, 'FST_QOREPAY_UNAVAILABLE')
  const cardPosts = posts(shop)
  const again = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k5' })
  t.equal(again.statusCode, 200, 'the card was never sent: the retry pays')
  t.not(again.body.purchase_id, 'never-posted')
  t.equal(posts(shop) - cardPosts, 1)
})

test('an error after the card post keeps the binding: the retry looks the purchase up', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  // The card is taken (3-D Secure pending at the bank) and the answer sends the payer nowhere usable.
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, process: true, body: { status: '3DS_required', URL: 'javascript:alert(1)', PaReq: 'x', MD: 'x', callback_url: 'https://acs.example/cb', Method: 'POST' } })
  const failed = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost }, { 'idempotency-key': 'k6' })
  t.equal(failed.statusCode, 502)
  const retry = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost }, { 'idempotency-key': 'k6' })
  t.equal(retry.statusCode, 202)
  t.equal(posts(shop), 1, 'never a second card post')
  const [purchase] = [...shop.sim.purchases.values()]
  t.equal(retry.body.purchase_id, purchase.id)
})

test('malformed keys are 400 before any gateway call; the store holds no card data', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { store } })
  for (const key of ['', 'has space', 'x'.repeat(256), 'naïve']) {
    const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': key })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.equal(res.body.code, 'FST_QOREPAY_VALIDATION')
    t.equal(res.body.message, 'Idempotency-Key must be 1-255 printable ASCII characters without spaces')
  }
  t.equal(shop.sim.count('purchases.create'), 0)
  await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-7' })
  const records = store.idem().map((w) => w.key + JSON.stringify(w.value))
  t.equal(records.length, 3, 'the claim, the binding, the answer')
  for (const record of records) {
    t.notMatch(record, CARD.card_number)
    t.notMatch(record, 'order-7', 'the key itself is hashed')
    t.notMatch(record, /12\/39|"cvc"|John/)
  }
})

test('the claim lives a minute, the binding and the answer 24 hours', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { store } })
  const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'ttl' })
  const key = requestKey('ttl')
  t.same(store.idem().map(({ method, key, ttl }) => ({ method, key, ttl })), [
    { method: 'claim', key, ttl: RUNNING_TTL_MS },
    { method: 'claim', key: `${key}:purchase`, ttl: DAY },
    { method: 'set', key, ttl: DAY }
  ])
  t.equal(RUNNING_TTL_MS, 60_000)
  t.equal(ANSWER_TTL_MS, DAY)
  const [claim, binding, answer] = store.idem().map((w) => w.value as Record<string, unknown>)
  t.same(Object.keys(claim), ['state', 'fingerprint'])
  t.equal(claim.state, 'running')
  t.type(claim.fingerprint, 'string')
  t.same(binding, { purchaseId: res.body.purchase_id, reference: binding.reference, maskedPan: maskPan(CARD.card_number), fingerprint: claim.fingerprint })
  t.match(answer, { state: 'done', fingerprint: claim.fingerprint, bound: { purchaseId: res.body.purchase_id }, answer: { statusCode: 200, body: res.body } })
})

test('store writes failing after the claim: no binding, no card post (503); a lost answer is looked up', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, store } })
  store.failNext = { method: 'claim', match: (key) => key.endsWith(':purchase') }
  const unbound = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k7' })
  t.equal(unbound.statusCode, 503)
  t.equal(unbound.body.code, 'FST_QOREPAY_STORE_UNAVAILABLE')
  t.equal(posts(shop), 0, 'no card posted without its binding')
  const paid = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k7' })
  t.equal(paid.statusCode, 200)
  t.equal(posts(shop), 1)

  store.failNext = { method: 'set', match: (key) => key.startsWith('idem:') }
  const first = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k8' })
  t.equal(first.statusCode, 200, 'the payment happened: the payer gets its answer')
  const lost = logLine(shop, 'could not keep the answer of an Idempotency-Key')
  t.match(lost, { level: 50, purchaseId: first.body.purchase_id, err: { message: /READONLY/ }, msg: `qorepay: could not keep the answer of an Idempotency-Key for purchase ${first.body.purchase_id}; a retry looks it up` })
  const again = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k8' })
  t.same(again.body, first.body, 'the bound purchase, looked up')
  t.equal(posts(shop), 2, 'never a second card post')

  // The claim's minute passes (its process died, say): a later retry creates a purchase, finds the key bound, never charges it.
  await store.delete(requestKey('k8'))
  const creates = shop.sim.count('purchases.create')
  const late = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k8' })
  t.same(late.body, first.body)
  t.equal(late.headers['idempotent-replayed'], 'true')
  t.equal(shop.sim.count('purchases.create') - creates, 1)
  t.equal(posts(shop), 2, 'the purchase it created is never charged')
  const lookups = shop.sim.count('purchases.get')
  const kept = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k8' })
  t.same(kept.body, first.body)
  t.equal(shop.sim.count('purchases.create') - creates, 1, 'its answer is kept now')
  t.equal(shop.sim.count('purchases.get'), lookups, 'a kept final answer: no lookup')
  await store.delete(requestKey('k8'))
  const other = await shop.post('/qorepay/payments', { ...CARD, order: 'x' }, { 'idempotency-key': 'k8' })
  t.equal(other.statusCode, 422)
  const stillOk = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k8' })
  t.same(stillOk.body, first.body, 'the 422 left no claim behind')

  store.failNext = { method: 'delete', match: (key) => key.startsWith('idem:') }
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
  const failed = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k9' })
  t.equal(failed.statusCode, 502)
  t.match(logLine(shop, 'could not free an Idempotency-Key'), { level: 50, err: { message: /READONLY/ }, msg: 'qorepay: could not free an Idempotency-Key after a failure; it frees itself within 60 s' })
  await shop.sim.idle()
  t.equal(shop.events.executed.length, 2, 'each paid purchase reported once')
})

test('a binding gone between its claim and its read: 409, the retry goes on', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { store } })
  const first = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k10' })
  await store.delete(requestKey('k10'))
  const claim = store.claim.bind(store)
  store.claim = async (key, value, ttl) => {
    const won = await claim(key, value, ttl)
    if (!won && key.endsWith(':purchase')) await store.delete(key)
    return won
  }
  const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k10' })
  t.equal(res.statusCode, 409)
  t.equal(res.body.message, IN_PROGRESS)
  t.not(first.statusCode, 409)
})

test('a request record gone between a lost claim and its read (its lifetime ran out): the binding answers', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, store } })
  const first = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k14' })
  await shop.sim.idle()
  const claim = store.claim.bind(store)
  store.claim = async (key, value, ttl) => {
    if (key === requestKey('k14')) { await claim(key, value, ttl); await store.delete(key); return false }
    return await claim(key, value, ttl)
  }
  const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k14' })
  t.equal(res.statusCode, 200)
  t.same(res.body, first.body)
  t.equal(res.headers['idempotent-replayed'], 'true')
  t.equal(shop.sim.count('purchases.create'), 1)
})

test('a late retry that finds the key bound to a purchase still at 3-D Secure: pending, and that answer kept for 24 hours', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, store } })
  const body = { ...CARD, card_number: TEST_CARDS.threeDSPost }
  const first = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'k15' })
  t.equal(first.body.status, '3DS_required')
  await store.delete(requestKey('k15'))
  const late = await shop.post('/qorepay/payments', body, { 'idempotency-key': 'k15' })
  t.equal(late.statusCode, 202)
  t.same(late.body, { status: 'pending', purchase_id: first.body.purchase_id })
  t.equal(late.headers['idempotent-replayed'], 'true')
  t.equal(shop.sim.count('purchases.create'), 2, 'its own purchase, never charged')
  t.equal(posts(shop), 1)
  const kept = keptOf(store, 'k15').at(-1)!
  t.match(kept, { method: 'set', ttl: DAY, value: { state: 'done', answer: { statusCode: 202, body: late.body } } }, 'not left to the minute of its claim')
})

test('reconcile: false: a late retry\'s unused purchase needs no untracking, and nothing is logged about it', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, store, reconcile: false } })
  const first = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k17' })
  await store.delete(requestKey('k17'))
  const late = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k17' })
  t.same(late.body, first.body)
  t.equal(shop.sim.count('purchases.create'), 2)
  t.notOk(shop.logs.some((l) => JSON.parse(l).level >= 40), 'no warning or error')
})

test('a claim of another body beside the binding (a retry that outlived the claim): 422, never the bound answer', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { store } })
  await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k12' })
  await shop.post('/qorepay/payments', { ...CARD, order: 'x' }, { 'idempotency-key': 'k13' })
  const claimOfOther = store.idem().find((w) => w.method === 'claim' && w.key === requestKey('k13'))!.value
  await store.delete(requestKey('k12'))
  await store.claim(requestKey('k12'), claimOfOther, RUNNING_TTL_MS)
  const res = await shop.post('/qorepay/payments', { ...CARD, order: 'x' }, { 'idempotency-key': 'k12' })
  t.equal(res.statusCode, 422)
  t.equal(shop.sim.count('purchases.create'), 2)
})

test('tracking a purchase that was never charged fails: logged, the answer is the bound one', async (t) => {
  const store = recordingStore(t)
  const shop = await startShop(t, { plugin: { ...FAST, store } })
  store.failNext = { method: 'set', match: (key) => key.startsWith('idem:') }
  const first = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k11' })
  await store.delete(requestKey('k11'))
  const take = store.take.bind(store)
  store.take = async (key) => { if (key.startsWith('reconcile:')) throw new Error('down'); return await take(key) }
  const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'k11' })
  t.same(res.body, first.body)
  const line = logLine(shop, 'could not stop tracking it')
  const unused = [...shop.sim.purchases.keys()].find((id) => id !== first.body.purchase_id)
  t.match(line, { level: 40, purchaseId: unused, err: { message: 'down' }, msg: `qorepay: purchase ${unused} was never charged (its Idempotency-Key is bound to another); could not stop tracking it` })
})
