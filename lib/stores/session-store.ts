import { QorePayStoreError } from '../errors.js'

/**
 * Where the plugin keeps what must outlive one request: pending 3-D Secure
 * sessions, outcome claims (exactly-once hooks), webhook dedup marks and
 * idempotency records. Values are JSON-serialisable.
 *
 * `claim` and `take` must be atomic, also across processes sharing the store:
 * they are what makes the TermUrl single-use and the outcome hooks fire once.
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
}

/**
 * The plugin's view of the host's store: any failure (Redis down, timeout)
 * becomes FST_QOREPAY_STORE_UNAVAILABLE (503), so every route answers it the
 * same clear way and nothing half-done is reported as done.
 */
export function guardStore (store: SessionStore): SessionStore {
  const guard = <M extends keyof SessionStore>(method: M) => async (...args: Parameters<SessionStore[M]>): Promise<Awaited<ReturnType<SessionStore[M]>>> => {
    try {
      return await (store[method] as (...a: unknown[]) => Promise<Awaited<ReturnType<SessionStore[M]>>>)(...args)
    } catch (err) {
      throw new QorePayStoreError((err as Error).message, { cause: err })
    }
  }
  return { get: guard('get'), set: guard('set'), claim: guard('claim'), take: guard('take'), delete: guard('delete') }
}
