import { generateKeyPairSync, sign } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import Fastify from 'fastify'
import formbody from '@fastify/formbody'
import { request } from 'undici'
import qorepay from '../../lib/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { createSimulator, TEST_CARDS, type Purchase, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { OutcomeEvent, WebhookEvent } from '../../lib/events.js'
import { MARK_TIMES } from '../../lib/outcome/mark-times.js'
import { olderThan } from '../../lib/webhook/delivery.js'
import type { Purchase as WirePurchase } from '../../lib/wire/purchase.js'
import { CARD, CREDENTIALS, PURCHASE, startShop, passAcs, postTermUrl, type Shop, type ShopOptions } from '../helpers/shop.js'
import type { Tap } from '../helpers/tap.js'
import { firedExactly } from '../helpers/outcomes.js'

// A key pair of our own, for bodies the simulator would never send (a failure after paid, another brand...).
const OWN = generateKeyPairSync('rsa', { modulusLength: 2048 })
const OWN_PEM = OWN.publicKey.export({ type: 'spki', format: 'pem' }) as string

function ownSignature (body: string | Buffer): string {
  return sign('sha256', Buffer.from(body), OWN.privateKey).toString('base64')
}

async function newSim (t: Tap, opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await createSimulator({ ...CREDENTIALS, ...opts })
  t.teardown(() => sim.close())
  return sim
}

/**
 * A shop whose success callbacks go to a sink route of the host (so that
 * the webhook is what reports an outcome), trusting the simulator's webhook
 * key and our own.
 */
async function webhookShop (t: Tap, options: ShopOptions & { callback?: 'plugin' | 'sink', sim?: Simulator } = {}): Promise<Shop> {
  const sim = options.sim ?? await newSim(t)
  let sink = ''
  const shop = await startShop(t, {
    ...options,
    sim,
    host: async (app) => {
      app.post('/sink', async () => ({ ok: true }))
      await options.host?.(app)
    },
    plugin: {
      webhookPublicKey: [sim.webhookPublicKey, OWN_PEM],
      purchase: async () => options.callback === 'plugin' ? PURCHASE : { ...PURCHASE, success_callback: sink },
      ...options.plugin
    }
  })
  sink = `${shop.url}/sink`
  return shop
}

interface Answer { statusCode: number, headers: Record<string, unknown>, json: any }

async function deliver (url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const text = await res.body.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { statusCode: res.statusCode, headers: res.headers, json }
}

/** Our own signed delivery of `payload` to the shop's webhook route. */
function deliverOwn (shop: Shop, payload: unknown, path = '/qorepay/webhook'): Promise<Answer> {
  const body = JSON.stringify(payload)
  return deliver(shop.url + path, body, { 'x-signature': ownSignature(body) })
}

/** A payment executed by the direct answer (no webhook registered yet). */
async function paid (shop: Shop, card: Partial<typeof CARD> = {}): Promise<string> {
  const res = await shop.post('/qorepay/payments', { ...CARD, ...card })
  return res.body.purchase_id
}

/** A 3DS payment whose payer never comes back from the bank's page. */
async function abandoned (shop: Shop, result: 'approve' | 'fail' = 'approve'): Promise<string> {
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  await shop.sim.completeThreeDS(res.body.purchase_id, result)
  await shop.sim.idle()
  return res.body.purchase_id
}

function snapshot (sim: Simulator, id: string): Purchase {
  return structuredClone(sim.purchases.get(id)!)
}

function logLines (shop: Shop): Array<Record<string, any>> {
  return shop.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean).map((line) => JSON.parse(line)))
}

function statuses (sim: Simulator, kind: 'webhook' | 'success_callback' = 'webhook'): Array<number | null> {
  return sim.deliveries.filter((d) => d.kind === kind).map((d) => d.statusCode)
}

test('abandoned 3DS: the bank approves, the webhook reports it exactly once', async (t) => {
  const shop = await webhookShop(t)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const id = await abandoned(shop)

  t.same(statuses(shop.sim), [200, 200], 'pending_execute and paid, both accepted at once')
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, status: 'executed', source: 'webhook', reference: 'order-42', purchase: { id, status: 'paid' } }])
  t.notOk('event_type' in shop.events.executed[0].purchase!, 'the purchase as the gateway describes it, without the envelope field')
  t.same(shop.events.webhook.map((e) => [e.eventType, e.status, e.source, e.purchaseId]), [
    ['purchase.pending_execute', 'pending_execute', 'webhook', id],
    ['purchase.paid', 'paid', 'webhook', id]
  ])
  t.equal(shop.events.webhook[1].body.id, id)
  t.notOk('event_type' in shop.events.webhook[1].body)

  t.test('the payer comes back late: the TermUrl finds it reported already', async (t) => {
    const threeDS = shop.events.threeDS[0]
    const { termUrl, body } = await passAcs(shop, threeDS.redirectUrl, 'approve')
    const back = await postTermUrl(termUrl, body)
    t.match(back.location, /^https:\/\/shop\.example\/paid/)
    await firedExactly(t, shop, 'onExecuted', id, 1)
  })

  t.test('a replay of a delivery answers 200 and fires nothing', async (t) => {
    const paidDelivery = shop.sim.deliveries.find((d) => d.eventType === 'purchase.paid')!
    const again = await deliver(`${shop.url}/qorepay/webhook`, paidDelivery.body, { 'x-signature': paidDelivery.signature })
    t.equal(again.statusCode, 200)
    t.same(again.json, { ok: true })
    t.equal(shop.events.webhook.length, 2)
    await firedExactly(t, shop, 'onExecuted', id, 1)
  })
})

