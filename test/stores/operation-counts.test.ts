import { test } from 'tap'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import { CARD, passAcs, postTermUrl, startShop } from '../helpers/shop.js'

/** The store, counting the calls the plugin makes on it, by method. */
function counting (store: SessionStore): { store: SessionStore, calls: Record<string, number> } {
  const calls: Record<string, number> = {}
  const counted = new Proxy(store, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls[String(property)] = (calls[String(property)] ?? 0) + 1
        return value.apply(target, args)
      }
    }
  })
  return { store: counted, calls }
}

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
  t.same(calls, { claim: 7, set: 6, get: 3, take: 1 }, 'the README\'s "Cost per payment" states these; update it with them')
})
