import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { QueueStore } from '../stores/session-store.js'
import { publishTracked } from '../observability/tracking.js'

/**
 * What reconciliation keeps about a purchase it tracks, beside its place in
 * the due-queue: enough to report its outcome as the card post would have
 * (reference, masked PAN) and to know where it is in the schedule. Never card
 * data: the masked PAN (first six, last four) is the only card detail.
 */
export const TrackedPurchase = Type.Object({
  purchaseId: Type.String({ minLength: 1 }),
  reference: Type.Optional(Type.String()),
  maskedPan: Type.Optional(Type.String()),
  /** The path that created the purchase. */
  source: Type.Union([Type.Literal('direct'), Type.Literal('saved_card')]),
  /** Lookups made so far; the next one waits `schedule[attempts]` seconds. */
  attempts: Type.Integer({ minimum: 0 })
}, { additionalProperties: false })
export type TrackedPurchase = Static<typeof TrackedPurchase>

const checkRecord = TypeCompiler.Compile(TrackedPurchase)

export interface TrackingOptions {
  /** Separates registrations that share a store (another brand, another prefix). */
  scope: string
  /** Seconds before each lookup: `reconcile.schedule`. */
  schedule: number[]
  /** How long a member handed out by `due` stays invisible to other instances. */
  leaseMs: number
}

/**
 * The set of purchases reconciliation still has to learn the outcome of:
 * one record per purchase (`reconcile:<scope>:<id>`, with a TTL longer than
 * the whole schedule) and one member in the due-queue `reconcile:<scope>`,
 * scored by when it is next looked up.
 */
export class Tracking {
  readonly #store: QueueStore
  readonly #queue: string
  readonly #scope: string
  readonly #schedule: number[]
  readonly #leaseMs: number
  readonly #ttlMs: number

  constructor (store: QueueStore, options: TrackingOptions) {
    this.#store = store
    this.#scope = options.scope
    this.#queue = `reconcile:${options.scope}`
    this.#schedule = options.schedule
    this.#leaseMs = options.leaseMs
    // The record outlives its last due time by a day, whatever lease and store clock skew add.
    this.#ttlMs = options.schedule.reduce((sum, seconds) => sum + seconds * 1000, 0) + options.leaseMs + 24 * 3600_000
  }

  /** How many lookups the schedule allows before a purchase is dropped. */
  get steps (): number {
    return this.#schedule.length
  }

  /**
   * Starts tracking a purchase the plugin just created: before its card is
   * sent, so that a process dying during the card post leaves it tracked.
   * Throws FST_QOREPAY_STORE_UNAVAILABLE when the store fails.
   */
  async track (purchase: Omit<TrackedPurchase, 'attempts'>): Promise<void> {
    // The record first: a member is never due without one.
    await this.#store.set(this.#key(purchase.purchaseId), { ...purchase, attempts: 0 } satisfies TrackedPurchase, this.#ttlMs)
    await this.#store.schedule(this.#queue, purchase.purchaseId, Date.now() + this.#schedule[0] * 1000)
    publishTracked(1)
  }

  /** Up to `limit` tracked purchases due now, each leased to this caller. */
  due (limit: number): Promise<string[]> {
    return this.#store.due(this.#queue, Date.now(), limit, this.#leaseMs)
  }

  /** The record of a due purchase; `undefined` when it stopped being tracked meanwhile (or was unreadable). */
  async read (purchaseId: string): Promise<TrackedPurchase | undefined> {
    const record = await this.#store.get(this.#key(purchaseId))
    return checkRecord.Check(record) && record.purchaseId === purchaseId ? record : undefined
  }

  /** After an undecided lookup: the next one `schedule[record.attempts]` seconds from now. */
  async reschedule (record: TrackedPurchase): Promise<void> {
    await this.#store.set(this.#key(record.purchaseId), record, this.#ttlMs)
    await this.#store.schedule(this.#queue, record.purchaseId, Date.now() + this.#schedule[record.attempts] * 1000)
  }

  /** Due again at once, for any instance: a sweep that is closing gives back what it did not look up. */
  async giveBack (purchaseId: string): Promise<void> {
    await this.#store.schedule(this.#queue, purchaseId, Date.now())
  }

  /**
   * Stops tracking: its outcome hook completed, the gateway says it can no
   * longer change, or the schedule ran out. The record is taken atomically,
   * so of several paths stopping the same purchase one counts it (`true`).
   */
  async stop (purchaseId: string): Promise<boolean> {
    const record = await this.#store.take(this.#key(purchaseId))
    if (record === undefined) return false
    publishTracked(-1)
    // Should this fail, the sweep that meets the member without its record drops it (`forget`).
    await this.#store.unschedule(this.#queue, purchaseId)
    return true
  }

  /** Drops a due member whose record is gone (stopped meanwhile, or never written by a process that died). */
  forget (purchaseId: string): Promise<void> {
    return this.#store.unschedule(this.#queue, purchaseId)
  }

  #key (purchaseId: string): string {
    return `reconcile:${this.#scope}:${purchaseId}`
  }
}