test('abandoned 3DS and the bank refuses: onFailed from the webhook, with the gateway\'s code', async (t) => {
  const shop = await webhookShop(t)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const id = await abandoned(shop, 'fail')
  await firedExactly(t, shop, 'onFailed', id, [{ purchaseId: id, status: 'error', source: 'webhook', error: { code: '3ds_failed' } }])
  await firedExactly(t, shop, 'onExecuted', id, 0)
})

test('executed by the direct answer: the webhook\'s purchase.paid fires onWebhook only', async (t) => {
  const shop = await webhookShop(t)
  const id = await paid(shop)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  await shop.sim.emit(id, 'purchase.paid')
  t.same(statuses(shop.sim), [200])
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'direct' }])
  t.match(shop.events.webhook, [{ purchaseId: id, eventType: 'purchase.paid', source: 'webhook' }])
})

test('duplicate delivery mode: every event fires onWebhook once, the outcome once', async (t) => {
  const shop = await webhookShop(t)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  shop.sim.deliveryMode.duplicate = true
  const id = await abandoned(shop)
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'webhook' }])
  t.equal(shop.events.webhook.filter((e) => e.eventType === 'purchase.paid').length, 1)
  t.equal(shop.events.webhook.filter((e) => e.eventType === 'purchase.pending_execute').length, 1)
  const final = new Map<string, number>()
  for (const d of shop.sim.deliveries) if (d.kind === 'webhook' && d.statusCode === 200) final.set(d.eventType, (final.get(d.eventType) ?? 0) + 1)
  t.same(Object.fromEntries(final), { 'purchase.pending_execute': 2, 'purchase.paid': 2 }, 'both copies of each event end in a 200')
  t.equal(shop.sim.purchases.get(id)?.status, 'paid')
})

test('concurrent identical deliveries: the second waits (503 + Retry-After) while the first runs, then settles with 200', async (t) => {
  const webhooks: WebhookEvent[] = []
  // The subtest's own event waits for its gate, so the machine's speed cannot let a copy arrive after it is done.
  let openGate = (): void => {}
  const gate = new Promise<void>((resolve) => { openGate = resolve })
  const shop = await webhookShop(t, {
    plugin: { onWebhook: async (event) => { await (event.eventType === 'purchase.captured' ? gate : sleep(100)); webhooks.push(event) } }
  })
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  shop.sim.deliveryMode.duplicate = true
  const id = await abandoned(shop)
  t.equal(webhooks.filter((e) => e.eventType === 'purchase.paid').length, 1)
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'webhook' }])
  t.ok(statuses(shop.sim).includes(503), 'a concurrent copy was told to come back')
  t.equal(statuses(shop.sim).filter((s) => s === 200).length, 4, 'every copy ends in a 200')

  t.test('ten at once from our side, one fires', async (t) => {
    const id = await paid(shop)
    await shop.sim.idle()
    // Not the simulator's bytes: a fresh event.
    const body = JSON.stringify({ ...snapshot(shop.sim, id), event_type: 'purchase.captured' })
    let answered = 0
    const sent = Array.from({ length: 10 }, () => deliver(`${shop.url}/qorepay/webhook`, body, { 'x-signature': ownSignature(body) }).then((a) => {
      if (++answered === 9) openGate()
      return a
    }))
    const answers = await Promise.all(sent)
    t.equal(answers.filter((a) => a.statusCode === 200).length, 1)
    const waiting = answers.filter((a) => a.statusCode === 503)
    t.equal(waiting.length, 9)
    t.equal(waiting[0].headers['retry-after'], '1')
    t.same(waiting[0].json, { ok: false, status: 'in_progress' })
    const retry = await deliver(`${shop.url}/qorepay/webhook`, body, { 'x-signature': ownSignature(body) })
    t.equal(retry.statusCode, 200)
    t.equal(webhooks.filter((e) => e.purchaseId === id && e.eventType === 'purchase.captured').length, 1)
  })
})

test('an outcome hook running for another path answers 503 until it is done', async (t) => {
  let calls = 0
  const shop = await webhookShop(t, { plugin: { onExecuted: async () => { calls++; await sleep(200) } } })
  const id = await abandoned(shop)
  const purchase = snapshot(shop.sim, id)
  const first = deliverOwn(shop, { ...purchase, event_type: 'purchase.paid' })
  await sleep(50)
  const second = await deliverOwn(shop, { ...purchase, event_type: 'purchase.captured' })
  t.equal(second.statusCode, 503)
  t.equal(second.headers['retry-after'], '1')
  t.equal((await first).statusCode, 200)
  const retry = await deliverOwn(shop, { ...purchase, event_type: 'purchase.captured' })
  t.equal(retry.statusCode, 200)
  t.equal(calls, 1)
})

test('out of order: a failure reported after the payment was executed fires nothing', async (t) => {
  const shop = await webhookShop(t)
  const id = await paid(shop)
  const failure = { ...snapshot(shop.sim, id), status: 'error', reference: null, event_type: 'purchase.payment_failure' }
  const res = await deliverOwn(shop, failure)
  t.equal(res.statusCode, 200)
  await firedExactly(t, shop, 'onFailed', id, 0)
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'direct' }])
  t.strictSame(shop.events.webhook.map((e) => [e.purchaseId, e.eventType, e.status]), [[id, 'purchase.payment_failure', 'error']], 'onWebhook still sees the event')
})

