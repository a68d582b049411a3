import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SessionStore } from './session-store.js'

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

/** Registers one test with the runner: `(name, fn) => t.test(name, fn)` for tap, `test` itself for node:test. */
export type RegisterTest = (name: string, fn: () => Promise<void>) => unknown

type Behaviour = (store: SessionStore, peer: SessionStore, key: (name?: string) => string) => Promise<void>

// Short enough to keep the suite quick, long enough for a networked store to answer well within it.
const SHORT_TTL = 100
const PAST_SHORT_TTL = 250
const LONG_TTL = 60_000
const RACERS = 100

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
export function testSessionStore (test: RegisterTest, factory: StoreFactory): void {
  for (const [name, behaviour] of Object.entries(behaviours)) {
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
