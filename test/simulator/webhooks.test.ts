import { verify } from 'node:crypto'
import { test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import { PaymentEvent, PurchaseEvent } from '../../lib/wire/webhook-body.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { acsForms, call, createPurchase, postCard, startReceiver, startSim, type Received } from '../helpers/simulator.js'

const verifies = (r: { body: string }, signature: unknown, pem: string) =>
  verify('sha256', Buffer.from(r.body), pem, Buffer.from(String(signature), 'base64'))
const event = (r: Received) => JSON.parse(r.body)
const events = (rs: Received[]) => rs.map((r) => event(r).event_type)

test('webhooks: signed events for every transition', async (t) => {
  const sim = await startSim(t)
  const hooks = await startReceiver(t)
  const hook = sim.addWebhook({ url: hooks.url })
  t.equal(hook.publicKey, sim.webhookPublicKey)
  t.match(hook.id, /^[0-9a-f-]{36}$/)

  const paid = await createPurchase(sim)
  await postCard(sim, paid)
  await sim.idle()
  t.equal(hooks.received.length, 1)
  const [r] = hooks.received
  t.equal(r.method, 'POST')
  t.equal(r.url, '/hook')
  t.equal(r.headers['content-type'], 'application/json')
  t.ok(verifies(r, r.headers['x-signature'], sim.webhookPublicKey), 'X-Signature verifies over the raw body')
  t.notOk(verifies({ body: r.body + ' ' }, r.headers['x-signature'], sim.webhookPublicKey), 'and only over it')
  const body = event(r)
  t.ok(Value.Check(PurchaseEvent, body), 'matches the PurchaseEvent schema')
  t.match(body, { event_type: 'purchase.paid', id: paid.id, status: 'paid', type: 'purchase' })
  t.match(sim.deliveries, [{
    kind: 'webhook', url: hooks.url, eventType: 'purchase.paid', purchaseId: paid.id, attempt: 1, statusCode: 200, body: r.body, signature: r.headers['x-signature']
  }])

  const api = (id: string, action: string) => call(sim, 'POST', `/api/v1/purchases/${id}/${action}/`)
  const held = await createPurchase(sim, { skip_capture: true })
  await postCard(sim, held)
  await api(held.id, 'capture')
  await api(held.id, 'refund')
  const released = await createPurchase(sim, { skip_capture: true })
  await postCard(sim, released)
  await api(released.id, 'release')
  const cancelled = await createPurchase(sim)
  await api(cancelled.id, 'cancel')
  const failed = await createPurchase(sim)
  await postCard(sim, failed, { card_number: TEST_CARDS.declined })
  const tds = await createPurchase(sim)
  await postCard(sim, tds, { card_number: TEST_CARDS.threeDSPost })
  const check = await createPurchase(sim, { skip_capture: true, purchase: { currency: 'NGN', products: [{ name: 'Card check', price: 0 }] } })
  await postCard(sim, check, { remember_card: 'on' })
  await sim.idle()

  const of = (id: string) => hooks.received.filter((x) => event(x).id === id || event(x).related_to?.id === id)
  t.same(events(of(held.id)), ['purchase.hold', 'purchase.captured', 'payment.refunded'])
  t.same(events(of(released.id)), ['purchase.hold', 'purchase.released'])
  t.same(events(of(cancelled.id)), ['purchase.cancelled'])
  t.same(events(of(failed.id)), ['purchase.payment_failure'])
  t.same(events(of(tds.id)), ['purchase.pending_execute'])
  t.same(events(of(check.id)), ['purchase.preauthorized'])
  t.match(event(of(check.id)[0]), { status: 'preauthorized', is_recurring_token: true })
  const refund = event(of(held.id)[2])
  t.ok(Value.Check(PaymentEvent, refund), 'payment.refunded carries a Payment')
  t.match(refund, { type: 'payment', payment_type: 'refund', amount: 9000, related_to: { type: 'purchase', id: held.id } })
  t.match(event(of(held.id)[0]), { status: 'hold' }, 'each event carries the state it was raised with')
  for (const x of hooks.received) t.ok(verifies(x, x.headers['x-signature'], sim.webhookPublicKey))
})

test('webhooks: event lists, own keys, rotation, removal', async (t) => {
  const sim = await startSim(t)
  const all = await startReceiver(t)
  const paidOnly = await startReceiver(t)
  const own = await startReceiver(t)
  sim.addWebhook({ url: all.url })
  sim.addWebhook({ url: paidOnly.url, events: ['purchase.paid'] })
  const ownHook = sim.addWebhook({ url: own.url, newKey: true })
  t.not(ownHook.publicKey, sim.webhookPublicKey, 'a fresh key pair')
  t.throws(() => sim.addWebhook({ url: 'ftp://x/' }), TypeError)
  t.throws(() => sim.addWebhook({ url: 'http://' }), TypeError)

  const declined = await createPurchase(sim)
  await postCard(sim, declined, { card_number: TEST_CARDS.declined })
  const paid = await createPurchase(sim)
  await postCard(sim, paid)
  await sim.idle()
  t.same(events(all.received), ['purchase.payment_failure', 'purchase.paid'])
  t.same(events(paidOnly.received), ['purchase.paid'])
  t.same(events(own.received), ['purchase.payment_failure', 'purchase.paid'])
  const ownSig = own.received[1].headers['x-signature']
  t.ok(verifies(own.received[1], ownSig, ownHook.publicKey), 'signed by its own key')
  t.notOk(verifies(own.received[1], ownSig, sim.webhookPublicKey), 'not by the shared key')

  const oldKey = sim.webhookPublicKey
  const newKey = sim.rotateWebhookKey()
  t.equal(sim.webhookPublicKey, newKey)
  t.not(newKey, oldKey)
  await sim.emit(paid.id, 'purchase.paid')
  const rotated = all.received[2]
  t.ok(verifies(rotated, rotated.headers['x-signature'], newKey), 'shared-key webhooks sign with the new key')
  t.notOk(verifies(rotated, rotated.headers['x-signature'], oldKey))
  t.ok(verifies(own.received[2], own.received[2].headers['x-signature'], ownHook.publicKey), 'own keys are not rotated')

  sim.removeWebhook(ownHook.id)
  sim.removeWebhook('unknown')
  await sim.emit(paid.id, 'purchase.paid')
  t.equal(own.received.length, 3, 'a removed webhook gets nothing')
  t.equal(all.received.length, 4)
})

test('emit', async (t) => {
  const sim = await startSim(t)
  const hooks = await startReceiver(t)
  sim.addWebhook({ url: hooks.url })
  const p = await createPurchase(sim)
  await sim.emit(p.id, 'purchase.viewed')
  t.same(events(hooks.received), ['purchase.viewed'], 'delivered when emit resolves')
  t.match(event(hooks.received[0]), { id: p.id, status: 'created' })
  await t.rejects(sim.emit('nope', 'purchase.paid'), /unknown purchase/)
  await t.rejects(sim.emit(p.id, 'payment.refunded'), /no refund/)
  await postCard(sim, p)
  await call(sim, 'POST', `/api/v1/purchases/${p.id}/refund/`, { body: { amount: 100 } })
  await call(sim, 'POST', `/api/v1/purchases/${p.id}/refund/`, { body: { amount: 200 } })
  await sim.idle()
  await sim.emit(p.id, 'payment.refunded')
  t.match(event(hooks.received.at(-1)!), { event_type: 'payment.refunded', type: 'payment', amount: 200 }, 'the latest refund')
})

test('success_callback: signed by the company key', async (t) => {
  const sim = await startSim(t)
  const shop = await startReceiver(t, '/qorepay/callback')
  const key = (await call(sim, 'GET', '/api/v1/public_key/')).json

  const direct = await createPurchase(sim, { success_callback: shop.url })
  await postCard(sim, direct)
  await sim.idle()
  t.equal(shop.received.length, 1)
  const [r] = shop.received
  t.ok(verifies(r, r.headers['x-signature'], key), 'verifies with GET /public_key/')
  t.notOk(verifies(r, r.headers['x-signature'], sim.webhookPublicKey))
  t.match(event(r), { id: direct.id, status: 'paid', event_type: 'purchase.paid' })
  t.match(sim.deliveries, [{ kind: 'success_callback', url: shop.url, eventType: 'purchase.paid', purchaseId: direct.id, attempt: 1, statusCode: 200 }])

  const newKey = sim.rotateCompanyKey()
  t.not(newKey, key)
  t.equal(sim.companyPublicKey, newKey)
  t.equal((await call(sim, 'GET', '/api/v1/public_key/')).json, newKey, 'GET /public_key/ serves the new key')

  const held = await createPurchase(sim, { success_callback: shop.url, skip_capture: true })
  await postCard(sim, held)
  await sim.idle()
  t.equal(shop.received.length, 1, 'no callback for a hold')
  await call(sim, 'POST', `/api/v1/purchases/${held.id}/capture/`)
  await sim.idle()
  t.equal(shop.received.length, 2, 'a capture pays')
  t.ok(verifies(shop.received[1], shop.received[1].headers['x-signature'], newKey), 'signed by the rotated key')

  const tds = await createPurchase(sim, { success_callback: shop.url })
  const answer = (await postCard(sim, tds, { card_number: TEST_CARDS.threeDSPost })).json
  const page = await call(sim, 'POST', answer.URL, { token: null, form: { PaReq: answer.PaReq, MD: answer.MD, TermUrl: shop.url } })
  const { approve } = acsForms(page.text)
  await call(sim, 'POST', answer.callback_url, { token: null, form: { MD: approve.MD, PaRes: approve.PaRes } })
  await sim.idle()
  t.equal(event(shop.received.at(-1)!).id, tds.id, 'a 3DS payment calls back too')

  const failed = await createPurchase(sim, { success_callback: shop.url })
  await postCard(sim, failed, { card_number: TEST_CARDS.insufficientFunds })
  await sim.idle()
  t.equal(event(shop.received.at(-1)!).id, tds.id, 'no callback for a failure')
})

test('retries on the platform\'s schedule until a 2xx, bounded', async (t) => {
  const sim = await startSim(t, { webhookAttempts: 4, webhookRetryScale: 10 })
  const flaky = await startReceiver(t)
  const times: number[] = []
  flaky.answer = (n) => {
    times.push(Date.now())
    return n <= 2 ? 500 : 204
  }
  sim.addWebhook({ url: flaky.url })
  const p = await createPurchase(sim, { success_callback: flaky.url.replace('/hook', '/cb') })
  await postCard(sim, p)
  await sim.idle()
  const hooks = sim.deliveries.filter((d) => d.kind === 'webhook')
  const callbacks = sim.deliveries.filter((d) => d.kind === 'success_callback')
  t.equal(hooks.length + callbacks.length, 4, 'the first two answers were 500s, the rest succeeded at once')
  t.equal(flaky.received.length, 4)
  const firstFail = sim.deliveries[0]
  const retry = sim.deliveries.find((d) => d.kind === firstFail.kind && d.attempt === 2)
  t.match(retry, { statusCode: /^(500|204)$/ })
  t.ok(sim.deliveries.every((d) => d.statusCode === 500 || d.statusCode === 204))
  for (const d of sim.deliveries.filter((x) => x.kind === firstFail.kind)) {
    t.equal(d.body, firstFail.body, 'same body on every attempt')
    t.equal(d.signature, firstFail.signature, 'same signature on every attempt')
  }

  const down = await startSim(t, { webhookAttempts: 3, webhookRetryScale: 50 })
  const broken = await startReceiver(t)
  const at: number[] = []
  broken.answer = () => {
    at.push(Date.now())
    return 503
  }
  down.addWebhook({ url: broken.url })
  // A closed port: refused connections are retried like errors.
  const probe = await startSim(t)
  const refused = `${probe.origin}/gone`
  await probe.close()
  down.addWebhook({ url: refused })
  const q = await createPurchase(down)
  const before = Date.now()
  await postCard(down, q)
  await down.idle()
  t.equal(broken.received.length, 3, 'exactly webhookAttempts deliveries')
  // Try n at 3^(n-1) - 1 minutes after the first try's start, 50 ms a minute: 0, 100, 400 ms. That start
  // comes after `before`; measured from the first arrival instead, a slow first try (a loaded machine)
  // would eat into the wait and the check would fail though the schedule holds.
  t.ok(at[1] - before >= 100 && at[2] - before >= 400, `tries at +${at[1] - before} ms and +${at[2] - before} ms after the card post began`)
  t.same(down.deliveries.filter((d) => d.url === refused).map((d) => [d.attempt, d.statusCode]), [[1, null], [2, null], [3, null]])
  t.same(down.deliveries.filter((d) => d.url === broken.url).map((d) => d.attempt), [1, 2, 3])
})

test('defaults: 8 attempts on the platform\'s schedule, a millisecond a minute', async (t) => {
  const sim = await startSim(t)
  const hooks = await startReceiver(t)
  const at: number[] = []
  hooks.answer = (n) => {
    at.push(Date.now())
    return n < 8 ? 500 : 200
  }
  sim.addWebhook({ url: hooks.url })
  const p = await createPurchase(sim)
  await postCard(sim, p)
  await sim.idle()
  t.equal(hooks.received.length, 8)
  t.equal(sim.deliveries.at(-1)?.statusCode, 200)
  // 0, 2, 8, 26, 80, 242, 728, 2186 minutes after the first (36 h 26 min on the platform).
  const minutes = [0, 2, 8, 26, 80, 242, 728, 2186]
  for (let n = 1; n < 8; n++) t.ok(at[n] - at[0] >= minutes[n] - 40, `try ${n + 1} at +${at[n] - at[0]} ms, due at +${minutes[n]} ms`)
})

test('delivery modes: duplicate and out of order', async (t) => {
  const sim = await startSim(t)
  const hooks = await startReceiver(t)
  const shop = await startReceiver(t, '/callback')
  sim.addWebhook({ url: hooks.url })
  t.same({ ...sim.deliveryMode }, { duplicate: false, outOfOrder: false })

  sim.deliveryMode.duplicate = true
  const twice = await createPurchase(sim, { success_callback: shop.url })
  await postCard(sim, twice)
  await sim.idle()
  t.same(events(hooks.received), ['purchase.paid', 'purchase.paid'], 'every event twice')
  t.equal(hooks.received[0].body, hooks.received[1].body, 'byte for byte')
  t.equal(shop.received.length, 2, 'the success callback too')
  sim.deliveryMode.duplicate = false
  hooks.received.length = 0

  sim.deliveryMode.outOfOrder = true
  const p = await createPurchase(sim)
  const tds = (await postCard(sim, p, { card_number: TEST_CARDS.threeDSGet })).json
  const page = await call(sim, 'GET', `${tds.URL}?${new URLSearchParams({ PaReq: tds.PaReq, MD: tds.MD, TermUrl: shop.url })}`, { token: null })
  await call(sim, 'POST', tds.callback_url, { token: null, form: { MD: '', PaRes: acsForms(page.text).approve.PaRes } })
  const other = await createPurchase(sim)
  await postCard(sim, other, { card_number: TEST_CARDS.declined })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(hooks.received.length, 0, 'held')
  await sim.emit(other.id, 'purchase.viewed')
  t.same(events(hooks.received), ['purchase.viewed'], 'emit is not held')
  await sim.idle()
  t.same(events(hooks.received.slice(1).filter((r) => event(r).id === p.id)), ['purchase.paid', 'purchase.pending_execute'], 'newest first')
  t.match(event(hooks.received.at(-2)!), { event_type: 'purchase.pending_execute', status: 'pending_execute' }, 'a stale event carries its old state')
  t.equal(hooks.received.length, 4)

  hooks.received.length = 0
  const q = await createPurchase(sim, { skip_capture: true })
  await postCard(sim, q)
  await call(sim, 'POST', `/api/v1/purchases/${q.id}/release/`)
  t.equal(hooks.received.length, 0)
  sim.deliveryMode = { duplicate: false, outOfOrder: false }
  t.equal(sim.deliveryMode.outOfOrder, false)
  await sim.idle()
  t.same(events(hooks.received), ['purchase.released', 'purchase.hold'], 'switching the knob off releases them')
  sim.deliveryMode = { duplicate: true, outOfOrder: false }
  t.equal(sim.deliveryMode.duplicate, true)
})

test('close stops deliveries in flight and waiting for a retry', async (t) => {
  const sim = await startSim(t, { webhookRetryScale: 30_000 })
  const slow = await startReceiver(t)
  slow.answer = () => 'hang'
  const failing = await startReceiver(t)
  failing.answer = () => 500
  sim.addWebhook({ url: slow.url })
  sim.addWebhook({ url: failing.url })
  const p = await createPurchase(sim)
  await postCard(sim, p)
  // The failing target's 500 is logged (then the 2-minute wait, 60 s here, starts); the slow one never answers.
  while (sim.deliveries.length === 0 || slow.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  const start = Date.now()
  await sim.close()
  t.ok(Date.now() - start < 1000, 'close does not wait for the target or the backoff')
  t.same(sim.deliveries.map((d) => [d.url, d.statusCode]), [[failing.url, 500]], 'the aborted attempt is not logged')
  await sim.idle()
  await sim.close()
  t.pass('idle and close after close resolve')
})