test('out of order: a failure reported after the purchase was authorized fires nothing', async (t) => {
  const shop = await webhookShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, skip_capture: true, success_callback: `${shop.url}/sink` }) } })
  const id = await paid(shop)
  t.equal(shop.sim.purchases.get(id)?.status, 'hold')
  const failure = { ...snapshot(shop.sim, id), status: 'error', event_type: 'purchase.payment_failure' }
  const res = await deliverOwn(shop, failure)
  t.equal(res.statusCode, 200)
  t.same(res.json, { ok: true })
  await firedExactly(t, shop, 'onFailed', id, 0)
  await firedExactly(t, shop, 'onAuthorized', id, [{ source: 'direct', authorization: 'hold' }])
  t.strictSame(shop.events.webhook.map((e) => [e.purchaseId, e.eventType, e.status]), [[id, 'purchase.payment_failure', 'error']], 'onWebhook still sees the event')
})

test('out of order from the simulator: captured before hold reports executed, the late hold is stale', async (t) => {
  const shop = await webhookShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, skip_capture: true, success_callback: `${shop.url}/sink` }) } })
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  shop.sim.deliveryMode.outOfOrder = true
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const id = res.body.purchase_id
  await shop.sim.completeThreeDS(id, 'approve')
  t.equal(shop.sim.purchases.get(id)?.status, 'hold')
  await shop.app.qorepay.capture(id)
  shop.sim.deliveryMode.outOfOrder = false
  await shop.sim.idle()
  t.same(shop.sim.deliveries.filter((d) => d.kind === 'webhook').map((d) => d.eventType), ['purchase.captured', 'purchase.hold', 'purchase.pending_execute'])
  t.same(statuses(shop.sim), [200, 200, 200])
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'webhook' }])
  await firedExactly(t, shop, 'onAuthorized', id, 0, 'authorized after executed is stale')
})

test('forward by what is known: onExecuted throws, a signed late payment_failure fires nothing, and onExecuted completes on the retry', async (t) => {
  let executedCalls = 0
  const executed: OutcomeEvent[] = []
  const shop = await webhookShop(t, {
    plugin: {
      reconcile: false,
      onExecuted: async (event) => {
        if (++executedCalls === 1) throw new Error('executed hook down')
        executed.push(event)
      }
    }
  })
  const id = await abandoned(shop)
  const purchase = snapshot(shop.sim, id)
  const paidEvent = { ...purchase, event_type: 'purchase.paid' }
  t.same((await deliverOwn(shop, paidEvent)).json, { ok: false, status: 'hook_failed' }, 'onExecuted threw; nothing is marked done')
  const failure = { ...purchase, status: 'error', event_type: 'purchase.payment_failure' }
  const late = await deliverOwn(shop, failure)
  t.equal(late.statusCode, 200, 'acknowledged')
  t.equal(shop.events.failed.length, 0, 'the purchase is known executed: the failure is stale')
  t.equal((await deliverOwn(shop, paidEvent)).statusCode, 200, 'the gateway\'s retry of purchase.paid')
  await shop.sim.idle()
  t.equal(executedCalls, 2)
  t.equal(executed.length, 1, 'onExecuted completed once')
  t.equal(shop.events.failed.length, 0, 'onFailed never fired')
  t.equal((await deliverOwn(shop, failure)).statusCode, 200)
  t.equal(shop.events.failed.length, 0, 'nor on a replay of the failure')
})

test('a store written before known marks: an outcome mark alone still makes a late failure stale', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await webhookShop(t, { plugin: { store, reconcile: false } })
  const id = await abandoned(shop)
  // What an older version left of an executed purchase: its done mark, no known mark.
  await store.set(`outcome:${id}:executed`, { state: 'done', at: Date.now() }, 3600_000)
  const failure = { ...snapshot(shop.sim, id), status: 'error', event_type: 'purchase.payment_failure' }
  t.equal((await deliverOwn(shop, failure)).statusCode, 200)
  t.equal(shop.events.failed.length, 0, 'stale')
  t.equal(shop.events.executed.length, 0)
})

