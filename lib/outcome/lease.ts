import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { SessionStore } from '../stores/session-store.js'

/** How many times a done mark that failed to write is tried again, a third of a lease apart. */
const DONE_RETRIES = 9

/**
 * The claim of a running hook, kept alive while the hook runs.
 *
 * Why a renewed lease and not a time limit on hooks: a hook is the shop's own
 * code (a database write, an e-mail), and a time limit could only stop
 * waiting for it, not stop it, so a hook declared failed after N seconds
 * would still be running when the retry starts it a second time. A lease
 * renewed while the hook runs holds the claim exactly as long as the hook is
 * alive, however long that is, and frees it within one lease when its
 * process dies, so a later delivery can run it again (with the same eventId).
 *
 * The store has no compare-and-set, so a renewal first reads the claim and
 * renews it only while it is still this run's; a claim found gone or taken
 * (the lease ran out while the store or the process was frozen) is logged and
 * no longer renewed.
 */
export class Lease {
  readonly #store: SessionStore
  readonly #key: string
  readonly #marker: { lease: string }
  readonly #leaseMs: number
  readonly #log: FastifyBaseLogger
  #timer: NodeJS.Timeout | undefined
  /** The renewal in flight, if any: the next one is timed from its end, so a slow store never has two. */
  #renewing: Promise<void> = Promise.resolve()
  #stopped = false

  constructor (store: SessionStore, key: string, marker: { lease: string }, leaseMs: number, log: FastifyBaseLogger) {
    this.#store = store
    this.#key = key
    this.#marker = marker
    this.#leaseMs = leaseMs
    this.#log = log
    this.#next()
  }

  #next (): void {
    this.#timer = later(this.#leaseMs / 3, () => {
      this.#renewing = this.#renew().then((held) => { if (held && !this.#stopped) this.#next() })
    })
  }

  /** `false` once the claim is no longer this run's: renewing stops. */
  async #renew (): Promise<boolean> {
    try {
      const held = await this.#store.get(this.#key) as { lease?: unknown } | undefined
      if (held?.lease !== this.#marker.lease) {
        this.#log.error({ key: this.#key }, `qorepay: the lease on ${this.#key} ran out while its hook was running; another delivery may run it again (same eventId)`)
        return false
      }
      await this.#store.set(this.#key, this.#marker, this.#leaseMs)
    } catch (err) {
      // The next renewal tries again; two more fit in the lease.
      this.#log.error({ err, key: this.#key }, `qorepay: could not renew the lease on ${this.#key}`)
    }
    return true
  }

  /** Stops renewing, once a renewal in flight has landed (so it cannot overwrite what the caller writes next). */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#renewing
  }

  /**
   * Stops renewing and marks the work done. A failed write leaves the last
   * renewed claim guarding the key for up to one lease, and is tried again
   * each third of a lease, so a store that is back within that time gets the
   * done mark before a duplicate could run the work again. When the tries
   * fail longer than that, the claim runs out and a later delivery runs the
   * work again: the at-least-once case, which the event's stable eventId
   * lets the host absorb.
   */
  async finish (done: unknown, ttlMs: number): Promise<void> {
    await this.stop()
    // Not awaited: the caller's answer does not wait for the store to come back. It never rejects.
    if (!await this.#markDone(done, ttlMs, 0)) this.#retryDone(done, ttlMs)
  }

  /** The done mark's further tries, a third of a lease apart. */
  async #retryDone (done: unknown, ttlMs: number): Promise<void> {
    for (let tries = 1; tries <= DONE_RETRIES; tries++) {
      // ref: false, as every timer here: a process that dies lets the lease run out.
      await sleep(this.#leaseMs / 3, undefined, { ref: false })
      if (await this.#markDone(done, ttlMs, tries)) return
    }
  }

  async #markDone (done: unknown, ttlMs: number, tries: number): Promise<boolean> {
    try {
      await this.#store.set(this.#key, done, ttlMs)
      return true
    } catch (err) {
      this.#log.error({ err, key: this.#key, tries }, tries < DONE_RETRIES
        ? `qorepay: could not mark ${this.#key} done; trying again while its lease guards it`
        : `qorepay: could not mark ${this.#key} done; its hook completed and may run again once its lease runs out (same eventId)`)
      return false
    }
  }
}

/** A timer that never keeps the process alive: a process that dies lets its lease run out, which is the point. */
function later (ms: number, fn: () => void): NodeJS.Timeout {
  const timer = setTimeout(fn, ms)
  timer.unref()
  return timer
}
