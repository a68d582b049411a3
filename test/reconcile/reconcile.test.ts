import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { ExecutedEvent, FailedEvent } from '../../lib/events.js'
import { CARD, PURCHASE } from '../helpers/shop.js'
import { startReceiver } from '../helpers/simulator.js'
import { firedExactly } from '../helpers/outcomes.js'
import { QUEUE, counting, logLines, lookupsAt, reconcilingShop, recordKey, sweepUntil, until } from '../helpers/reconcile.js'

const THREE_DS = { ...CARD, card_number: TEST_CARDS.threeDSPost }

test('a payer who never returns from the bank, which approves, with no webhook: onExecuted once, source reconcile (by the timer)', async (t) => {
  const shop = await reconcilingShop(t, { reconcile: { schedule: [0.05, 0.05, 0.05, 0.05, 0.05], interval: 0.02 } })
  const res = await shop.post('/qorepay/payments', THREE_DS)
  t.equal(res.body.status, '3DS_required')
  const id: string = res.body.purchase_id
  // The payer closed the tab at the bank; the bank approved anyway.
  await shop.sim.completeThreeDS(id, 'approve')
  await until(() => shop.events.executed.length > 0, 'onExecuted')
  // Every later sweep finds nothing left to look up.
  const lookups = lookupsAt(shop.sim).get(id)!
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 })
  t.equal(lookupsAt(shop.sim).get(id), lookups, 'no lookup once reported')

  const [event] = await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, status: 'executed', source: 'reconcile', eventId: `${id}:executed`, reference: 'order-42', maskedPan: '555555******4444' }])
  t.equal(shop.events.failed.length + shop.events.authorized.length, 0)
  t.equal(event.purchase?.status, 'paid', 'the event carries the Purchase')
  t.equal(shop.sim.deliveries.filter((d) => d.url.startsWith(shop.url)).length, 0, 'nothing reached the shop but the lookups')
})

test('a card post whose answer is lost, still undecided at the lookup (202), decided later at the gateway: reported once', async (t) => {
  const shop = await reconcilingShop(t)
  shop.sim.inject({ route: 'direct_post', kind: 'reset' })
  const res = await shop.post('/qorepay/payments', THREE_DS)
  t.equal(res.statusCode, 202)
  t.same(res.body, { status: 'pending', purchase_id: res.body.purchase_id })
  const id: string = res.body.purchase_id

  const first = await sweepUntil(shop.app, (s) => s.checked > 0, 'the first lookup')
  t.same(first, { checked: 1, reported: 0, pending: 1 }, 'undecided: looked up, still tracked')
  t.equal(shop.events.executed.length, 0, 'no outcome invented')

  await shop.sim.completeThreeDS(id, 'approve')
  const later = await sweepUntil(shop.app, (s) => s.reported > 0, 'the report')
  t.same(later, { checked: 1, reported: 1, pending: 0 })
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 })
  await firedExactly(t, shop, 'onExecuted', id, [{ purchaseId: id, source: 'reconcile', eventId: `${id}:executed` }])
  t.equal(lookupsAt(shop.sim).get(id), 1 + 2, 'one lookup by the card post, one per due time')
})

test('onExecuted throwing once, no webhook: run again by the sweeper with the same eventId, then done', async (t) => {
  const runs: ExecutedEvent[] = []
  const shop = await reconcilingShop(t, {
    onExecuted: async (event) => {
      runs.push(event)
      if (runs.length === 1) throw new Error('the shop database is down')
    }
  })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.body.status, 'executed', 'the payer gets the right answer')
  t.equal(runs.length, 1)
  t.equal(logLines(shop.logs, 50, res.body.purchase_id).length, 1, 'the failure is logged with the purchase id')

  t.same(await sweepUntil(shop.app, (s) => s.reported > 0, 'the second run'), { checked: 1, reported: 1, pending: 0 })
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 }, 'done: no longer tracked')
  t.equal(runs.length, 2)
  t.strictSame(runs.map((e) => [e.source, e.eventId]), [['direct', `${res.body.purchase_id}:executed`], ['reconcile', `${res.body.purchase_id}:executed`]])
})