test('a replay after the marks\' lifetime fires nothing: the delivery is older than any mark could be', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  // A lifetime of 1.5 s stands in for the default 400 days (and for the 7 days done marks used to live).
  const shop = await webhookShop(t, { plugin: Object.assign({ store, reconcile: false as const }, { [MARK_TIMES]: { lifetimeMs: 1500 } }) })
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook`, events: ['purchase.paid'] })
  const id = await abandoned(shop)
  t.same(statuses(shop.sim), [200])
  t.equal(shop.events.executed.length, 1)
  const captured = shop.sim.deliveries.find((d) => d.eventType === 'purchase.paid')!
  await sleep(1600)
  t.equal(await store.get(`outcome:${id}:executed`), undefined, 'the done mark is gone')
  const replay = await deliver(`${shop.url}/qorepay/webhook`, captured.body, { 'x-signature': captured.signature })
  t.equal(replay.statusCode, 200, 'acknowledged, so the sender stops')
  t.same(replay.json, { ok: true })
  t.equal(shop.events.webhook.length, 1, 'onWebhook did not fire again')
  t.equal(shop.events.executed.length, 1, 'onExecuted did not fire again')
  t.ok(logLines(shop).some((l) => l.level === 30 && l.purchaseId === id && /last changed longer ago than its marks live; acknowledged without firing$/.test(l.msg)))
})

test('deliveries older than the marks\' lifetime (400 days by updated_on) are acknowledged without firing; an old purchase\'s new event fires onWebhook only', async (t) => {
  const shop = await webhookShop(t, { plugin: { reconcile: false } })
  const id = await paid(shop)
  shop.events.webhook.length = 0
  const purchase = snapshot(shop.sim, id)
  const day = 24 * 3600
  const now = Math.floor(Date.now() / 1000)
  const ancient = { ...purchase, id: 'old-purchase', created_on: now - 402 * day, updated_on: now - 401 * day, event_type: 'purchase.paid' }
  const res = await deliverOwn(shop, ancient)
  t.equal(res.statusCode, 200)
  t.same(res.json, { ok: true })
  t.equal(shop.events.webhook.length, 0, 'onWebhook did not fire')
  t.equal(shop.events.executed.length, 1, 'only the direct answer of the other purchase')

  const refunded = { ...ancient, status: 'settled', updated_on: now, event_type: 'purchase.settled' }
  t.equal((await deliverOwn(shop, refunded)).statusCode, 200)
  t.match(shop.events.webhook, [{ purchaseId: 'old-purchase', eventType: 'purchase.settled' }], 'a new event of an old purchase reaches onWebhook')
  t.equal(shop.events.executed.length, 1, 'but its outcome, reported when it was new, is not reported again')
  t.ok(logLines(shop).some((l) => l.purchaseId === 'old-purchase' && /created longer ago than its outcome marks live; no outcome reported$/.test(l.msg)))

  const recent = { ...ancient, id: 'recent-purchase', created_on: now - 399 * day, updated_on: now - 399 * day }
  t.equal((await deliverOwn(shop, recent)).statusCode, 200)
  t.match(shop.events.executed.at(-1), { purchaseId: 'recent-purchase', source: 'webhook' }, 'within the lifetime, a delivery fires')
})

test('olderThan: a delivery exactly the lifetime old is not older than it, a millisecond more is', async (t) => {
  const body = { updated_on: 1_700_000_000, created_on: 1_600_000_000 } as WirePurchase
  const lifetimeMs = 400 * 24 * 3600_000
  t.equal(olderThan(body, 'updated_on', lifetimeMs, 1_700_000_000_000 + lifetimeMs - 1), false)
  t.equal(olderThan(body, 'updated_on', lifetimeMs, 1_700_000_000_000 + lifetimeMs), false)
  t.equal(olderThan(body, 'updated_on', lifetimeMs, 1_700_000_000_000 + lifetimeMs + 1), true)
  t.equal(olderThan(body, 'created_on', lifetimeMs, 1_600_000_000_000 + lifetimeMs), false)
  t.equal(olderThan(body, 'created_on', lifetimeMs, 1_600_000_000_000 + lifetimeMs + 1), true)
})

test('a hook that throws: 500, and the gateway\'s retry completes it exactly once', async (t) => {
  let executedCalls = 0
  let webhookCalls = 0
  const done: string[] = []
  const shop = await webhookShop(t, {
    plugin: {
      onWebhook: async (event) => {
        if (event.eventType !== 'purchase.paid') return
        if (++webhookCalls === 1) throw new Error('webhook hook down')
        done.push(`webhook:${event.purchaseId}`)
      },
      onExecuted: async (event) => {
        if (++executedCalls === 1) throw new Error('executed hook down')
        done.push(`executed:${event.purchaseId}`)
      }
    }
  })
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook`, events: ['purchase.paid'] })
  const id = await abandoned(shop)
  t.same(statuses(shop.sim), [500, 500, 200], 'onWebhook failed, then onExecuted failed, then both done')
  t.same(done, [`webhook:${id}`, `executed:${id}`])
  t.equal(webhookCalls, 2)
  t.equal(executedCalls, 2)
  const failures = logLines(shop).filter((l) => l.level === 50 && /hook failed/.test(l.msg))
  t.same(failures.map((l) => l.hook), ['onWebhook', 'onExecuted'])
})

test('signatures: tampered, wrong key, missing, malformed: 401 and nothing happens', async (t) => {
  const sim = await newSim(t, { webhookAttempts: 2 })
  const shop = await webhookShop(t, { sim })
  const id = await paid(shop)
  shop.events.webhook.length = 0
  const url = `${shop.url}/qorepay/webhook`
  const body = JSON.stringify({ ...snapshot(sim, id), reference: 'secret-reference-7f3', event_type: 'purchase.paid' })
  const signature = ownSignature(body)
  const before = logLines(shop).length

  const tampered = await deliver(url, body.replace('"status":"paid"', '"status":"paid" '), { 'x-signature': signature })
  t.equal(tampered.statusCode, 401)
  t.match(tampered.json, { code: 'FST_QOREPAY_SIGNATURE', statusCode: 401, message: 'Invalid signature: mismatch X-Signature' })
  t.match((await deliver(url, body)).json, { code: 'FST_QOREPAY_SIGNATURE', message: /missing/ })
  t.match((await deliver(url, body, { 'x-signature': '' })).json, { message: /missing/ })
  t.match((await deliver(url, body, { 'x-signature': 'not base64!' })).json, { message: /malformed/ })
  t.match((await deliver(url, body, { 'x-signature': signature.slice(1) })).json, { message: /malformed/ })
  t.match((await deliver(url, body, { 'x-signature': 'AAAA' })).json, { message: /mismatch/ }, 'well-formed but too short')
  t.equal((await deliver(url, '', { 'x-signature': signature })).statusCode, 401, 'empty body')
  const bare = await request(url, { method: 'POST' })
  t.equal(bare.statusCode, 401, 'no body, no content type')
  await bare.body.dump()

  const lines = logLines(shop).slice(before)
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 8, 'one warning per refused delivery')
  t.match(warnings[0], { source: 'webhook', problem: 'mismatch', bytes: Buffer.byteLength(body) + 1, msg: 'qorepay: webhook refused: mismatch X-Signature' })
  t.notOk(lines.some((l) => JSON.stringify(l).includes('secret-reference-7f3')), 'the body is never logged')
  t.equal(shop.events.webhook.length, 0)
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'direct' }])

  t.test('a webhook signed by a key the shop does not have', async (t) => {
    sim.addWebhook({ url, newKey: true })
    await sim.emit(id, 'purchase.paid')
    t.same(statuses(sim), [401, 401])
    t.equal(shop.events.webhook.length, 0)
  })
})

