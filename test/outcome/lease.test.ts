import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { Lease } from '../../lib/outcome/lease.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { Tap } from '../helpers/tap.js'
import { keyValueOf } from '../helpers/key-value.js'

// A lease of 60 ms: renewed every 20 ms, so a few hundred milliseconds show many periods.
const LEASE_MS = 60
const KEY = 'outcome:p-1:executed'
const MINE = { state: 'running', at: 1, lease: 'mine' }

interface Logged { level: 'error', fields: Record<string, unknown>, msg: string }

/**
 * A MemoryStore that counts the calls a lease makes, with faults: `failGet`,
 * `failSet(value)` throw; `gate` holds every get until opened.
 */
function leasedStore (t: Tap): { store: SessionStore, inner: MemoryStore, calls: { get: number, set: unknown[] }, faults: { failGet: boolean, failSet: (value: unknown) => boolean, gate?: Promise<void> } } {
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  const calls = { get: 0, set: [] as unknown[] }
  const faults: { failGet: boolean, failSet: (value: unknown) => boolean, gate?: Promise<void> } = { failGet: false, failSet: () => false }
  const store: SessionStore = {
    ...keyValueOf(inner),
    async get (key) {
      calls.get++
      await faults.gate
      if (faults.failGet) throw new Error('connection reset')
      return await inner.get(key)
    },
    async set (key, value, ttl) {
      calls.set.push(value)
      if (faults.failSet(value)) throw new Error('read-only replica')
      await inner.set(key, value, ttl)
    }
  }
  return { store, inner, calls, faults }
}

function logger (): { log: FastifyBaseLogger, lines: Logged[] } {
  const lines: Logged[] = []
  const log = { error: (fields: Record<string, unknown>, msg: string) => { lines.push({ level: 'error', fields, msg }) } } as unknown as FastifyBaseLogger
  return { log, lines }
}

test('held: renewed each third of a lease with the claim and the lease\'s TTL, so it outlives many leases; stopped, it runs out', async (t) => {
  const { store, inner, calls } = leasedStore(t)
  const { log, lines } = logger()
  await inner.claim(KEY, MINE, LEASE_MS)
  const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
  await sleep(5 * LEASE_MS)
  t.strictSame(await inner.get(KEY), MINE, 'still held after five leases')
  t.ok(calls.set.length >= 5, `renewed ${calls.set.length} times`)
  t.ok(calls.set.every((value) => value === MINE), 'each renewal writes the claim itself')
  await lease.stop()
  const renewals = calls.set.length
  await sleep(3 * LEASE_MS)
  t.equal(calls.set.length, renewals, 'no renewal once stopped')
  t.equal(await inner.get(KEY), undefined, 'run out within a lease')
  t.strictSame(lines, [])
})

test('a renewal in flight when the hook ends lands, and nothing renews after it, even without a done mark (the hook failed)', async (t) => {
  const { store, inner, calls, faults } = leasedStore(t)
  const { log, lines } = logger()
  await inner.claim(KEY, MINE, LEASE_MS)
  let open = (): void => {}
  faults.gate = new Promise((resolve) => { open = resolve })
  const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
  while (calls.get === 0) await sleep(5)
  const stopped = lease.stop()
  open()
  await stopped
  t.strictSame(calls.set, [MINE], 'the renewal in flight wrote before stop() answered')
  await inner.delete(KEY)
  await sleep(4 * LEASE_MS)
  t.equal(calls.get, 1, 'no read after it')
  t.strictSame(lines, [], 'nothing logged')
})

