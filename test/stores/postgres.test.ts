import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { ownSchema, postgresPool, postgresSkip } from '../helpers/postgres.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const skip = await postgresSkip()

test('PostgresStore', { skip }, async (t) => {
  // Loaded only when PostgreSQL answers, like the Redis suites: a skipped run does not load the file at all.
  const { PostgresStore, migrationSql } = await import('../../lib/stores/postgres.js')
  const { testSessionStore } = await import('../../lib/stores/conformance.js')
  // Two pools: what two instances of the shop would hold.
  const pool = postgresPool()
  const other = postgresPool()
  const { schema, drop } = await ownSchema(pool)
  t.teardown(async () => {
    await drop()
    await pool.end()
    await other.end()
  })
  const table = `${schema}.store`
  await new PostgresStore({ pool, table }).migrate()

  t.test('conformance suite, two pools', async (t) => {
    testSessionStore((name, fn) => t.test(name, fn), () => {
      const store = new PostgresStore({ pool, table })
      const peer = new PostgresStore({ pool: other, table })
      return { store, peer, cleanup: () => { store.close(); peer.close() } }
    })
  })

  t.test('migrate is idempotent and safe from several instances at once', async (t) => {
    const fresh = `${schema}.concurrent`
    await Promise.all(Array.from({ length: 6 }, (_, i) => new PostgresStore({ pool: i % 2 === 0 ? pool : other, table: fresh }).migrate()))
    await new PostgresStore({ pool, table: fresh }).migrate()
    const { rows } = await pool.query(`SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = $1 AND table_name IN ('concurrent', 'concurrent_queue') ORDER BY table_name, ordinal_position`, [schema])
    t.same(rows.map((r) => `${r.table_name}.${r.column_name} ${r.data_type}`), [
      'concurrent.key text', 'concurrent.value text', 'concurrent.expires_at timestamp with time zone',
      'concurrent_queue.queue text', 'concurrent_queue.member text', 'concurrent_queue.due_at double precision'
    ], 'values are text, never jsonb')
    const indexes = await pool.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE $2 ORDER BY indexname', [schema, 'concurrent%'])
    t.same(indexes.rows.map((r) => r.indexname), ['concurrent_expires_at', 'concurrent_pkey', 'concurrent_queue_due_at', 'concurrent_queue_pkey'])
  })

  t.test('values holding NUL characters and lone surrogates round trip, which jsonb would refuse', async (t) => {
    const store = new PostgresStore({ pool, table })
    t.teardown(() => store.close())
    const value = { nul: 'a\u0000b', lone: '\ud800 and \udfff', pair: '😀', nested: ['\u0000', { '\ud83d': 1 }] }
    await store.set('odd-value', value, 60_000)
    t.same(await store.get('odd-value'), value)
    t.equal(await store.claim('odd-claim', value, 60_000), true)
    t.same(await store.take('odd-claim'), value)
    await t.rejects(pool.query('SELECT $1::jsonb', [JSON.stringify(value)]), /unsupported Unicode escape|\\u0000 cannot be converted/, 'as jsonb it would fail')
  })

  t.test('expired rows are invisible, then swept in bounded batches', async (t) => {
    const swept = `${schema}.swept`
    const store = new PostgresStore({ pool, table: swept, sweepBatch: 10 })
    t.teardown(() => store.close())
    await store.migrate()
    await Promise.all(Array.from({ length: 25 }, (_, i) => store.set(`short-${i}`, i, 50)))
    await store.set('long', 'kept', 60_000)
    await sleep(150)
    t.equal(await store.get('short-0'), undefined, 'expired: invisible before any sweep')
    t.equal((await pool.query(`SELECT count(*)::int AS n FROM ${schema}.swept`)).rows[0].n, 26, 'the rows are still there')
    t.equal(await store.sweep(), 25, 'three batches: 10, 10, 5')
    t.equal(await store.sweep(), 0)
    t.same((await pool.query(`SELECT key FROM ${schema}.swept`)).rows, [{ key: 'long' }])

    const oneByOne = new PostgresStore({ pool, table: swept, sweepBatch: 1 })
    t.teardown(() => oneByOne.close())
    await Promise.all(['a', 'b', 'c'].map((key) => oneByOne.set(key, key, 1)))
    await sleep(50)
    t.equal(await oneByOne.sweep(), 3, 'batches of one row: the smallest batch')
  })

  t.test('migrate() waits for the advisory lock named after its table', async (t) => {
    const locked = `${schema}.locked`
    const name = `fastify-qorepay:${locked}`
    const holder = await other.connect()
    await holder.query('BEGIN')
    await holder.query('SELECT pg_advisory_xact_lock(hashtext($1))', [name])
    // Set when migrate() resolves, by the promise, not by the loop below.
    const state = { migrated: false }
    const migrating = new PostgresStore({ pool, table: locked }).migrate().then(() => { state.migrated = true })
    // Until migrate() waits on that lock (or, wrongly, finishes without it).
    const waiting = async (): Promise<number> => (await pool.query(`SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND NOT granted AND objid::text::bigint = (hashtext($1)::bigint & 4294967295)`, [name])).rows[0].n
    for (let i = 0; i < 100 && !state.migrated && await waiting() === 0; i++) await sleep(20)
    t.equal(state.migrated, false, 'not migrated while another instance holds the lock')
    t.equal(await waiting(), 1, 'one session waits for it')
    await holder.query('COMMIT')
    holder.release()
    await migrating
    t.equal((await pool.query('SELECT to_regclass($1) AS found', [locked])).rows[0].found, `${schema}.locked`, 'migrated once the lock is free')
  })

  t.test('the sweep timer runs, never holds the process, and close() stops it', async (t) => {
    const timed = `${schema}.timed`
    const store = new PostgresStore({ pool, table: timed, sweepIntervalMs: 20 })
    await store.migrate()
    await store.set('short', 1, 10)
    const count = async () => (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.timed`)).rows[0].n as number
    for (let i = 0; i < 100 && await count() > 0; i++) await sleep(20)
    t.equal(await count(), 0, 'swept by the timer')
    store.close()
    await store.set('short', 1, 1)
    await sleep(100)
    t.equal(await count(), 1, 'no sweep after close()')
  })

  t.test('a failing sweep on the timer waits for the next tick', async (t) => {
    const ended = postgresPool()
    await ended.end()
    const store = new PostgresStore({ pool: ended, table, sweepIntervalMs: 5 })
    t.teardown(() => store.close())
    await t.rejects(store.sweep(), /Cannot use a pool after calling end/)
    // Ticks on the ended pool: each fails quietly (an unhandled rejection would fail this file).
    await sleep(50)
  })

  t.test('a store dropped without close() is collected, and its timer stops', async (t) => {
    const state = { collected: false }
    const registry = new FinalizationRegistry(() => { state.collected = true })
    ;(() => { registry.register(new PostgresStore({ pool, table, sweepIntervalMs: 5 }), 'store') })()
    for (let i = 0; i < 100 && !state.collected; i++) {
      gc()
      await sleep(10)
    }
    t.ok(state.collected, 'the store was garbage collected')
    await sleep(20)
  })

  t.test('pg errors reject unchanged; a failed migrate rolls back', async (t) => {
    const store = new PostgresStore({ pool, table: `${schema}.never_migrated` })
    t.teardown(() => store.close())
    const missing = /relation ".*never_migrated(_queue)?" does not exist/
    await t.rejects(store.get('k'), missing)
    await t.rejects(store.set('k', 1, 1000), missing)
    await t.rejects(store.claim('k', 1, 1000), missing)
    await t.rejects(store.take('k'), missing)
    await t.rejects(store.delete('k'), missing)
    await t.rejects(store.schedule('q', 'm', 1), missing)
    await t.rejects(store.due('q', 1, 1, 1), missing)
    await t.rejects(store.unschedule('q', 'm'), missing)
    await t.rejects(new PostgresStore({ pool, table: 'qorepay_no_such_schema.store' }).migrate(), /schema "qorepay_no_such_schema" does not exist/)
    t.equal(pool.totalCount <= 10, true, 'the failed migration\'s connection was not leaked')
  })

  t.test('the README\'s SQL is what migrate() runs', async (t) => {
    const { readFile } = await import('node:fs/promises')
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    t.ok(readme.includes(migrationSql()), 'README shows migrationSql() for the default table')
    t.match(migrationSql('shop.qorepay'), /CREATE TABLE IF NOT EXISTS "shop"\."qorepay" \(/)
    t.match(migrationSql('shop.qorepay'), /"qorepay_queue_due_at" ON "shop"\."qorepay_queue"/)
  })

  t.test('validates its options and arguments', async (t) => {
    t.throws(() => new PostgresStore(undefined as never), { name: 'TypeError', message: /needs \{ pool \}/ })
    t.throws(() => new PostgresStore({ pool: { query () {} } } as never), TypeError)
    for (const bad of ['', 'a.b.c', 'x"; DROP TABLE y; --', '1abc', 'a-b', 5]) {
      t.throws(() => new PostgresStore({ pool, table: bad as string }), { name: 'TypeError', message: /table must be an identifier/ }, String(bad))
    }
    // A string is quoted; anything else is named by its type, and an array is refused though its text would pass.
    for (const [bad, got] of [['a-b', '"a-b"'], [5, 'number'], [['qorepay_store'], 'object']]) {
      t.throws(() => new PostgresStore({ pool, table: bad as string }), {
        name: 'TypeError', message: `PostgresStore table must be an identifier such as 'qorepay_store' or 'schema.qorepay_store', got ${String(got)}`
      }, String(got))
    }
    t.throws(() => migrationSql('a b'), TypeError)
    for (const sweepIntervalMs of [0, -1, Number.NaN, '10']) {
      t.throws(() => new PostgresStore({ pool, sweepIntervalMs: sweepIntervalMs as number }), /sweepIntervalMs must be a positive finite number/)
    }
    for (const sweepBatch of [0, 1.5, '10']) {
      t.throws(() => new PostgresStore({ pool, sweepBatch: sweepBatch as number }), /sweepBatch must be a positive integer/)
    }
    const store = new PostgresStore({ pool, table })
    t.teardown(() => store.close())
    t.equal(store.table, table)
    t.equal(new PostgresStore({ pool }).table, 'qorepay_store', 'default table')
    await t.rejects(store.get(''), TypeError)
    await t.rejects(store.set('k', 1, 0), TypeError)
    await t.rejects(store.claim('k', undefined, 1000), TypeError)
    await t.rejects(store.take(5 as never), TypeError)
    await t.rejects(store.delete(null as never), TypeError)
    await t.rejects(store.schedule('q', '', 1), TypeError)
    await t.rejects(store.schedule('q', 'm', Number.NaN), { name: 'TypeError', message: 'SessionStore dueAt must be a finite number of epoch milliseconds, got NaN' })
    await t.rejects(store.due('q', Infinity, 1, 1), { name: 'TypeError', message: 'SessionStore now must be a finite number of epoch milliseconds, got Infinity' })
    await t.rejects(store.due('q', 1, 0, 1), TypeError)
    await t.rejects(store.unschedule('', 'm'), TypeError)
  })
})
