import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'tap'
import fc from 'fast-check'
import { MemoryStore } from '../../lib/stores/memory.js'
import { testSessionStore } from '../../lib/stores/conformance.js'
import type { Tap } from '../helpers/tap.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * Replaces the store's clock (`performance.now()`) for one test. Real time
 * cannot land a read exactly on an expiry instant; this can. Restored on
 * teardown.
 */
function controlClock (t: Tap): { now: number } {
  const clock = { now: 1_000_000 }
  const real = performance.now
  performance.now = () => clock.now
  t.teardown(() => { performance.now = real })
  return clock
}

test('conformance suite', async (t) => {
  testSessionStore((name, fn) => t.test(name, fn), () => {
    const store = new MemoryStore()
    return { store, cleanup: () => store.close() }
  })
})

test('conformance suite, without cleanup', async (t) => {
  // A store dropped without close() is collected (see below), so a factory may skip cleanup.
  testSessionStore((name, fn) => t.test(name, fn), () => ({ store: new MemoryStore() }))
})

test('TTLs are exact to the millisecond', async (t) => {
  const clock = controlClock(t)
  const store = new MemoryStore()
  t.teardown(() => store.close())
  await store.set('get', 1, 100)
  await store.set('take', 2, 100)
  await store.claim('claim', 3, 100)
  clock.now += 99.999
  t.equal(await store.get('get'), 1)
  t.equal(await store.claim('claim', 4, 100), false)
  clock.now += 0.001
  t.equal(await store.get('get'), undefined, 'absent at the instant it expires')
  t.equal(await store.take('take'), undefined)
  t.equal(await store.claim('claim', 5, 100), true)
  t.equal(await store.get('claim'), 5)
})

test('expired entries are removed on access', async (t) => {
  const clock = controlClock(t)
  const store = new MemoryStore()
  t.teardown(() => store.close())
  for (const key of ['get', 'claim', 'take', 'delete']) await store.set(key, key, 10)
  clock.now += 10
  t.equal(store.size, 4, 'not swept yet')
  await store.get('get')
  await store.take('take')
  await store.delete('delete')
  t.equal(store.size, 1)
  await store.claim('claim', 'new', 10)
  t.equal(store.size, 1)
  t.equal(await store.get('claim'), 'new')
})

test('a periodic sweep removes expired entries nobody reads', async (t) => {
  const store = new MemoryStore({ sweepIntervalMs: 20 })
  t.teardown(() => store.close())
  await store.set('short', 1, 5)
  await store.set('long', 1, 60_000)
  await sleep(100)
  t.equal(store.size, 1)
  t.equal(await store.get('long'), 1)
})

test('when full, expired entries go, and a write that needs room is refused: nothing live is evicted', async (t) => {
  const clock = controlClock(t)
  const store = new MemoryStore({ maxEntries: 3 })
  t.teardown(() => store.close())
  t.equal(new MemoryStore().maxEntries, 1_000_000, 'default bound')
  const full = { name: 'Error', message: /MemoryStore is full \(maxEntries 3\): a new key or queue member is refused/ }

  await store.set('a', 'a', 1000)
  await store.set('b', 'b', 10)
  await store.claim('c', 'c', 1000)
  clock.now += 10
  await store.set('d', 'd', 1000)
  t.same(await present(store, ['a', 'b', 'c', 'd']), ['a', 'c', 'd'], 'the expired entry made room')

  await t.rejects(store.set('e', 'e', 1000), full, 'set of a new key')
  await t.rejects(store.claim('e', 'e', 1000), full, 'claim of a new key')
  await t.rejects(store.schedule('q', 'm', 1), full, 'a new queue member')
  t.same(await present(store, ['a', 'c', 'd', 'e']), ['a', 'c', 'd'], 'nothing was evicted, nothing half-stored')
  t.equal(store.size, 3)

  await store.set('c', 'c2', 1000)
  t.equal(await store.get('c'), 'c2', 'replacing a key needs no room')
  t.equal(await store.claim('a', 'a2', 1000), false, 'a claim of a live key answers as ever')
  t.equal(await store.take('d'), 'd', 'a take frees a slot')
  await store.schedule('q', 'm', 1)
  t.equal(store.size, 3, 'queue members count')
  await store.schedule('q', 'm', 2)
  t.same(await store.due('q', 5, 10, 100), ['m'], 'rescheduling and leasing a member need no room')
  await t.rejects(store.set('e', 'e', 1000), full)
  await store.unschedule('q', 'm')
  await store.set('e', 'e', 1000)
  t.equal(store.size, 3, 'an unscheduled member frees a slot')

  clock.now += 1000
  await store.set('f', 'f', 1000)
  t.equal(store.size, 1, 'every expired entry goes at once')
})

