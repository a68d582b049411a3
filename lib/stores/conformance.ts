import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { missingQueueMethods, type QueueStore, type SessionStore } from './session-store.js'

export type { SessionStore } from './session-store.js'

/** What a factory hands each test: a store on a fresh, empty namespace. */
export interface StoreUnderTest {
  store: SessionStore
  /**
   * A second handle on the same data, as another process would hold it (for
   * Redis: a store on a second connection with the same prefix). Race tests
   * split their concurrent calls between `store` and `peer`; reads check both.
   * Defaults to `store`.
   */
  peer?: SessionStore
  /** Runs after the test, passed or failed: delete keys, close connections. */
  cleanup?: () => unknown
}

export type StoreFactory = () => StoreUnderTest | Promise<StoreUnderTest>

export interface ConformanceOptions {
  /**
   * Whether the due-queue tests run (default `true`). A store without
   * `schedule`, `due` and `unschedule` fails them, since the plugin needs
   * them unless it is registered with `reconcile: false`; such a store passes
   * `{ queue: false }` to say so.
   */
  queue?: boolean
}

/** Registers one test with the runner: `(name, fn) => t.test(name, fn)` for tap, `test` itself for node:test. */
export type RegisterTest = (name: string, fn: () => Promise<void>) => unknown

type Behaviour<S = SessionStore> = (store: S, peer: S, key: (name?: string) => string) => Promise<void>

// Short enough to keep the suite quick, long enough for a networked store to answer well within it.
const SHORT_TTL = 100
const PAST_SHORT_TTL = 250
const LONG_TTL = 60_000
const RACERS = 100
// Due times: any fixed epoch works, since the queue compares only what the caller gives it.
const T0 = Date.UTC(2026, 0, 1)
const LEASE = 60_000

/**
 * The `SessionStore` conformance suite: registers one test per behaviour of
 * the contract, asserting with `node:assert/strict` so it runs under any
 * runner. `factory` is called once per test and its `cleanup` after it.
 *
 * ```ts
 * import { test } from 'tap'
 * import { testSessionStore } from 'fastify-qorepay/testing'
 * testSessionStore((name, fn) => test(name, fn), () => ({ store: new MyStore() }))
 * ```
 */
export function testSessionStore (test: RegisterTest, factory: StoreFactory, options: ConformanceOptions = {}): void {
  const { queue = true } = options
  const all: Array<[string, Behaviour]> = Object.entries(behaviours)
  if (queue) {
    for (const [name, behaviour] of Object.entries(queueBehaviours)) {
      all.push([name, async (store, peer, key) => {
        for (const [role, handle] of [['store', store], ['peer', peer]] as const) {
          const missing = missingQueueMethods(handle)
          assert.deepEqual(missing, [], `the ${role} has no ${missing.join(', ')}: the plugin needs them unless registered with reconcile: false (then pass { queue: false })`)
        }
        await behaviour(store as QueueStore, peer as QueueStore, key)
      }])
    }
  }
  for (const [name, behaviour] of all) {
    test(name, async () => {
      const { store, peer = store, cleanup } = await factory()
      // Random keys keep tests apart even when a factory reuses a namespace.
      const base = randomUUID()
      try {
        await behaviour(store, peer, (suffix = 'key') => `${base}:${suffix}`)
      } finally {
        await cleanup?.()
      }
    })
  }
}

