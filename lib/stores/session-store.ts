import { QorePayStoreError } from '../errors.js'

/**
 * Where the plugin keeps what must outlive one request: pending 3-D Secure
 * sessions, outcome claims (exactly-once hooks), webhook dedup marks and
 * idempotency records. Values are JSON-serialisable.
 *
 * `claim` and `take` must be atomic, also across processes sharing the store:
 * they are what makes the TermUrl single-use and the outcome hooks fire once.
 *
 * `schedule`, `due` and `unschedule` are the due-queue reconciliation runs on.
 * They are optional only so that a store without them can still serve a shop
 * that registers with `reconcile: false`; every bundled store has them.
 */
export interface SessionStore {
  /** The value under `key`, or `undefined` when absent or expired. */
  get (key: string): Promise<unknown | undefined>
  /** Stores `value` under `key` for `ttlMs` milliseconds, replacing any value. */
  set (key: string, value: unknown, ttlMs: number): Promise<void>
  /** Stores `value` only when `key` is absent; `true` when this call stored it. */
  claim (key: string, value: unknown, ttlMs: number): Promise<boolean>
  /** Reads and deletes `key` in one atomic step; only one concurrent caller gets the value. */
  take (key: string): Promise<unknown | undefined>
  /** Removes `key`; absent keys are not an error. */
  delete (key: string): Promise<void>
  /** Adds `member` to `queue`, due at `dueAt` (epoch ms), or moves it there when already queued. */
  schedule? (queue: string, member: string, dueAt: number): Promise<void>
  /**
   * In one atomic step: up to `limit` members of `queue` whose due time is at
   * or before `now`, earliest first, each moved to `now + leaseMs`, so two
   * callers at once (on any instance) never get the same member.
   */
  due? (queue: string, now: number, limit: number, leaseMs: number): Promise<string[]>
  /** Removes `member` from `queue`; an absent member is not an error. */
  unschedule? (queue: string, member: string): Promise<void>
}

/** The due-queue methods, by name: what `missingQueueMethods` checks for. */
export const QUEUE_METHODS = ['schedule', 'due', 'unschedule'] as const

/** A store that has the whole due-queue. */
export type QueueStore = SessionStore & Required<Pick<SessionStore, typeof QUEUE_METHODS[number]>>

/** The due-queue methods `store` lacks, in the order of `QUEUE_METHODS`; empty when it has them all. */
export function missingQueueMethods (store: SessionStore): Array<typeof QUEUE_METHODS[number]> {
  return QUEUE_METHODS.filter((method) => typeof store[method] !== 'function')
}

/** Whether `store` has every due-queue method, so reconciliation can run on it. */
export function hasQueue (store: SessionStore): store is QueueStore {
  return missingQueueMethods(store).length === 0
}

type StoreMethod = keyof SessionStore

export interface GuardOptions {
  /** Milliseconds a call may take before it fails as an outage: the `storeTimeout` option. */
  timeoutMs: number
  /**
   * How long to keep a value that a timed-out `take` removed when the store
   * answers it late, since its caller answered 503 and used nothing; 0 or
   * less drops it. Without this, a late take's value is dropped.
   */
  takenTtl?: (key: string, value: unknown) => number
}

/**
 * The plugin's view of the host's store: any failure (Redis down, a store
 * that does not answer within `timeoutMs`) becomes FST_QOREPAY_STORE_UNAVAILABLE
 * (503), so every route answers it the same clear way and nothing half-done
 * is reported as done.
 *
 * A call that timed out may still land later (a frozen Redis runs the queued
 * commands once it resumes). Where that would leave work half-done it is
 * undone, best effort: a late successful `claim` is deleted, since its caller
 * went no further, and a late `take`'s value is put back (see `takenTtl`).
 * Late writes (`set`, `schedule`) stand: each is what its caller meant to store.
 *
 * Queue methods are guarded where the store has them and stay absent where
 * it has not, so `hasQueue` answers the same for the guard as for the store.
 */
export function guardStore (store: SessionStore, options: GuardOptions): SessionStore {
  const { timeoutMs, takenTtl } = options
  const undoLate: Partial<Record<StoreMethod, (args: unknown[], result: unknown) => Promise<unknown> | undefined>> = {
    claim: ([key], won) => won === true ? store.delete(key as string) : undefined,
    take: ([key], value) => {
      const ttl = value === undefined || takenTtl === undefined ? 0 : takenTtl(key as string, value)
      return ttl > 0 ? store.claim(key as string, value, ttl) : undefined
    }
  }
  // One promise and one timer per call (this runs several times on every payment).
  const guard = (method: StoreMethod) => (...args: unknown[]): Promise<never> => new Promise((resolve, reject) => {
    let late = false
    const timer = setTimeout(() => {
      late = true
      reject(new QorePayStoreError(`no answer within ${timeoutMs} ms (storeTimeout)`))
    }, timeoutMs)
    // A call in flight at shutdown must not hold the process open.
    timer.unref()
    let call: Promise<never>
    try {
      call = Promise.resolve((store[method] as (...a: unknown[]) => Promise<never>).apply(store, args))
    } catch (err) {
      // A store method that throws instead of rejecting fails the same way.
      call = Promise.reject(err)
    }
    call.then((result) => {
      if (!late) {
        clearTimeout(timer)
        resolve(result)
      } else {
        // Nobody awaits the undo: a store that failed to answer may fail it too.
        undoLate[method]?.(args, result)?.catch(() => {})
      }
    }, (err: unknown) => {
      // A late failure settles nothing: the caller already has the timeout's error.
      clearTimeout(timer)
      reject(new QorePayStoreError((err as Error).message, { cause: err }))
    })
  })
  const guarded: SessionStore = { get: guard('get'), set: guard('set'), claim: guard('claim'), take: guard('take'), delete: guard('delete') }
  for (const method of QUEUE_METHODS) {
    if (typeof store[method] === 'function') guarded[method] = guard(method)
  }
  return guarded
}
