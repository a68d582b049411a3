import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { OutcomeReporter, callHook, runOnce } from '../../lib/outcome/reporter.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { OutcomeEvent, OutcomeStatus } from '../../lib/events.js'
import type { Tap } from '../helpers/tap.js'
import { keyValueOf } from '../helpers/key-value.js'

const TIMES = { leaseMs: 60, lifetimeMs: 5_000 }

interface Logged { level: string, fields: Record<string, unknown>, msg: string }

function logger (): { log: FastifyBaseLogger, lines: Logged[] } {
  const lines: Logged[] = []
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => { lines.push({ level, fields, msg }) }
  return { log: { error: at('error'), warn: at('warn') } as unknown as FastifyBaseLogger, lines }
}

function memory (t: Tap): MemoryStore {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  return store
}

function event (status: OutcomeStatus, purchaseId = 'p-1'): OutcomeEvent {
  const base = { purchaseId, source: 'webhook' as const, eventId: `${purchaseId}:${status}` }
  if (status === 'error') return { ...base, status, error: { code: 'do_not_honour', message: 'Declined' } }
  if (status === 'authorized') return { ...base, status, authorization: 'hold' }
  return { ...base, status }
}

test('callHook: no hook is done; a hook that throws is logged with the purchase and the hook, and is not done', async (t) => {
  const { log, lines } = logger()
  t.equal(await callHook('onExecuted', undefined, { purchaseId: 'p-1' }, undefined, log), true)
  t.equal(await callHook('onExecuted', async () => {}, { purchaseId: 'p-1' }, undefined, log), true)
  t.strictSame(lines, [])
  const err = new Error('db down')
  t.equal(await callHook('onFailed', async () => { throw err }, { purchaseId: 'p-1' }, undefined, log), false)
  t.strictSame(lines, [{ level: 'error', fields: { err, purchaseId: 'p-1', hook: 'onFailed' }, msg: 'qorepay: onFailed hook failed for purchase p-1' }])
})

test('report: a hook that throws is logged under its own name, and the outcome is not done', async (t) => {
  const { log, lines } = logger()
  const err = new Error('db down')
  const fail = async (): Promise<void> => { throw err }
  const reporter = new OutcomeReporter(memory(t), { executed: fail, authorized: fail, error: fail }, log, undefined, TIMES)
  for (const [status, hook] of [['error', 'onFailed'], ['authorized', 'onAuthorized'], ['executed', 'onExecuted']] as const) {
    t.equal(await reporter.report(event(status), undefined), 'hook_failed', status)
    t.strictSame(lines.at(-1), { level: 'error', fields: { err, purchaseId: 'p-1', hook }, msg: `qorepay: ${hook} hook failed for purchase p-1` })
  }
})

test('runOnce: claimed elsewhere and done is a duplicate; still running, or let go in between, is in progress', async (t) => {
  const store = memory(t)
  const { log } = logger()
  let runs = 0
  const work = async (): Promise<boolean> => { runs++; return true }
  await store.set('k-done', { state: 'done', at: 1 }, 1000)
  t.equal(await runOnce(store, 'k-done', log, work, { times: TIMES }), 'duplicate')
  await store.set('k-running', { state: 'running', at: 1, lease: 'x' }, 1000)
  t.equal(await runOnce(store, 'k-running', log, work, { times: TIMES }), 'in_progress')
  // The claim fails, and the mark is gone by the read that follows: a failed run let go.
  const racing: SessionStore = { ...keyValueOf(store), claim: async () => false }
  t.equal(await runOnce(racing, 'k-gone', log, work, { times: TIMES }), 'in_progress')
  t.equal(runs, 0)
})

test('runOnce: stale is marked done for the mark lifetime without working; failed work lets go at once; a throw lets go within a lease', async (t) => {
  const store = memory(t)
  const { log } = logger()
  let runs = 0
  const ttls: Record<string, number> = {}
  const watched: SessionStore = { ...keyValueOf(store), set: async (key, value, ttl) => { ttls[key] = ttl; await store.set(key, value, ttl) } }

  t.equal(await runOnce(watched, 'k-stale', log, async () => { runs++; return true }, { times: TIMES, isStale: async () => true }), 'stale')
  t.equal(runs, 0)
  t.match(await store.get('k-stale'), { state: 'done', at: Number })
  t.equal(ttls['k-stale'], TIMES.lifetimeMs)
  t.equal(await runOnce(watched, 'k-stale', log, async () => { runs++; return true }, { times: TIMES }), 'duplicate')

  t.equal(await runOnce(watched, 'k-fresh', log, async () => { runs++; return true }, { times: TIMES, isStale: async () => false }), 'fired')
  t.equal(runs, 1)
  t.equal(ttls['k-fresh'], TIMES.lifetimeMs, 'the done mark lives the mark lifetime')

  t.equal(await runOnce(watched, 'k-fail', log, async () => { runs++; return false }, { times: TIMES }), 'hook_failed')
  t.equal(await store.get('k-fail'), undefined, 'let go: a retry runs it again at once')
  t.equal(await runOnce(watched, 'k-fail', log, async () => { runs++; return true }, { times: TIMES }), 'fired')
  t.equal(runs, 3)

  await t.rejects(runOnce(watched, 'k-throw', log, async () => { throw new Error('boom') }, { times: TIMES }), { message: 'boom' })
  await sleep(3 * TIMES.leaseMs)
  t.equal(await store.get('k-throw'), undefined, 'its claim is no longer renewed: it ran out')
})

