import type { Pool } from 'pg'
import type { SessionStore } from './session-store.js'
import { assertInstant, assertKey, assertLease, assertLimit, assertMember, assertQueueName, assertTtl, encodeValue } from './arguments.js'

export type { SessionStore } from './session-store.js'

export interface PostgresStoreOptions {
  /** A `pg.Pool` the host owns: the store never connects it, ends it or changes its settings. */
  pool: Pool
  /**
   * The table, optionally schema-qualified (`'payments.qorepay'`); the due-queue
   * lives in the table of the same name with `_queue` appended. Default `'qorepay_store'`.
   */
  table?: string
  /** Milliseconds between sweeps that delete expired rows, on an `unref()`ed timer. Default 60_000. */
  sweepIntervalMs?: number
  /** Most expired rows one DELETE removes; a sweep runs batches until one comes back short. Default 1000. */
  sweepBatch?: number
}

/** A table name, optionally schema-qualified: plain identifiers, quoted as given; short enough that "<name>_queue_due_at" fits 63 bytes. */
const TABLE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,49}$/

interface Names { kv: string, queue: string, name: string }

function names (table: string): Names {
  const parts = table.split('.')
  const name = parts.at(-1) as string
  const quoted = (last: string): string => [...parts.slice(0, -1), last].map((p) => `"${p}"`).join('.')
  return { kv: quoted(name), queue: quoted(`${name}_queue`), name }
}

/**
 * The SQL `migrate()` runs for `table`: what a shop that runs its own
 * migrations applies instead. Idempotent. Values are `text` (JSON text), not
 * `jsonb`: `jsonb` refuses the NUL characters and lone surrogates a value may hold.
 */
export function migrationSql (table = 'qorepay_store'): string {
  assertTable(table)
  const { kv, queue, name } = names(table)
  return `CREATE TABLE IF NOT EXISTS ${kv} (
  key text PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "${name}_expires_at" ON ${kv} (expires_at);
CREATE TABLE IF NOT EXISTS ${queue} (
  queue text NOT NULL,
  member text NOT NULL,
  due_at double precision NOT NULL,
  PRIMARY KEY (queue, member)
);
CREATE INDEX IF NOT EXISTS "${name}_queue_due_at" ON ${queue} (queue, due_at);
`
}

function assertTable (table: unknown): asserts table is string {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new TypeError(`PostgresStore table must be an identifier such as 'qorepay_store' or 'schema.qorepay_store', got ${typeof table === 'string' ? JSON.stringify(table) : typeof table}`)
  }
}

/**
 * A store in the shop's PostgreSQL, shared by every instance and surviving a
 * restart of all of them. Each operation is one statement, atomic on the
 * server: `claim` an `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the held row
 * expired, `take` a `DELETE ... RETURNING` of a live row, `due` an
 * `UPDATE ... RETURNING` over a `FOR UPDATE SKIP LOCKED` subselect. Expiry is
 * by the database's clock, so instances whose clocks differ agree on it.
 * Expired rows are invisible to every read and deleted in bounded batches by
 * an `unref()`ed timer that `close()` stops. `pg` errors reject the call
 * unchanged; the plugin answers them 503.
 */
export class PostgresStore implements SessionStore {
  readonly table: string
  readonly #pool: Pool
  readonly #sql: Record<'get' | 'set' | 'claim' | 'take' | 'delete' | 'schedule' | 'due' | 'unschedule' | 'sweep' | 'lock', string>
  readonly #sweepBatch: number
  readonly #timer: NodeJS.Timeout