test('refusal when full and expiry match a model, for any sequence of operations', async (t) => {
  const clock = controlClock(t)
  const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
  const ttl = fc.integer({ min: 1, max: 50 })
  const operation = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key, ttl }),
    fc.record({ op: fc.constant('claim' as const), key, ttl }),
    fc.record({ op: fc.constant('get' as const), key }),
    fc.record({ op: fc.constant('take' as const), key }),
    fc.record({ op: fc.constant('delete' as const), key }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) })
  )
  await fc.assert(fc.asyncProperty(fc.array(operation, { maxLength: 60 }), async (operations) => {
    const maxEntries = 4
    const store = new MemoryStore({ maxEntries })
    // The model: a plain Map in insertion order, scanned whole, the obvious way.
    const model = new Map<string, { value: number, expiresAt: number }>()
    const live = (k: string): { value: number } | undefined => {
      const entry = model.get(k)
      if (entry !== undefined && entry.expiresAt <= clock.now) model.delete(k)
      return model.get(k)
    }
    /** Whether the write is stored: a new key when full, with nothing expired, is refused. */
    const put = (k: string, value: number, ttl: number): boolean => {
      if (model.has(k)) model.delete(k)
      else if (model.size >= maxEntries) {
        for (const [other, entry] of model) if (entry.expiresAt <= clock.now) model.delete(other)
        if (model.size >= maxEntries) return false
      }
      model.set(k, { value, expiresAt: clock.now + ttl })
      return true
    }
    const stored = async (write: Promise<unknown>): Promise<unknown> => await write.then((result) => result, (err: Error) => {
      if (!/MemoryStore is full/.test(err.message)) throw err
      return 'refused'
    })
    try {
      for (const [step, o] of operations.entries()) {
        if (o.op === 'advance') clock.now += o.ms
        else if (o.op === 'set') {
          const expected = put(o.key, step, o.ttl) ? undefined : 'refused'
          if (await stored(store.set(o.key, step, o.ttl)) !== expected) throw new Error(`step ${step}: set`)
        } else if (o.op === 'claim') {
          const free = live(o.key) === undefined
          const expected = !free ? false : put(o.key, step, o.ttl) ? true : 'refused'
          if (await stored(store.claim(o.key, step, o.ttl)) !== expected) throw new Error(`step ${step}: claim`)
        } else if (o.op === 'get') {
          if (await store.get(o.key) !== live(o.key)?.value) throw new Error(`step ${step}: get`)
        } else if (o.op === 'take') {
          const expected = live(o.key)?.value
          model.delete(o.key)
          if (await store.take(o.key) !== expected) throw new Error(`step ${step}: take`)
        } else {
          await store.delete(o.key)
          model.delete(o.key)
        }
        if (store.size !== model.size) throw new Error(`step ${step}: size ${store.size}, model ${model.size}`)
      }
    } finally {
      store.close()
    }
  }), { numRuns: 2000 })
  t.pass('2000 random sequences agree with the model')
})