const behaviours: Record<string, Behaviour> = {
  async 'missing keys: get and take answer undefined, delete succeeds' (store, peer, key) {
    assert.equal(await store.get(key()), undefined)
    assert.equal(await store.take(key()), undefined)
    assert.equal(await store.delete(key()), undefined)
    assert.equal(await peer.get(key()), undefined)
    assert.equal(await store.get(key()), undefined, 'delete of an absent key creates nothing')
  },

  async 'set then get: JSON round trip' (store, peer, key) {
    const values: Record<string, unknown> = {
      object: { purchase: { id: 'p-1', amounts: [1, 2.5, -3], paid: false, note: null }, empty: {}, list: [] },
      array: [1, 'two', [3, [4]], { five: 5 }, null, true],
      unicode: 'Zürich ₦ 日本語 😀 e\u0301 "quoted" back\\slash\nnew line\ttab \u0000 \ud800',
      emptyString: '',
      integer: Number.MAX_SAFE_INTEGER,
      negative: -42,
      float: 0.1 + 0.2,
      exponent: 1e21,
      zero: 0,
      true: true,
      false: false,
      null: null
    }
    await Promise.all(Object.entries(values).map(([name, value]) => store.set(key(name), value, LONG_TTL)))
    for (const [name, value] of Object.entries(values)) {
      const expected = JSON.parse(JSON.stringify(value))
      assert.deepEqual(await store.get(key(name)), expected, `${name} through store`)
      assert.deepEqual(await peer.get(key(name)), expected, `${name} through peer`)
    }
    assert.equal(await store.take(key('null')), null, 'a stored null is a value, not an absence')
    assert.equal(await store.get(key('null')), undefined)
    assert.equal(await store.claim(key('false'), 'other', LONG_TTL), false, 'a stored false holds its key')
  },

  async 'set replaces the value and the TTL' (store, peer, key) {
    await store.set(key(), { version: 1 }, LONG_TTL)
    await peer.set(key(), { version: 2 }, LONG_TTL)
    assert.deepEqual(await store.get(key()), { version: 2 })
    await store.set(key('ttl'), 'short', SHORT_TTL)
    await store.set(key('ttl'), 'long', LONG_TTL)
    await store.claim(key('claimed'), 'claimed', SHORT_TTL)
    await store.set(key('claimed'), 'set over a claim', LONG_TTL)
    await sleep(PAST_SHORT_TTL)
    assert.equal(await store.get(key('ttl')), 'long', 'the replacing TTL applies')
    assert.equal(await store.get(key('claimed')), 'set over a claim')
  },

  async 'TTL: get answers undefined once an entry expired' (store, peer, key) {
    await store.set(key('short'), { pending: true }, SHORT_TTL)
    await store.set(key('long'), { pending: true }, LONG_TTL)
    assert.deepEqual(await store.get(key('short')), { pending: true }, 'present before its TTL')
    assert.deepEqual(await peer.get(key('short')), { pending: true }, 'present before its TTL, through peer')
    await sleep(PAST_SHORT_TTL)
    assert.equal(await store.get(key('short')), undefined)
    assert.equal(await peer.get(key('short')), undefined)
    assert.deepEqual(await store.get(key('long')), { pending: true }, 'each entry has its own TTL')
  },

  async 'TTL: a key can be claimed again once its claim expired' (store, peer, key) {
    assert.equal(await store.claim(key(), 'first', SHORT_TTL), true)
    assert.equal(await peer.claim(key(), 'second', SHORT_TTL), false)
    await sleep(PAST_SHORT_TTL)
    assert.equal(await peer.claim(key(), 'third', LONG_TTL), true)
    assert.equal(await store.get(key()), 'third')
  },

  async 'TTL: take answers undefined once an entry expired' (store, peer, key) {
    await store.set(key(), { token: 'once' }, SHORT_TTL)
    await sleep(PAST_SHORT_TTL)
    assert.equal(await store.take(key()), undefined)
    assert.equal(await peer.take(key()), undefined)
  },

  async 'claim succeeds only once and keeps the first value' (store, peer, key) {
    assert.equal(await store.claim(key(), { by: 'first' }, LONG_TTL), true)
    assert.equal(await store.claim(key(), { by: 'second' }, LONG_TTL), false)
    assert.equal(await peer.claim(key(), { by: 'peer' }, LONG_TTL), false)
    assert.deepEqual(await peer.get(key()), { by: 'first' })
    await store.set(key('set'), 'set', LONG_TTL)
    assert.equal(await store.claim(key('set'), 'claim', LONG_TTL), false, 'a set key is not claimable')
    assert.equal(await store.get(key('set')), 'set')
  },

  async [`claim race: ${RACERS} concurrent claims on one key, exactly one wins`] (store, peer, key) {
    const results = await Promise.all(Array.from({ length: RACERS }, (_, i) =>
      (i % 2 === 0 ? store : peer).claim(key(), { winner: i }, LONG_TTL)))
    const winners = results.flatMap((won, i) => won ? [i] : [])
    assert.equal(winners.length, 1, `exactly one claim wins, got ${winners.length}`)
    assert.deepEqual(await store.get(key()), { winner: winners[0] }, 'the winner\'s value is stored')
  },

  async [`take race: ${RACERS} concurrent takes of one value, exactly one gets it`] (store, peer, key) {
    const names = ['a', 'b', 'c', 'd', 'e']
    await Promise.all(names.map((name) => store.set(key(name), { session: name }, LONG_TTL)))
    await Promise.all(names.map(async (name) => {
      const results = await Promise.all(Array.from({ length: RACERS }, (_, i) =>
        (i % 2 === 0 ? store : peer).take(key(name))))
      const taken = results.filter((value) => value !== undefined)
      assert.deepEqual(taken, [{ session: name }], `exactly one take of ${name} gets the value`)
      assert.equal(await peer.get(key(name)), undefined, `${name} is gone after the take`)
    }))
  },

  async 'large values (about 1 MB) round trip through set, claim and take' (store, peer, key) {
    const large = {
      ascii: 'x'.repeat(512 * 1024),
      unicode: 'é€😀'.repeat(20_000),
      list: Array.from({ length: 20_000 }, (_, i) => ({ i, even: i % 2 === 0 }))
    }
    assert.ok(JSON.stringify(large).length > 1_000_000)
    await store.set(key('set'), large, LONG_TTL)
    assert.deepEqual(await peer.get(key('set')), large)
    assert.equal(await store.claim(key('claim'), large, LONG_TTL), true)
    assert.deepEqual(await peer.take(key('claim')), large)
    assert.deepEqual(await store.take(key('set')), large)
  },

  async 'delete removes the entry, for every handle' (store, peer, key) {
    await store.set(key(), 'value', LONG_TTL)
    assert.equal(await peer.delete(key()), undefined)
    assert.equal(await store.get(key()), undefined)
    assert.equal(await store.take(key()), undefined)
    assert.equal(await store.claim(key(), 'again', LONG_TTL), true, 'a deleted key can be claimed')
    await store.delete(key())
    await store.delete(key())
    assert.equal(await peer.get(key()), undefined)
  },

  async 'keys are independent' (store, peer, key) {
    const names = ['k', 'k:1', 'K', 'k ', 'ключ', 'k\n1']
    await Promise.all(names.map((name) => store.set(key(name), name, LONG_TTL)))
    await store.delete(key('k'))
    assert.equal(await peer.take(key('k:1')), 'k:1')
    assert.equal(await store.claim(key('K'), 'other', LONG_TTL), false)
    assert.equal(await store.get(key('k')), undefined)
    assert.equal(await store.get(key('k:1')), undefined)
    for (const name of ['K', 'k ', 'ключ', 'k\n1']) {
      assert.equal(await peer.get(key(name)), name, `${JSON.stringify(name)} untouched`)
    }
  },

  async 'stored values are isolated from later mutation' (store, peer, key) {
    const value = { status: 'pending', items: [{ qty: 1 }] }
    await store.set(key('set'), value, LONG_TTL)
    await store.claim(key('claim'), value, LONG_TTL)
    value.status = 'mutated'
    value.items[0].qty = 99
    value.items.push({ qty: 2 })
    const expected = { status: 'pending', items: [{ qty: 1 }] }
    assert.deepEqual(await store.get(key('set')), expected, 'the object passed to set')
    assert.deepEqual(await store.get(key('claim')), expected, 'the object passed to claim')
    const read = await store.get(key('set')) as typeof value
    read.status = 'mutated'
    read.items.length = 0
    assert.deepEqual(await peer.get(key('set')), expected, 'an object get answered')
  }
}

