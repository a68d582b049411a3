import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { Redis } from 'ioredis'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { CARD } from '../helpers/shop.js'
import { startSim } from '../helpers/simulator.js'
import { redisSkip, redisTestOptions } from '../helpers/redis.js'
import { QUEUE, lookupsAt, reconcilingShop } from '../helpers/reconcile.js'
import type { SweepResult } from '../../lib/reconcile/sweeper.js'

const skip = await redisSkip()
const PURCHASES = 200

test('two instances on one Redis sweep the same 200 tracked purchases: each looked up once per due time, each reported once', { skip }, async (t) => {
  const prefix = `test:reconcile:${randomUUID()}:`
  const clients = [new Redis(redisTestOptions()), new Redis(redisTestOptions())]
  t.teardown(async () => {
    const keys = await clients[0].keys(`${prefix}*`)
    if (keys.length > 0) await clients[0].del(...keys)
    await Promise.all(clients.map((c) => c.quit()))
  })
  const sim = await startSim(t, { apiKey: 'test-api-key', s2sToken: 'test-s2s-token', brandId: 'brand-test' })
  // A first step long enough to create them all, a second long enough to sweep them all once.
  const reconcile = { schedule: [1, 5, 60], interval: 0, batch: 50 }
  const [a, b] = await Promise.all(clients.map((client) => reconcilingShop(t, { store: new RedisStore({ client, prefix }), reconcile }, { sim })))

  const ids: string[] = []
  for (let i = 0; i < PURCHASES; i += 10) {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? a : b).post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })))
    ids.push(...answers.map((r) => r.body.purchase_id as string))
  }
  t.equal(await clients[0].zcard(`${prefix}queue:${QUEUE}`), PURCHASES, 'every purchase tracked, whichever instance created it')
  await sleep(reconcile.schedule[0] * 1000) // the first step: all 200 are due at once

  /** Both instances sweep at once, again and again, until `done`. */
  async function sweepBoth (done: (sum: SweepResult) => boolean): Promise<SweepResult[]> {
    const sums = [{ checked: 0, reported: 0, pending: 0 }, { checked: 0, reported: 0, pending: 0 }]
    const total = () => ({ checked: sums[0].checked + sums[1].checked, reported: sums[0].reported + sums[1].reported, pending: sums[0].pending + sums[1].pending })
    while (!done(total())) {
      const both = await Promise.all([a.app.qorepay.reconcile(), b.app.qorepay.reconcile()])
      both.forEach((one, i) => {
        t.ok(one.checked <= reconcile.batch, 'at most batch lookups per sweep')
        sums[i].checked += one.checked
        sums[i].reported += one.reported
        sums[i].pending += one.pending
      })
      await sleep(10)
    }
    return sums
  }

  // First due time: all undecided (the payers are at their banks).
  const first = await sweepBoth((s) => s.checked >= PURCHASES)
  t.same(first[0].checked + first[1].checked, PURCHASES, 'each looked up once')
  t.ok(first[0].checked > 0 && first[1].checked > 0, 'both instances took part')
  t.same(ids.map((id) => lookupsAt(sim).get(id)), ids.map(() => 1), 'one lookup each, at the first due time')

  // The banks approve; at the second due time each is reported once.
  for (const id of ids) await sim.completeThreeDS(id, 'approve')
  const second = await sweepBoth((s) => s.reported >= PURCHASES)
  t.same(second[0].checked + second[1].checked, PURCHASES)
  t.same(ids.map((id) => lookupsAt(sim).get(id)), ids.map(() => 2), 'one more lookup each, at the second due time')
  const executed = [...a.events.executed, ...b.events.executed]
  t.equal(executed.length, PURCHASES, 'each reported once')
  t.same(new Set(executed.map((e) => e.purchaseId)), new Set(ids))
  t.ok(executed.every((e) => e.source === 'reconcile'))
  t.equal(await clients[0].zcard(`${prefix}queue:${QUEUE}`), 0, 'nothing left tracked')
})
