import { test } from 'tap'
import { CARD, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import { ANSWER_WAIT_MS } from '../../lib/three-ds/session.js'
import { firedExactly } from '../helpers/outcomes.js'

/**
 * A repeated TermUrl post (a double click, a browser's resubmit, the back
 * button) answers what the first post answered, without a gateway call; one
 * that comes while the first still runs waits for it (ANSWER_WAIT_MS), then
 * answers pending.
 */

const PAID = 'https://shop.example/paid?from=qorepay'
const FAILED = 'https://shop.example/failed'
const PENDING = 'https://shop.example/pending'
const FAST = { timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 2 }

/** Gateway calls the plugin made (the simulator's view), by route. */
function gatewayCalls (shop: Shop): { callback: number, lookups: number } {
  return { callback: shop.sim.count('callback'), lookups: shop.sim.count('purchases.get') }
}

async function atTermUrl (shop: Shop, choice: 'approve' | 'fail' = 'approve'): Promise<{ purchaseId: string, termUrl: string, body: string }> {
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, choice)
  return { purchaseId: res.body.purchase_id, termUrl, body }
}

test('a repeated post answers the first post\'s 303, the same purchase_id and status, with no gateway call', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, pendingRedirect: PENDING } })
  const cases: Array<[string, 'approve' | 'fail', (() => void) | undefined, (id: string) => string]> = [
    ['executed', 'approve', undefined, (id) => `${PAID}&purchase_id=${id}&status=executed`],
    ['declined at the bank', 'fail', undefined, (id) => `${FAILED}?purchase_id=${id}&status=error`],
    // Unprocessed 500: looked up, still undecided.
    ['pending', 'approve', () => shop.sim.inject({ route: 'callback', kind: 'status', status: 500 }), (id) => `${PENDING}?purchase_id=${id}&status=pending`]
  ]
  for (const [name, choice, fault, expected] of cases) {
    t.test(name, async (t) => {
      const { purchaseId, termUrl, body } = await atTermUrl(shop, choice)
      fault?.()
      const first = await postTermUrl(termUrl, body)
      t.same(first, { statusCode: 303, location: expected(purchaseId) }, 'the first post')
      const calls = gatewayCalls(shop)
      for (const resubmit of [body, body, 'MD=other&PaRes=other', '']) {
        t.same(await postTermUrl(termUrl, resubmit), first, 'a repeated post, whatever it carries')
      }
      t.same(gatewayCalls(shop), calls, 'no callback, no lookup')
      await shop.sim.idle()
    })
  }
  t.test('each outcome fired once', async (t) => {
    t.same([shop.events.executed.length, shop.events.failed.length, shop.events.authorized.length], [1, 1, 0])
  })
})

test('concurrent posts: one callback, every post the first one\'s answer', async (t) => {
  const shop = await startShop(t)
  const { purchaseId, termUrl, body } = await atTermUrl(shop)
  const answers = await Promise.all(Array.from({ length: 5 }, () => postTermUrl(termUrl, body)))
  t.same(answers, Array.from({ length: 5 }, () => ({ statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=executed` })))
  t.equal(shop.sim.count('callback'), 1)
  await firedExactly(t, shop, 'onExecuted', purchaseId, [{ source: '3ds' }])
})

test('a post while the first still runs past the wait: pendingRedirect with the purchase; later posts get the outcome', async (t) => {
  const shop = await startShop(t, { plugin: { pendingRedirect: PENDING } })
  const { purchaseId, termUrl, body } = await atTermUrl(shop)
  // The gateway takes longer over the callback than a second post waits.
  shop.sim.inject({ route: 'callback', kind: 'latency', ms: ANSWER_WAIT_MS + 1500 })
  const first = postTermUrl(termUrl, body)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = performance.now()
  const second = await postTermUrl(termUrl, body)
  const waited = performance.now() - started
  t.same(second, { statusCode: 303, location: `${PENDING}?purchase_id=${purchaseId}&status=pending` })
  t.ok(waited >= ANSWER_WAIT_MS - 50 && waited < ANSWER_WAIT_MS + 1000, `waited ${waited.toFixed(0)} ms for the first post`)
  t.same(await first, { statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=executed` })
  t.same(await postTermUrl(termUrl, body), await first, 'a later post: the first one\'s answer')
  t.equal(shop.sim.count('callback'), 1)
})

test('the session ends while a second post waits: pending with the purchase, never the failure page', async (t) => {
  const shop = await startShop(t, { plugin: { sessionTtl: 1 } })
  const { purchaseId, termUrl, body } = await atTermUrl(shop)
  shop.sim.inject({ route: 'callback', kind: 'latency', ms: 1500 })
  const first = postTermUrl(termUrl, body)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const second = await postTermUrl(termUrl, body)
  t.same(second, { statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=pending` }, 'pendingRedirect defaults to successRedirect')
  const answer = await first
  t.same(answer, { statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=executed` })
  t.same(await postTermUrl(termUrl, body), answer, 'the answer outlives the session a little, for a double click at its very end')
})

test('an answer the store cannot keep: the payer still gets theirs, a warning names the purchase', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  // Every write of a completed answer fails; the rest of the store works.
  const store: SessionStore = new Proxy(memory, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (property !== 'set') return typeof value === 'function' ? value.bind(target) : value
      return async (key: string, value: unknown, ttlMs: number) => {
        if (key.endsWith(':answer') && (value as { status?: string }).status !== undefined) throw new Error('disk full')
        await target.set(key, value, ttlMs)
      }
    }
  })
  const shop = await startShop(t, { plugin: { store } })
  const { purchaseId, termUrl, body } = await atTermUrl(shop)
  t.same(await postTermUrl(termUrl, body), { statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=executed` })
  const warning = shop.logs.map((l) => JSON.parse(l)).find((l) => /TermUrl answer/.test(l.msg))
  t.match(warning, { level: 40, purchaseId, msg: `qorepay: the TermUrl answer for purchase ${purchaseId} could not be kept; a repeated post waits for it, then answers pending` })
  t.equal(shop.events.executed.length, 1)
})

test('the redirect never follows a URL from the request: not the query, not the body', async (t) => {
  const shop = await startShop(t, { plugin: { pendingRedirect: PENDING } })
  const { purchaseId, termUrl, body } = await atTermUrl(shop)
  const evil = 'https://evil.example/steal'
  const query = new URLSearchParams({ returnTo: evil, redirect: evil, redirect_uri: evil, next: evil, successRedirect: evil }).toString()
  const form = `${body}&${new URLSearchParams({ returnTo: evil, redirect: evil, TermUrl: evil, successRedirect: evil, url: evil }).toString()}`
  const expected = { statusCode: 303, location: `${PAID}&purchase_id=${purchaseId}&status=executed` }
  t.same(await postTermUrl(`${termUrl}?${query}`, form), expected, 'the first post')
  t.same(await postTermUrl(`${termUrl}?${query}`, form), expected, 'a repeated post')
  const unknown = `${shop.url}/qorepay/3ds/${'A'.repeat(43)}/return?${query}`
  t.same(await postTermUrl(unknown, form), { statusCode: 303, location: FAILED }, 'an unknown token')
})
