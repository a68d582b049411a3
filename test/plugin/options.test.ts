import { test, type Test } from 'tap'
import Fastify from 'fastify'
import qorepay from '../../lib/index.js'
import { resolveOptions } from '../../lib/options.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { Tap } from '../helpers/tap.js'

/** Registers the plugin and boots the app: the plugin's option errors surface here. */
async function boot (app: ReturnType<typeof Fastify>, options: unknown): Promise<void> {
  await app.register(qorepay, options as never)
  await app.ready()
}

/** The exact code and message, not a pattern: a message that lost its suggestion or its case fails. */
async function rejectsWith (t: Test, booting: Promise<void>, message: string): Promise<void> {
  const err = await booting.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'register failed')
  t.equal((err as { code?: string }).code, 'FST_QOREPAY_CONFIG')
  t.equal((err as Error).message, `Invalid qorepay option ${message}`)
}

const VALID = {
  apiKey: 'k',
  s2sToken: 's',
  brandId: 'b',
  publicUrl: 'https://shop.example/',
  successRedirect: 'https://shop.example/ok',
  failureRedirect: 'https://shop.example/ko',
  purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } })
}

test('defaults', async (t) => {
  const opts = resolveOptions(VALID)
  t.equal(opts.baseUrl, 'https://gate.qorepay.com/api/v1/')
  t.equal(opts.prefix, '/qorepay')
  t.equal(opts.sessionTtl, 1800)
  t.equal(opts.publicUrl, 'https://shop.example', 'trailing slash dropped')
  t.same(opts.webhookPublicKeys, [])
  t.equal(opts.decorator, 'qorepay')
  t.same(opts.timeouts, { connect: 5000, headers: 15000, body: 15000 })
  t.equal(opts.storeTimeout, 2000)
  t.equal(opts.pendingRedirect, 'https://shop.example/ok', 'pendingRedirect: successRedirect')
  t.equal(resolveOptions({ ...VALID, pendingRedirect: 'https://shop.example/wait' }).pendingRedirect, 'https://shop.example/wait')
  t.equal(resolveOptions({ ...VALID, storeTimeout: 250 }).storeTimeout, 250)
  t.equal(resolveOptions({ ...VALID, baseUrl: 'http://127.0.0.1:1/api/v1' }).baseUrl, 'http://127.0.0.1:1/api/v1/')
  t.same(resolveOptions({ ...VALID, webhookPublicKey: 'PEM' }).webhookPublicKeys, ['PEM'])
  t.same(resolveOptions({ ...VALID, webhookPublicKey: ['A', 'B'] }).webhookPublicKeys, ['A', 'B'])
  t.same(resolveOptions({ ...VALID, timeouts: { headers: 50 } }).timeouts, { connect: 5000, headers: 50, body: 15000 })
  t.same(opts.reconcile, { schedule: [60, 300, 900, 3600, 10800, 43200, 86400, 172800], interval: 15, batch: 50 })
  t.same(resolveOptions({ ...VALID, reconcile: { interval: 0 } }).reconcile, { schedule: [60, 300, 900, 3600, 10800, 43200, 86400, 172800], interval: 0, batch: 50 })
  t.same(resolveOptions({ ...VALID, reconcile: { schedule: [0.05, 2], batch: 3 } }).reconcile, { schedule: [0.05, 2], interval: 15, batch: 3 })
  t.equal(resolveOptions({ ...VALID, reconcile: false }).reconcile, false)
})

