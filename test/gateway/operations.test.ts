import { test } from 'tap'
import { CARD, startShop, type Shop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import type { Purchase, RefundAnswer } from '../../lib/index.js'

/** capture, release, refund, charge and deleteRecurringToken as the platform answers them, over real HTTP. */

async function paid (shop: Shop, body: Record<string, unknown> = {}): Promise<string> {
  const res = await shop.post('/qorepay/payments', { ...CARD, ...body })
  if (res.statusCode !== 200) throw new Error(`payment: ${res.statusCode} ${res.text}`)
  return res.body.purchase_id
}

test('capture, release and refund: the final object, or the Purchase in pending_* from a slow acquirer', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 9000 }] }, skip_capture: true }) } })
  const api = shop.app.qorepay

  const fast = await paid(shop)
  const captured = await api.capture(fast, 6000)
  t.match(captured, { id: fast, type: 'purchase', status: 'paid', payment: { amount: 6000 } })
  const refund: RefundAnswer = await api.refund(fast, 1000)
  t.equal(refund.type, 'payment', 'a Payment')
  if (refund.type === 'payment') t.match(refund, { amount: 1000, payment_type: 'refund', related_to: { id: fast } })

  shop.sim.slowAcquirer = true
  const slow = await paid(shop)
  t.match(await api.capture(slow), { id: slow, status: 'pending_capture' })
  shop.sim.completePending(slow)
  const pendingRefund = await api.refund(slow, 500)
  t.equal(pendingRefund.type, 'purchase', 'a Purchase while the acquirer works')
  if (pendingRefund.type === 'purchase') t.match(pendingRefund, { id: slow, status: 'pending_refund', refundable_amount: 9000 })
  shop.sim.completePending(slow)
  t.match(await api.getPurchase(slow), { status: 'paid', refundable_amount: 8500 })

  const released = await paid(shop)
  t.match(await api.release(released), { id: released, status: 'pending_release' })
  shop.sim.completePending(released)
  t.equal((await api.getPurchase(released)).status, 'released')
})

test('refusals carry the platform code as gatewayCode', async (t) => {
  const shop = await startShop(t)
  const api = shop.app.qorepay
  const id = await paid(shop)
  const refused = (operation: string) => ({ code: 'FST_QOREPAY_GATEWAY', statusCode: 502, gatewayStatus: 400, gatewayCode: `purchase_${operation}_error`, message: `QorePay answered an error: HTTP 400 purchase_${operation}_error`, gatewayMessage: /^Cannot / })
  await t.rejects(api.capture(id), refused('capture'))
  await t.rejects(api.release(id), refused('release'))
  await t.rejects(api.charge(id, id), refused('charge'))
  await api.refund(id)
  await t.rejects(api.refund(id), refused('refund'))
  await t.rejects(api.deleteRecurringToken(id), { code: 'FST_QOREPAY_GATEWAY', gatewayCode: 'purchase_delete_recurring_token_error' })
})

test('charge and deleteRecurringToken: a saved card pays a new purchase until its token is deleted', async (t) => {
  const shop = await startShop(t)
  const api = shop.app.qorepay
  const token = await paid(shop, { remember_card: 'on', card_number: TEST_CARDS.noThreeDS })
  t.equal((await api.getPurchase(token)).is_recurring_token, true)

  const next = await api.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 4500 }] } })
  const charged: Purchase = await api.charge(next.id, token)
  t.match(charged, { id: next.id, status: 'paid', recurring_token: token, payment: { amount: 4500 } })
  t.match(shop.sim.requests.find((r) => r.route === 'purchases.charge'), { path: `/api/v1/purchases/${next.id}/charge/`, body: JSON.stringify({ recurring_token: token }) })

  const deleted = await api.deleteRecurringToken(token)
  t.match(deleted, { id: token, is_recurring_token: false })
  const after = await api.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Refill', price: 4500 }] } })
  await t.rejects(api.charge(after.id, token), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 400, gatewayCode: 'purchase_charge_error' }, 'a deleted token is refused')

  shop.sim.slowAcquirer = true
  const other = await paid(shop, { remember_card: 'on' })
  t.match(await api.charge(after.id, other), { status: 'pending_charge' }, 'pending_charge from a slow acquirer')

  await t.rejects(api.charge(after.id, '../x'), { code: 'FST_QOREPAY_VALIDATION', message: 'recurringToken: expected a purchase id (1-64 letters, digits, "-" or "_")' })
  await t.rejects(api.charge('a/b', token), { code: 'FST_QOREPAY_VALIDATION', message: /^id: / })
  await t.rejects(api.deleteRecurringToken('..'), { code: 'FST_QOREPAY_VALIDATION' })
  await t.rejects(api.deleteRecurringToken('missing'), { code: 'FST_QOREPAY_NOT_FOUND' })
})

test('a charge is never sent twice: a 5xx is not retried', async (t) => {
  const shop = await startShop(t)
  const token = await paid(shop, { remember_card: 'on' })
  const next = await shop.app.qorepay.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } })
  shop.sim.inject({ route: 'purchases.charge', kind: 'status', status: 503, process: true })
  await t.rejects(shop.app.qorepay.charge(next.id, token), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 503, sent: true })
  t.equal(shop.sim.count('purchases.charge'), 1, 'sent once')
  t.equal(shop.sim.purchases.get(next.id)?.status, 'paid', 'and it was charged: only a lookup tells')
})
