import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import type { Simulator } from '../../lib/simulator/index.js'
import { CARD } from '../helpers/shop.js'
import { startReceiver, startSim, type Receiver } from '../helpers/simulator.js'
import { redisSkip, redisTestOptions } from '../helpers/redis.js'
import { QUEUE, until } from '../helpers/reconcile.js'
import { startHost } from '../helpers/child-host.js'

const FAST = { schedule: [0.05, 0.05, 0.05, 0.05, 0.05], interval: 0.02 }

function hostEnv (sim: Simulator, reports: Receiver, callbacks: Receiver, extra: Record<string, string>): Record<string, string> {
  return { QP_BASE_URL: sim.baseUrl, QP_REPORT_URL: reports.url, QP_CALLBACK_URL: callbacks.url, QP_RECONCILE: JSON.stringify(FAST), ...extra }
}

const reported = (reports: Receiver) => reports.received.map((r) => JSON.parse(r.body) as { pid: number, event: { purchaseId: string, source: string, status: string } })

const skip = await redisSkip()

test('a host killed with SIGKILL after the card post, restarted on the same Redis: reported once, by the new process', { skip }, async (t) => {
  const prefix = `test:reconcile:${randomUUID()}:`
  const redis = new Redis(redisTestOptions())
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  const sim = await startSim(t, { brandId: 'brand-test' })
  const reports = await startReceiver(t, '/reports')
  const callbacks = await startReceiver(t, '/not-the-shop')
  const env = hostEnv(sim, reports, callbacks, { QP_REDIS_PREFIX: prefix })

  // The first host never sweeps: it dies with the purchase tracked and not leased to it (a host that dies
  // mid-sweep holds what it leased until the lease ends, README "Reconciliation").
  const first = await startHost({ ...env, QP_RECONCILE: JSON.stringify({ ...FAST, interval: 0 }) })
  // The gateway charges the card and its answer never comes back: the host dies waiting for it.
  sim.inject({ route: 'direct_post', kind: 'hang', process: true })
  const paying = request(`${first.url}/qorepay/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CARD) }).catch((err: Error) => err)
  await until(() => sim.count('direct_post') === 1, 'the card post')
  const [purchase] = [...sim.purchases.values()]
  t.equal(purchase.status, 'paid', 'charged at the gateway')
  first.child.kill('SIGKILL')
  t.equal(await first.exit, null, 'killed')
  t.ok(await paying instanceof Error, 'the payer got no answer')
  t.equal(reports.received.length, 0, 'no hook ran in the killed process')
  t.equal(await redis.zcard(`${prefix}queue:${QUEUE}`), 1, 'tracked in Redis before the card was sent')

  const second = await startHost(env)
  t.teardown(() => second.child.kill('SIGKILL'))
  await until(() => reports.received.length > 0, 'the report by the new process')
  await until(async () => await redis.zcard(`${prefix}queue:${QUEUE}`) === 0, 'tracking to stop')
  t.same(await redis.keys(`${prefix}reconcile:*`), [], 'no tracking record left')
  second.child.stdin?.write('close\n')
  t.equal(await second.exit, 0, 'the new process closes and exits by itself')
  t.equal(reports.received.length, 1, 'reported once')
  t.match(reported(reports)[0], { pid: second.child.pid, event: { purchaseId: purchase.id, status: 'executed', source: 'reconcile' } })
  t.equal(callbacks.received.length, 1, 'the success callback went elsewhere')
})

test('onClose stops a sweep in flight: the host exits by itself, no timer or socket left behind', async (t) => {
  const sim = await startSim(t, { brandId: 'brand-test' })
  const reports = await startReceiver(t, '/reports')
  const callbacks = await startReceiver(t, '/not-the-shop')
  const host = await startHost(hostEnv(sim, reports, callbacks, {}))
  t.teardown(() => host.child.kill('SIGKILL'))
  const res = await request(`${host.url}/qorepay/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...CARD, card_number: TEST_CARDS.threeDSPost }) })
  t.equal(((await res.body.json()) as { status: string }).status, '3DS_required')
  // The timer's sweep looks the purchase up, and the gateway never answers.
  sim.inject({ route: 'purchases.get', kind: 'hang', count: Infinity })
  await until(() => sim.count('purchases.get') === 1, 'a lookup in flight')
  host.child.stdin?.write('close\n')
  t.equal(await host.exit, 0, 'exited on its own: no timer or socket of the plugin keeps its event loop alive')
  t.match(host.stdout, /closed\n$/, 'after onClose resolved')
  t.equal(sim.count('purchases.get'), 1, 'no lookup after close')
})