/** Each bad option and the whole message it fails with (after "Invalid qorepay option "). */
const BAD: Array<[string, Record<string, unknown>, string]> = [
  ['apiKey missing', { apiKey: undefined }, 'apiKey: expected string (missing)'],
  ['apiKey empty', { apiKey: '' }, 'apiKey: expected string length greater or equal to 1 (got string)'],
  ['apiKey not a string, value not echoed', { apiKey: 12345 }, 'apiKey: expected string (got number)'],
  ['s2sToken missing', { s2sToken: undefined }, 's2sToken: expected string (missing)'],
  ['brandId missing', { brandId: undefined }, 'brandId: expected string (missing)'],
  ['publicUrl missing', { publicUrl: undefined }, 'publicUrl: expected string (missing)'],
  ['publicUrl relative', { publicUrl: '/shop' }, 'publicUrl: expected an absolute http(s) URL, got "/shop"'],
  ['successRedirect not http', { successRedirect: 'javascript:alert(1)' }, 'successRedirect: expected an absolute http(s) URL, got "javascript:alert(1)"'],
  ['successRedirect relative', { successRedirect: '/paid' }, 'successRedirect: expected an absolute http(s) URL, got "/paid"'],
  ['successRedirect protocol-relative', { successRedirect: '//shop.example/paid' }, 'successRedirect: expected an absolute http(s) URL, got "//shop.example/paid"'],
  ['failureRedirect relative', { failureRedirect: 'failed' }, 'failureRedirect: expected an absolute http(s) URL, got "failed"'],
  ['pendingRedirect relative', { pendingRedirect: '/pending' }, 'pendingRedirect: expected an absolute http(s) URL, got "/pending"'],
  ['pendingRedirect not http', { pendingRedirect: 'javascript:alert(1)' }, 'pendingRedirect: expected an absolute http(s) URL, got "javascript:alert(1)"'],
  ['pendingRedirect not a string', { pendingRedirect: 42 }, 'pendingRedirect: expected string (got number)'],
  ['failureRedirect missing', { failureRedirect: undefined }, 'failureRedirect: expected string (missing)'],
  ['baseUrl malformed', { baseUrl: 'gate' }, 'baseUrl: expected an absolute http(s) URL, got "gate"'],
  ['prefix without slash', { prefix: 'pay' }, "prefix: expected string to match '^(/[A-Za-z0-9._~-]+)*$' (got string)"],
  ['decorator not an identifier, the pattern in its own case', { decorator: 'qore-pay' }, "decorator: expected string to match '^[A-Za-z_$][A-Za-z0-9_$]*$' (got string)"],
  ['publicUrl with a query', { publicUrl: 'https://shop.example/pay?x=1' }, 'publicUrl: expected an origin with an optional path, without a query or a fragment, got "https://shop.example/pay?x=1"'],
  ['publicUrl with an empty query', { publicUrl: 'https://shop.example/?' }, 'publicUrl: expected an origin with an optional path, without a query or a fragment, got "https://shop.example/?"'],
  ['publicUrl with a fragment', { publicUrl: 'https://shop.example#top' }, 'publicUrl: expected an origin with an optional path, without a query or a fragment, got "https://shop.example#top"'],
  ['a hook one letter short', { onExcuted: async () => {} }, 'onExcuted: unknown option; did you mean onExecuted?'],
  ['a letter too many', { onFailedd: async () => {} }, 'onFailedd: unknown option; did you mean onFailed?'],
  ['a letter changed', { onWebhok: async () => {} }, 'onWebhok: unknown option; did you mean onWebhook?'],
  ['two letters swapped', { sotre: {} }, 'sotre: unknown option; did you mean store?'],
  ['another case', { publicURL: 'https://shop.example' }, 'publicURL: unknown option; did you mean publicUrl?'],
  ['another case, more than one letter', { ON3DSREQUIRED: async () => {} }, 'ON3DSREQUIRED: unknown option; did you mean on3DSRequired?'],
  ['two edits away: no suggestion', { onExcuetd: async () => {} }, 'onExcuetd: unknown option'],
  ['nothing near', { webhookSecret: 'x' }, 'webhookSecret: unknown option'],
  ['a typo of an option not given', { sesionTtl: 60 }, 'sesionTtl: unknown option; did you mean sessionTtl?'],
  ['a required option misspelt is named as such, not as missing', { apiKey: undefined, apikey: 'k' }, 'apikey: unknown option; did you mean apiKey?'],
  ['an unknown timeouts key near a known one', { timeouts: { header: 50 } }, 'timeouts.header: unknown option; did you mean timeouts.headers?'],
  ['an unknown reconcile key near a known one', { reconcile: { intervall: 5 } }, 'reconcile.intervall: unknown option; did you mean reconcile.interval?'],
  ['sessionTtl zero', { sessionTtl: 0 }, 'sessionTtl: expected integer to be greater or equal to 1 (got number)'],
  ['sessionTtl not integer', { sessionTtl: 1.5 }, 'sessionTtl: expected integer (got number)'],
  ['storeTimeout zero', { storeTimeout: 0 }, 'storeTimeout: expected integer to be greater or equal to 1 (got number)'],
  ['storeTimeout not integer', { storeTimeout: 2.5 }, 'storeTimeout: expected integer (got number)'],
  ['storeTimeout a string', { storeTimeout: '2000' }, 'storeTimeout: expected integer (got string)'],
  ['webhookPublicKey empty array', { webhookPublicKey: [] }, 'webhookPublicKey: expected union value (got array)'],
  ['timeouts unknown key', { timeouts: { total: 1 } }, 'timeouts.total: unknown option'],
  ['purchase missing', { purchase: undefined }, 'purchase: required, a function (request) => purchase details'],
  ['hook not a function', { onExecuted: 'yes' }, 'onExecuted: expected a function'],
  ['store without take', { store: { get () {}, set () {}, claim () {}, delete () {} } }, 'store: expected a SessionStore, missing method take()'],
  ['store null', { store: null }, 'store: expected a SessionStore, missing method get()'],
  ['store without the due-queue', { store: { get () {}, set () {}, claim () {}, take () {}, delete () {}, due () {} } }, 'store: reconciliation needs the due-queue methods, and this store has no schedule(), unschedule(); add them, or register with reconcile: false'],
  ['reconcile true', { reconcile: true }, 'reconcile: expected union value (got boolean)'],
  ['reconcile.interval negative', { reconcile: { interval: -1 } }, 'reconcile.interval: expected number to be greater or equal to 0 (got number)'],
  ['reconcile.batch zero', { reconcile: { batch: 0 } }, 'reconcile.batch: expected integer to be greater or equal to 1 (got number)'],
  ['reconcile.batch not integer', { reconcile: { batch: 2.5 } }, 'reconcile.batch: expected integer (got number)'],
  ['reconcile.schedule empty', { reconcile: { schedule: [] } }, 'reconcile.schedule: expected array length to be greater or equal to 1 (got array)'],
  ['reconcile.schedule a zero step', { reconcile: { schedule: [60, 0] } }, 'reconcile.schedule.1: expected number to be greater than 0 (got number)'],
  ['reconcile unknown key', { reconcile: { every: 5 } }, 'reconcile.every: unknown option']
]

