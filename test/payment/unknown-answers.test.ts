import { test } from 'tap'
import { CARD, startShop, type Shop } from '../helpers/shop.js'
import { UNREADABLE_ANSWERS } from '../helpers/unreadable-answers.js'
import { firedExactly } from '../helpers/outcomes.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

const LOOKUPS = 2

/** The card post is processed by the gateway, and only its answer is replaced by `body`. */
async function payWithAnswer (shop: Shop, cardNumber: string, body: unknown) {
  const posts = shop.sim.count('direct_post')
  const lookups = shop.sim.count('purchases.get')
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, process: true, body })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: cardNumber })
  await shop.sim.idle()
  return { res, posts: shop.sim.count('direct_post') - posts, lookups: shop.sim.count('purchases.get') - lookups }
}

test('a card post answered 2xx with nothing readable: looked up, answered as the lookup says, never re-sent', async (t) => {
  const shop = await startShop(t, { plugin: { lookupAttempts: LOOKUPS } })
  for (const [name, body] of UNREADABLE_ANSWERS) {
    t.test(`${name}, the card charged: 200 executed from the lookup`, async (t) => {
      const { res, posts, lookups } = await payWithAnswer(shop, CARD.card_number, body)
      t.equal(res.statusCode, 200)
      t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id })
      t.equal(posts, 1, 'one card post')
      t.equal(lookups, 1, 'one lookup: it was decided')
      // The lookup and the gateway's success_callback race to report it: once, by either.
      await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, [{ purchase: { status: 'paid' } }])
      await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, 0)
      await firedExactly(t, shop, 'onFailed', res.body.purchase_id, 0)
    })
    t.test(`${name}, the card declined: 402 from the lookup`, async (t) => {
      const { res, posts } = await payWithAnswer(shop, TEST_CARDS.declined, body)
      t.equal(res.statusCode, 402)
      t.equal(res.body.status, 'error')
      t.equal(posts, 1, 'one card post')
      await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, 0)
      await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, 0)
      await firedExactly(t, shop, 'onFailed', res.body.purchase_id, [{ error: { code: 'do_not_honour' } }])
    })
    t.test(`${name}, the gateway still undecided (3DS pending): 202 pending, no hook`, async (t) => {
      const { res, posts, lookups } = await payWithAnswer(shop, TEST_CARDS.threeDSPost, body)
      t.equal(res.statusCode, 202)
      t.same(res.body, { status: 'pending', purchase_id: res.body.purchase_id })
      t.equal(posts, 1, 'one card post')
      t.equal(lookups, LOOKUPS, 'every lookup attempt')
      await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, 0)
      await firedExactly(t, shop, 'onAuthorized', res.body.purchase_id, 0)
      await firedExactly(t, shop, 'onFailed', res.body.purchase_id, 0)
      t.equal(shop.sim.purchases.get(res.body.purchase_id)?.status, 'pending_execute')
    })
  }
  t.test('no answer ever was a 500, and the reporter never saw a status it does not know', async (t) => {
    t.notOk(shop.logs.some((l) => JSON.parse(l).level >= 50), 'no error logged')
    t.ok(shop.logs.some((l) => l.includes('card post for purchase') && l.includes('has an unknown outcome; looking it up')))
  })
})

test('elsewhere a 2xx the wire schema refuses is FST_QOREPAY_GATEWAY, with the status it came with', async (t) => {
  const shop = await startShop(t)
  const paid = await shop.post('/qorepay/payments', CARD)
  for (const [name, body] of UNREADABLE_ANSWERS) {
    shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 200, body })
    await t.rejects(shop.app.qorepay.getPurchase(paid.body.purchase_id), { code: 'FST_QOREPAY_GATEWAY', statusCode: 502, sent: true, gatewayStatus: 200, message: 'QorePay answered an error: HTTP 200: the answer is not a Purchase' }, name)
  }
  const creates = shop.sim.count('purchases.create')
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 201, body: { id: 'p-1', status: 'created' } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.same(res.body, { statusCode: 502, code: 'FST_QOREPAY_GATEWAY', error: 'Bad Gateway', message: 'QorePay answered an error: HTTP 201: the answer is not a Purchase' })
  t.equal(shop.sim.count('purchases.create') - creates, 1, 'not repeated')
  t.equal(shop.sim.count('direct_post'), 1, 'no card post for it')
  shop.sim.inject({ route: 'purchases.refund', kind: 'status', status: 200, body: { id: 'r-1' } })
  await t.rejects(shop.app.qorepay.refund(paid.body.purchase_id), { code: 'FST_QOREPAY_GATEWAY', message: /the answer is not a Payment/ })
  shop.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: { pem: 'no' } })
  await t.rejects(shop.app.qorepay.publicKey(), { code: 'FST_QOREPAY_GATEWAY', message: /the answer is not a JSON string/ })
})
