import { generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import type { QorePayOptions } from '../../lib/index.js'
import type { OutcomeEvent } from '../../lib/events.js'
import { MARK_TIMES, type MarkTimes } from '../../lib/outcome/mark-times.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { RedisStore } from '../../lib/stores/redis.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { Purchase, Simulator } from '../../lib/simulator/index.js'
import { CREDENTIALS, PURCHASE, startShop, type Shop } from '../helpers/shop.js'
import { createPurchase, startReceiver, startSim } from '../helpers/simulator.js'
import { redisSkip, redisTestOptions } from '../helpers/redis.js'
import { until } from '../helpers/reconcile.js'
import { keyValueOf } from '../helpers/key-value.js'
import { startHost } from '../helpers/child-host.js'
import type { Tap } from '../helpers/tap.js'

// Leases of a few hundred milliseconds stand in for the default 30 s: a hook
// that outlives several of them shows what renewal holds and what a dead
// process lets go, without waiting minutes.
const LEASE_MS = 300

const OWN = generateKeyPairSync('rsa', { modulusLength: 2048 })
const OWN_PEM = OWN.publicKey.export({ type: 'spki', format: 'pem' }) as string

/** The plugin options with a test's mark times (the seam the options schema does not see). */
function timed (plugin: Partial<QorePayOptions>, times: Partial<MarkTimes>): Partial<QorePayOptions> {
  return Object.assign({ ...plugin }, { [MARK_TIMES]: times })
}

interface Answer { statusCode: number, json: any }

/** One signed delivery of `payload`'s bytes, as the gateway would send it (or resend it) to `url`. */
async function deliver (url: string, body: string): Promise<Answer> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sign('sha256', Buffer.from(body), OWN.privateKey).toString('base64') }, body })
  const text = await res.body.text()
  return { statusCode: res.statusCode, json: JSON.parse(text) }
}

/** A purchase the simulator created, as a signed `purchase.paid` would carry it once paid. */
async function paidDelivery (sim: Simulator): Promise<{ purchase: Purchase, body: string }> {
  const purchase = await createPurchase(sim, { brand_id: CREDENTIALS.brandId })
  return { purchase, body: JSON.stringify({ ...purchase, status: 'paid', event_type: 'purchase.paid' }) }
}

/** A RedisStore prefix of this test's own on the test Redis, removed at teardown; `open` gives a store on a connection of its own. */
function redisData (t: Tap): { prefix: string, admin: Redis, open: () => RedisStore } {
  const prefix = `qorepay-test:marks:${randomUUID()}:`
  const admin = new Redis(redisTestOptions())
  const clients: Redis[] = []
  t.teardown(async () => {
    for (const client of clients) await client.quit()
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })
  return {
    prefix,
    admin,
    open: () => {
      const client = new Redis(redisTestOptions())
      clients.push(client)
      return new RedisStore({ client, prefix })
    }
  }
}

function logLines (shop: Shop): Array<Record<string, any>> {
  return shop.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean).map((line) => JSON.parse(line)))
}

const skip = await redisSkip()