test('key rotation: an array of PEMs verifies against each key', async (t) => {
  const sim = await newSim(t, { webhookAttempts: 2 })
  const rotated = sim.rotateWebhookKey()
  const shop = await webhookShop(t, { sim, plugin: { webhookPublicKey: [OWN_PEM, rotated] } })
  const id = await paid(shop)
  sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  await sim.emit(id, 'purchase.paid')
  t.same(statuses(sim), [200], 'signed with the new key: the second PEM')
  t.equal((await deliverOwn(shop, { ...snapshot(sim, id), event_type: 'purchase.captured' })).statusCode, 200, 'signed with the old key: the first PEM')
  t.equal(shop.events.webhook.length, 2)

  t.test('a rotation the shop was not told about is refused', async (t) => {
    sim.rotateWebhookKey()
    await sim.emit(id, 'purchase.paid')
    t.same(statuses(sim).slice(1), [401, 401])
    t.equal(shop.events.webhook.length, 2)
  })
})

test('malformed bodies with a valid signature: 400', async (t) => {
  const shop = await webhookShop(t)
  const url = `${shop.url}/qorepay/webhook`
  for (const [name, body, message] of [
    ['not JSON', '{"id": "x", ', 'the webhook body is not valid JSON'],
    ['an array', '[{"id":"x"}]', 'the webhook body is not an object with an id'],
    ['null', 'null', 'the webhook body is not an object with an id'],
    ['no id', '{"event_type":"purchase.paid"}', 'the webhook body is not an object with an id'],
    ['a number', '5', 'the webhook body is not an object with an id'],
    ['a string', '"x"', 'the webhook body is not an object with an id'],
    ['an id that is a number', '{"id":5,"type":"purchase","status":"paid","event_type":"purchase.paid"}', 'the webhook body is not an object with an id'],
    ['no event_type', '{"id":"x","type":"purchase","status":"paid"}', 'the webhook body has no event_type']
  ]) {
    const res = await deliver(url, body, { 'x-signature': ownSignature(body) })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json.code, 'FST_QOREPAY_VALIDATION', name)
    t.equal(res.json.message, message, name)
  }
  t.equal(shop.events.webhook.length, 0)
})

test('signed but not a Purchase or Payment: 400 naming the field, a warning, nothing marked, so the retry is handled', async (t) => {
  const shop = await webhookShop(t)
  const id = await paid(shop)
  const purchase = snapshot(shop.sim, id)
  const payment = await shop.app.qorepay.refund(id, 1000)
  const { status, ...noStatus } = purchase
  const cases: Array<[string, unknown, string]> = [
    ['a purchase without status', { ...noStatus, event_type: 'purchase.paid' }, 'the webhook body is not a Purchase: /status expected required property'],
    ['a status the platform does not document', { ...purchase, status: 'pending_whatever', event_type: 'purchase.paid' }, 'the webhook body is not a Purchase: /status expected union value'],
    ['HTML where the purchase details go', { ...purchase, purchase: '<html>', event_type: 'purchase.paid' }, 'the webhook body is not a Purchase: /purchase expected object'],
    ['a payment whose amount is text', { ...payment, amount: '10.00', event_type: 'payment.refunded' }, 'the webhook body is not a Payment: /amount expected integer'],
    ['an object of another type', { ...purchase, type: 'billing_template', event_type: 'billing_template.created' }, 'the webhook body is not a Purchase: /type expected'],
    ['a bare object with an id', { id: 'bt-1', event_type: 'purchase.paid' }, 'the webhook body is not a Purchase: /type expected required property']
  ]
  for (const [name, payload, message] of cases) {
    const body = JSON.stringify(payload)
    for (const attempt of ['first', 'the platform\'s retry']) {
      const res = await deliver(`${shop.url}/qorepay/webhook`, body, { 'x-signature': ownSignature(body) })
      t.equal(res.statusCode, 400, `${name}, ${attempt}`)
      t.match(res.json, { code: 'FST_QOREPAY_VALIDATION', message: new RegExp(`^${message}`) }, name)
    }
    const warning = logLines(shop).filter((l) => l.level === 40 && l.msg.startsWith('qorepay: webhook refused: ')).at(-1)
    t.match(warning, { source: 'webhook', msg: new RegExp(`^qorepay: webhook refused: ${message}.*; the gateway will retry it$`) }, `${name}: logged as a warning`)
  }
  t.notOk(logLines(shop).some((l) => /pending_whatever|<html>|10\.00/.test(JSON.stringify(l))), 'no value of the body is logged')
  t.equal(shop.events.webhook.length, 0, 'onWebhook never saw a body it could not read')
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'direct' }], 'the direct answer only')

  // The callback route reads the same way.
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: { toJSON: () => OWN_PEM } })
  const odd = await deliverOwn(shop, { ...purchase, status: 42 }, '/qorepay/callback')
  t.equal(odd.statusCode, 400)
  t.match(odd.json, { code: 'FST_QOREPAY_VALIDATION', message: /^the callback body is not a Purchase: \/status/ })

  // Once readable (the platform fixed, or the plugin upgraded), the same delivery is handled.
  const fixed = await deliverOwn(shop, { ...purchase, event_type: 'purchase.paid' })
  t.equal(fixed.statusCode, 200)
  t.match(shop.events.webhook, [{ purchaseId: id, status: 'paid', eventType: 'purchase.paid' }])
})