test('the sweep timer never holds the process open', async (t) => {
  const script = [
    "import { MemoryStore } from './lib/stores/memory.ts'",
    'globalThis.store = new MemoryStore({ sweepIntervalMs: 10 })',
    "await store.set('k', 1, 60_000)"
  ].join('\n')
  const started = performance.now()
  const { code, stderr } = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000, env: plainEnv() }, (_err, _stdout, stderr) => {
      resolve({ code: child.exitCode, stderr })
    })
  })
  t.equal(code, 0, stderr)
  t.ok(performance.now() - started < 15_000, 'exited on its own')
})

test('close() stops the sweep and drops every entry', async (t) => {
  const store = new MemoryStore({ sweepIntervalMs: 10 })
  await store.set('k', 1, 60_000)
  store.close()
  t.equal(store.size, 0)
  // Still usable, but nothing sweeps any more: an expired entry stays until it is read.
  await store.set('k', 1, 1)
  await sleep(60)
  t.equal(store.size, 1, 'no sweep ran after close')
  t.equal(await store.get('k'), undefined)
  store.close()
})

test('a store dropped without close() is collected, and its timer stops', async (t) => {
  const state = { collected: false }
  const registry = new FinalizationRegistry(() => { state.collected = true })
  ;(() => {
    const store = new MemoryStore({ sweepIntervalMs: 5 })
    registry.register(store, 'store')
  })()
  for (let i = 0; i < 100 && !state.collected; i++) {
    gc()
    await sleep(10)
  }
  t.ok(state.collected, 'the store was garbage collected')
  // One more tick of the orphaned timer, which clears itself.
  await sleep(20)
})

test('holds 100,000 pending 3DS sessions of about 1 KB in well under 150 MB', async (t) => {
  gc()
  const before = process.memoryUsage().heapUsed
  const store = new MemoryStore()
  t.teardown(() => store.close())
  let json = 0
  for (let i = 0; i < 100_000; i++) {
    const session = {
      purchaseId: `7d1f6f1e-5c55-4f8e-9a3b-${String(i).padStart(12, '0')}`,
      callbackUrl: `https://gate.qorepay.com/callback/${i}/`,
      acsUrl: 'https://acs.bank.example/3ds/challenge',
      method: 'POST',
      md: randomBytes(24).toString('base64'),
      paReq: randomBytes(600).toString('base64')
    }
    if (i === 0) json = JSON.stringify(session).length
    await store.set(randomBytes(16).toString('base64url'), session, 1_800_000)
  }
  gc()
  const megabytes = (process.memoryUsage().heapUsed - before) / 1e6
  t.comment(`100,000 sessions of ${json} bytes of JSON: ${megabytes.toFixed(1)} MB of heap`)
  t.ok(megabytes < 150, `${megabytes.toFixed(1)} MB`)
  t.equal(store.size, 100_000)
})

test('a queue emptied by unschedule is dropped: 50,000 queue names come and go in no lasting heap', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 50_000; i++) {
    await store.schedule(`queue-${i}`, 'm', 1)
    await store.unschedule(`queue-${i}`, 'm')
  }
  gc()
  const megabytes = (process.memoryUsage().heapUsed - before) / 1e6
  t.ok(megabytes < 8, `${megabytes.toFixed(2)} MB kept (each queue left behind would keep about 500 bytes: 25 MB)`)
  t.equal(store.size, 0)
})

