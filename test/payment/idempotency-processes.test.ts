import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { CARD } from '../helpers/shop.js'
import { startReceiver, startSim } from '../helpers/simulator.js'
import { redisSkip, redisTestOptions } from '../helpers/redis.js'
import { until } from '../helpers/reconcile.js'
import { startHost, type Host } from '../helpers/child-host.js'

const skip = await redisSkip()

async function pay (host: Host, key: string): Promise<{ statusCode: number, body: { status: string, purchase_id: string } }> {
  const res = await request(`${host.url}/qorepay/payments`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(CARD) })
  return { statusCode: res.statusCode, body: await res.body.json() as { status: string, purchase_id: string } }
}

test('a host killed with SIGKILL during the card post; the retry under its key on a fresh host never posts the card again', { skip }, async (t) => {
  const prefix = `test:idem:${randomUUID()}:`
  const redis = new Redis(redisTestOptions())
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  const sim = await startSim(t, { brandId: 'brand-test' })
  const reports = await startReceiver(t, '/reports')
  const callbacks = await startReceiver(t, '/not-the-shop')
  // No sweeps: only the retry can learn the outcome.
  const env = { QP_BASE_URL: sim.baseUrl, QP_REPORT_URL: reports.url, QP_CALLBACK_URL: callbacks.url, QP_RECONCILE: JSON.stringify({ interval: 0 }), QP_REDIS_PREFIX: prefix }

  const first = await startHost(env)
  // The gateway charges the card and holds its answer: the host dies waiting for it.
  sim.inject({ route: 'direct_post', kind: 'hang', process: true })
  const paying = pay(first, 'order-42').catch((err: Error) => err)
  await until(() => sim.count('direct_post') === 1, 'the card post')
  const [purchase] = [...sim.purchases.values()]
  t.equal(purchase.status, 'paid', 'charged at the gateway')
  first.child.kill('SIGKILL')
  t.equal(await first.exit, null, 'killed')
  t.ok(await paying instanceof Error, 'the payer got no answer')
  t.equal(await redis.keys(`${prefix}idem:*:purchase`).then((keys) => keys.length), 1, 'the key was bound in Redis before the card was sent')

  const second = await startHost(env)
  t.teardown(() => second.child.kill('SIGKILL'))
  const retry = await pay(second, 'order-42')
  t.equal(retry.statusCode, 200)
  t.same(retry.body, { status: 'executed', purchase_id: purchase.id }, 'what the gateway says of the bound purchase')
  const again = await pay(second, 'order-42')
  t.same(again.body, retry.body)
  await sim.idle()
  await until(() => reports.received.length > 0, 'the outcome hook')
  t.equal(sim.count('purchases.create'), 1, 'no second purchase')
  t.equal(sim.count('direct_post'), 1, 'no second card post')
  const events = reports.received.map((r) => JSON.parse(r.body) as { pid: number, event: { purchaseId: string, status: string } })
  t.equal(events.length, 1, 'reported once')
  t.match(events[0], { pid: second.child.pid, event: { purchaseId: purchase.id, status: 'executed' } })
  second.child.stdin?.write('close\n')
  t.equal(await second.exit, 0)
})