test('events without an outcome, refunds, other brands: onWebhook only', async (t) => {
  const shop = await webhookShop(t)
  const id = await paid(shop)
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const payment = await shop.app.qorepay.refund(id, 1000)
  const cancelled = await shop.app.qorepay.createPurchase({ ...PURCHASE, brand_id: CREDENTIALS.brandId })
  await shop.app.qorepay.cancel(cancelled.id)
  await shop.sim.idle()
  t.same(statuses(shop.sim), [200, 200])
  const refund = shop.events.webhook.find((e) => e.eventType === 'payment.refunded')!
  t.match(refund, { purchaseId: id, status: 'refunded', source: 'webhook', body: { id: payment.id, type: 'payment', amount: 1000 } })
  t.match(shop.events.webhook.find((e) => e.eventType === 'purchase.cancelled'), { purchaseId: cancelled.id, status: 'cancelled' })

  const loose = await deliverOwn(shop, { ...payment, id: 'payment-1', related_to: null, event_type: 'payment.refunded' })
  t.equal(loose.statusCode, 200)
  t.match(shop.events.webhook.at(-1), { purchaseId: 'payment-1', status: 'refunded' }, 'a payment not tied to a purchase is named by its own id')

  const other = await deliverOwn(shop, { ...snapshot(shop.sim, id), id: 'other-brand-purchase', brand_id: 'brand-other', status: 'paid', event_type: 'purchase.paid' })
  t.equal(other.statusCode, 200)
  t.match(shop.events.webhook.at(-1), { purchaseId: 'other-brand-purchase', eventType: 'purchase.paid' })
  t.equal(shop.events.executed.length, 1, "another brand's purchase reports no outcome")
  t.ok(logLines(shop).some((l) => /of another brand/.test(l.msg)))
  t.equal(shop.events.failed.length + shop.events.authorized.length, 0)
})

test('success_callback: verified with the company key, fetched once, refetched once on rotation', async (t) => {
  const shop = await webhookShop(t, { callback: 'plugin' })
  const first = await abandoned(shop)
  t.same(statuses(shop.sim, 'success_callback'), [200])
  await firedExactly(t, shop, 'onExecuted', first, [{ purchaseId: first, source: 'callback' }])
  t.match(shop.events.webhook, [{ purchaseId: first, source: 'callback', eventType: 'purchase.paid', status: 'paid' }])
  t.equal(shop.sim.count('public_key'), 1)

  const second = await paid(shop)
  await shop.sim.idle()
  t.same(statuses(shop.sim, 'success_callback'), [200, 200])
  t.equal(shop.sim.count('public_key'), 1, 'the key is cached')
  await firedExactly(t, shop, 'onExecuted', second, [{ source: 'direct' }])

  shop.sim.rotateCompanyKey()
  const third = await abandoned(shop)
  t.same(statuses(shop.sim, 'success_callback'), [200, 200, 200])
  t.equal(shop.sim.count('public_key'), 2, 'fetched again once after the rotation')
  await firedExactly(t, shop, 'onExecuted', third, [{ purchaseId: third, source: 'callback' }])

  t.test('a forged callback: 401, and no further fetch within the interval', async (t) => {
    const body = JSON.stringify(snapshot(shop.sim, third))
    const forged = await deliver(`${shop.url}/qorepay/callback`, body, { 'x-signature': ownSignature(body) })
    t.equal(forged.statusCode, 401)
    t.match(forged.json, { code: 'FST_QOREPAY_SIGNATURE', message: /mismatch/ })
    t.equal(shop.sim.count('public_key'), 2)
    const unsigned = await deliver(`${shop.url}/qorepay/callback`, body)
    t.equal(unsigned.statusCode, 401)
    t.match(logLines(shop).filter((l) => l.level === 40).map((l) => l.msg), ['qorepay: callback refused: mismatch X-Signature', 'qorepay: callback refused: missing X-Signature'])
  })
})