  constructor (opts: PostgresStoreOptions) {
    const { pool, table = 'qorepay_store', sweepIntervalMs = 60_000, sweepBatch = 1000 } = (opts ?? {}) as Partial<PostgresStoreOptions>
    if (typeof pool?.query !== 'function' || typeof pool.connect !== 'function') {
      throw new TypeError('PostgresStore needs { pool }: a pg.Pool')
    }
    assertTable(table)
    if (typeof sweepIntervalMs !== 'number' || !Number.isFinite(sweepIntervalMs) || sweepIntervalMs <= 0) {
      throw new TypeError(`PostgresStore sweepIntervalMs must be a positive finite number, got ${String(sweepIntervalMs)}`)
    }
    if (!Number.isSafeInteger(sweepBatch) || sweepBatch < 1) {
      throw new TypeError(`PostgresStore sweepBatch must be a positive integer, got ${String(sweepBatch)}`)
    }
    this.#pool = pool
    this.table = table
    this.#sweepBatch = sweepBatch
    const { kv, queue } = names(table)
    const ttl = "now() + $3::double precision * interval '1 millisecond'"
    this.#sql = {
      get: `SELECT value FROM ${kv} WHERE key = $1 AND expires_at > now()`,
      set: `INSERT INTO ${kv} AS t (key, value, expires_at) VALUES ($1, $2, ${ttl})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      // The row lock ON CONFLICT takes makes concurrent claims queue; each then sees the winner's row live.
      claim: `INSERT INTO ${kv} AS t (key, value, expires_at) VALUES ($1, $2, ${ttl})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
        WHERE t.expires_at <= now() RETURNING 1`,
      take: `DELETE FROM ${kv} WHERE key = $1 AND expires_at > now() RETURNING value`,
      delete: `DELETE FROM ${kv} WHERE key = $1`,
      schedule: `INSERT INTO ${queue} (queue, member, due_at) VALUES ($1, $2, $3)
        ON CONFLICT (queue, member) DO UPDATE SET due_at = excluded.due_at`,
      // SKIP LOCKED: a concurrent call takes other members rather than waiting for (and missing) these.
      due: `UPDATE ${queue} AS q SET due_at = $3::double precision FROM (
          SELECT member, due_at FROM ${queue} WHERE queue = $1 AND due_at <= $2::double precision
          ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED
        ) AS picked WHERE q.queue = $1 AND q.member = picked.member
        RETURNING q.member, picked.due_at AS was`,
      unschedule: `DELETE FROM ${queue} WHERE queue = $1 AND member = $2`,
      sweep: `DELETE FROM ${kv} WHERE key IN (
          SELECT key FROM ${kv} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      lock: 'SELECT pg_advisory_xact_lock(hashtext($1))'
    }
    // The timer holds the store only weakly, so a store dropped without close() is still collected.
    const store = new WeakRef(this)
    const timer = setInterval(() => {
      const live = store.deref()
      if (live === undefined) clearInterval(timer)
      // A failed sweep (the pool ended, the database down) waits for the next tick.
      else live.sweep().catch(() => {})
    }, sweepIntervalMs)
    timer.unref()
    this.#timer = timer
  }

  /**
   * Creates the tables and indexes when missing (`migrationSql(table)`), under
   * an advisory lock, so several instances starting at once do not race on
   * PostgreSQL's catalog.
   */
  async migrate (): Promise<void> {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(this.#sql.lock, [`fastify-qorepay:${this.table}`])
      await client.query(migrationSql(this.table))
      await client.query('COMMIT')
      client.release()
    } catch (err) {
      // Dropping the connection rolls the transaction back, whatever state the failure left it in.
      client.release(true)
      throw err
    }
  }

  async get (key: string): Promise<unknown | undefined> {
    assertKey(key)
    const { rows } = await this.#pool.query<{ value: string }>(this.#sql.get, [key])
    return rows.length === 0 ? undefined : JSON.parse(rows[0].value)
  }

  async set (key: string, value: unknown, ttlMs: number): Promise<void> {
    assertKey(key)
    assertTtl(ttlMs)
    await this.#pool.query(this.#sql.set, [key, encodeValue(value), ttlMs])
  }

  async claim (key: string, value: unknown, ttlMs: number): Promise<boolean> {
    assertKey(key)
    assertTtl(ttlMs)
    const { rowCount } = await this.#pool.query(this.#sql.claim, [key, encodeValue(value), ttlMs])
    return rowCount === 1
  }

  async take (key: string): Promise<unknown | undefined> {
    assertKey(key)
    const { rows } = await this.#pool.query<{ value: string }>(this.#sql.take, [key])
    return rows.length === 0 ? undefined : JSON.parse(rows[0].value)
  }

  async delete (key: string): Promise<void> {
    assertKey(key)
    await this.#pool.query(this.#sql.delete, [key])
  }

  async schedule (queue: string, member: string, dueAt: number): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    assertInstant('dueAt', dueAt)
    await this.#pool.query(this.#sql.schedule, [queue, member, dueAt])
  }

  async due (queue: string, now: number, limit: number, leaseMs: number): Promise<string[]> {
    assertQueueName(queue)
    assertInstant('now', now)
    assertLimit(limit)
    assertLease(leaseMs)
    const { rows } = await this.#pool.query<{ member: string, was: number }>(this.#sql.due, [queue, now, now + leaseMs, limit])
    // UPDATE ... RETURNING answers in no particular order.
    return rows.sort((a, b) => a.was - b.was).map((row) => row.member)
  }

  async unschedule (queue: string, member: string): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    await this.#pool.query(this.#sql.unschedule, [queue, member])
  }

  /**
   * Deletes expired rows, in batches of `sweepBatch` until one comes back
   * short; resolves the number deleted. The timer runs it; overlapping
   * sweeps skip each other's rows (SKIP LOCKED).
   */
  async sweep (): Promise<number> {
    let deleted = 0
    for (;;) {
      const { rowCount } = await this.#pool.query(this.#sql.sweep, [this.#sweepBatch])
      deleted += Number(rowCount)
      if (Number(rowCount) < this.#sweepBatch) return deleted
    }
  }

  /** Stops the sweep timer. The pool stays the host's to end. */
  close (): void {
    clearInterval(this.#timer)
  }
}