test('the claim gone or taken: logged once with its key, never renewed or overwritten again', async (t) => {
  for (const [what, replace] of [['gone', undefined], ['taken', { state: 'running', at: 2, lease: 'theirs' }]] as const) {
    const { store, inner, calls } = leasedStore(t)
    const { log, lines } = logger()
    await inner.claim(KEY, MINE, LEASE_MS)
    const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
    await inner.delete(KEY)
    if (replace !== undefined) await inner.set(KEY, replace, 10 * LEASE_MS)
    await sleep(4 * LEASE_MS)
    t.strictSame(lines, [{ level: 'error', fields: { key: KEY }, msg: `qorepay: the lease on ${KEY} ran out while its hook was running; another delivery may run it again (same eventId)` }], what)
    t.equal(calls.get, 1, `${what}: read once, then left alone`)
    t.strictSame(calls.set, [], `${what}: not written`)
    t.strictSame(await inner.get(KEY), replace, `${what}: what stands there is not touched`)
    await lease.stop()
  }
})

test('a renewal that fails is logged with its error and key and tried again the next third', async (t) => {
  const { store, inner, calls, faults } = leasedStore(t)
  const { log, lines } = logger()
  await inner.claim(KEY, MINE, 10 * LEASE_MS)
  faults.failGet = true
  const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
  await sleep(4 * LEASE_MS)
  await lease.stop()
  t.ok(calls.get >= 3, `tried ${calls.get} times`)
  t.equal(lines.length, calls.get)
  for (const line of lines) {
    t.strictSame(line, { level: 'error', fields: { err: new Error('connection reset'), key: KEY }, msg: `qorepay: could not renew the lease on ${KEY}` })
  }
})

test('finish: one done write when it lands, no more', async (t) => {
  const { store, inner, calls } = leasedStore(t)
  const { log, lines } = logger()
  await inner.claim(KEY, MINE, LEASE_MS)
  const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
  const done = { state: 'done', at: 3 }
  await lease.finish(done, 1000)
  await sleep(3 * LEASE_MS)
  t.strictSame(calls.set, [done])
  t.strictSame(await inner.get(KEY), done)
  t.strictSame(lines, [])
})

test('finish: a failing done write is tried nine times more, a third of a lease apart, logged with its try, and keeps no process alive', async (t) => {
  const { store, inner, calls, faults } = leasedStore(t)
  const { log, lines } = logger()
  await inner.claim(KEY, MINE, LEASE_MS)
  const done = { state: 'done', at: 3 }
  let failing = true
  faults.failSet = (value) => value === done && failing
  const lease = new Lease(store, KEY, MINE, LEASE_MS, log)
  const timersBefore = process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length
  await lease.finish(done, 1000)
  t.equal(process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length, timersBefore, 'the retry\'s wait holds no process open')
  while (lines.length < 10) await sleep(5)
  await sleep(2 * LEASE_MS)
  t.equal(calls.set.filter((value) => value === done).length, 10, 'the first write and nine more, then no more')
  t.strictSame(lines.map((line) => line.fields), Array.from({ length: 10 }, (_, tries) => ({ err: new Error('read-only replica'), key: KEY, tries })))
  t.strictSame(lines.slice(0, 9).map((line) => line.msg), Array(9).fill(`qorepay: could not mark ${KEY} done; trying again while its lease guards it`))
  t.equal(lines[9].msg, `qorepay: could not mark ${KEY} done; its hook completed and may run again once its lease runs out (same eventId)`)

  // A store back within the tries: the mark lands and the tries stop.
  const second = leasedStore(t)
  const again = logger()
  failing = true
  second.faults.failSet = (value) => value === done && failing
  await second.inner.claim(KEY, MINE, LEASE_MS)
  await new Lease(second.store, KEY, MINE, LEASE_MS, again.log).finish(done, 1000)
  while (again.lines.length < 2) await sleep(5)
  failing = false
  await sleep(3 * LEASE_MS)
  t.strictSame(await second.inner.get(KEY), done)
  const writes = second.calls.set.filter((value) => value === done).length
  await sleep(2 * LEASE_MS)
  t.equal(second.calls.set.filter((value) => value === done).length, writes, 'no write after the one that landed')
  t.ok(writes >= 3 && writes <= 4, `${writes} writes`)
})