test('success_callback: while the company key cannot be fetched, 50 forged callbacks cost one fetch, and the real callback is retried', async (t) => {
  const shop = await webhookShop(t, { callback: 'plugin' })
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 500, count: 1000 })
  const body = JSON.stringify({ id: 'forged' })
  const forge = (): Promise<Answer> => deliver(`${shop.url}/qorepay/callback`, body, { 'x-signature': ownSignature(body) })
  const together = await Promise.all(Array.from({ length: 25 }, forge))
  const after = await Promise.all(Array.from({ length: 25 }, forge))
  t.same(new Set([...together, ...after].map((a) => a.statusCode)), new Set([502]))
  t.equal(shop.sim.count('public_key'), 3, 'one fetch (with its two retries) for 50 callbacks: at most one per 10 s')

  const id = await abandoned(shop)
  t.ok(statuses(shop.sim, 'success_callback').every((status) => status === 502), 'the real callback fails too, and the gateway retries it')
  t.equal(shop.sim.count('public_key'), 3, 'still no second fetch within the interval')
  t.same(shop.events.executed, [])
  t.ok(id)
})

test('success_callback: a company key that is no RSA PEM: 502, and the error log says the gateway was reached (sent: true, status 200)', async (t) => {
  const shop = await webhookShop(t, { callback: 'plugin' })
  // A JSON string (what the wire schema admits) that is no PEM.
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: '"no"', count: 1 })
  const body = JSON.stringify({ id: 'forged' })
  const res = await deliver(`${shop.url}/qorepay/callback`, body, { 'x-signature': ownSignature(body) })
  t.equal(res.statusCode, 502)
  t.same(res.json, { statusCode: 502, code: 'FST_QOREPAY_GATEWAY', error: 'Bad Gateway', message: 'QorePay answered an error: GET public_key/ did not answer an RSA public key in PEM format' })
  t.equal(shop.sim.count('public_key'), 1)
  const errors = logLines(shop).filter((l) => l.level === 50)
  t.equal(errors.length, 1)
  const { code, sent, gatewayStatus } = errors[0].err
  t.same({ code, sent, gatewayStatus }, { code: 'FST_QOREPAY_GATEWAY', sent: true, gatewayStatus: 200 }, 'what an operator reads: answered, not a request that never left')
})

test('without webhookPublicKey: no webhook route, a log line says why, the callback still works', async (t) => {
  const shop = await startShop(t, { plugin: { webhookPublicKey: undefined } })
  const res = await shop.post('/qorepay/webhook', { id: 'x' })
  t.equal(res.statusCode, 404)
  const line = logLines(shop).find((l) => /webhook is not registered/.test(l.msg))
  t.match(line, { level: 40, plugin: 'fastify-qorepay', msg: `qorepay: POST ${shop.url}/qorepay/webhook is not registered because webhookPublicKey is not set; outcomes of payers who leave the 3-D Secure page are then learnt only through the success callback` })
  const id = await abandoned(shop)
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'callback' }])
})

test('a bad webhookPublicKey fails registration naming the option', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string
  for (const [key, message] of [
    ['not a pem', 'Invalid qorepay option webhookPublicKey: expected an RSA public key in PEM format'],
    [[OWN_PEM, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'], 'Invalid qorepay option webhookPublicKey[1]: expected an RSA public key in PEM format'],
    [ec, 'Invalid qorepay option webhookPublicKey: expected an RSA public key in PEM format']
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => await app.register(qorepay, {
      ...CREDENTIALS,
      publicUrl: 'https://shop.example',
      successRedirect: 'https://shop.example/ok',
      failureRedirect: 'https://shop.example/ko',
      webhookPublicKey: key as string | string[],
      purchase: async () => PURCHASE
    }), { code: 'FST_QOREPAY_CONFIG', message })
  }
})

test('a host with its own JSON parser and formbody: the webhook still sees raw bytes, the host keeps its parsers', async (t) => {
  const shop = await webhookShop(t, {
    host: async (app) => {
      await app.register(formbody)
      // Re-serialises what it parses: a signature over these bytes would never verify.
      app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        done(null, { hostParsed: true, ...JSON.parse(body as string) })
      })
      app.post('/host/json', async (req) => req.body)
      app.post('/host/form', async (req) => req.body)
    }
  })
  shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const id = await abandoned(shop)
  t.same(statuses(shop.sim), [200, 200])
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'webhook' }])
  t.notOk('hostParsed' in shop.events.webhook[0].body)
  t.same((await shop.post('/host/json', { a: 1 })).body, { hostParsed: true, a: 1 })
  t.same((await shop.post('/host/form', 'b=2')).body, { b: '2' })
  const sent = await deliverOwn(shop, { ...snapshot(shop.sim, id), event_type: 'purchase.paid' })
  t.equal(sent.statusCode, 200)
  const form = await deliver(`${shop.url}/qorepay/webhook`, 'a=1', { 'content-type': 'application/x-www-form-urlencoded', 'x-signature': ownSignature('a=1') })
  t.equal(form.statusCode, 400, 'any content type arrives as bytes: verified, then refused as not JSON')
})

test('bodies over the limit are refused before anything else', async (t) => {
  const shop = await webhookShop(t)
  const big = JSON.stringify({ id: 'x', event_type: 'purchase.paid', pad: 'x'.repeat(1024 * 1024) })
  const res = await deliver(`${shop.url}/qorepay/webhook`, big, { 'x-signature': ownSignature(big) })
  t.equal(res.statusCode, 413)
  t.equal(shop.events.webhook.length, 0)
})

