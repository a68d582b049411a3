import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { CARD, startShop, type Shop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import type { Tap } from '../helpers/tap.js'
import type { Purchase } from '../../lib/wire/purchase.js'

/**
 * capture, refund and charge with an idempotencyKey: a call whose answer was
 * lost is sent again only when the purchase shows it did nothing.
 */

// Short timeouts: a send holds its key for 2 x (50 + 150 + 150) ms.
const SETTLE_MS = 700
const timeouts = { connect: 50, headers: 150, body: 150 }

async function holdShop (t: Tap): Promise<Shop> {
  return await startShop(t, {
    plugin: {
      timeouts,
      purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 9000 }] }, skip_capture: true })
    }
  })
}

async function pay (shop: Shop, body: Record<string, unknown> = {}): Promise<string> {
  const res = await shop.post('/qorepay/payments', { ...CARD, ...body })
  if (res.statusCode !== 200) throw new Error(`payment: ${res.statusCode} ${res.text}`)
  return res.body.purchase_id
}

test('a capture whose answer was lost after it was done: the retry sends nothing and resolves the captured purchase', async (t) => {
  const shop = await holdShop(t)
  const api = shop.app.qorepay
  const id = await pay(shop)
  shop.sim.inject({ route: 'purchases.capture', kind: 'reset' })
  await t.rejects(api.capture(id, 6000, { idempotencyKey: 'cap-1' }), { code: 'FST_QOREPAY_UNAVAILABLE', sent: true })
  t.equal(shop.sim.count('purchases.capture'), 1)
  // The gateway may still be at work: no retry looks before the send is surely over.
  await t.rejects(api.capture(id, 6000, { idempotencyKey: 'cap-1' }), { code: 'FST_QOREPAY_IDEMPOTENCY_CONFLICT', statusCode: 409, message: 'A capture with this idempotencyKey is still in progress' })
  await sleep(SETTLE_MS + 100)
  const gets = shop.sim.count('purchases.get')
  const retried = await api.capture(id, 6000, { idempotencyKey: 'cap-1' })
  t.match(retried, { id, status: 'paid', payment: { amount: 6000 } })
  t.equal(shop.sim.count('purchases.capture'), 1, 'not sent again')
  t.equal(shop.sim.count('purchases.get') - gets, 1, 'looked up once')
  // Known now: answered from the record, without a gateway call.
  t.same(await api.capture(id, 6000, { idempotencyKey: 'cap-1' }), retried)
  t.equal(shop.sim.count('purchases.get') - gets, 1)
  await t.rejects(api.capture(id, 5000, { idempotencyKey: 'cap-1' }), { code: 'FST_QOREPAY_IDEMPOTENCY_MISMATCH', statusCode: 422, message: 'This idempotencyKey was used for another capture' })
})

test('a capture that timed out before the gateway acted: the retry finds the purchase unchanged and sends it again, once', async (t) => {
  const shop = await holdShop(t)
  const api = shop.app.qorepay
  const id = await pay(shop)
  shop.sim.inject({ route: 'purchases.capture', kind: 'hang' })
  await t.rejects(api.capture(id, undefined, { idempotencyKey: 'cap-2' }), { code: 'FST_QOREPAY_TIMEOUT' })
  t.equal((await api.getPurchase(id)).status, 'hold', 'the hung capture did nothing')
  await sleep(SETTLE_MS + 100)
  t.match(await api.capture(id, undefined, { idempotencyKey: 'cap-2' }), { id, status: 'paid', payment: { amount: 9000 } })
  t.equal(shop.sim.count('purchases.capture'), 2)
  t.match(await api.capture(id, undefined, { idempotencyKey: 'cap-2' }), { status: 'paid' })
  t.equal(shop.sim.count('purchases.capture'), 2, 'the finished answer is replayed')
})

test('a partial refund under a key: replayed, never refunded twice; another amount under the key is refused', async (t) => {
  const shop = await startShop(t, { plugin: { timeouts } })
  const api = shop.app.qorepay
  const id = await pay(shop)
  shop.sim.inject({ route: 'purchases.refund', kind: 'reset' })
  await t.rejects(api.refund(id, 1000, { idempotencyKey: 'ref-1' }), { code: 'FST_QOREPAY_UNAVAILABLE' })
  await sleep(SETTLE_MS + 100)
  // The lost refund is seen in refundable_amount: a second partial refund of the same amount is not sent.
  const again = await api.refund(id, 1000, { idempotencyKey: 'ref-1' })
  t.match(again, { type: 'purchase', id, refundable_amount: 8000 })
  t.equal(shop.sim.count('purchases.refund'), 1)
  await t.rejects(api.refund(id, 2000, { idempotencyKey: 'ref-1' }), { code: 'FST_QOREPAY_IDEMPOTENCY_MISMATCH', message: 'This idempotencyKey was used for another refund' })
  // Keys are per action: a capture under the refund's key is a capture of its own.
  await t.rejects(api.capture(id, 1000, { idempotencyKey: 'ref-1' }), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_capture_error' })
  // A fresh key is a fresh refund.
  t.match(await api.refund(id, 1000, { idempotencyKey: 'ref-2' }), { type: 'payment', amount: 1000 })
  t.equal((await api.getPurchase(id)).refundable_amount, 7000)
})

test('a refused call or one never sent frees its key: the next call under it is sent', async (t) => {
  const shop = await startShop(t, { plugin: { timeouts } })
  const api = shop.app.qorepay
  const id = await pay(shop)
  await t.rejects(api.capture(id, undefined, { idempotencyKey: 'k' }), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_capture_error' })
  await t.rejects(api.capture(id, undefined, { idempotencyKey: 'k' }), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_capture_error' })
  t.equal(shop.sim.count('purchases.capture'), 2, 'a refusal did nothing: sent again, not answered from memory')
  const fresh = await api.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 100 }] } })
  await t.rejects(api.charge(fresh.id, '../x', { idempotencyKey: 'c' }), { code: 'FST_QOREPAY_VALIDATION', message: /recurringToken/ })
  t.equal(shop.sim.count('purchases.charge'), 0)
  // The malformed call left nothing under the key: another token is no mismatch.
  await t.rejects(api.charge(fresh.id, id, { idempotencyKey: 'c' }), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_charge_error' })
})