test('a purchase the gateway never decides: looked up once per step of the schedule, then dropped with one error line', async (t) => {
  const shop = await reconcilingShop(t)
  const res = await shop.post('/qorepay/payments', THREE_DS)
  const id: string = res.body.purchase_id
  const sum = await sweepUntil(shop.app, (s) => s.checked === 3, 'three lookups')
  t.same(sum, { checked: 3, reported: 0, pending: 2 }, 'pending after the first two, dropped at the third')
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 })
  t.equal(lookupsAt(shop.sim).get(id), 3)
  const errors = logLines(shop.logs, 50, id)
  t.equal(errors.length, 1, 'one error line')
  t.match(errors[0].msg, `purchase ${id} is still undecided after 3 lookups`)
  t.equal(shop.events.executed.length + shop.events.failed.length + shop.events.authorized.length, 0, 'no outcome invented')
})

test('abandoned 3-D Secure: the session expires, the gateway is undecided, it stays tracked until the gateway expires it', async (t) => {
  const shop = await reconcilingShop(t, { sessionTtl: 1, reconcile: { schedule: [0.05, 0.05, 0.05, 0.05, 0.05], interval: 0 } })
  const res = await shop.post('/qorepay/payments', THREE_DS)
  const id: string = res.body.purchase_id
  const page = new URL(res.body.redirect_url).pathname
  await until(async () => (await shop.get(page)).statusCode === 404, 'the 3DS session to expire')

  t.same(await sweepUntil(shop.app, (s) => s.checked > 0, 'a lookup'), { checked: 1, reported: 0, pending: 1 }, 'still tracked')
  shop.sim.purchases.get(id)!.status = 'expired'
  t.same(await sweepUntil(shop.app, (s) => s.checked > 0, 'the next lookup'), { checked: 1, reported: 0, pending: 0 })
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 }, 'no longer tracked')
  t.equal(shop.events.executed.length + shop.events.failed.length + shop.events.authorized.length, 0, 'no outcome invented')
  t.equal(logLines(shop.logs, 50, id).length, 0, 'not an error: the gateway decided')
})

test('a failed lookup counts as undecided and is retried on the schedule; at most `batch` lookups per sweep', async (t) => {
  const shop = await reconcilingShop(t, { retries: 0, reconcile: { schedule: [0.05, 0.05, 0.05, 0.05, 0.05], interval: 0, batch: 2 } })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await shop.post('/qorepay/payments', THREE_DS)).body.purchase_id)
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 503, count: Infinity })
  await sleep(50) // the first step of the schedule: all five are due
  t.same(await shop.app.qorepay.reconcile(), { checked: 2, reported: 0, pending: 2 }, 'the gateway is down: two looked up, still tracked')
  t.equal(shop.sim.count('purchases.get'), 2, 'batch lookups, no more')
  t.same(await shop.app.qorepay.reconcile(), { checked: 2, reported: 0, pending: 2 }, 'the next two')
  t.equal(shop.sim.count('purchases.get'), 4)
  t.ok(logLines(shop.logs, 40, ids[0]).some((l) => l.msg.includes('could not look up')), 'a warning names the purchase')

  shop.sim.clearFaults()
  for (const id of ids) await shop.sim.completeThreeDS(id, 'approve')
  const perSweep: number[] = []
  await until(async () => {
    const one = await shop.app.qorepay.reconcile()
    perSweep.push(one.checked)
    return shop.events.executed.length === 5
  }, 'all five reported')
  t.ok(perSweep.every((n) => n <= 2), 'at most batch lookups per sweep')
  t.same(shop.events.executed.map((e) => e.purchaseId).sort(), [...ids].sort(), 'each reported once')
})

test('a decline the gateway reports later, and an onFailed that always throws: retried on the schedule, then dropped', async (t) => {
  const failed: FailedEvent[] = []
  const shop = await reconcilingShop(t, { onFailed: async (event) => { failed.push(event); throw new Error('down') } })
  // A 3DS purchase the bank fails while the payer is away: the error code is the newest attempt's.
  const res = await shop.post('/qorepay/payments', THREE_DS)
  const id: string = res.body.purchase_id
  await shop.sim.completeThreeDS(id, 'fail')
  const sum = await sweepUntil(shop.app, (s) => s.checked === 3, 'three lookups')
  t.same(sum, { checked: 3, reported: 0, pending: 2 })
  t.equal(failed.length, 3)
  t.match(failed[0], { purchaseId: id, status: 'error', source: 'reconcile', eventId: `${id}:error`, error: { code: '3ds_failed' } })
  t.equal(logLines(shop.logs, 50, id).filter((l) => l.msg.includes('still undecided')).length, 1)
})

