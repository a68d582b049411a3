import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { test } from 'tap'
import { Redis } from 'ioredis'
import { createSimulator, type SimDelivery, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { OutcomeEvent } from '../../lib/events.js'
import { CARD, CREDENTIALS, PURCHASE, freePort, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { REDIS_HOST, REDIS_PORT, redisSkip, redisTestOptions } from '../helpers/redis.js'
import { ownSchema, postgresPool, postgresSkip } from '../helpers/postgres.js'
import { THREE_DS_CARD, durableSuite, on, postRaw, racedTermUrls, redeliver } from '../helpers/several-instances.js'
import { createPurchase as simCreatePurchase, postCard as simPostCard } from '../helpers/simulator.js'
import type { Tap } from '../helpers/tap.js'

const skip = await redisSkip()

const STORE_DOWN = 'FST_QOREPAY_STORE_UNAVAILABLE'

/**
 * A TCP hop between one instance's Redis client and the real Redis, that the
 * test cuts and restores: a Redis outage as that instance sees it, without
 * stopping the Redis every other test file shares.
 */
class TcpProxy {
  port = 0
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()

  async open (): Promise<void> {
    const server = createServer((downstream) => {
      const upstream = connect(REDIS_PORT, REDIS_HOST)
      for (const socket of [downstream, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => { downstream.destroy(); upstream.destroy() })
      }
      downstream.pipe(upstream).pipe(downstream)
    })
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  /** Refuses new connections and drops the open ones, both ways. */
  async close (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    const closed = new Promise((resolve) => server.close(resolve))
    for (const socket of this.#sockets) socket.destroy()
    await closed
  }
}

/** Commands fail at once while the connection is down, rather than wait in a queue. */
function failFastClient (port: number, retryMs = 50): Redis {
  const client = new Redis(redisTestOptions({ port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => retryMs }))
  // ioredis reports every failed reconnect; the test checks the status instead.
  client.on('error', () => {})
  return client
}

async function ready (client: Redis): Promise<void> {
  if (client.status !== 'ready') await once(client, 'ready')
}

async function lost (client: Redis): Promise<void> {
  if (client.status === 'ready') await once(client, 'close')
}

async function newStore (client: Redis, prefix: string): Promise<SessionStore> {
  // Loaded only when Redis answers, like test/redis-store.test.ts.
  const { RedisStore } = await import('../../lib/stores/redis.js')
  return new RedisStore({ client, prefix })
}

interface Instances {
  sim: Simulator
  a: Shop
  b: Shop
  /** A client of our own on the same Redis, to look at what the instances stored. */
  admin: Redis
  prefix: string
  /** Outcome events of one purchase, from both instances. */
  outcomes (purchaseId: string, kind?: 'executed' | 'authorized' | 'failed'): OutcomeEvent[]
  webhookEvents (purchaseId: string, eventType: string): number
}

/**
 * Shops A and B, each with its own ioredis client (as two deployed
 * instances have), one RedisStore prefix, one simulator. With `sink`, the
 * purchases' success callbacks go to a route that ignores them, so that
 * only the paths under test report outcomes. With `slowHooksMs`, the host's
 * onExecuted, onFailed and onWebhook take that long, as a shop's database
 * write would, so that concurrent copies overlap.
 */
async function instances (t: Tap, options: { sink?: boolean, slowHooksMs?: number, sim?: Partial<SimulatorOptions> } = {}): Promise<Instances> {
  const prefix = `qorepay-test:${randomUUID()}:`
  const admin = new Redis(redisTestOptions())
  const clients = [new Redis(redisTestOptions()), new Redis(redisTestOptions())]
  const sim = await createSimulator({ ...CREDENTIALS, ...options.sim })
  const apps: Array<() => unknown> = []
  // One teardown, in order: deliveries stop, the shops close, then their clients and our keys go.
  t.teardown(async () => {
    await sim.close()
    for (const close of apps) await close()
    for (const client of clients) await client.quit()
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })
  let sink = ''
  const slow = options.slowHooksMs ?? 0
  const shop = async (client: Redis) => {
    const record = <K extends 'executed' | 'failed' | 'webhook'>(kind: K) => async (event: Shop['events'][K][number]) => {
      await sleep(slow)
      // Called only once the shop is up; `self` is set by then.
      self.events[kind].push(event as never)
    }
    const self: Shop = await startShop({ teardown: (fn) => apps.push(fn) }, {
      sim,
      host: (app) => { app.post('/sink', async () => ({ ok: true })) },
      plugin: {
        store: await newStore(client, prefix),
        purchase: async () => options.sink === true ? { ...PURCHASE, success_callback: sink } : PURCHASE,
        onExecuted: record('executed'),
        onFailed: record('failed'),
        onWebhook: record('webhook')
      }
    })
    return self
  }
  const a = await shop(clients[0])
  const b = await shop(clients[1])
  sink = `${a.url}/sink`
  return {
    sim,
    a,
    b,
    admin,
    prefix,
    outcomes: (purchaseId, kind = 'executed') => [...a.events[kind], ...b.events[kind]].filter((e) => e.purchaseId === purchaseId),
    webhookEvents: (purchaseId, eventType) => [...a.events.webhook, ...b.events.webhook].filter((e) => e.purchaseId === purchaseId && e.eventType === eventType).length
  }
}

/** The last attempt of each delivery to `url` (per event type) answered 2xx. */
function allDelivered (sim: Simulator, url: string): boolean {
  const last = new Map<string, SimDelivery>()
  for (const d of sim.deliveries) if (d.url === url) last.set(d.eventType, d)
  return last.size > 0 && [...last.values()].every((d) => d.statusCode !== null && d.statusCode >= 200 && d.statusCode < 300)
}

test('several instances on one Redis', { skip }, async (t) => {
  t.test('a 3DS payment started on A completes through the TermUrl on B', async (t) => {
    const { sim, a, b, outcomes } = await instances(t)
    const res = await a.post('/qorepay/payments', THREE_DS_CARD)
    t.equal(res.body.status, '3DS_required')
    const id: string = res.body.purchase_id

    const page = await b.get(new URL(res.body.redirect_url).pathname)
    t.equal(page.statusCode, 200, 'B serves the 3DS page of a session A stored')
    const { termUrl, body } = await passAcs(a, res.body.redirect_url, 'approve')
    t.equal(new URL(termUrl).origin, a.url, 'the bank answers to the TermUrl A issued')

    const back = await postTermUrl(on(b, termUrl), body)
    t.equal(back.statusCode, 303)
    t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`)
    t.equal(sim.count('callback'), 1)
    // The success callback (to A) races B's report of the same outcome.
    await sim.idle()
    t.equal(outcomes(id).length, 1, 'onExecuted once across both instances')
    t.ok(allDelivered(sim, `${a.url}/qorepay/callback`), 'the success callback was answered 2xx')
    t.equal(sim.purchases.get(id)?.status, 'paid')

    const again = await postTermUrl(termUrl, body)
    t.same(again, back, 'a repeated post on A answers what B did, not sent again')
    t.equal(sim.count('callback'), 1)
  })

  t.test('the same TermUrl posted to A and B at once: one gateway callback, the same answer on both', async (t) => {
    const { sim, a, b, outcomes } = await instances(t)
    const rounds = 5
    const results = await racedTermUrls(a, b, rounds)
    t.equal(sim.count('callback'), rounds, 'one callback per purchase')
    await sim.idle()
    for (const { id, locations } of results) {
      t.same(locations, [`https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`], 'the second waited for the first one\'s answer')
      t.equal(outcomes(id).length, 1, 'onExecuted once')
    }
  })

  t.test('identical signed webhooks delivered to A and B at once fire once', async (t) => {
    const { sim, a, b, outcomes, webhookEvents } = await instances(t, { sink: true, slowHooksMs: 50 })
    // The simulator signs the body; we catch it on a sink and replay its exact bytes.
    sim.addWebhook({ url: `${a.url}/sink` })
    const res = await a.post('/qorepay/payments', THREE_DS_CARD)
    const id: string = res.body.purchase_id
    await sim.completeThreeDS(id, 'approve')
    await sim.idle()
    const paid = sim.deliveries.find((d) => d.purchaseId === id && d.eventType === 'purchase.paid' && d.kind === 'webhook')
    t.ok(paid, 'the simulator signed a purchase.paid webhook')
    t.equal(outcomes(id).length, 0, 'nothing reported it yet')

    const copies = 10
    const answers = await Promise.all(Array.from({ length: copies }, (_, i) => redeliver(`${(i % 2 === 0 ? a : b).url}/qorepay/webhook`, paid!)))
    const finals = answers.map((x) => x.at(-1)!)
    t.ok(finals.every((x) => x.statusCode === 200 && x.body.ok === true), 'every copy ends with 200')
    const later = answers.flat().filter((x) => x.statusCode === 503)
    t.ok(later.length > 0, `${later.length} answers told a copy to come back while another ran`)
    t.ok(later.every((x) => x.body.status === 'in_progress'))
    t.match(outcomes(id), [{ purchaseId: id, source: 'webhook', purchase: { status: 'paid' } }])
    t.equal(outcomes(id).length, 1, 'onExecuted once in total')
    t.equal(webhookEvents(id, 'purchase.paid'), 1, 'onWebhook once in total')
  })

  t.test('an abandoned 3DS, reported by webhooks to both instances, fires once', async (t) => {
    const { sim, a, b, outcomes, webhookEvents } = await instances(t, { sink: true, slowHooksMs: 50 })
    const hooks = [`${a.url}/qorepay/webhook`, `${b.url}/qorepay/webhook`]
    for (const url of hooks) sim.addWebhook({ url })
    // Every event twice per webhook, concurrently: four copies racing on two instances.
    sim.deliveryMode.duplicate = true

    const approved = await a.post('/qorepay/payments', THREE_DS_CARD)
    const failed = await b.post('/qorepay/payments', THREE_DS_CARD)
    await sim.idle()
    await sim.completeThreeDS(approved.body.purchase_id, 'approve')
    await sim.completeThreeDS(failed.body.purchase_id, 'fail')
    await sim.idle()

    t.match(outcomes(approved.body.purchase_id), [{ source: 'webhook', purchase: { status: 'paid' } }])
    t.equal(outcomes(approved.body.purchase_id).length, 1, 'onExecuted once')
    t.match(outcomes(failed.body.purchase_id, 'failed'), [{ source: 'webhook', error: { code: '3ds_failed' } }])
    t.equal(outcomes(failed.body.purchase_id, 'failed').length, 1, 'onFailed once')
    t.equal(outcomes(failed.body.purchase_id).length, 0)
    for (const [id, event] of [[approved.body.purchase_id, 'purchase.paid'], [failed.body.purchase_id, 'purchase.payment_failure']]) {
      t.equal(webhookEvents(id, 'purchase.pending_execute'), 1, 'onWebhook once per delivery')
      t.equal(webhookEvents(id, event), 1, `onWebhook once for ${event}`)
    }
    for (const url of hooks) t.ok(allDelivered(sim, url), `every event to ${url} ends with a 2xx`)
    const retried = sim.deliveries.filter((d) => hooks.includes(d.url) && d.statusCode === 503).length
    t.ok(retried > 0, `${retried} deliveries were answered 503 while a copy ran elsewhere, and retried`)
    t.equal(sim.count('callback'), 0, 'the payers never came back')
  })

  t.test('an Idempotency-Key holds across instances', async (t) => {
    const { sim, a, b, outcomes } = await instances(t)
    const first = await a.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-42-try-1' })
    const replay = await b.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-42-try-1' })
    t.same(replay.body, first.body, 'B answers what A answered')
    t.equal(replay.headers['idempotent-replayed'], 'true')
    const mismatch = await b.post('/qorepay/payments', { ...CARD, order: 'another' }, { 'idempotency-key': 'order-42-try-1' })
    t.equal(mismatch.statusCode, 422)

    const racing = await Promise.all([a, b].map((shop) => shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-43' })))
    const ran = racing.filter((x) => x.statusCode === 200 && x.headers['idempotent-replayed'] === undefined)
    t.equal(ran.length, 1, 'one runs')
    const other = racing.find((x) => x !== ran[0])!
    // Before the purchase is bound the other is told it is in progress; after, it gets the bound purchase's state.
    t.ok(other.statusCode === 409 || other.body.purchase_id === ran[0].body.purchase_id, `the other: ${other.statusCode}`)
    t.equal(sim.count('purchases.create'), 2, 'one purchase per key')
    t.equal(outcomes(first.body.purchase_id).length, 1)
  })

  t.test('Redis unreachable: 503 with a code on each route', async (t) => {
    const port = await freePort()
    const down = failFastClient(port)
    t.teardown(() => down.disconnect())
    const sim = await createSimulator({ ...CREDENTIALS, webhookAttempts: 1 })
    t.teardown(() => sim.close())
    const shop = await startShop(t, { sim, plugin: { store: await newStore(down, `qorepay-test:${randomUUID()}:`) } })
    sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })

    const threeDS = await shop.post('/qorepay/payments', THREE_DS_CARD)
    t.equal(threeDS.statusCode, 503)
    t.match(threeDS.body, { code: STORE_DOWN, message: /session store is unavailable/ })
    t.equal(shop.events.threeDS.length, 0, 'no payer is sent to a page whose session was not stored')

    const token = randomBytes(32).toString('base64url')
    const page = await shop.get(`/qorepay/3ds/${token}`)
    t.equal(page.statusCode, 503)
    t.match(JSON.parse(page.text), { code: STORE_DOWN })

    const termUrl = await shop.post(`/qorepay/3ds/${token}/return`, 'MD=md&PaRes=pares')
    t.equal(termUrl.statusCode, 503)
    t.match(termUrl.body, { code: STORE_DOWN })
    t.equal(sim.count('callback'), 0)

    // No card is sent that reconciliation could not track; a purchase paid at the gateway anyway
    // (through another integration) has its webhook and success callback refused for now.
    const direct = await shop.post('/qorepay/payments', CARD)
    t.equal(direct.statusCode, 503)
    t.equal(sim.count('direct_post'), 0)
    const elsewhere = await simCreatePurchase(sim, { brand_id: CREDENTIALS.brandId, success_callback: `${shop.url}/qorepay/callback` })
    t.equal((await simPostCard(sim, elsewhere)).json.status, 'executed')
    await sim.idle()
    for (const [kind, path] of [['webhook', '/qorepay/webhook'], ['success_callback', '/qorepay/callback']] as const) {
      const delivery = sim.deliveries.find((d) => d.kind === kind)
      t.equal(delivery?.statusCode, 503, `the simulator's ${kind} got 503`)
      const answer = await postRaw(shop.url + path, delivery!.body, { 'content-type': 'application/json', 'x-signature': delivery!.signature })
      t.equal(answer.statusCode, 503)
      t.match(answer.body, { code: STORE_DOWN })
    }
    t.equal(shop.events.executed.length + shop.events.webhook.length, 0, 'no hook fired')
    const logged = shop.logs.filter((l) => l.includes(STORE_DOWN)).map((l) => JSON.parse(l))
    // Whether or not the logger hides the session token in URLs.
    const path = (url: string) => url.replace(token, '[token]')
    for (const route of ['/qorepay/payments', '/qorepay/3ds/[token]', '/qorepay/3ds/[token]/return', '/qorepay/webhook', '/qorepay/callback']) {
      t.ok(logged.some((l) => l.level >= 50 && path(l.req?.url ?? '') === route), `logged as an error on ${route}`)
    }
  })

  t.test('Redis lost mid-flow: the TermUrl answers 503, nothing is lost, the retry completes', async (t) => {
    const proxy = new TcpProxy()
    await proxy.open()
    t.teardown(() => proxy.close())
    const client = failFastClient(proxy.port)
    t.teardown(() => client.disconnect())
    await ready(client)
    const admin = new Redis(redisTestOptions())
    const prefix = `qorepay-test:${randomUUID()}:`
    t.teardown(async () => {
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
      await admin.quit()
    })
    const shop = await startShop(t, { plugin: { store: await newStore(client, prefix) } })
    const { sim } = shop

    const res = await shop.post('/qorepay/payments', THREE_DS_CARD)
    t.equal(res.body.status, '3DS_required')
    const id: string = res.body.purchase_id
    const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
    const key = `${prefix}3ds:${new URL(res.body.redirect_url).pathname.split('/').at(-1)}`
    const stored = await admin.get(key)
    t.match(JSON.parse(stored!), { purchaseId: id })

    await proxy.close()
    await lost(client)
    const during = await shop.post(new URL(termUrl).pathname, body)
    t.equal(during.statusCode, 503)
    t.match(during.body, { code: STORE_DOWN })
    const again = await shop.post(new URL(termUrl).pathname, body)
    t.equal(again.statusCode, 503, 'a retry during the outage too')
    t.equal(sim.count('callback'), 0, 'the gateway\'s callback is not called')
    t.equal(sim.purchases.get(id)?.status, 'pending_execute')
    t.equal(await admin.get(key), stored, 'the session is untouched in Redis')
    t.ok(await admin.pttl(key) > 0)

    await proxy.open()
    await ready(client)
    const back = await postTermUrl(termUrl, body)
    t.equal(back.statusCode, 303)
    t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`)
    t.equal(sim.count('callback'), 1)
    await sim.idle()
    t.equal(shop.events.executed.filter((e) => e.purchaseId === id).length, 1, 'onExecuted once')
    t.equal(await admin.exists(key), 0, 'the session was used up')
  })
})

const postgresSkipped = await postgresSkip()

durableSuite({
  name: 'one Redis',
  skip,
  async setUp (t) {
    const prefix = `qorepay-test:${randomUUID()}:`
    const clients: Redis[] = []
    t.teardown(async () => {
      const admin = new Redis(redisTestOptions())
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
      await admin.quit()
      for (const client of clients) client.disconnect()
    })
    return async () => {
      const client = new Redis(redisTestOptions())
      clients.push(client)
      return await newStore(client, prefix)
    }
  }
})

durableSuite({
  name: 'one PostgreSQL',
  skip: postgresSkipped,
  async setUp (t) {
    // Loaded only when PostgreSQL answers: a skipped run does not load it at all.
    const { PostgresStore } = await import('../../lib/stores/postgres.js')
    const admin = postgresPool()
    const pools: Array<{ end: () => Promise<void> }> = []
    const stores: Array<{ close: () => void }> = []
    const { schema, drop } = await ownSchema(admin)
    t.teardown(async () => {
      for (const store of stores) store.close()
      for (const pool of pools) await pool.end()
      await drop()
      await admin.end()
    })
    const table = `${schema}.store`
    await new PostgresStore({ pool: admin, table }).migrate()
    return async () => {
      // Each instance its own pool, as each deployed process has.
      const pool = postgresPool()
      pools.push(pool)
      const store = new PostgresStore({ pool, table })
      stores.push(store)
      return store
    }
  }
})
