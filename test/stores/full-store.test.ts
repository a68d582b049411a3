import { test } from 'tap'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { CARD, startShop } from '../helpers/shop.js'

const THREE_DS_CARD = { ...CARD, card_number: TEST_CARDS.threeDSPost }

test('a full MemoryStore refuses new payments with 503 and evicts no exactly-once mark', async (t) => {
  const store = new MemoryStore({ maxEntries: 20 })
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { store } })
  const { sim } = shop
  sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })

  // Payments, each with its webhook and success callback delivered, until the store is full.
  const paid: string[] = []
  let refused: { statusCode: number, body: any } | undefined
  for (let i = 0; i < 40 && refused === undefined; i++) {
    const res = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': `order-${i}` })
    await sim.idle()
    if (res.statusCode === 200) paid.push(res.body.purchase_id)
    else refused = res
  }
  t.ok(paid.length >= 2, `${paid.length} payments filled ${store.size} of ${store.maxEntries} entries`)
  t.equal(refused?.statusCode, 503, 'the next payment is refused')
  t.match(refused?.body, { code: 'FST_QOREPAY_STORE_UNAVAILABLE', message: /MemoryStore is full \(maxEntries 20\)/ })
  // Where the store fills mid-payment (the binding of its Idempotency-Key, its tracking) a purchase may exist; its card is never sent.
  t.equal(sim.count('direct_post'), paid.length, 'refused before its card was posted')
  t.equal(shop.events.executed.length, paid.length)

  // Without an Idempotency-Key nothing is stored before the card post; the session is what is refused.
  const threeDS = await shop.post('/qorepay/payments', THREE_DS_CARD)
  t.equal(threeDS.statusCode, 503, 'a pending 3DS session is refused too')
  const created = sim.count('purchases.create')

  // The first payment's marks are still there: its duplicate webhook fires nothing.
  const first = sim.deliveries.find((d) => d.purchaseId === paid[0] && d.kind === 'webhook' && d.eventType === 'purchase.paid')
  t.ok(first, 'the first payment\'s purchase.paid webhook')
  const webhooksBefore = shop.events.webhook.length
  const duplicate = await shop.post('/qorepay/webhook', first!.body, { 'x-signature': first!.signature })
  t.equal(duplicate.statusCode, 200, 'the duplicate is acknowledged')
  await sim.idle()
  t.equal(shop.events.executed.filter((e) => e.purchaseId === paid[0]).length, 1, 'onExecuted still once for the first payment')
  t.equal(shop.events.webhook.length, webhooksBefore, 'onWebhook fired nothing again')
  const replay = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-0' })
  t.same(replay.body, { status: 'executed', purchase_id: paid[0] }, 'the first Idempotency-Key still replays its answer')
  t.equal(sim.count('purchases.create'), created, 'and creates nothing')
})
