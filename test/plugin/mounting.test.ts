import { test } from 'tap'
import { CARD, CREDENTIALS, PURCHASE, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { TEST_CARDS, createSimulator } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'

/**
 * Wherever the shop mounts the plugin, every URL it hands out (redirect_url,
 * the TermUrl in the 3DS page, success_callback) is publicUrl and the prefix
 * the routes really live under, a parent scope's included.
 */
const MOUNTS = [
  { name: 'at the root, prefix \'\'', scope: undefined, prefix: '', base: '' },
  { name: 'a custom prefix', scope: undefined, prefix: '/pay/qp', base: '/pay/qp' },
  { name: 'inside a parent scope with its own prefix', scope: '/shop', prefix: undefined, base: '/shop/qorepay' },
  { name: 'a parent scope\'s prefix and a custom prefix', scope: '/shop', prefix: '/pay', base: '/shop/pay' }
]

for (const mount of MOUNTS) {
  test(`mounted ${mount.name}: links follow ${mount.base || '/'}`, async (t) => {
    const shop = await startShop(t, { scope: mount.scope, plugin: mount.prefix === undefined ? {} : { prefix: mount.prefix } })
    const routes = `${shop.url}${mount.base}`

    t.test('a full 3DS round trip: payment, redirect_url, the page, the ACS, the TermUrl, 303', async (t) => {
      const res = await shop.post(`${mount.base}/payments`, { ...CARD, card_number: TEST_CARDS.threeDSPost })
      t.equal(res.statusCode, 200)
      const purchaseId: string = res.body.purchase_id
      t.match(res.body.redirect_url, new RegExp(`^${routes}/3ds/[A-Za-z0-9_-]{43}$`), 'redirect_url')
      const token = res.body.redirect_url.slice(`${routes}/3ds/`.length)
      t.equal(shop.sim.purchases.get(purchaseId)?.success_callback, `${routes}/callback`, 'success_callback')

      const page = await shop.get(new URL(res.body.redirect_url).pathname)
      t.equal(page.statusCode, 200, 'the page is served where redirect_url points')
      t.match(page.text, `name="TermUrl" value="${routes}/3ds/${token}/return"`, 'the TermUrl in the page')

      const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
      t.equal(termUrl, `${routes}/3ds/${token}/return`, 'the ACS posts back to our TermUrl')
      const back = await postTermUrl(termUrl, body)
      t.equal(back.statusCode, 303)
      t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${purchaseId}&status=executed`)
      await shop.sim.idle()
      t.same(shop.events.executed.filter((e) => e.purchaseId === purchaseId).map((e) => e.source), ['3ds'])
    })

    t.test('success_callback reaches its route: a payer who never comes back is reported by the callback', async (t) => {
      const res = await shop.post(`${mount.base}/payments`, { ...CARD, card_number: TEST_CARDS.threeDSPost })
      const purchaseId: string = res.body.purchase_id
      // The bank completes 3-D Secure, the payer closes the page: only the success callback tells the shop.
      await shop.sim.completeThreeDS(purchaseId, 'approve')
      await shop.sim.idle()
      const callbacks = shop.sim.deliveries.filter((d) => d.kind === 'success_callback' && d.purchaseId === purchaseId)
      t.same(callbacks.map((d) => [d.url, d.statusCode]), [[`${routes}/callback`, 200]], 'delivered once to our route, answered 200')
      t.same(shop.events.executed.filter((e) => e.purchaseId === purchaseId).map((e) => e.source), ['callback'], 'onExecuted, from the callback')
      t.same(shop.events.webhook.filter((e) => e.purchaseId === purchaseId).map((e) => e.source), ['callback'], 'onWebhook, from the callback')
    })
  })
}

test('the startup warning names the webhook URL the routes really have', async (t) => {
  const shop = await startShop(t, { scope: '/shop', plugin: { webhookPublicKey: undefined } })
  const line = shop.logs.map((l) => JSON.parse(l)).find((l) => /webhook is not registered/.test(l.msg))
  t.match(line, { level: 40, msg: `qorepay: POST ${shop.url}/shop/qorepay/webhook is not registered because webhookPublicKey is not set; outcomes of payers who leave the 3-D Secure page are then learnt only through the success callback` })
  t.equal((await shop.post('/shop/qorepay/webhook', {})).statusCode, 404)
})

test('a saved-card payment of a plugin inside a parent scope: its success_callback has the parent\'s prefix too', async (t) => {
  const shop = await startShop(t, { scope: '/shop', plugin: { prefix: '/pay' } })
  const saved = await shop.post('/shop/pay/payments', { ...CARD, remember_card: 'on' })
  t.equal(saved.body.status, 'executed')
  const result = await shop.api.payWithSavedCard(PURCHASE, saved.body.purchase_id)
  t.equal(result.status, 'executed')
  t.equal(shop.sim.purchases.get(result.purchaseId)?.success_callback, `${shop.url}/shop/pay/callback`)
})

test('two mounts of one brand under different parent scopes, sharing a store, keep their records apart', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const sim = await createSimulator({ ...CREDENTIALS })
  t.teardown(() => sim.close())
  const eu = await startShop(t, { sim, scope: '/eu', plugin: { store, reconcile: { interval: 3600 } } })
  const us = await startShop(t, { sim, scope: '/us', plugin: { store, reconcile: { interval: 3600 } } })
  const card = { ...CARD, card_number: TEST_CARDS.noThreeDS }
  const headers = { 'idempotency-key': 'order-7-attempt-1' }

  const first = await eu.post('/eu/qorepay/payments', card, headers)
  const second = await us.post('/us/qorepay/payments', card, headers)
  t.equal(first.statusCode, 200)
  t.equal(second.statusCode, 200)
  t.not(second.body.purchase_id, first.body.purchase_id, 'the same key on the other mount pays its own purchase')
  t.equal(second.headers['idempotent-replayed'], undefined, 'not the other mount\'s answer replayed')
  t.equal(sim.purchases.size, 2)
  const replay = await us.post('/us/qorepay/payments', card, headers)
  t.same([replay.body.purchase_id, replay.headers['idempotent-replayed']], [second.body.purchase_id, 'true'], 'a retry on one mount replays that mount\'s answer')

  // Each mount tracks its purchases in its own queue: the other mount's sweep never reports them through its hooks.
  const waiting = await eu.post('/eu/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const id: string = waiting.body.purchase_id
  t.match(await store.get(`reconcile:brand-test/eu/qorepay:${id}`), { purchaseId: id, attempts: 0 }, 'tracked under its mount')
  t.equal(await store.get(`reconcile:brand-test/us/qorepay:${id}`), undefined)
  t.equal(await store.get(`reconcile:brand-test/qorepay:${id}`), undefined, 'nothing under the bare prefix both mounts share')
  t.same(await store.due('reconcile:brand-test/eu/qorepay', Date.now() + 86_400_000, 10, 1000), [id])
  t.same(await store.due('reconcile:brand-test/us/qorepay', Date.now() + 86_400_000, 10, 1000), [])
})