for (const [name, change, message] of BAD) {
  test(`register fails naming the option: ${name}`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await rejectsWith(t, boot(app, { ...VALID, ...change }), message)
  })
}

test('the options Fastify itself reads from a plugin\'s options are accepted', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(qorepay, { ...VALID, prefix: '/pay', logLevel: 'warn', logSerializers: { req: () => 'req' } })
  await app.ready()
  const answer = await app.inject({ method: 'POST', url: '/pay/payments', payload: {} })
  t.equal(answer.statusCode, 400, 'the routes are under our prefix')
  t.equal(resolveOptions({ ...VALID, pendingRedirect: 'https://shop.example/wait' }).apiKey, 'k', 'pendingRedirect is a known name')
  t.equal(resolveOptions({ ...VALID, publicUrl: 'https://shop.example/store/' }).publicUrl, 'https://shop.example/store', 'a path is fine')
})

test('options that are not an object', async (t) => {
  t.throws(() => resolveOptions(null), { code: 'FST_QOREPAY_CONFIG', message: /options: expected an object/ })
  t.throws(() => resolveOptions('apiKey'), { code: 'FST_QOREPAY_CONFIG' })
})

test('a credential never appears in a config error', async (t) => {
  const err = await boot(Fastify(), { ...VALID, apiKey: 98765 }).catch((e: Error) => e)
  t.match(err, { code: 'FST_QOREPAY_CONFIG' })
  t.notMatch((err as Error).message, '98765')
})

/** Every MemoryStore closed while the test runs, in order. */
function watchCloses (t: Tap): MemoryStore[] {
  const closed: MemoryStore[] = []
  const close = MemoryStore.prototype.close
  MemoryStore.prototype.close = function (this: MemoryStore) {
    closed.push(this)
    close.call(this)
  }
  t.teardown(() => { MemoryStore.prototype.close = close })
  return closed
}

test('a custom store is used and not closed; the default store is closed with the app', async (t) => {
  const closed = watchCloses(t)
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const app = Fastify()
  await app.register(qorepay, { ...VALID, store })
  await app.ready()
  await app.close()
  await store.set('still', 'open', 1000)
  t.equal(await store.get('still'), 'open')
  t.equal(closed.length, 0, 'the host\'s store is the host\'s to close')

  const own = Fastify()
  await own.register(qorepay, VALID)
  await own.ready()
  t.equal(closed.length, 0, 'open while the app runs')
  await own.close()
  t.equal(closed.length, 1, 'the store the plugin made is closed by app.close()')
  t.not(closed[0], store)
})

test('a store without the due-queue is usable with reconcile: false', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const keyValueOnly = { get: memory.get.bind(memory), set: memory.set.bind(memory), claim: memory.claim.bind(memory), take: memory.take.bind(memory), delete: memory.delete.bind(memory) }
  const app = Fastify()
  t.teardown(() => app.close())
  await boot(app, { ...VALID, store: keyValueOnly, reconcile: false })
  t.same(await app.qorepay.reconcile(), { checked: 0, reported: 0, pending: 0 }, 'reconcile() does nothing')
})

test('a second registration in the same scope needs its own decorator name', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(qorepay, VALID)
  await t.rejects(boot(app, { ...VALID, prefix: '/other' }), { code: 'FST_QOREPAY_CONFIG', message: /decorator: "qorepay" is already taken/ })
})
