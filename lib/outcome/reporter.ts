import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { OutcomeHook } from '../options.js'
import type { OutcomeEvent, OutcomeStatus } from '../events.js'
import type { SessionStore } from '../stores/session-store.js'
import { traceOutcome } from '../observability/outcome.js'

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
  | 'stale' // a later outcome was reported first; nothing fires
  | 'hook_failed' // the hook threw; nothing is marked, a retry runs it again

type OutcomeHooks = {
  [S in OutcomeStatus]?: OutcomeHook<Extract<OutcomeEvent, { status: S }>>
}

/** Called once an outcome's hook is done (`fired` or `duplicate`): reconciliation stops tracking the purchase. */
export type OnSettled = (purchaseId: string) => Promise<unknown>

const HOOK_NAMES: Record<OutcomeStatus, string> = { executed: 'onExecuted', authorized: 'onAuthorized', error: 'onFailed' }
// Forward-only: a purchase may fail, then be authorized, then executed, never the reverse.
const LATER: Record<OutcomeStatus, OutcomeStatus[]> = { error: ['authorized', 'executed'], authorized: ['executed'], executed: [] }
// A running marker outlives any sane hook; if its instance dies, the work can be done again after it.
const RUNNING_TTL_MS = 5 * 60_000
// Longer than the gateway's 36 hours of webhook retries.
const DONE_TTL_MS = 7 * 24 * 3600_000

interface Marker { state: 'running' | 'done', at: number }

/**
 * Runs `work` at most once per key across every request and every instance
 * sharing the store: the store's atomic `claim` decides who runs it, and only
 * work that completed is marked done, so a retry runs failed work again.
 * `isStale` is asked after the claim: true marks the key done without working.
 */
export async function runOnce (
  store: SessionStore, key: string, log: FastifyBaseLogger, work: () => Promise<boolean>, isStale?: () => Promise<boolean>
): Promise<ReportResult> {
  const mine: Marker = { state: 'running', at: Date.now() }
  if (!await store.claim(key, mine, RUNNING_TTL_MS)) {
    const marker = await store.get(key) as Marker | undefined
    // Gone between claim and get: its work failed and let go; the caller's retry may run it.
    return marker?.state === 'done' ? 'duplicate' : 'in_progress'
  }
  const done: Marker = { ...mine, state: 'done' }
  if (await isStale?.() === true) {
    await store.set(key, done, DONE_TTL_MS)
    return 'stale'
  }
  if (!await work()) {
    await store.delete(key)
    return 'hook_failed'
  }
  try {
    await store.set(key, done, DONE_TTL_MS)
  } catch (err) {
    // The work did run; the running marker still guards it for RUNNING_TTL_MS.
    log.error({ err, key }, `qorepay: could not mark ${key} done`)
  }
  return 'fired'
}

/**
 * Fires `onExecuted` / `onAuthorized` / `onFailed` at most once per purchase
 * and outcome, across every path and every instance sharing the store, and
 * only forward.
 */
export class OutcomeReporter {
  readonly #store: SessionStore
  readonly #hooks: OutcomeHooks
  readonly #log: FastifyBaseLogger
  readonly #onSettled: OnSettled | undefined

  constructor (store: SessionStore, hooks: OutcomeHooks, log: FastifyBaseLogger, onSettled?: OnSettled) {
    this.#store = store
    this.#hooks = hooks
    this.#log = log
    this.#onSettled = onSettled
  }

  /** `request`: the one whose path learnt the outcome; `undefined` for a charge with a saved card and for reconciliation. */
  async report (event: OutcomeEvent, request: FastifyRequest | undefined): Promise<ReportResult> {
    const { purchaseId, status } = event
    const name = HOOK_NAMES[status]
    const hook = this.#hooks[status] as OutcomeHook<OutcomeEvent> | undefined
    const result = await traceOutcome(event, () => runOnce(this.#store, markerKey(purchaseId, status), this.#log,
      () => callHook(name, hook, event, request, this.#log),
      async () => {
        for (const later of LATER[status]) {
          if (await this.#store.get(markerKey(purchaseId, later)) !== undefined) return true
        }
        return false
      }))
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

function markerKey (purchaseId: string, status: OutcomeStatus): string {
  return `outcome:${purchaseId}:${status}`
}
