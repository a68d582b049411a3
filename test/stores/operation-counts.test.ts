import { test } from 'tap'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { CARD, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { counting } from '../helpers/reconcile.js'

test('store calls of one 3DS payment, from the card post to its webhook (README "Cost per payment")', async (t) => {
  const memory = new MemoryStore()
  t.teardown(() => memory.close())
  const { store, calls } = counting(memory)
  const shop = await startShop(t, { plugin: { store } })
  const { sim } = shop
  sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })

  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost }, { 'idempotency-key': 'order-1' })
  t.equal(res.body.status, '3DS_required')
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid/)
  await sim.idle()
  t.equal(shop.events.executed.length, 1)
  const total = Object.values(calls).reduce((a, b) => a + b, 0)
  t.comment(`store calls: ${JSON.stringify(calls)}, ${total} in all`)
  // Reconciliation's share: the tracking record (1 set) and due-queue member (1 schedule) before the card post;
  // the TermUrl's report stops tracking (1 take, 1 unschedule); the callback's and webhook's duplicates each find it stopped (1 take).
  // Each of the three reports (TermUrl, callback, webhook) first marks the outcome known (1 set each), duplicates included.
  // The TermUrl's answer record: written with the session (1 set), completed with the first post's answer (1 set).
  // The Idempotency-Key's share: its claim, its binding to the purchase (a claim, before the card post) and its answer (1 set).
  t.same(calls, { claim: 8, set: 12, get: 3, take: 4, schedule: 1, unschedule: 1 }, 'the README\'s "Cost per payment" states these; update it with them')
})