/** A MemoryStore whose operations fail on demand, as a Redis outage would. */
function flakyStore (): { store: SessionStore, inner: MemoryStore, fail: { claim: boolean, setWebhookDone: boolean } } {
  const inner = new MemoryStore()
  const fail = { claim: false, setWebhookDone: false }
  const store: SessionStore = {
    get: (key) => inner.get(key),
    take: (key) => inner.take(key),
    delete: (key) => inner.delete(key),
    async claim (key, value, ttl) {
      if (fail.claim) throw new Error('connection refused')
      return await inner.claim(key, value, ttl)
    },
    async set (key, value, ttl) {
      if (fail.setWebhookDone && key.startsWith('webhook:')) throw new Error('connection refused')
      return await inner.set(key, value, ttl)
    }
  }
  return { store, inner, fail }
}

test('store failures: 503 so the gateway retries; a lost done mark keeps duplicates waiting', async (t) => {
  const { store, inner, fail } = flakyStore()
  const shop = await webhookShop(t, { plugin: { store, reconcile: false } })
  t.teardown(() => inner.close())
  const id = await paid(shop)
  const event = { ...snapshot(shop.sim, id), event_type: 'purchase.paid' }

  fail.claim = true
  const down = await deliverOwn(shop, event)
  t.equal(down.statusCode, 503)
  t.match(down.json, { code: 'FST_QOREPAY_STORE_UNAVAILABLE' })
  t.equal(shop.events.webhook.length, 0)

  fail.claim = false
  fail.setWebhookDone = true
  const up = await deliverOwn(shop, event)
  t.equal(up.statusCode, 200, 'the hook ran and the outcome was settled')
  t.equal(shop.events.webhook.length, 1)
  t.ok(logLines(shop).some((l) => l.level === 50 && /could not mark webhook:[0-9a-f]{64} done/.test(l.msg)))
  const again = await deliverOwn(shop, event)
  t.equal(again.statusCode, 503, 'still marked running: a duplicate waits rather than firing twice')
  t.equal(shop.events.webhook.length, 1)
})

test('callbacks without event_type are purchase.paid; the same bytes on both routes are two deliveries', async (t) => {
  const shop = await webhookShop(t)
  // The gateway's public_key/ answers our PEM: callbacks we sign are then the company's.
  // (toJSON: the body is sent JSON-encoded, a quoted PEM string, as the real endpoint answers.)
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: { toJSON: () => OWN_PEM } })
  const id = await abandoned(shop)
  const purchase = snapshot(shop.sim, id)
  const bare = await deliverOwn(shop, purchase, '/qorepay/callback')
  t.equal(bare.statusCode, 200)
  t.match(shop.events.webhook.at(-1), { purchaseId: id, source: 'callback', eventType: 'purchase.paid', status: 'paid' })
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'callback' }])

  const event = { ...purchase, event_type: 'purchase.paid' }
  t.equal((await deliverOwn(shop, event, '/qorepay/callback')).statusCode, 200)
  t.equal((await deliverOwn(shop, event, '/qorepay/webhook')).statusCode, 200)
  t.same(shop.events.webhook.slice(-2).map((e) => e.source), ['callback', 'webhook'])
  await firedExactly(t, shop, 'onExecuted', id, [{ source: 'callback' }])
  t.equal(shop.sim.count('public_key'), 1)
})

test('event types: a delivery names one of the platform\'s events for its body, or is refused with 400 for the retry', async (t) => {
  const shop = await webhookShop(t)
  const id = await paid(shop)
  await shop.sim.idle()
  const purchase = snapshot(shop.sim, id)
  const payment = await shop.app.qorepay.refund(id, 1000)
  if (payment.type !== 'payment') throw new Error('the simulator answers a refund with its Payment')
  // The company key is ours for the callback route too.
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: { toJSON: () => OWN_PEM } })
  const refused: Array<[string, unknown, string, string]> = [
    ['an event the platform does not document', { ...purchase, event_type: 'purchase.teleported' }, '/qorepay/webhook', 'the webhook event_type is not an event of a Purchase the platform documents'],
    ['a payment event with a Purchase', { ...purchase, event_type: 'payment.refunded' }, '/qorepay/webhook', 'the webhook event_type is not an event of a Purchase the platform documents'],
    ['a purchase event with a Payment', { ...payment, event_type: 'purchase.paid' }, '/qorepay/webhook', 'the webhook event_type is not an event of a Payment the platform documents'],
    ['a Payment to the success callback', { ...payment }, '/qorepay/callback', 'the callback event_type is not an event of a Payment the platform documents'],
    ['a Payment with a payment event to the success callback', { ...payment, event_type: 'payment.refunded' }, '/qorepay/callback', 'the callback event_type is not an event of a Payment the platform documents']
  ]
  for (const [name, payload, path, message] of refused) {
    const res = await deliverOwn(shop, payload, path)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json.code, 'FST_QOREPAY_VALIDATION', name)
    t.equal(res.json.message, message, name)
  }
  t.equal(shop.events.webhook.length, 0, 'onWebhook saw none of them')

  const chargeback = await deliverOwn(shop, { ...payment, event_type: 'payment.charged_back' })
  t.equal(chargeback.statusCode, 200)
  t.equal(shop.events.webhook.length, 1)
  const [event] = shop.events.webhook
  t.equal(event.eventType, 'payment.charged_back')
  t.equal(event.status, 'chargeback', 'what the purchase becomes, a PurchaseStatus')
  t.equal(event.purchaseId, id, 'named by its purchase')
  t.equal(event.body.id, payment.id)
})
