import { test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import { Payment, Purchase } from '../../lib/wire/purchase.js'
import { TEST_CARDS, type Simulator } from '../../lib/simulator/index.js'
import { call, createPurchase, postCard, startReceiver, startSim } from '../helpers/simulator.js'

/** A purchase paid with remember_card "on": its id is the recurring token. */
async function savedCard (sim: Simulator, card: Record<string, unknown> = {}): Promise<string> {
  const p = await createPurchase(sim)
  const res = await postCard(sim, p, { remember_card: 'on', ...card })
  if (res.json.status === '3DS_required') await sim.completeThreeDS(p.id, 'approve')
  return p.id
}

const charge = (sim: Simulator, id: string, body?: unknown) => call(sim, 'POST', `/api/v1/purchases/${id}/charge/`, { body })
const deleteToken = (sim: Simulator, id: string) => call(sim, 'POST', `/api/v1/purchases/${id}/delete_recurring_token/`)

test('charge/ pays a new purchase with a saved card', async (t) => {
  const sim = await startSim(t)
  const hook = await startReceiver(t)
  sim.addWebhook({ url: hook.url })
  const token = await savedCard(sim, { card_number: TEST_CARDS.threeDSPost })
  const p = await createPurchase(sim, { reference: 'order-2' })

  const res = await charge(sim, p.id, { recurring_token: token })
  t.equal(res.status, 200)
  t.ok(Value.Check(Purchase, res.json), 'answers the Purchase')
  t.match(res.json, { id: p.id, status: 'paid', recurring_token: token, is_recurring_token: false, payment: { amount: 9000 }, refundable_amount: 9000 })
  t.match(res.json.transaction_data.attempts, [{ type: 'recurring_execute', successful: true, error: null, extra: { masked_pan: '555555******4444', card_brand: 'mastercard' } }])
  t.same(sim.purchases.get(p.id), res.json)
  t.equal(sim.purchases.get(token)?.is_recurring_token, true, 'the token stays')
  await sim.idle()
  t.ok(hook.received.some((r) => JSON.parse(r.body).event_type === 'purchase.paid' && JSON.parse(r.body).id === p.id), 'purchase.paid for the charged purchase')

  const twice = await charge(sim, p.id, { recurring_token: token })
  t.equal(twice.status, 400, 'a paid purchase is not charged again')
  t.same(twice.json, { __all__: [{ code: 'purchase_charge_error', message: 'Cannot charge a purchase with status paid.' }] })
  t.equal(sim.count('purchases.charge'), 2)

  const held = await createPurchase(sim, { skip_capture: true })
  t.match((await charge(sim, held.id, { recurring_token: token })).json, { status: 'hold' }, 'skip_capture: a hold')
})

test('charge/ refuses what is not a token, a deleted token, a missing token', async (t) => {
  const sim = await startSim(t)
  const p = await createPurchase(sim)
  const refused = { __all__: [{ code: 'purchase_charge_error', message: 'The recurring token is not valid: no saved card, or deleted.' }] }

  const plain = await createPurchase(sim)
  await postCard(sim, plain)
  for (const [name, token] of [['paid without remember_card', plain.id], ['unknown id', '00000000-0000-0000-0000-000000000000'], ['itself', p.id]]) {
    const res = await charge(sim, p.id, { recurring_token: token })
    t.equal(res.status, 400, name)
    t.same(res.json, refused, name)
  }
  for (const body of [undefined, {}, { recurring_token: '' }, { recurring_token: 7 }, 'null']) {
    const res = await charge(sim, p.id, body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.same(res.json, { recurring_token: [{ message: 'This field is required.', code: 'required' }] })
  }
  t.match((await charge(sim, p.id, '{')).json, { __all__: [{ code: 'parse_error' }] })
  t.equal((await charge(sim, 'nope', { recurring_token: plain.id })).status, 404)
  t.equal(sim.purchases.get(p.id)?.status, 'created', 'nothing charged')

  const token = await savedCard(sim)
  const deleted = await deleteToken(sim, token)
  t.equal(deleted.status, 200)
  t.ok(Value.Check(Purchase, deleted.json))
  t.match(deleted.json, { id: token, is_recurring_token: false, status: 'paid' })
  t.match(deleted.json.transaction_data.attempts[0], { type: 'delete_recurring_token', successful: true })
  t.same((await charge(sim, p.id, { recurring_token: token })).json, refused, 'a deleted token cannot be charged')

  const again = await deleteToken(sim, token)
  t.equal(again.status, 400)
  t.same(again.json, { __all__: [{ code: 'purchase_delete_recurring_token_error', message: 'This purchase is not a recurring token.' }] })
  t.equal((await deleteToken(sim, plain.id)).status, 400, 'never a token')
  t.equal((await deleteToken(sim, 'nope')).status, 404)
  t.equal(sim.count('purchases.delete_recurring_token'), 4)
})

test('declineCharges: a declined charge leaves the purchase in error, and it may be charged again', async (t) => {
  const sim = await startSim(t)
  const token = await savedCard(sim)
  const p = await createPurchase(sim)
  t.equal(sim.declineCharges, undefined)
  sim.declineCharges = 'insufficient_funds'
  const res = await charge(sim, p.id, { recurring_token: token })
  t.equal(res.status, 400)
  t.same(res.json, { __all__: [{ code: 'purchase_charge_error', message: 'The charge was declined: Insufficient funds.' }] })
  t.match(sim.purchases.get(p.id), { status: 'error', transaction_data: { attempts: [{ type: 'recurring_execute', successful: false, error: { code: 'insufficient_funds' } }] } })
  sim.declineCharges = undefined
  t.match((await charge(sim, p.id, { recurring_token: token })).json, { status: 'paid' })
  t.same(sim.purchases.get(p.id)?.transaction_data.attempts.map((a) => a.successful), [true, false], 'newest first')
})

test('slowAcquirer: capture, release, refund and charge answer pending_*, completePending finishes them', async (t) => {
  const sim = await startSim(t, { slowAcquirer: true })
  t.equal(sim.slowAcquirer, true)
  const hook = await startReceiver(t)
  sim.addWebhook({ url: hook.url })
  const api = (id: string, action: string, body?: unknown) => call(sim, 'POST', `/api/v1/purchases/${id}/${action}/`, { body })
  const hold = async () => {
    const p = await createPurchase(sim, { skip_capture: true })
    await postCard(sim, p)
    return p.id
  }

  const captured = await hold()
  const capture = await api(captured, 'capture', { amount: 5000 })
  t.equal(capture.status, 200)
  t.ok(Value.Check(Purchase, capture.json))
  t.equal(capture.json.status, 'pending_capture')
  t.match((await api(captured, 'capture')).json, { __all__: [{ code: 'purchase_capture_error', message: 'Cannot capture a purchase with status pending_capture.' }] })
  sim.completePending(captured)
  t.match(sim.purchases.get(captured), { status: 'paid', payment: { amount: 5000 } })

  const refund = await api(captured, 'refund', { amount: 2000 })
  t.equal(refund.status, 200)
  t.ok(Value.Check(Purchase, refund.json), 'a Purchase, not a Payment')
  t.match(refund.json, { type: 'purchase', status: 'pending_refund', refundable_amount: 5000 })
  t.match((await api(captured, 'refund')).json, { __all__: [{ code: 'purchase_refund_error' }] })
  sim.completePending(captured, 'approve')
  t.match(sim.purchases.get(captured), { status: 'paid', refundable_amount: 3000 }, 'partly refunded: paid again')
  await api(captured, 'refund')
  sim.completePending(captured)
  t.equal(sim.purchases.get(captured)?.status, 'refunded')

  const released = await hold()
  t.equal((await api(released, 'release')).json.status, 'pending_release')
  t.match((await api(released, 'release')).json, { __all__: [{ code: 'purchase_release_error' }] })
  sim.completePending(released)
  t.equal(sim.purchases.get(released)?.status, 'released')

  sim.slowAcquirer = false
  const token = await savedCard(sim)
  sim.slowAcquirer = true
  const charged = await createPurchase(sim)
  const pending = await api(charged.id, 'charge', { recurring_token: token })
  t.equal(pending.status, 200)
  t.match(pending.json, { status: 'pending_charge', recurring_token: token })
  sim.completePending(charged.id)
  t.match(sim.purchases.get(charged.id), { status: 'paid', transaction_data: { attempts: [{ type: 'recurring_execute', successful: true }] } })

  t.throws(() => sim.completePending(charged.id), { message: `completePending: purchase ${charged.id} has nothing pending` })
  t.throws(() => sim.completePending('nope'), /nothing pending/)

  await sim.idle()
  const events = hook.received.map((r) => JSON.parse(r.body).event_type)
  for (const type of ['purchase.pending_capture', 'purchase.captured', 'purchase.pending_refund', 'payment.refunded', 'purchase.pending_release', 'purchase.released', 'purchase.pending_charge', 'purchase.paid']) {
    t.ok(events.includes(type), type)
  }
  const refunded = hook.received.map((r) => JSON.parse(r.body)).find((b) => b.event_type === 'payment.refunded')
  t.ok(Value.Check(Payment, refunded), 'payment.refunded carries the Payment once it is done')
})

test('completePending with fail: the operation is refused, the purchase as it was', async (t) => {
  const sim = await startSim(t)
  const token = await savedCard(sim)
  sim.slowAcquirer = true
  const api = (id: string, action: string, body?: unknown) => call(sim, 'POST', `/api/v1/purchases/${id}/${action}/`, { body })

  const p = await createPurchase(sim, { skip_capture: true })
  await postCard(sim, p)
  await api(p.id, 'capture')
  sim.completePending(p.id, 'fail')
  t.equal(sim.purchases.get(p.id)?.status, 'hold')
  await api(p.id, 'release')
  sim.completePending(p.id, 'fail')
  t.equal(sim.purchases.get(p.id)?.status, 'hold')

  const paid = await createPurchase(sim)
  await postCard(sim, paid)
  await api(paid.id, 'refund')
  sim.completePending(paid.id, 'fail')
  t.match(sim.purchases.get(paid.id), { status: 'paid', refundable_amount: 9000 })

  const charged = await createPurchase(sim)
  await api(charged.id, 'charge', { recurring_token: token })
  sim.completePending(charged.id, 'fail')
  t.match(sim.purchases.get(charged.id), { status: 'error', transaction_data: { attempts: [{ type: 'recurring_execute', error: { code: 'do_not_honour' } }] } })
})