test('report: forward only; an earlier outcome learnt after a later one is stale and fires nothing', async (t) => {
  const order: Array<[OutcomeStatus, OutcomeStatus, 'fired' | 'stale']> = [
    ['executed', 'error', 'stale'], ['authorized', 'error', 'stale'], ['executed', 'authorized', 'stale'],
    ['error', 'authorized', 'fired'], ['error', 'executed', 'fired'], ['authorized', 'executed', 'fired']
  ]
  for (const [first, then, result] of order) {
    const store = memory(t)
    const { log } = logger()
    const fired: OutcomeStatus[] = []
    const hook = async (e: OutcomeEvent): Promise<void> => { fired.push(e.status) }
    const reporter = new OutcomeReporter(store, { executed: hook, authorized: hook, error: hook }, log, undefined, TIMES)
    t.equal(await reporter.report(event(first), undefined), 'fired')
    t.equal(await reporter.report(event(then), undefined), result, `${first} then ${then}`)
    t.strictSame(fired, result === 'fired' ? [first, then] : [first])
  }
})

test('report: a later outcome only known, its hook still failing, makes an earlier one stale', async (t) => {
  const store = memory(t)
  const { log } = logger()
  const fired: OutcomeStatus[] = []
  const reporter = new OutcomeReporter(store, { executed: async () => { throw new Error('db down') }, error: async (e) => { fired.push(e.status) } }, log, undefined, TIMES)
  t.equal(await reporter.report(event('executed'), undefined), 'hook_failed')
  t.equal(await reporter.report(event('error'), undefined), 'stale')
  t.strictSame(fired, [])
  t.match(await store.get('known:p-1:executed'), { at: Number }, 'what was learnt, with when')
})

test('report: a store written before known marks existed: a later outcome\'s hook mark alone makes an earlier one stale', async (t) => {
  for (const later of ['authorized', 'executed'] as const) {
    const store = memory(t)
    const { log } = logger()
    const fired: OutcomeStatus[] = []
    const reporter = new OutcomeReporter(store, { error: async (e) => { fired.push(e.status) } }, log, undefined, TIMES)
    await store.set(`outcome:p-1:${later}`, { state: 'done', at: 1 }, 1000)
    t.equal(await reporter.report(event('error'), undefined), 'stale', later)
    t.strictSame(fired, [])
  }
})

test('report: onSettled after fired and duplicate only; its failure is a warning, the result stands', async (t) => {
  const store = memory(t)
  const { log, lines } = logger()
  const settled: string[] = []
  let failSettled = false
  const onSettled = async (id: string): Promise<void> => { settled.push(id); if (failSettled) throw new Error('queue down') }
  let hookFails = false
  const reporter = new OutcomeReporter(store, { executed: async () => { if (hookFails) throw new Error('db down') }, error: async () => {} }, log, onSettled, TIMES)

  hookFails = true
  t.equal(await reporter.report(event('executed', 'p-1'), undefined), 'hook_failed')
  t.strictSame(settled, [], 'not after a failed hook')
  t.equal(await reporter.report(event('error', 'p-1'), undefined), 'stale')
  t.strictSame(settled, [], 'not after a stale outcome')
  hookFails = false
  t.equal(await reporter.report(event('executed', 'p-1'), undefined), 'fired')
  t.strictSame(settled, ['p-1'])
  t.equal(await reporter.report(event('executed', 'p-1'), undefined), 'duplicate')
  t.strictSame(settled, ['p-1', 'p-1'])
  await store.set('outcome:p-2:executed', { state: 'running', at: 1, lease: 'x' }, 1000)
  t.equal(await reporter.report(event('executed', 'p-2'), undefined), 'in_progress')
  t.strictSame(settled, ['p-1', 'p-1'], 'not while another run holds it')

  failSettled = true
  t.equal(await reporter.report(event('executed', 'p-3'), undefined), 'fired')
  t.strictSame(lines.filter((line) => line.level === 'warn'), [{
    level: 'warn',
    fields: { err: new Error('queue down'), purchaseId: 'p-3' },
    msg: 'qorepay: purchase p-3 is reported but could not stop being tracked; reconciliation stops it at its next lookup'
  }])
  const warned = lines.length
  t.equal(await new OutcomeReporter(store, {}, log, undefined, TIMES).report(event('executed', 'p-4'), undefined), 'fired', 'no onSettled: nothing to call')
  t.equal(lines.length, warned, 'and nothing logged')
})

test('reportQuietly: a failing store is logged with the purchase (on the request\'s log when there is one), and answers undefined', async (t) => {
  const store = memory(t)
  const broken: SessionStore = { ...keyValueOf(store), set: async () => { throw new Error('store down') } }
  const plugin = logger()
  const requestLog = logger()
  const reporter = new OutcomeReporter(broken, {}, plugin.log, undefined, TIMES)
  const msg = 'qorepay: could not report executed for purchase p-1; a webhook or reconciliation reports it later'
  t.equal(await reporter.reportQuietly(event('executed'), { log: requestLog.log } as unknown as FastifyRequest), undefined)
  t.strictSame(requestLog.lines, [{ level: 'error', fields: { err: new Error('store down'), purchaseId: 'p-1' }, msg }])
  t.strictSame(plugin.lines, [])
  t.equal(await reporter.reportQuietly(event('executed'), undefined), undefined)
  t.strictSame(plugin.lines, [{ level: 'error', fields: { err: new Error('store down'), purchaseId: 'p-1' }, msg }])
  t.equal(await new OutcomeReporter(store, {}, plugin.log, undefined, TIMES).reportQuietly(event('executed'), undefined), 'fired', 'a working store: the result')
})
