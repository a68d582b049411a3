import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { test } from 'tap'
import { Redis } from 'ioredis'
import type { StoreFactory } from '../../lib/stores/conformance.js'
import { redisSkip, redisTestOptions, withoutGetdel } from '../helpers/redis.js'
import { startRedisServer } from '../helpers/redis-server.js'

const skip = await redisSkip()

test('RedisStore', { skip }, async (t) => {
  // Loaded only when Redis answers, so a run without Redis skips this file without counting it uncovered.
  const { RedisStore } = await import('../../lib/stores/redis.js')
  const { testSessionStore } = await import('../../lib/stores/conformance.js')
  const client = new Redis(redisTestOptions())
  // The peer's connection: what another instance of the shop would hold.
  const other = new Redis(redisTestOptions())
  t.teardown(async () => {
    await client.quit()
    await other.quit()
  })

  const freshPrefix = (): string => `qorepay-test:${randomUUID()}:`

  async function deleteKeys (prefix: string): Promise<void> {
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
  }

  function factory (wrap: (client: Redis) => Redis = (client) => client): StoreFactory {
    return () => {
      const prefix = freshPrefix()
      return {
        store: new RedisStore({ client: wrap(client), prefix }),
        peer: new RedisStore({ client: wrap(other), prefix }),
        cleanup: async () => await deleteKeys(prefix)
      }
    }
  }

  function countingGetdel (client: Redis, calls = { getdel: 0 }): Redis {
    return new Proxy(client, {
      get (target, property) {
        if (property === 'getdel') {
          return async (key: string) => {
            calls.getdel++
            return await target.getdel(key)
          }
        }
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }

  t.test('conformance suite, two connections', async (t) => {
    testSessionStore((name, fn) => t.test(name, fn), factory())
  })

  t.test('conformance suite, on a server without GETDEL', async (t) => {
    testSessionStore((name, fn) => t.test(name, fn), factory(withoutGetdel))
  })

  t.test('take falls back to a script when GETDEL is unknown, and remembers', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const calls = { getdel: 0 }
    const store = new RedisStore({ client: withoutGetdel(client, calls), prefix })
    await store.set('a', { n: 1 }, 60_000)
    await store.set('b', { n: 2 }, 60_000)
    t.same(await store.take('a'), { n: 1 })
    t.equal(calls.getdel, 1, 'GETDEL tried once')
    t.equal(await client.exists(`${prefix}a`), 0, 'the script deleted the key')
    t.same(await store.take('b'), { n: 2 })
    t.equal(await store.take('b'), undefined)
    t.equal(calls.getdel, 1, 'GETDEL not tried again')
  })

  t.test('other GETDEL errors propagate and GETDEL stays in use', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const calls = { getdel: 0 }
    const store = new RedisStore({ client: countingGetdel(client, calls), prefix })
    await client.hset(`${prefix}hash`, 'field', 'value')
    await t.rejects(store.take('hash'), /WRONGTYPE/)
    await store.set('key', 'value', 60_000)
    t.equal(await store.take('key'), 'value')
    t.equal(calls.getdel, 2)
  })

  t.test('a due-queue is one sorted set under <prefix>queue:, scored by due time', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const store = new RedisStore({ client, prefix })
    await store.schedule('reconcile', 'p-1', 1_000)
    await store.schedule('reconcile', 'p-2', 2_000.5)
    t.same(await client.keys(`${prefix}*`), [`${prefix}queue:reconcile`], 'one key per queue')
    t.same(await client.zrange(`${prefix}queue:reconcile`, 0, -1, 'WITHSCORES'), ['p-1', '1000', 'p-2', '2000.5'])
    t.same(await store.due('reconcile', 5_000, 10, 500), ['p-1', 'p-2'])
    t.same(await client.zrange(`${prefix}queue:reconcile`, 0, -1, 'WITHSCORES'), ['p-1', '5500', 'p-2', '5500'], 'leased to now + leaseMs')
    await store.unschedule('reconcile', 'p-1')
    await store.unschedule('reconcile', 'p-2')
    t.equal(await client.exists(`${prefix}queue:reconcile`), 0, 'an emptied queue leaves no key')
  })

  t.test('due loads its script on a server that has not seen it', async (t) => {
    // A fresh server of our own: its script cache is empty, so EVALSHA answers NOSCRIPT first.
    const server = await startRedisServer()
    t.teardown(() => server.stop())
    const fresh = new Redis(redisTestOptions({ port: server.port }))
    t.teardown(() => fresh.quit())
    const store = new RedisStore({ client: fresh, prefix: freshPrefix() })
    const cachedScripts = async (): Promise<string | undefined> => /number_of_cached_scripts:(\d+)/.exec(await fresh.info('memory'))?.[1]
    t.equal(await cachedScripts(), '0', 'no script cached before')
    await store.schedule('q', 'm', 1)
    t.same(await store.due('q', 1, 1, 1000), ['m'], 'answered through EVAL')
    t.equal(await cachedScripts(), '1', 'the script is cached after')
    t.same(await store.due('q', 1001, 1, 1000), ['m'], 'answered through EVALSHA')
    t.equal(await cachedScripts(), '1')
    const stats = await fresh.info('commandstats')
    t.match(stats, /cmdstat_evalsha:calls=2,/, 'by its SHA-1 each time: NOSCRIPT once, then the answer')
    t.match(stats, /cmdstat_eval:calls=1,/, 'the script itself sent once')
  })

  t.test('due passes on errors other than NOSCRIPT', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const store = new RedisStore({ client, prefix })
    await store.due('warm', 1, 1, 1)
    await client.set(`${prefix}queue:q`, 'not a sorted set')
    await t.rejects(store.due('q', 1, 1, 1), /WRONGTYPE/)
  })

  t.test('due sends no script after an EVALSHA error other than NOSCRIPT', async (t) => {
    // A server of our own, where an ACL user may run EVAL but not EVALSHA: the refusal is passed on, not worked around.
    const server = await startRedisServer()
    t.teardown(() => server.stop())
    const admin = new Redis(redisTestOptions({ port: server.port }))
    t.teardown(() => admin.quit())
    await admin.acl('SETUSER', 'no-evalsha', 'on', 'nopass', '~*', '&*', '+@all', '-evalsha')
    const limited = new Redis(redisTestOptions({ port: server.port, username: 'no-evalsha', password: 'any' }))
    t.teardown(() => limited.quit())
    const store = new RedisStore({ client: limited, prefix: freshPrefix() })
    await store.schedule('q', 'm', 1)
    await t.rejects(store.due('q', 1, 1, 1000), /^NOPERM/)
    t.notMatch(await admin.info('commandstats'), /cmdstat_eval:/, 'no EVAL ran')
  })

  t.test('keys are namespaced by the prefix', async (t) => {
    const key = randomUUID()
    t.teardown(() => client.del(`qorepay:${key}`))
    const byDefault = new RedisStore({ client })
    t.equal(byDefault.prefix, 'qorepay:')
    await byDefault.set(key, { shop: 'default' }, 60_000)
    t.equal(await client.get(`qorepay:${key}`), '{"shop":"default"}', 'stored as JSON under the prefix')

    const prefixA = freshPrefix()
    const prefixB = freshPrefix()
    t.teardown(async () => { await deleteKeys(prefixA); await deleteKeys(prefixB) })
    const shopA = new RedisStore({ client, prefix: prefixA })
    const shopB = new RedisStore({ client: other, prefix: prefixB })
    await shopA.set(key, 'a', 60_000)
    t.equal(await shopB.get(key), undefined)
    t.equal(await shopB.claim(key, 'b', 60_000), true, 'the same key is free under another prefix')
    t.equal(await shopA.take(key), 'a')
    t.equal(await shopB.get(key), 'b')
    await shopB.delete(key)
    t.same(await byDefault.get(key), { shop: 'default' }, 'the default prefix is untouched')
  })

  t.test('TTLs are whole milliseconds, rounded up', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const store = new RedisStore({ client, prefix })
    await store.set('fraction', 1, 0.2)
    await store.set('long', 1, 10_000.5)
    const ttl = await client.pttl(`${prefix}long`)
    t.ok(ttl > 9_000 && ttl <= 10_001, `PTTL ${ttl}`)
    t.equal(await store.claim('claimed', 1, 0.5), true)
  })

  t.test('the store never closes the host\'s client', async (t) => {
    const own = new Redis(redisTestOptions())
    t.teardown(() => own.quit())
    const store = new RedisStore({ client: own, prefix: freshPrefix() })
    await store.set('k', 1, 1000)
    await store.claim('k', 1, 1000)
    await store.get('k')
    await store.take('k')
    await store.delete('k')
    t.equal(own.status, 'ready')
    t.notOk('close' in store || 'quit' in store, 'no method to close the client')
  })

  t.test('client errors reject unchanged', async (t) => {
    // A port nobody listens on: the client cannot connect and does not queue.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    await new Promise((resolve) => server.close(resolve))
    const down = new Redis(redisTestOptions({ port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null }))
    down.on('error', () => {})
    t.teardown(() => down.disconnect())
    const store = new RedisStore({ client: down })
    const offline = /enableOfflineQueue/
    await t.rejects(store.get('k'), offline)
    await t.rejects(store.set('k', 1, 1000), offline)
    await t.rejects(store.claim('k', 1, 1000), offline)
    await t.rejects(store.take('k'), offline)
    await t.rejects(store.delete('k'), offline)
    await t.rejects(store.schedule('q', 'm', 1), offline)
    await t.rejects(store.due('q', 1, 1, 1), offline)
    await t.rejects(store.unschedule('q', 'm'), offline)
  })

  t.test('validates its options and arguments', async (t) => {
    t.throws(() => new RedisStore(undefined as never), TypeError)
    t.throws(() => new RedisStore({} as never), { name: 'TypeError', message: /ioredis/ })
    t.throws(() => new RedisStore({ client: { set () {} } } as never), TypeError)
    t.throws(() => new RedisStore({ client, prefix: 5 as never }), { name: 'TypeError', message: /prefix must be a string, got number/ })
    const store = new RedisStore({ client, prefix: freshPrefix() })
    await t.rejects(store.get(''), TypeError)
    await t.rejects(store.set('k', 1, Number.NaN), TypeError)
    await t.rejects(store.claim('k', undefined, 1000), TypeError)
    await t.rejects(store.take(5 as never), TypeError)
    await t.rejects(store.delete(null as never), TypeError)
    await t.rejects(store.schedule('', 'm', 1), { name: 'TypeError', message: /queue must be a non-empty string/ })
    await t.rejects(store.schedule('q', '', 1), { name: 'TypeError', message: /member must be a non-empty string/ })
    await t.rejects(store.schedule('q', 'm', Number.NaN), { name: 'TypeError', message: /dueAt must be a finite number/ })
    await t.rejects(store.due('q', Infinity, 1, 1), { name: 'TypeError', message: /now must be a finite number/ })
    await t.rejects(store.due('q', 1, 0, 1), { name: 'TypeError', message: /limit must be a positive integer, got 0/ })
    await t.rejects(store.due('q', 1, 1, 0), { name: 'TypeError', message: /leaseMs must be a positive finite number/ })
    await t.rejects(store.unschedule(5 as never, 'm'), TypeError)
    await t.rejects(store.unschedule('q', null as never), TypeError)
  })
})
