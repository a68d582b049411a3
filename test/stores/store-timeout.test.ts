import { test } from 'tap'
import { Redis } from 'ioredis'
import { RedisStore } from '../../lib/stores/redis.js'
import { guardStore, type SessionStore } from '../../lib/stores/session-store.js'
import { sessionKey, sessionTimeLeft, type ThreeDSSession } from '../../lib/three-ds/session.js'
import { keyValueOf } from '../helpers/key-value.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import type { Tap } from '../helpers/tap.js'

/** A whole 3DS session, as the card post stores it, living `ms` more milliseconds. */
function threeDSSession (purchaseId: string, ms: number): ThreeDSSession {
  return { purchaseId, callbackUrl: 'http://127.0.0.1:1/s2s/callback/x/', acsUrl: 'http://127.0.0.1:1/acs/', method: 'POST', paReq: 'pr', md: 'md', expiresAt: Date.now() + ms }
}

const TIMEOUT = 300
const outage = { code: 'FST_QOREPAY_STORE_UNAVAILABLE', statusCode: 503, message: `The session store is unavailable: no answer within ${TIMEOUT} ms (storeTimeout)` }

/** A private Redis (ours to freeze), a client the store uses, and one of our own to look with. */
async function frozenable (t: Tap): Promise<{ server: RedisServer, client: Redis, admin: Redis, store: RedisStore }> {
  const server = await startRedisServer()
  t.teardown(() => server.stop())
  const client = new Redis({ host: '127.0.0.1', port: server.port })
  const admin = new Redis({ host: '127.0.0.1', port: server.port })
  t.teardown(() => { client.disconnect(); admin.disconnect() })
  return { server, client, admin, store: new RedisStore({ client, prefix: '' }) }
}

/** Calls of `name` the server has run so far, from INFO commandstats. */
async function calls (admin: Redis, name: string): Promise<number> {
  const stats = await admin.info('commandstats')
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
}

/**
 * Waits until what the client sent while frozen has run, and what the guard
 * sent on the late answers too: commands on one connection answer in order.
 */
async function drained (client: Redis): Promise<void> {
  await client.ping()
  await client.ping()
}

test('a frozen store: every guarded call fails as an outage within storeTimeout', async (t) => {
  const { server, client, store } = await frozenable(t)
  const guarded = guardStore(store, { timeoutMs: TIMEOUT })
  await guarded.set('a', 'v', 60_000)
  server.freeze()
  const started = performance.now()
  const results = await Promise.allSettled([
    guarded.get('a'), guarded.set('b', 'w', 60_000), guarded.claim('c', 1, 60_000), guarded.take('d'), guarded.delete('e'),
    guarded.schedule?.('q', 'm', 1), guarded.due?.('q', 1, 1, 1), guarded.unschedule?.('q', 'm')
  ])
  const elapsed = performance.now() - started
  for (const result of results) t.match(result, { status: 'rejected', reason: outage })
  t.ok(elapsed >= TIMEOUT - 5 && elapsed < TIMEOUT + 2000, `all answered in ${elapsed.toFixed(0)} ms`)
  server.thaw()
  await drained(client)
  t.equal(await guarded.get('b'), 'w', 'after the thaw, calls answer again, and a late write stands')
  t.equal(await guarded.get('a'), 'v')
})

test('late answers are undone where they would leave work half-done', async (t) => {
  const { server, client, admin, store } = await frozenable(t)
  // What the guard asks of takenTtl, and every claim it makes of the store: the put-backs are claims.
  const asked: unknown[][] = []
  const claims: unknown[][] = []
  const recording: SessionStore = {
    ...keyValueOf(store),
    claim: async (key, value, ttlMs) => {
      claims.push([key, value, ttlMs])
      return await store.claim(key, value, ttlMs)
    }
  }
  const takenTtl = (key: string, value: unknown): number => {
    asked.push([key, value])
    return sessionTimeLeft(key, value)
  }
  const guarded = guardStore(recording, { timeoutMs: TIMEOUT, takenTtl })
  const unguarded = guardStore(recording, { timeoutMs: TIMEOUT })
  const session = threeDSSession('p-1', 60_000)
  await store.set(sessionKey('back'), session, 60_000)
  await store.set(sessionKey('dropped'), session, 60_000)
  await store.set('not-a-session', session, 60_000)
  await store.set(sessionKey('null'), null, 60_000)
  await store.set(sessionKey('no-expiry'), { purchaseId: 'p-2' }, 60_000)
  const partial = { purchaseId: 'p-2', expiresAt: Date.now() + 60_000 }
  await store.set(sessionKey('partial'), partial, 60_000)
  await store.set('taken', 'v', 60_000)
  await store.set('held', 'first', 60_000)
  await admin.hset('hash', 'f', 'v')
  await admin.config('RESETSTAT')

  server.freeze()
  const results = await Promise.allSettled([
    guarded.claim('won', { mine: true }, 60_000),
    guarded.claim('held', 'second', 60_000),
    guarded.take(sessionKey('back')),
    unguarded.take(sessionKey('dropped')),
    guarded.take('not-a-session'),
    guarded.take(sessionKey('null')),
    guarded.take(sessionKey('no-expiry')),
    guarded.take(sessionKey('partial')),
    guarded.take('absent'),
    // Fails only once the server runs it: a late error, which nobody may see as unhandled.
    guarded.take('hash')
  ])
  for (const result of results) t.match(result, { status: 'rejected', reason: outage })
  server.thaw()
  await drained(client)

  t.equal(await calls(admin, 'set'), 3, 'both claims and the put-back (SET NX) ran on the server')
  t.equal(await admin.exists('won'), 0, 'the claim that won late was deleted: its caller went no further')
  t.equal(await admin.get('held'), '"first"', 'a claim that lost late leaves the holder alone')
  t.same(JSON.parse(await admin.get(sessionKey('back')) as string), session, 'a 3DS session taken late is put back')
  const ttl = await admin.pttl(sessionKey('back'))
  t.ok(ttl > 50_000 && ttl <= 60_000, `until the session expires: PTTL ${ttl}`)
  for (const key of [sessionKey('dropped'), 'not-a-session', sessionKey('null'), sessionKey('no-expiry'), sessionKey('partial'), 'absent']) {
    t.equal(await admin.exists(key), 0, `${key}: not put back (no takenTtl, not a session key, not a whole session, nothing taken)`)
  }
  t.equal(await admin.type('hash'), 'hash')
  t.same(asked, [
    [sessionKey('back'), session], ['not-a-session', session], [sessionKey('null'), null],
    [sessionKey('no-expiry'), { purchaseId: 'p-2' }], [sessionKey('partial'), partial]
  ], 'takenTtl is asked about each value a late take removed, never about a take that found nothing')
  t.same(claims.map(([key]) => key), ['won', 'held', sessionKey('back')], 'one put-back claim: no claim where takenTtl answered 0')
})

test('an expired session taken late is not put back', async (t) => {
  const { server, client, admin, store } = await frozenable(t)
  const guarded = guardStore(store, { timeoutMs: TIMEOUT, takenTtl: sessionTimeLeft })
  // The store keeps it a little longer than the session itself lives.
  await store.set(sessionKey('late'), threeDSSession('p-3', TIMEOUT / 2), 60_000)
  server.freeze()
  await t.rejects(guarded.take(sessionKey('late')), outage)
  server.thaw()
  await drained(client)
  t.equal(await admin.exists(sessionKey('late')), 0)
})
