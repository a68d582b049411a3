import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { CARD, PURCHASE, freePort, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { firedExactly } from '../helpers/outcomes.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { guardStore, type SessionStore } from '../../lib/stores/session-store.js'
import { enterSession, isSessionToken, newSessionToken, putBackSession, sessionKey, sessionTimeLeft, withoutSessionToken, type ThreeDSSession } from '../../lib/three-ds/session.js'

/**
 * The session module's answers where the route tests cannot tell them
 * apart by the redirect alone: which tokens reach the store, what the logs
 * show of a session URL, how long the store keeps a session or an answer.
 */

const PAID = 'https://shop.example/paid?from=qorepay'

function threeDSSession (expiresAt: number): ThreeDSSession {
  return { purchaseId: 'p-1', callbackUrl: 'https://gw.example/s2s/callback/p-1/', acsUrl: 'https://acs.example/', method: 'POST', paReq: 'pr', md: 'md', expiresAt }
}

/** `fn()` with `Date.now()` answering `now`: the synchronous part of an async function runs under it. */
function at<T> (now: number, fn: () => T): T {
  const real = Date.now
  Date.now = () => now
  try {
    return fn()
  } finally {
    Date.now = real
  }
}

/** A MemoryStore that records every call made to it, with its arguments. */
function recordingStore (t: { teardown (fn: () => unknown): void }): { store: SessionStore, memory: MemoryStore, calls: Array<[string, ...unknown[]]> } {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const calls: Array<[string, ...unknown[]]> = []
  const store = new Proxy(memory, {
    get (target, property) {
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push([String(property), ...args])
        return value.apply(target, args)
      }
    }
  })
  return { store, memory, calls }
}

/** The recorded calls on 3DS keys. */
const on3DSKeys = (calls: Array<[string, ...unknown[]]>) => calls.filter(([, key]) => typeof key === 'string' && key.startsWith('3ds:'))

test('isSessionToken: exactly 43 URL-safe base64 characters, nothing before or after', async (t) => {
  const token = newSessionToken()
  t.equal(isSessionToken(token), true)
  t.equal(isSessionToken(`-_${'A'.repeat(41)}`), true)
  t.equal(isSessionToken(`x${token}`), false, 'a prefix')
  t.equal(isSessionToken(`${token}x`), false, 'a suffix')
  t.equal(isSessionToken(`/${token}`), false, 'a prefix of another alphabet')
  t.equal(isSessionToken(`${token}.`), false, 'a suffix of another alphabet')
  t.equal(isSessionToken(token.slice(1)), false, '42 characters')
})

test('withoutSessionToken: the token of a page or TermUrl path replaced by [token], the rest as it was', async (t) => {
  const token = newSessionToken()
  t.equal(withoutSessionToken(`/qorepay/3ds/${token}`), '/qorepay/3ds/[token]')
  t.equal(withoutSessionToken(`/shop/pay/3ds/${token}/return?x=1`), '/shop/pay/3ds/[token]/return?x=1')
  t.equal(withoutSessionToken('/qorepay/3ds/odd%2Fshape#frag'), '/qorepay/3ds/[token]#frag')
  t.equal(withoutSessionToken('/qorepay/payments'), '/qorepay/payments')
})

test('enterSession: a session it takes is `first`; a token of another shape is unknown without a store call', async (t) => {
  const { store, calls } = recordingStore(t)
  const session = threeDSSession(Date.now() + 60_000)
  const token = newSessionToken()
  await store.set(sessionKey(token), session, 60_000)
  t.same(await enterSession(store, token), { kind: 'first', session })
  calls.length = 0
  for (const odd of ['x', `x${token}`, `${token}x`, '../payments']) {
    t.same(await enterSession(store, odd), { kind: 'unknown' }, odd)
  }
  t.same(calls, [], 'the store was never asked')
})

test('sessionTimeLeft: a session under a 3DS session key has exactly what is left of it; anything else none', async (t) => {
  const now = 1_800_000_000_000
  const session = threeDSSession(now + 42_000)
  t.equal(at(now, () => sessionTimeLeft(sessionKey('tok'), session)), 42_000)
  t.equal(at(now, () => sessionTimeLeft(sessionKey('tok'), threeDSSession(now - 5))), -5, 'an expired one: less than none')
  t.equal(at(now, () => sessionTimeLeft('tok', session)), 0, 'another key')
  t.equal(at(now, () => sessionTimeLeft(`prefix:${sessionKey('tok')}`, session)), 0, 'a key with the prefix elsewhere')
  t.equal(at(now, () => sessionTimeLeft(sessionKey('tok'), { purchaseId: 'p-1', expiresAt: now + 42_000 })), 0, 'not a whole session')
  t.equal(at(now, () => sessionTimeLeft(sessionKey('tok'), 'v')), 0, 'not an object')
})

