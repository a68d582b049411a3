import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The machine's PostgreSQL, database `test` (trust auth): each suite works in a schema of its own. */
export const POSTGRES_CONFIG: pg.PoolConfig = {
  host: '127.0.0.1',
  port: 5432,
  database: 'test',
  user: process.env.PGUSER ?? 'postgres',
  connectionTimeoutMillis: 5000
}

export function postgresPool (overrides: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ ...POSTGRES_CONFIG, ...overrides })
  // An idle client that loses its connection is reported here; the next query fails and says why.
  pool.on('error', () => {})
  return pool
}

/** Why PostgreSQL cannot be used, or `undefined` when it answers. */
export async function postgresUnreachable (): Promise<string | undefined> {
  const client = new pg.Client({ ...POSTGRES_CONFIG, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    return `PostgreSQL not reachable at ${POSTGRES_CONFIG.host}:${POSTGRES_CONFIG.port}/${POSTGRES_CONFIG.database}: ${(err as Error).message}`
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The `skip` option of a test that needs PostgreSQL: `false` when it answers,
 * else a message that says why (lib/stores/postgres.ts then goes untested in
 * this run, and the coverage report does not count it: it is never loaded).
 * With `QOREPAY_REQUIRE_POSTGRES=1` (CI sets it) an unreachable PostgreSQL
 * rejects instead, so the run fails rather than skips.
 */
export async function postgresSkip (): Promise<false | string> {
  const reason = await postgresUnreachable()
  if (reason === undefined) return false
  if (process.env.QOREPAY_REQUIRE_POSTGRES === '1') {
    throw new Error(`${reason} (QOREPAY_REQUIRE_POSTGRES=1: the PostgreSQL suites must run; start PostgreSQL or unset the variable)`)
  }
  return `${reason}: lib/stores/postgres.ts untested in this run`
}

/** A schema of this test's own; `drop` removes it and only what is in it. */
export async function ownSchema (admin: pg.Pool): Promise<{ schema: string, drop: () => Promise<unknown> }> {
  const schema = `qorepay_test_${randomBytes(6).toString('hex')}`
  await admin.query(`CREATE SCHEMA ${schema}`)
  return { schema, drop: () => admin.query(`DROP SCHEMA ${schema} CASCADE`) }
}
