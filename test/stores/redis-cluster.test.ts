import { randomUUID } from 'node:crypto'
import t, { test } from 'tap'
import type { Cluster } from 'ioredis'
import { withoutGetdel } from '../helpers/redis.js'
import { redisClusterOrSkip } from '../helpers/redis-cluster.js'
import { durableSuite } from '../helpers/several-instances.js'

// One cluster of this file's own (three masters, free ports) for every suite below: started
// once, since joining one takes seconds; stopped by PID when the file is done.
const { cluster, skip } = await redisClusterOrSkip()
if (cluster !== undefined) t.teardown(() => cluster.stop())

const freshPrefix = (): string => `qorepay-test:${randomUUID()}:`

test('RedisStore on a Redis Cluster', { skip }, async (t) => {
  // Loaded only when the cluster runs, like the standalone Redis suite.
  const { RedisStore } = await import('../../lib/stores/redis.js')
  const { testSessionStore } = await import('../../lib/stores/conformance.js')
  const { nodes, deleteKeys } = cluster!
  // Two cluster clients: what two instances of the shop would hold.
  const client = cluster!.client()
  const other = cluster!.client()
  t.teardown(async () => {
    await client.quit()
    await other.quit()
  })

  const cachedScripts = async (node: (typeof nodes)[number]): Promise<number> => Number(/number_of_cached_scripts:(\d+)/.exec(await node.info('memory'))?.[1])

  // First, while no node has seen the script: the conformance suite below runs `due` everywhere.
  t.test('a due-queue is one key on one node; each node loads the script the first time it runs due', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const store = new RedisStore({ client, prefix })
    t.same(await Promise.all(nodes.map(cachedScripts)), [0, 0, 0], 'no node has a cached script')
    // Queues until every master holds one: their keys hash to slots all over the cluster.
    const queueOnNode = new Map<number, string>()
    for (let i = 0; i < 200 && queueOnNode.size < nodes.length; i++) {
      const queue = `q${i}`
      await store.schedule(queue, 'm', 1)
      // KEYS, not EXISTS: a node answers MOVED for a key of another node's slot. The name has no glob characters.
      const holders = (await Promise.all(nodes.map((node) => node.keys(`${prefix}queue:${queue}`)))).flatMap((held, n) => held.length === 1 ? [n] : [])
      t.equal(holders.length, 1, `${queue} is one key, on one node`)
      if (!queueOnNode.has(holders[0])) queueOnNode.set(holders[0], queue)
    }
    t.equal(queueOnNode.size, nodes.length, 'every master holds a queue')
    for (const [n, queue] of queueOnNode) {
      t.same(await store.due(queue, 1, 10, 1000), ['m'], `due on node ${n}: EVALSHA answered NOSCRIPT, EVAL ran it there`)
      t.equal(await cachedScripts(nodes[n]), 1, `node ${n} has the script cached now`)
      t.same(await store.due(queue, 1001, 10, 1000), ['m'], `due on node ${n} again, through EVALSHA`)
      t.equal(await cachedScripts(nodes[n]), 1)
    }
  })

  t.test('one store\'s keys spread over every master, each command on one key', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const store = new RedisStore({ client, prefix })
    const peer = new RedisStore({ client: other, prefix })
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`)
    await Promise.all(keys.map((key, i) => (i % 2 === 0 ? store : peer).set(key, { i }, 60_000)))
    const perNode = await Promise.all(nodes.map(async (node) => (await node.keys(`${prefix}*`)).length))
    t.equal(perNode.reduce((a, b) => a + b, 0), keys.length, 'each key on exactly one node')
    t.ok(perNode.every((count) => count > 0), `every master holds some: ${perNode.join(', ')}`)
    t.same(await Promise.all(keys.map((key) => peer.take(key))), keys.map((_, i) => ({ i })), 'GETDEL finds each on its node')
    t.equal(await store.claim('k0', 'again', 60_000), true)
    t.equal(await peer.get('k0'), 'again')
  })

  t.test('without GETDEL, take\'s script runs on the node of each key', async (t) => {
    const prefix = freshPrefix()
    t.teardown(() => deleteKeys(prefix))
    const calls = { getdel: 0 }
    const store = new RedisStore({ client: withoutGetdel(client, calls), prefix })
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
    await Promise.all(keys.map((key, i) => store.set(key, i, 60_000)))
    const perNode = await Promise.all(nodes.map(async (node) => (await node.keys(`${prefix}*`)).length))
    t.ok(perNode.every((count) => count > 0), `on every master: ${perNode.join(', ')}`)
    t.same(await Promise.all(keys.map((key) => store.take(key))), keys.map((_, i) => i))
    t.ok(calls.getdel >= 1, 'GETDEL was tried, and answered unknown command')
    t.same(await Promise.all(nodes.map((node) => node.keys(`${prefix}*`))), [[], [], []], 'each key deleted by the script')
  })

  t.test('conformance suite, two cluster clients', async (t) => {
    testSessionStore((name, fn) => t.test(name, fn), () => {
      const prefix = freshPrefix()
      return {
        store: new RedisStore({ client, prefix }),
        peer: new RedisStore({ client: other, prefix }),
        cleanup: async () => await deleteKeys(prefix)
      }
    })
  })
})

durableSuite({
  name: 'a Redis Cluster',
  skip,
  async setUp (t) {
    const { RedisStore } = await import('../../lib/stores/redis.js')
    const prefix = freshPrefix()
    const clients: Cluster[] = []
    t.teardown(async () => {
      for (const client of clients) client.disconnect()
      await cluster!.deleteKeys(prefix)
    })
    return async () => {
      // Each instance its own cluster client, as each deployed process has.
      const client = cluster!.client()
      clients.push(client)
      return new RedisStore({ client, prefix })
    }
  }
})
