import { test } from 'tap'
import { CARD, freePort, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { sessionKey, type ThreeDSSession } from '../../lib/three-ds/session.js'
import { firedExactly } from '../helpers/outcomes.js'

const FAST = { timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 2 }

/** Every outcome hook call, once the simulator's webhooks and callbacks have all arrived. */
async function hooksFired (shop: Shop): Promise<number> {
  await shop.sim.idle()
  return shop.events.executed.length + shop.events.authorized.length + shop.events.failed.length
}

test('3DS callback fails before processing: looked up, still pending, pendingRedirect (default successRedirect) with status pending, no hook', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  shop.sim.inject({ route: 'callback', kind: 'status', status: 500 })
  const back = await postTermUrl(termUrl, body)
  t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${res.body.purchase_id}&status=pending`)
  t.equal(shop.sim.count('callback'), 1)
  t.equal(await hooksFired(shop), 0)
})

test('3DS callback reset after the bank approved: looked up, success page, executed once', async (t) => {
  const shop = await startShop(t, { plugin: FAST })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  shop.sim.inject({ route: 'callback', kind: 'reset' })
  const back = await postTermUrl(termUrl, body)
  t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${res.body.purchase_id}&status=executed`)
  t.equal(shop.sim.count('callback'), 1, 'the callback is never re-sent')
  // The TermUrl's lookup and the gateway's success_callback race to report it; once.
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchaseId: res.body.purchase_id, purchase: { status: 'paid' } }])
})

test('3DS callback host unreachable: nothing sent, the session is kept, the retry completes', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { ...FAST, store } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const key = sessionKey(res.body.redirect_url.split('/').at(-1))
  const session = await store.get(key) as ThreeDSSession
  const closedPort = await freePort()
  await store.set(key, { ...session, callbackUrl: `http://127.0.0.1:${closedPort}/s2s/callback/x/` }, 60_000)
  const failed = await shop.post(new URL(termUrl).pathname, body)
  t.equal(failed.statusCode, 502)
  t.match(failed.body, { code: 'FST_QOREPAY_UNAVAILABLE' })
  t.match(await store.get(key), { purchaseId: res.body.purchase_id }, 'the session is still there')
  await store.set(key, session, 60_000)
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid/)
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ source: '3ds' }])
})

test('3DS callback refused (a 4xx without a status): 502 with its code, no lookup, the session stays taken; a repeated post answers pending at once', async (t) => {
  const shop = await startShop(t, { plugin: { ...FAST, pendingRedirect: 'https://shop.example/pending' } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  shop.sim.inject({ route: 'callback', kind: 'status', status: 400 })
  const refused = await shop.post(new URL(termUrl).pathname, body)
  t.equal(refused.statusCode, 502)
  t.match(refused.body, { code: 'FST_QOREPAY_GATEWAY', message: /HTTP 400/ })
  t.equal(shop.sim.count('purchases.get'), 0, 'the gateway said it did nothing: no lookup')
  const started = performance.now()
  const replay = await postTermUrl(termUrl, body)
  t.equal(replay.location, `https://shop.example/pending?purchase_id=${res.body.purchase_id}&status=pending`, 'it was sent: never sent again')
  t.ok(performance.now() - started < 1000, 'without waiting for an answer that never comes')
  t.equal(shop.sim.count('callback'), 1)
  t.equal(await hooksFired(shop), 0)
})