test('a hook running for many leases on instance A: the same delivery on instance B (own Redis connection) waits, and the hook runs once', { skip }, async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const redis = redisData(t)
  let started = 0
  const events: OutcomeEvent[] = []
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  // Only the first run waits: a second one (the defect this test is for) completes and is counted instead of hanging.
  const onExecuted = async (event: OutcomeEvent): Promise<void> => { if (++started === 1) await held; events.push(event) }
  const plugin = { webhookPublicKey: OWN_PEM, reconcile: false as const, onExecuted }
  const a = await startShop(t, { sim, plugin: timed({ ...plugin, store: redis.open() }, { leaseMs: LEASE_MS }) })
  const b = await startShop(t, { sim, plugin: timed({ ...plugin, store: redis.open() }, { leaseMs: LEASE_MS }) })
  const { purchase, body } = await paidDelivery(sim)

  const first = deliver(`${a.url}/qorepay/webhook`, body)
  await until(() => started === 1, 'the hook to start on A')
  const key = `${redis.prefix}outcome:${purchase.id}:executed`
  const waited: number[] = []
  // Six leases: a claim that was not renewed would have run out five times over.
  const end = Date.now() + 6 * LEASE_MS
  while (Date.now() < end) {
    waited.push((await deliver(`${b.url}/qorepay/webhook`, body)).statusCode)
    await sleep(LEASE_MS / 2)
  }
  t.ok(await redis.admin.pttl(key) > 0, 'the claim is still held')
  t.same(new Set(waited), new Set([503]), `every copy on B waited (${waited.length} of them)`)
  release()
  t.equal((await first).statusCode, 200)
  t.equal((await deliver(`${b.url}/qorepay/webhook`, body)).statusCode, 200, 'once done, a copy is a duplicate')
  await sim.idle()
  t.equal(started, 1, 'the hook ran once')
  t.equal(events.length, 1)
  t.equal(await redis.admin.get(key).then((v) => JSON.parse(v!).state), 'done')
})

test('a host killed with SIGKILL inside its hook: its lease runs out, and a later delivery runs the hook again with the same eventId', { skip }, async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const redis = redisData(t)
  const reports = await startReceiver(t, '/reports')
  // The killed host's hook never returns: its report is never answered.
  reports.answer = () => 'hang'
  const host = await startHost({
    QP_BASE_URL: sim.baseUrl,
    QP_REPORT_URL: reports.url,
    QP_CALLBACK_URL: reports.url,
    QP_RECONCILE: 'false',
    QP_REDIS_PREFIX: redis.prefix,
    QP_WEBHOOK_KEY: OWN_PEM,
    QP_MARK_TIMES: JSON.stringify({ leaseMs: LEASE_MS })
  })
  t.teardown(() => host.child.kill('SIGKILL'))
  const events: OutcomeEvent[] = []
  const b = await startShop(t, {
    sim,
    plugin: timed({ webhookPublicKey: OWN_PEM, reconcile: false, store: redis.open(), onExecuted: async (event) => { events.push(event) } }, { leaseMs: LEASE_MS })
  })
  const { purchase, body } = await paidDelivery(sim)

  const first = deliver(`${host.url}/qorepay/webhook`, body).catch((err: Error) => err)
  await until(() => reports.received.length === 1, 'the hook to start in the host')
  await sleep(3 * LEASE_MS)
  t.equal((await deliver(`${b.url}/qorepay/webhook`, body)).statusCode, 503, 'while the host lives, its renewed lease holds the hook')
  host.child.kill('SIGKILL')
  t.equal(await host.exit, null, 'killed')
  t.ok(await first instanceof Error, 'the killed host never answered')

  const answers: number[] = []
  await until(async () => { answers.push((await deliver(`${b.url}/qorepay/webhook`, body)).statusCode); return answers.at(-1) === 200 }, 'B to run the hook', 5000)
  t.ok(answers.slice(0, -1).every((s) => s === 503), 'B waited until the lease ran out, then ran it')
  await sim.idle()
  const killed = JSON.parse(reports.received[0].body) as { event: OutcomeEvent }
  t.equal(reports.received.length, 1)
  t.equal(events.length, 1, 'run again once, on B')
  t.equal(events[0].eventId, killed.event.eventId, 'with the eventId the killed run had')
  t.equal(events[0].eventId, `${purchase.id}:executed`)
})