/** Members and due times of a queue, scheduled in an order that is not their due order. */
async function scheduleAll (store: QueueStore, queue: string, members: Array<[string, number]>): Promise<void> {
  await Promise.all(members.map(([member, dueAt]) => store.schedule(queue, member, dueAt)))
}

const queueBehaviours: Record<string, Behaviour<QueueStore>> = {
  async 'queue: due answers members whose time has come, earliest first, up to limit' (store, peer, key) {
    const queue = key('queue')
    assert.deepEqual(await store.due(queue, T0, 10, LEASE), [], 'an unknown queue has nothing due')
    await scheduleAll(store, queue, [['c', T0 + 3000], ['a', T0 + 1000], ['later', T0 + 60_000], ['b', T0 + 2000], ['d', T0 + 4000]])
    assert.deepEqual(await peer.due(queue, T0 + 999, 10, LEASE), [], 'nothing is due before its time')
    assert.deepEqual(await peer.due(queue, T0 + 3000, 2, LEASE), ['a', 'b'], 'earliest first, at most limit')
    assert.deepEqual(await store.due(queue, T0 + 5000, 10, LEASE), ['c', 'd'], 'due at or before now; leased ones wait')
    assert.deepEqual(await store.due(queue, T0 + 5000, 10, LEASE), [], 'each answered once per due time')
  },

  async 'queue: due leases each member it answers until now + leaseMs' (store, peer, key) {
    const queue = key('queue')
    await scheduleAll(store, queue, [['a', T0], ['b', T0 + 10]])
    assert.deepEqual(await store.due(queue, T0 + 100, 10, 5000), ['a', 'b'])
    assert.deepEqual(await peer.due(queue, T0 + 5099, 10, 5000), [], 'leased until now + leaseMs')
    // Both are due at T0 + 5100 now: a tie, which a store may answer in either order.
    const first = await peer.due(queue, T0 + 5100, 1, 7000)
    assert.equal(first.length, 1, 'due again when the lease ends, unless rescheduled')
    const second = await store.due(queue, T0 + 5100, 10, 7000)
    assert.deepEqual([...first, ...second].sort(), ['a', 'b'])
    assert.deepEqual(await store.due(queue, T0 + 12_099, 10, 7000), [])
    assert.deepEqual((await store.due(queue, T0 + 12_100, 10, 7000)).sort(), ['a', 'b'], 'each lease counts from its own due call')
    assert.deepEqual(await store.due(queue, T0 + 12_100, 10, 7000), [])
  },

  async 'queue: schedule moves a queued member, later or earlier' (store, peer, key) {
    const queue = key('queue')
    await store.schedule(queue, 'a', T0)
    await store.schedule(queue, 'b', T0 + 500)
    await peer.schedule(queue, 'a', T0 + 1000)
    assert.deepEqual(await store.due(queue, T0 + 999, 10, LEASE), ['b'], 'moved later')
    await peer.schedule(queue, 'b', T0 + 100)
    assert.deepEqual(await store.due(queue, T0 + 200, 10, LEASE), ['b'], 'a leased member rescheduled is due at its new time')
    assert.deepEqual(await store.due(queue, T0 + 2000, 10, LEASE), ['a'], 'a member is queued once, however often scheduled')
    await store.schedule(queue, 'a', T0 - 5000)
    assert.deepEqual(await peer.due(queue, T0 - 5000, 10, LEASE), ['a'], 'moved earlier, even into the past')
  },

  async 'queue: unschedule removes a member, only from its queue' (store, peer, key) {
    const queue = key('queue')
    const other = key('other')
    await scheduleAll(store, queue, [['a', T0], ['b', T0], ['c', T0]])
    await store.schedule(other, 'a', T0)
    await peer.unschedule(queue, 'a')
    await store.unschedule(queue, 'absent')
    await store.unschedule(key('no such queue'), 'a')
    assert.deepEqual((await store.due(queue, T0, 10, LEASE)).sort(), ['b', 'c'])
    await store.unschedule(queue, 'b')
    assert.deepEqual(await peer.due(queue, T0 + LEASE, 10, LEASE), ['c'], 'a leased member can be unscheduled')
    assert.deepEqual(await store.due(other, T0, 10, LEASE), ['a'], 'queues are independent')
    await store.unschedule(queue, 'c')
    assert.deepEqual(await store.due(queue, T0 + 10 * LEASE, 10, LEASE), [], 'an emptied queue has nothing due')
    await store.schedule(queue, 'a', T0)
    assert.deepEqual(await store.due(queue, T0, 10, LEASE), ['a'], 'an unscheduled member can be scheduled again')
  },

  async 'queue race: concurrent due calls on two connections never answer one member twice' (store, peer, key) {
    const queue = key('queue')
    const members = Array.from({ length: 200 }, (_, i) => `purchase-${i}`)
    await scheduleAll(store, queue, members.map((member, i) => [member, T0 + (i % 7)]))
    // 30 callers of at most 10 each: room for 300, so every member is answered by exactly one of them.
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      (i % 2 === 0 ? store : peer).due(queue, T0 + 10, 10, LEASE)))
    const answered = answers.flat()
    assert.ok(answers.every((answer) => answer.length <= 10), 'no call answers more than its limit')
    assert.equal(answered.length, members.length, `${answered.length} answers for ${members.length} members`)
    assert.deepEqual([...new Set(answered)].sort(), [...members].sort(), 'each member answered once')
    assert.deepEqual(await peer.due(queue, T0 + 10, 10, LEASE), [], 'all leased')
  },

  async 'queue: many members drain in due order, each once' (store, peer, key) {
    const queue = key('queue')
    const count = 2000
    // Due times in a scrambled order; ties included (i % 997 repeats).
    const dueAt = new Map(Array.from({ length: count }, (_, i) => [`m${i}`, T0 + ((i * 7919) % 997)]))
    await scheduleAll(store, queue, [...dueAt])
    const drained: string[] = []
    for (let batch = await peer.due(queue, T0 + 1000, 300, LEASE); batch.length > 0; batch = await peer.due(queue, T0 + 1000, 300, LEASE)) {
      assert.ok(batch.length <= 300)
      drained.push(...batch)
    }
    assert.equal(drained.length, count)
    assert.equal(new Set(drained).size, count, 'each member once')
    const times = drained.map((member) => dueAt.get(member) as number)
    assert.ok(times.every((at, i) => i === 0 || times[i - 1] <= at), 'earliest first across batches')
  },

  async 'queue: members and queue names with odd characters' (store, peer, key) {
    const queue = key('queue ключ {tag} %_*?[]\'\n')
    const members = ['a b', 'ключ', '日本語 😀', 'line\nbreak', 'tab\t', "quote'", '"double"', 'back\\slash', '%', '_', '*', '{hash}', 'x'.repeat(2000), 'é', 'e\u0301']
    await scheduleAll(store, queue, members.map((member, i) => [member, T0 + i]))
    assert.deepEqual(await peer.due(queue, T0 + members.length, members.length, LEASE), members, 'each comes back exactly, in due order')
    for (const member of members) await peer.unschedule(queue, member)
    assert.deepEqual(await store.due(queue, T0 + 10 * LEASE, 100, LEASE), [], 'each unscheduled by its exact name')
    await store.schedule(key('queue'), 'plain', T0)
    assert.deepEqual(await store.due(queue, T0, 10, LEASE), [], 'a queue name is not a pattern')
  }
}