test('a charge whose answer was lost: the retry sees the paid purchase and charges nothing', async (t) => {
  const shop = await startShop(t, { plugin: { timeouts } })
  const api = shop.app.qorepay
  const token = await pay(shop, { remember_card: 'on', card_number: TEST_CARDS.noThreeDS })
  const next = await api.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 4500 }] } })
  shop.sim.inject({ route: 'purchases.charge', kind: 'reset' })
  await t.rejects(api.charge(next.id, token, { idempotencyKey: 'order-7' }), { code: 'FST_QOREPAY_UNAVAILABLE' })
  await sleep(SETTLE_MS + 100)
  t.match(await api.charge(next.id, token, { idempotencyKey: 'order-7' }), { id: next.id, status: 'paid' })
  t.equal(shop.sim.count('purchases.charge'), 1)
  await t.rejects(api.charge(next.id, 'another-token', { idempotencyKey: 'order-7' }), { code: 'FST_QOREPAY_IDEMPOTENCY_MISMATCH', message: 'This idempotencyKey was used for another charge' })
  // Without a key a charge is plain: sent, nothing looked up.
  const plain = await api.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 100 }] } })
  const gets = shop.sim.count('purchases.get')
  t.match(await api.charge(plain.id, token), { id: plain.id, status: 'paid' })
  t.equal(shop.sim.count('purchases.charge'), 2)
  t.equal(shop.sim.count('purchases.get'), gets)
})

test('a lost capture counts as done when the purchase shows any one sign of it: its status, refundable amount, attempts or update time', async (t) => {
  const shop = await holdShop(t)
  const api = shop.app.qorepay
  const changes: Array<[string, (p: Purchase) => Purchase]> = [
    ['status', (p) => ({ ...p, status: 'paid' })],
    ['refundable_amount', (p) => ({ ...p, refundable_amount: p.refundable_amount + 1 })],
    ['attempts', (p) => ({ ...p, transaction_data: { ...p.transaction_data, attempts: [...p.transaction_data.attempts, p.transaction_data.attempts[0]] } })],
    ['updated_on', (p) => ({ ...p, updated_on: p.updated_on + 1 })]
  ]
  const before = new Map<string, Purchase>()
  for (const [field] of changes) {
    const id = await pay(shop)
    before.set(field, await api.getPurchase(id))
    shop.sim.inject({ route: 'purchases.capture', kind: 'reset' })
    await t.rejects(api.capture(id, undefined, { idempotencyKey: field }), { code: 'FST_QOREPAY_UNAVAILABLE' })
  }
  await sleep(SETTLE_MS + 100)
  for (const [field, change] of changes) {
    // The lookup sees the purchase as it was before the capture, but for this one field.
    const seen = change(before.get(field)!)
    shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 200, body: seen })
    t.same(await api.capture(seen.id, undefined, { idempotencyKey: field }), seen, field)
  }
  t.equal(shop.sim.count('purchases.capture'), changes.length, 'none sent again')
})

test('keys are checked, and calls without one are plain', async (t) => {
  const shop = await startShop(t)
  const api = shop.app.qorepay
  const id = await pay(shop)
  for (const idempotencyKey of ['', 'has space', 'x'.repeat(256), 42 as unknown as string]) {
    await t.rejects(api.refund(id, 1, { idempotencyKey }), { code: 'FST_QOREPAY_VALIDATION', message: 'idempotencyKey must be 1-255 printable ASCII characters without spaces' })
  }
  t.equal(shop.sim.count('purchases.refund'), 0)
  t.equal(shop.sim.count('purchases.get'), 0)
  t.match(await api.refund(id, 1), { type: 'payment', amount: 1 })
  t.match(await api.refund(id, 1), { type: 'payment', amount: 1 })
  t.equal(shop.sim.count('purchases.refund'), 2)
  t.equal(shop.sim.count('purchases.get'), 0, 'no lookup without a key')
})