test('the done mark fails to write after the hook completed: duplicates wait while the lease guards it, the retried write lands, nothing runs twice', async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  let storeDown = true
  const store: SessionStore = {
    ...keyValueOf(inner),
    async set (key, value, ttl) {
      if (key.startsWith('outcome:') && (value as { state: string }).state === 'done' && storeDown) throw new Error('connection reset')
      await inner.set(key, value, ttl)
    }
  }
  let runs = 0
  // A longer lease here: the duplicate below must land inside it whatever the machine's load.
  const shop = await startShop(t, { sim, plugin: timed({ webhookPublicKey: OWN_PEM, reconcile: false, store, onExecuted: async () => { runs++ } }, { leaseMs: 1500 }) })
  const { purchase, body } = await paidDelivery(sim)
  const url = `${shop.url}/qorepay/webhook`

  t.equal((await deliver(url, body)).statusCode, 200, 'the hook ran')
  t.match(await inner.get(`outcome:${purchase.id}:executed`), { state: 'running' }, 'not marked done: the write failed')
  t.same((await deliver(url, body)).json, { ok: false, status: 'in_progress' }, 'a duplicate meanwhile waits, it does not run the hook')
  storeDown = false
  await until(async () => (await inner.get(`outcome:${purchase.id}:executed`) as { state: string }).state === 'done', 'the retried done write')
  t.equal((await deliver(url, body)).statusCode, 200, 'then a duplicate is acknowledged')
  await sim.idle()
  t.equal(runs, 1)
  t.ok(logLines(shop).some((l) => l.level === 50 && l.msg === `qorepay: could not mark outcome:${purchase.id}:executed done; trying again while its lease guards it`))
})

test('the done mark never lands: the lease runs out and a later delivery runs the hook again, with the same eventId (at-least-once)', async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  const store: SessionStore = {
    ...keyValueOf(inner),
    async set (key, value, ttl) {
      if (key.startsWith('outcome:') && (value as { state: string }).state === 'done') throw new Error('read-only replica')
      await inner.set(key, value, ttl)
    }
  }
  const events: OutcomeEvent[] = []
  const shop = await startShop(t, { sim, plugin: timed({ webhookPublicKey: OWN_PEM, reconcile: false, store, onExecuted: async (event) => { events.push(event) } }, { leaseMs: 60 }) })
  const { body } = await paidDelivery(sim)
  const url = `${shop.url}/qorepay/webhook`
  t.equal((await deliver(url, body)).statusCode, 200)
  const last = (): boolean => logLines(shop).some((l) => l.level === 50 && /done; its hook completed and may run again once its lease runs out \(same eventId\)$/.test(l.msg))
  await until(last, 'the last try of the done write')
  t.equal((await deliver(url, body)).statusCode, 200)
  await sim.idle()
  t.equal(events.length, 2, 'run again: the store never kept that it completed')
  t.equal(events[0].eventId, events[1].eventId)
})

test('renewals that fail: the lease runs out, another delivery runs the hook (same eventId), and the first run stops renewing', async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  const store: SessionStore = {
    ...keyValueOf(inner),
    async set (key, value, ttl) {
      // A claim is written by claim(); set() with a running marker is a renewal.
      if ((value as { state?: string }).state === 'running') throw new Error('connection reset')
      await inner.set(key, value, ttl)
    }
  }
  const events: OutcomeEvent[] = []
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const shop = await startShop(t, {
    sim,
    plugin: timed({ webhookPublicKey: OWN_PEM, reconcile: false, store, onExecuted: async (event) => { events.push(event); if (events.length === 1) await held } }, { leaseMs: LEASE_MS })
  })
  const { purchase, body } = await paidDelivery(sim)
  const url = `${shop.url}/qorepay/webhook`
  const first = deliver(url, body)
  await until(() => events.length === 1, 'the first run')
  await until(async () => (await deliver(url, body)).statusCode === 200, 'the second run, once the lease ran out')
  const lost = `qorepay: the lease on outcome:${purchase.id}:executed ran out while its hook was running; another delivery may run it again (same eventId)`
  await until(() => logLines(shop).some((l) => l.msg === lost), 'the first run to find its lease taken')
  release()
  t.equal((await first).statusCode, 200)
  await sim.idle()
  t.equal(events.length, 2)
  t.equal(events[0].eventId, events[1].eventId)
  const lines = logLines(shop)
  const failed = lines.filter((l) => l.level === 50 && l.msg === `qorepay: could not renew the lease on outcome:${purchase.id}:executed`).length
  t.ok(failed >= 2, `each failed renewal is logged (${failed})`)
})

