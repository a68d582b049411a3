import { test } from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { guardStore, hasQueue, missingQueueMethods, type SessionStore } from '../../lib/stores/session-store.js'
import { QorePayStoreError } from '../../lib/errors.js'
import { keyValueOf } from '../helpers/key-value.js'

const GUARD = { timeoutMs: 2000 }

test('hasQueue and missingQueueMethods tell which due-queue methods a store has', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  t.equal(hasQueue(memory), true)
  t.same(missingQueueMethods(memory), [])
  const plain = keyValueOf(memory)
  t.equal(hasQueue(plain), false)
  t.same(missingQueueMethods(plain), ['schedule', 'due', 'unschedule'])
  const partial: SessionStore = { ...plain, due: (...args) => memory.due(...args) }
  t.same(missingQueueMethods(partial), ['schedule', 'unschedule'], 'names exactly what is missing')
  t.equal(hasQueue(partial), false)
})

test('the guard keeps the store\'s due-queue, or its absence', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const guarded = guardStore(memory, GUARD)
  t.equal(hasQueue(guarded), true)
  if (!hasQueue(guarded)) return
  await guarded.schedule('q', 'a', 1000)
  await guarded.schedule('q', 'b', 2000)
  t.same(await guarded.due('q', 1500, 10, 100), ['a'], 'calls reach the store')
  await guarded.unschedule('q', 'b')
  t.same(await memory.due('q', 5000, 10, 100), ['a'], 'on the store itself')

  t.same(missingQueueMethods(guardStore(keyValueOf(memory), GUARD)), ['schedule', 'due', 'unschedule'])
  const partial: SessionStore = { ...keyValueOf(memory), unschedule: (...args) => memory.unschedule(...args) }
  t.same(missingQueueMethods(guardStore(partial, GUARD)), ['schedule', 'due'])
})

test('every guarded call that fails is a store outage (503) with its cause', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const guarded = guardStore(memory, GUARD)
  // The store's own argument checks reject these: a real failure from the store.
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['get', () => guarded.get('')],
    ['set', () => guarded.set('k', 1, 0)],
    ['claim', () => guarded.claim('k', undefined, 1)],
    ['take', () => guarded.take('')],
    ['delete', () => guarded.delete('')],
    ['schedule', () => guarded.schedule?.('', 'm', 1) as Promise<void>],
    ['due', () => guarded.due?.('q', 1, 0, 1) as Promise<string[]>],
    ['unschedule', () => guarded.unschedule?.('q', '') as Promise<void>]
  ]
  for (const [name, call] of calls) {
    const err = await call().then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof QorePayStoreError, `${name}: a QorePayStoreError`)
    t.match(err, { code: 'FST_QOREPAY_STORE_UNAVAILABLE', statusCode: 503, cause: { name: 'TypeError' } }, name)
  }
})

test('a store method that throws instead of rejecting is a store outage too', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const throwing: SessionStore = { ...keyValueOf(memory), get: () => { throw new RangeError('no connection') } }
  const err = await guardStore(throwing, GUARD).get('k').then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof QorePayStoreError)
  t.match(err, { code: 'FST_QOREPAY_STORE_UNAVAILABLE', message: 'no connection', cause: { name: 'RangeError' } })
})
