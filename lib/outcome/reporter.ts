import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { OutcomeHook } from '../options.js'
import type { OutcomeEvent, OutcomeStatus } from '../events.js'
import type { SessionStore } from '../stores/session-store.js'
import { traceOutcome } from '../observability/outcome.js'
import { Lease } from './lease.js'
import { DEFAULT_MARK_TIMES, type MarkTimes } from './mark-times.js'

/**
 * Awaits one host hook and keeps its failure from escaping: logged with the
 * purchase id, reported as `false` so the caller decides what "not done" means.
 */
export async function callHook<E extends { purchaseId: string }, R extends FastifyRequest | undefined> (
  name: string, hook: ((event: E, request: R) => void | Promise<void>) | undefined, event: E, request: R, log: FastifyBaseLogger
): Promise<boolean> {
  if (hook === undefined) return true
  try {
    await hook(event, request)
    return true
  } catch (err) {
    log.error({ err, purchaseId: event.purchaseId, hook: name }, `qorepay: ${name} hook failed for purchase ${event.purchaseId}`)
    return false
  }
}

export type ReportResult =
  | 'fired' // the hook completed (or there is none) and is marked done
  | 'duplicate' // this outcome was already reported and done
  | 'in_progress' // another request is running this hook right now
  | 'stale' // a later outcome is known already; nothing fires
  | 'hook_failed' // the hook threw; nothing is marked, a retry runs it again

type OutcomeHooks = {
  [S in OutcomeStatus]?: OutcomeHook<Extract<OutcomeEvent, { status: S }>>
}

/** Called once an outcome's hook is done (`fired` or `duplicate`): reconciliation stops tracking the purchase. */
export type OnSettled = (purchaseId: string) => Promise<unknown>

const HOOK_NAMES: Record<OutcomeStatus, string> = { executed: 'onExecuted', authorized: 'onAuthorized', error: 'onFailed' }
// Forward-only: a purchase may fail, then be authorized, then executed, never the reverse.
const LATER: Record<OutcomeStatus, OutcomeStatus[]> = { error: ['authorized', 'executed'], authorized: ['executed'], executed: [] }

/** `lease`: which run holds a running claim, so a renewal never renews another run's. */
type Marker = { state: 'running', at: number, lease: string } | { state: 'done', at: number }

export interface RunOnceOptions {
  times: MarkTimes
  /** Asked after the claim: true marks the key done without working. */
  isStale?: () => Promise<boolean>
}

/**
 * Runs `work` at most once per key across every request and every instance
 * sharing the store: the store's atomic `claim` decides who runs it, a lease
 * renewed while it runs keeps any other run off it however long it takes
 * (see `Lease`), and only work that completed is marked done (for
 * `times.lifetimeMs`), so a retry runs failed work again.
 */
export async function runOnce (
  store: SessionStore, key: string, log: FastifyBaseLogger, work: () => Promise<boolean>, options: RunOnceOptions
): Promise<ReportResult> {
  const { times, isStale } = options
  const mine: Marker = { state: 'running', at: Date.now(), lease: randomUUID() }
  if (!await store.claim(key, mine, times.leaseMs)) {
    const marker = await store.get(key) as Marker | undefined
    // Gone between claim and get: its work failed and let go; the caller's retry may run it.
    return marker?.state === 'done' ? 'duplicate' : 'in_progress'
  }
  if (await isStale?.() === true) {
    await store.set(key, { state: 'done', at: Date.now() } satisfies Marker, times.lifetimeMs)
    return 'stale'
  }
  const lease = new Lease(store, key, mine, times.leaseMs, log)
  let completed: boolean
  try {
    completed = await work()
  } finally {
    await lease.stop()
  }
  if (!completed) {
    await store.delete(key)
    return 'hook_failed'
  }
  // A failed done write is logged and tried again by the lease; the work did run.
  await lease.finish({ state: 'done', at: Date.now() } satisfies Marker, times.lifetimeMs)
  return 'fired'
}

/**
 * Fires `onExecuted` / `onAuthorized` / `onFailed` at most once per purchase
 * and outcome, across every path and every instance sharing the store, and
 * only forward by what is known: each report first marks its outcome known
 * (`known:<purchaseId>:<status>`), and an outcome is stale once a later one
 * is known, whether or not that one's hook has completed yet.
 */
export class OutcomeReporter {
  readonly #store: SessionStore
  readonly #hooks: OutcomeHooks
  readonly #log: FastifyBaseLogger
  readonly #onSettled: OnSettled | undefined
  /** The leases and lifetimes of the marks: the defaults, or a test's shorter ones. */
  readonly times: MarkTimes

  constructor (store: SessionStore, hooks: OutcomeHooks, log: FastifyBaseLogger, onSettled?: OnSettled, times: MarkTimes = DEFAULT_MARK_TIMES) {
    this.#store = store
    this.#hooks = hooks
    this.#log = log
    this.#onSettled = onSettled
    this.times = times
  }

  /** `request`: the one whose path learnt the outcome; `undefined` for a charge with a saved card and for reconciliation. */
  async report (event: OutcomeEvent, request: FastifyRequest | undefined): Promise<ReportResult> {
    const { purchaseId, status } = event
    const name = HOOK_NAMES[status]
    const hook = this.#hooks[status] as OutcomeHook<OutcomeEvent> | undefined
    const store = this.#store
    const result = await traceOutcome(event, async () => {
      // Known before any hook runs, so an earlier outcome that arrives later is stale even while this one's hook fails.
      await store.set(knownKey(purchaseId, status), { at: Date.now() }, this.times.lifetimeMs)
      return await runOnce(store, markerKey(purchaseId, status), this.#log, () => callHook(name, hook, event, request, this.#log), {
        times: this.times,
        isStale: async () => {
          for (const later of LATER[status]) {
            if (await store.get(knownKey(purchaseId, later)) !== undefined) return true
            // A store written before known marks existed has only the hook's mark of what was learnt.
            if (await store.get(markerKey(purchaseId, later)) !== undefined) return true
          }
          return false
        }
      })
    })
    if ((result === 'fired' || result === 'duplicate') && this.#onSettled !== undefined) {
      try {
        await this.#onSettled(purchaseId)
      } catch (err) {
        // Still tracked: the next lookup finds the outcome done and stops it then.
        this.#log.warn({ err, purchaseId }, `qorepay: purchase ${purchaseId} is reported but could not stop being tracked; reconciliation stops it at its next lookup`)
      }
    }
    return result
  }

  /**
   * Reports an outcome on a path where the payer already has their answer:
   * a failing store or hook is logged with the purchase id, and a webhook,
   * the callback or reconciliation reports it later.
   */
  async reportQuietly (event: OutcomeEvent, request: FastifyRequest | undefined): Promise<ReportResult | undefined> {
    try {
      return await this.report(event, request)
    } catch (err) {
      (request?.log ?? this.#log).error({ err, purchaseId: event.purchaseId }, `qorepay: could not report ${event.status} for purchase ${event.purchaseId}; a webhook or reconciliation reports it later`)
      return undefined
    }
  }
}

/** Whose hook ran: claimed while it runs, done once it completed. */
function markerKey (purchaseId: string, status: OutcomeStatus): string {
  return `outcome:${purchaseId}:${status}`
}

/** That some path learnt this outcome: what staleness is judged by. */
function knownKey (purchaseId: string, status: OutcomeStatus): string {
  return `known:${purchaseId}:${status}`
}