test('a renewal still in flight when the hook ends lands before the done mark, and renewing stops there', async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  let renewing = 0
  let inFlight = (): void => {}
  const renewalStarted = new Promise<void>((resolve) => { inFlight = resolve })
  let land = (): void => {}
  const renewalMayLand = new Promise<void>((resolve) => { land = resolve })
  const store: SessionStore = {
    ...keyValueOf(inner),
    // A slow store: the renewal's read of the running claim answers only once the hook has ended.
    async get (key) {
      const value = await inner.get(key)
      if ((value as { state?: string } | undefined)?.state === 'running') {
        renewing++
        inFlight()
        await renewalMayLand
      }
      return value
    }
  }
  let runs = 0
  const onExecuted = async (): Promise<void> => {
    runs++
    await renewalStarted
    setTimeout(land, 50)
  }
  const shop = await startShop(t, { sim, plugin: timed({ webhookPublicKey: OWN_PEM, reconcile: false, store, onExecuted }, { leaseMs: LEASE_MS }) })
  const { purchase, body } = await paidDelivery(sim)
  t.equal((await deliver(`${shop.url}/qorepay/webhook`, body)).statusCode, 200)
  t.equal(renewing, 1, 'one renewal was in flight when the hook ended')
  await sleep(3 * LEASE_MS)
  t.match(await inner.get(`outcome:${purchase.id}:executed`), { state: 'done' }, 'the done mark stands')
  t.equal(renewing, 1, 'no renewal after the hook ended')
  t.notOk(logLines(shop).some((l) => /lease/.test(l.msg)), 'no lease trouble logged')
  t.equal(runs, 1)
})

test('marks last 400 days on Redis by default, and what one purchase keeps there (README "Store")', { skip }, async (t) => {
  const sim = await startSim(t, CREDENTIALS)
  const redis = redisData(t)
  const sink = await startReceiver(t, '/sink')
  const shop = await startShop(t, { sim, plugin: { store: redis.open(), purchase: async () => ({ ...PURCHASE, success_callback: sink.url }), reconcile: false } })
  sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  const res = await shop.post('/qorepay/payments', { cardholder_name: 'John Doe', card_number: '4444333322221111', expires: '12/39', cvc: '123' }, { 'idempotency-key': 'order-1' })
  t.equal(res.body.status, 'executed')
  await sim.idle()
  t.equal(shop.events.executed.length, 1)
  const id: string = res.body.purchase_id
  const day = 24 * 3600_000
  for (const key of [`outcome:${id}:executed`, `known:${id}:executed`]) {
    const ttl = await redis.admin.pttl(redis.prefix + key)
    t.ok(ttl > 399 * day && ttl <= 400 * day, `${key} lives 400 days (${Math.round(ttl / day)})`)
  }
  const keys = await redis.admin.keys(`${redis.prefix}*`)
  const sizes: string[] = []
  let bytes = 0
  let memory = 0
  for (const key of keys.sort()) {
    const name = key.slice(redis.prefix.length)
    const size = Buffer.byteLength(name) + (await redis.admin.strlen(key))
    const usage = Number(await redis.admin.memory('USAGE', key))
    sizes.push(`${name.replace(id, '<id>').replace(/[0-9a-f]{64}/, '<sha256>').replace(/^idem:.*/, 'idem:<key>')} ${size} B (${usage} B in Redis)`)
    // The Idempotency-Key record lives a day; what stays for the marks' lifetime is the rest.
    if (name.startsWith('idem:')) continue
    bytes += size
    memory += usage
  }
  t.comment(`one paid purchase and its webhook keep: ${sizes.join(', ')}; for 400 days: ${bytes} B of keys and values, ${memory} B by MEMORY USAGE`)
  t.same(keys.map((k) => k.slice(redis.prefix.length).split(':')[0]).sort(), ['idem', 'idem', 'known', 'outcome', 'webhook'], 'the Idempotency-Key\'s record and binding, the marks')
  t.ok(bytes < 400, 'a few hundred bytes per purchase')
})