test('validates its options and arguments', async (t) => {
  for (const maxEntries of [0, -1, 1.5, Number.NaN, Infinity, '10']) {
    t.throws(() => new MemoryStore({ maxEntries: maxEntries as number }), { name: 'TypeError', message: /maxEntries must be a positive integer/ }, String(maxEntries))
  }
  for (const sweepIntervalMs of [0, -1, Number.NaN, Infinity, '10']) {
    t.throws(() => new MemoryStore({ sweepIntervalMs: sweepIntervalMs as number }), { name: 'TypeError', message: /sweepIntervalMs/ }, String(sweepIntervalMs))
  }
  const single = new MemoryStore({ maxEntries: 1 })
  t.teardown(() => single.close())
  await single.set('only', 1, 60_000)
  await t.rejects(single.set('second', 2, 60_000), /MemoryStore is full \(maxEntries 1\)/, 'maxEntries 1: the smallest store holds one key')

  const store = new MemoryStore()
  t.teardown(() => store.close())
  const keys: Array<[unknown, RegExp]> = [['', /got an empty string/], [5, /got 5/], [null, /got null/], [undefined, /got undefined/], [{}, /got object/]]
  for (const [key, message] of keys) {
    const k = key as string
    for (const call of [() => store.get(k), () => store.set(k, 1, 1000), () => store.claim(k, 1, 1000), () => store.take(k), () => store.delete(k)]) {
      await t.rejects(call(), { name: 'TypeError', message }, `key ${String(key)}`)
    }
  }
  for (const ttl of [0, -1, Number.NaN, Infinity, '100', undefined]) {
    await t.rejects(store.set('k', 1, ttl as number), { name: 'TypeError', message: /ttlMs must be a positive finite number/ }, `ttl ${String(ttl)}`)
    await t.rejects(store.claim('k', 1, ttl as number), TypeError)
  }
  const circular: Record<string, unknown> = {}
  circular.self = circular
  for (const value of [undefined, () => {}, Symbol('s')]) {
    await t.rejects(store.set('k', value, 1000), { name: 'TypeError', message: /must be JSON-serialisable/ })
    await t.rejects(store.claim('k', value, 1000), TypeError)
  }
  await t.rejects(store.set('k', 10n, 1000), TypeError)
  await t.rejects(store.set('k', circular, 1000), TypeError)
  t.equal(store.size, 0, 'nothing stored by a rejected call')
})

/** The environment without the test runner's instrumentation: the child is a plain Node process. */
function plainEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  // tap re-injects its loader into children; this keeps the child's coverage (of
  // tsx-compiled source) from being merged with, and garbling, the tests' own.
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  return env
}

async function present (store: MemoryStore, keys: string[]): Promise<string[]> {
  const found: string[] = []
  for (const key of keys) if (await store.get(key) !== undefined) found.push(key)
  return found
}

test('queue: validates its arguments, and close() drops every queue', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  for (const call of [() => store.schedule('', 'm', 1), () => store.due('', 1, 1, 1), () => store.unschedule('', 'm')] as Array<() => Promise<unknown>>) {
    await t.rejects(call(), { name: 'TypeError', message: /queue must be a non-empty string, got an empty string/ })
  }
  await t.rejects(store.schedule('q', 5 as never, 1), { name: 'TypeError', message: /member must be a non-empty string, got 5/ })
  await t.rejects(store.unschedule('q', ''), TypeError)
  for (const at of [Number.NaN, Infinity, '1', undefined]) {
    await t.rejects(store.schedule('q', 'm', at as number), { name: 'TypeError', message: /dueAt must be a finite number of epoch milliseconds/ }, String(at))
    await t.rejects(store.due('q', at as number, 1, 1), { name: 'TypeError', message: /now must be a finite number/ }, String(at))
  }
  for (const limit of [0, -1, 1.5, Number.NaN, '10']) {
    await t.rejects(store.due('q', 1, limit as number, 1), { name: 'TypeError', message: /limit must be a positive integer/ }, String(limit))
  }
  for (const lease of [0, -1, Number.NaN, Infinity]) {
    await t.rejects(store.due('q', 1, 1, lease), { name: 'TypeError', message: /leaseMs must be a positive finite number/ }, String(lease))
  }
  await store.schedule('q', 'm', 1)
  await store.unschedule('q', 'm')
  await store.schedule('q', 'm', 1)
  await store.schedule('other', 'm', 1)
  t.same(await store.due('q', 1, 1, 1), ['m'], 'a queue emptied and refilled works as new')
  store.close()
  t.same(await store.due('q', 10, 10, 1), [], 'close() dropped the queues')
  t.same(await store.due('other', 10, 10, 1), [])
})