test('a saved-card payment left pending_charge by a slow acquirer, no webhook: reported once by reconciliation', async (t) => {
  const shop = await reconcilingShop(t)
  const elsewhere = await startReceiver(t, '/not-the-shop')
  const saved = await shop.post('/qorepay/payments', { ...CARD, remember_card: 'on' })
  t.equal(saved.body.status, 'executed')
  const token: string = saved.body.purchase_id
  shop.sim.slowAcquirer = true
  const result = await shop.app.qorepay.payWithSavedCard({ ...PURCHASE, reference: 'order-43', success_callback: elsewhere.url }, token)
  t.same(result, { status: 'pending', purchaseId: result.purchaseId })
  t.same(await sweepUntil(shop.app, (s) => s.checked > 0, 'a lookup'), { checked: 1, reported: 0, pending: 1 }, 'pending_charge: undecided')
  shop.sim.completePending(result.purchaseId)
  t.same(await sweepUntil(shop.app, (s) => s.reported > 0, 'the report'), { checked: 1, reported: 1, pending: 0 })
  await firedExactly(t, shop, 'onExecuted', result.purchaseId, [{ source: 'reconcile', reference: 'order-43', eventId: `${result.purchaseId}:executed` }])
})

test('reconcile: false: nothing tracked, no sweeps, no lookups', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const { store, calls } = counting(memory)
  const shop = await reconcilingShop(t, { store, reconcile: false })
  const res = await shop.post('/qorepay/payments', THREE_DS)
  await shop.sim.completeThreeDS(res.body.purchase_id, 'approve')
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 })
  t.equal(shop.sim.count('purchases.get'), 0)
  t.same([calls.schedule, calls.due, calls.unschedule], [undefined, undefined, undefined], 'no queue call ever')
  t.equal(shop.events.executed.length, 0)
})

test('onClose during a sweep: its lookups are aborted, what it held is due again at once, later sweeps do nothing', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const shop = await reconcilingShop(t, { store: memory })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push((await shop.post('/qorepay/payments', THREE_DS)).body.purchase_id)
  shop.sim.inject({ route: 'purchases.get', kind: 'hang', count: Infinity })
  await sleep(50) // the first step of the schedule: all five are due
  const sweep = shop.app.qorepay.reconcile()
  await until(() => shop.sim.count('purchases.get') === 4, 'four lookups in flight')
  await shop.app.close()
  t.same(await sweep, { checked: 0, reported: 0, pending: 0 }, 'abandoned, not counted')
  t.same((await memory.due(QUEUE, Date.now(), 10, 1000)).sort(), [...ids].sort(), 'every one is due again')
  for (const id of ids) t.match(await memory.get(recordKey(id)), { purchaseId: id, attempts: 0 }, 'its record untouched')
  t.same(await shop.app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 }, 'a closed plugin sweeps nothing')
  t.equal(shop.sim.count('purchases.get'), 4)
})

/** A MemoryStore that fails on demand, as a Redis outage would, for reconciliation's own calls. */
class FlakyStore extends MemoryStore {
  fail = { due: false, takeRecord: false, claim: false, readRecordOf: new Set<string>() }
  override async claim (key: string, value: unknown, ttlMs: number): Promise<boolean> {
    if (this.fail.claim) throw new Error('connection refused')
    return await super.claim(key, value, ttlMs)
  }

  override async due (queue: string, now: number, limit: number, leaseMs: number): Promise<string[]> {
    if (this.fail.due) throw new Error('connection refused')
    return await super.due(queue, now, limit, leaseMs)
  }

  override async get (key: string): Promise<unknown> {
    if (this.fail.readRecordOf.has(key)) throw new Error('connection refused')
    return await super.get(key)
  }