test('the store guard puts a 3DS session that a timed-out take removed back for the time it has left, and nothing else', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const claims: Array<[string, unknown, number]> = []
  const lateTakes: Array<Promise<unknown>> = []
  const slow = new Proxy(memory, {
    get (target, property) {
      const value = Reflect.get(target, property, target)
      if (property === 'take') {
        return (key: string) => {
          const taken = sleep(100).then(() => target.take(key))
          lateTakes.push(taken)
          return taken
        }
      }
      if (property === 'claim') {
        return (key: string, claimed: unknown, ttlMs: number) => {
          claims.push([key, claimed, ttlMs])
          return target.claim(key, claimed, ttlMs)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const guarded = guardStore(slow, { timeoutMs: 20, takenTtl: sessionTimeLeft })
  const session = threeDSSession(Date.now() + 30_000)
  const values: Array<[string, unknown]> = [
    [sessionKey('back'), session],
    ['other', session],
    [sessionKey('partial'), { purchaseId: 'p-1', expiresAt: session.expiresAt }],
    [sessionKey('string'), 'v']
  ]
  for (const [key, value] of values) await memory.set(key, value, 60_000)
  const results = await Promise.allSettled(values.map(([key]) => guarded.take(key)))
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected', 'rejected'], 'each take timed out')
  await Promise.all(lateTakes)
  await sleep(20)
  t.same(claims.map(([key, value]) => [key, value]), [[sessionKey('back'), session]], 'only the session under its key is put back')
  const ttl = claims[0]?.[2] ?? 0
  t.ok(ttl > 20_000 && ttl < 30_000, `for what it has left: ${ttl} ms`)
  t.same(await memory.get(sessionKey('back')), session)
  for (const [key] of values.slice(1)) t.equal(await memory.get(key), undefined, `${key}: stays taken`)
})

test('putBackSession: back for exactly the time left; a session with none left stays gone, without a store call', async (t) => {
  const { store, memory, calls } = recordingStore(t)
  const now = Date.now()
  await at(now, () => putBackSession(store, 'left', threeDSSession(now + 42_000)))
  t.same(on3DSKeys(calls), [['set', sessionKey('left'), threeDSSession(now + 42_000), 42_000]])
  t.same(await memory.get(sessionKey('left')), threeDSSession(now + 42_000))
  calls.length = 0
  await at(now, () => putBackSession(store, 'none', threeDSSession(now)))
  await at(now, () => putBackSession(store, 'expired', threeDSSession(now - 1)))
  t.same(calls, [], 'no time left: not put back (a store refuses a TTL of 0 or less)')
})

test('the TermUrl with the callback host unreachable after the session expired: 502, the session not put back', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { store, timeouts: { connect: 500, headers: 300, body: 300 } } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const key = sessionKey(res.body.redirect_url.split('/').at(-1))
  const session = await store.get(key) as ThreeDSSession
  // The store still holds it (a store's clock runs its own way), but its life is over.
  await store.set(key, { ...session, callbackUrl: `http://127.0.0.1:${await freePort()}/s2s/callback/x/`, expiresAt: Date.now() - 1000 }, 60_000)
  const failed = await shop.post(new URL(termUrl).pathname, body)
  t.equal(failed.statusCode, 502)
  t.match(failed.body, { code: 'FST_QOREPAY_UNAVAILABLE' })
  t.equal(await store.get(key), undefined, 'not put back')
  t.equal(shop.sim.count('callback'), 0)
})

test('the answer record is kept for the rest of the session\'s life, and at least a minute', async (t) => {
  for (const [sessionTtl, least, most] of [[1800, 1_800_000 - 60_000, 1_800_000], [1, 60_000, 60_000]]) {
    t.test(`sessionTtl ${sessionTtl}`, async (t) => {
      const { store, calls } = recordingStore(t)
      const shop = await startShop(t, { plugin: { store, sessionTtl } })
      const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
      const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
      t.equal((await postTermUrl(termUrl, body)).location, `${PAID}&purchase_id=${res.body.purchase_id}&status=executed`)
      const answers = on3DSKeys(calls).filter(([method, key, value]) => method === 'set' && (key as string).endsWith(':answer') && (value as { status?: string }).status !== undefined)
      t.same(answers.map(([, , value]) => value), [{ purchaseId: res.body.purchase_id, status: 'executed' }])
      const ttl = answers[0]?.[3] as number
      t.ok(ttl >= least && ttl <= most, `${ttl} ms, between ${least} and ${most}`)
    })
  }
})

test('a 3DS purchase with skip_capture: the TermUrl answers authorized, and a repeated post reads that answer back', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ ...PURCHASE, skip_capture: true }) } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const expected = { statusCode: 303, location: `${PAID}&purchase_id=${res.body.purchase_id}&status=authorized` }
  t.same(await postTermUrl(termUrl, body), expected, 'the first post')
  const callbacks = shop.sim.count('callback')
  t.same(await postTermUrl(termUrl, body), expected, 'a repeated post')
  t.equal(shop.sim.count('callback'), callbacks, 'not sent again')
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'hold')
  await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, source: '3ds' }])
})

test('over HTTP: tokens of another shape reach no store call; the request log shows session URLs with [token]', async (t) => {
  const { store, calls } = recordingStore(t)
  const shop = await startShop(t, { plugin: { store } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const token: string = res.body.redirect_url.split('/').at(-1)
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  await shop.sim.idle()

  calls.length = 0
  for (const odd of [`x${token}`, `${token}x`, 'x']) {
    t.equal((await shop.get(`/qorepay/3ds/${odd}`)).statusCode, 404, `${odd}: the expired page`)
    t.same(await postTermUrl(`${shop.url}/qorepay/3ds/${odd}/return`, body), { statusCode: 303, location: 'https://shop.example/failed' }, `${odd}: the TermUrl`)
  }
  t.same(on3DSKeys(calls), [], 'no 3DS key was read or taken')

  const from = shop.logs.length
  await shop.get(`/qorepay/3ds/${token}`)
  await postTermUrl(`${termUrl}?lang=en`, body)
  const urls = shop.logs.slice(from).map((line) => JSON.parse(line)).filter((line) => line.msg === 'incoming request').slice(0, 2).map((line) => line.req.url)
  t.same(urls, ['/qorepay/3ds/[token]', '/qorepay/3ds/[token]/return?lang=en'])
  t.notOk(shop.logs.some((line) => line.includes(token)), 'the token is in no log line')
})
