import type { FastifyBaseLogger } from 'fastify'
import type { QorePayClient } from '../gateway/client.js'
import type { OutcomeReporter } from '../outcome/reporter.js'
import { outcomeOfPurchase, toOutcomeEvent } from '../outcome/mapping.js'
import type { ReconcileOptions } from '../options.js'
import type { PurchaseStatus } from '../wire/purchase.js'
import { traceSweep, type SweepResult } from '../observability/reconcile.js'
import type { Tracking, TrackedPurchase } from './tracking.js'

export type { SweepResult } from '../observability/reconcile.js'

/** Statuses after which a purchase can no longer come to an outcome the hooks would report. */
const SETTLED_WITHOUT_OUTCOME = new Set<PurchaseStatus>(['expired', 'cancelled', 'released'])

/** Lookups of one sweep in flight at once: `batch` bounds the total, this the burst. */
export const SWEEP_CONCURRENCY = 4

/** What became of one due purchase in a sweep. */
type Checked = 'reported' | 'pending' | 'settled' | 'gone' | 'abandoned' | 'failed'

export interface SweeperDeps {
  tracking: Tracking
  client: QorePayClient
  outcomes: OutcomeReporter
  log: FastifyBaseLogger
  options: ReconcileOptions
}

/**
 * The lease a sweep takes on what `due` hands it: long enough for every
 * lookup of a full batch to run out its timeouts and retries, so that no
 * other instance looks the same purchase up while this one still may.
 */
export function sweepLeaseMs (options: ReconcileOptions, call: { timeouts: { connect: number, headers: number, body: number }, retries: number }): number {
  const lookupMs = (call.timeouts.connect + call.timeouts.headers + call.timeouts.body) * (call.retries + 1)
  return Math.ceil(options.batch / SWEEP_CONCURRENCY) * lookupMs + 60_000
}

/**
 * Reconciliation's sweeper, one per registration and instance. A sweep takes
 * up to `batch` due purchases from the store (leased: no other instance gets
 * them meanwhile), looks each up with `GET /purchases/{id}/`, and reports a
 * decided one through the exactly-once outcome hooks (`source: 'reconcile'`).
 * An undecided one, or one whose lookup failed, is looked up again after the
 * next step of `schedule`; after the last step it is dropped with one error
 * line. Sweeps never overlap; the timer is `unref()`ed and `close()` stops it
 * and the sweep in flight, whose lookups are aborted and whose remaining
 * purchases are given back to the queue.
 */
export class Sweeper {
  readonly #deps: SweeperDeps
  readonly #abort = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> = Promise.resolve()

  constructor (deps: SweeperDeps) {
    this.#deps = deps
  }

  /** Starts the timer (none when `interval` is 0: sweeps run only through `sweep()`). */
  start (): void {
    this.#arm()
  }

  /** One sweep now, after the one in flight if any. */
  sweep (): Promise<SweepResult> {
    const run = this.#running.then(() => this.#sweepOnce())
    this.#running = run.catch(() => {})
    return run
  }

  /** Stops the timer and the sweep in flight, and waits for it to let go. */
  async close (): Promise<void> {
    this.#abort.abort()
    clearTimeout(this.#timer)
    await this.#running
  }

  #arm (): void {
    const { interval } = this.#deps.options
    if (interval === 0 || this.#abort.signal.aborted) return
    this.#timer = setTimeout(() => {
      this.sweep().catch((err: unknown) => {
        this.#deps.log.error({ err }, 'qorepay: reconciliation sweep failed; the next one retries')
      }).finally(() => this.#arm())
    }, interval * 1000)
    this.#timer.unref()
  }

  async #sweepOnce (): Promise<SweepResult> {
    if (this.#abort.signal.aborted) return { checked: 0, reported: 0, pending: 0 }
    return await traceSweep(async () => {
      const ids = await this.#deps.tracking.due(this.#deps.options.batch)
      const counts = { checked: 0, reported: 0, pending: 0 }
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < ids.length) {
          const purchaseId = ids[next++]
          const checked = await this.#check(purchaseId)
          if (checked === 'gone' || checked === 'abandoned') continue
          counts.checked++
          if (checked === 'reported') counts.reported++
          if (checked === 'pending' || checked === 'failed') counts.pending++
        }
      }
      await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, ids.length) }, worker))
      return counts
    })
  }

  async #check (purchaseId: string): Promise<Checked> {
    const { tracking, client, outcomes, log } = this.#deps
    const signal = this.#abort.signal
    try {
      if (signal.aborted) return await this.#giveBack(purchaseId)
      const record = await tracking.read(purchaseId)
      if (record === undefined) {
        await tracking.forget(purchaseId)
        return 'gone'
      }
      let purchase
      try {
        purchase = await client.getPurchase(purchaseId, { signal })
      } catch (err) {
        if (signal.aborted) return await this.#giveBack(purchaseId)
        log.warn({ err, purchaseId }, `qorepay: reconciliation could not look up purchase ${purchaseId}; it is looked up again later`)
        return await this.#later(record)
      }
      const outcome = outcomeOfPurchase(purchase)
      if (outcome !== undefined) {
        const event = toOutcomeEvent(outcome, { purchaseId, source: 'reconcile', reference: record.reference, maskedPan: record.maskedPan })
        // fired and duplicate: the reporter stopped tracking it; anything else is tried again later.
        const result = await outcomes.report(event, undefined)
        if (result === 'fired') return 'reported'
        if (result === 'duplicate') return 'settled'
        return await this.#later(record)
      }
      if (SETTLED_WITHOUT_OUTCOME.has(purchase.status)) {
        await tracking.stop(purchaseId)
        log.info({ purchaseId, status: purchase.status }, `qorepay: purchase ${purchaseId} is ${purchase.status} at the gateway; no longer tracked`)
        return 'settled'
      }
      return await this.#later(record)
    } catch (err) {
      // The store failed: the purchase stays leased and is due again when the lease ends.
      log.error({ err, purchaseId }, `qorepay: reconciliation of purchase ${purchaseId} failed; it is tried again when its lease ends`)
      return 'failed'
    }
  }

  /** Undecided: due again at the next step of the schedule, or dropped after the last. */
  async #later (record: TrackedPurchase): Promise<Checked> {
    const { tracking, log } = this.#deps
    const attempts = record.attempts + 1
    if (attempts < tracking.steps) {
      await tracking.reschedule({ ...record, attempts })
      return 'pending'
    }
    await tracking.stop(record.purchaseId)
    log.error({ purchaseId: record.purchaseId, lookups: attempts },
      `qorepay: purchase ${record.purchaseId} is still undecided after ${attempts} lookups over the whole reconcile.schedule; it is no longer tracked, check it at the gateway`)
    return 'settled'
  }

  async #giveBack (purchaseId: string): Promise<Checked> {
    await this.#deps.tracking.giveBack(purchaseId)
    return 'abandoned'
  }
}