  override async take (key: string): Promise<unknown> {
    if (this.fail.takeRecord && key.startsWith(QUEUE)) throw new Error('connection refused')
    return await super.take(key)
  }
}

test('the store failing during a sweep: the sweep fails or the purchase waits for its lease, nothing is reported twice', async (t) => {
  const store = new FlakyStore()
  t.teardown(() => store.close())
  const shop = await reconcilingShop(t, { store })
  const [gone, later, decided] = await Promise.all([0, 1, 2].map(async () => (await shop.post('/qorepay/payments', THREE_DS)).body.purchase_id as string))
  await sleep(50) // the first step of the schedule: all three are due

  store.fail.due = true
  await t.rejects(shop.app.qorepay.reconcile(), { code: 'FST_QOREPAY_STORE_UNAVAILABLE' }, 'no due-queue: the sweep fails')
  store.fail.due = false

  // A member whose record is gone (stopped meanwhile) is dropped from the queue, not looked up.
  await store.delete(recordKey(gone))
  store.fail.readRecordOf = new Set([recordKey(later), recordKey(decided)])
  t.same(await shop.app.qorepay.reconcile(), { checked: 2, reported: 0, pending: 2 }, 'the other two could not be read: still tracked')
  t.equal(shop.sim.count('purchases.get'), 0)
  t.ok(logLines(shop.logs, 50, later).some((l) => l.msg.includes('tried again when its lease ends')))
  store.fail.readRecordOf.clear()
  t.same(await store.due(QUEUE, Date.now(), 10, 1), [], 'both leased, the gone one unscheduled')

  // Reported, but the store cannot stop tracking it: the next lookup finds the outcome done and stops it then.
  await shop.sim.completeThreeDS(decided, 'approve')
  await store.schedule(QUEUE, decided, Date.now())
  store.fail.takeRecord = true
  t.same(await shop.app.qorepay.reconcile(), { checked: 1, reported: 1, pending: 0 })
  t.ok(logLines(shop.logs, 40, decided).some((l) => l.msg.includes('could not stop being tracked')))
  store.fail.takeRecord = false
  await store.schedule(QUEUE, decided, Date.now())
  t.same(await shop.app.qorepay.reconcile(), { checked: 1, reported: 0, pending: 0 }, 'a duplicate: stopped, not reported again')
  t.equal(shop.events.executed.length, 1)
  t.equal(await store.get(recordKey(decided)), undefined)
})

test('the store failing when the card post\'s outcome is reported: the payer gets the truth, reconciliation reports it later, once', async (t) => {
  const store = new FlakyStore()
  t.teardown(() => store.close())
  const shop = await reconcilingShop(t, { store })
  store.fail.claim = true
  const res = await shop.post('/qorepay/payments', CARD)
  t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id }, 'tracked before the card post, so the card was sent')
  t.ok(logLines(shop.logs, 50, res.body.purchase_id).some((l) => l.msg.includes('could not report executed')))
  t.equal(shop.events.executed.length, 0)
  store.fail.claim = false
  t.same(await sweepUntil(shop.app, (s) => s.reported > 0, 'the report'), { checked: 1, reported: 1, pending: 0 })
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, source: 'reconcile' }])
})

test('onClose stops the timer: no sweep after it', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const { store, calls } = counting(memory)
  const shop = await reconcilingShop(t, { store, reconcile: { schedule: [0.05], interval: 0.01 } })
  await until(() => (calls.due ?? 0) >= 2, 'two sweeps on the timer')
  await shop.app.close()
  const sweeps = calls.due
  await sleep(50) // five intervals
  t.equal(calls.due, sweeps, 'the timer is gone')
})

test('a failing sweep on the timer is logged, and the timer goes on', async (t) => {
  const store = new FlakyStore()
  t.teardown(() => store.close())
  store.fail.due = true
  const shop = await reconcilingShop(t, { store, reconcile: { schedule: [0.05], interval: 0.01 } })
  await until(() => shop.logs.filter((l) => l.includes('reconciliation sweep failed')).length >= 2, 'two failed sweeps')
  t.pass('each failure logged; the next sweep still ran')
})
