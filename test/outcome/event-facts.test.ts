import { test } from 'tap'
import { CARD, passAcs, postTermUrl, startShop, PURCHASE } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import type { PurchaseInput } from '../../lib/index.js'

/** What onAuthorized and onExecuted events say besides the outcome: hold or preauthorized, and the recurring token. */

const zero: PurchaseInput = { ...PURCHASE, purchase: { currency: 'NGN', products: [{ name: 'Card check', price: 0 }] }, skip_capture: true }
const hold: PurchaseInput = { ...PURCHASE, skip_capture: true }

test('onAuthorized says hold or preauthorized, on the direct answer and after 3-D Secure', async (t) => {
  for (const [name, input, authorization] of [['an amount on hold', hold, 'hold'], ['a zero-amount card check', zero, 'preauthorized']] as const) {
    const shop = await startShop(t, { plugin: { purchase: async () => input } })
    const direct = await shop.post('/qorepay/payments', CARD)
    t.same(direct.body, { status: 'authorized', purchase_id: direct.body.purchase_id }, name)
    t.match(shop.events.authorized[0], { source: 'direct', status: 'authorized', authorization }, `${name}: direct`)
    t.equal(shop.sim.purchases.get(direct.body.purchase_id)?.status, authorization, `${name}: as the gateway says`)

    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
    const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
    await postTermUrl(termUrl, body)
    t.match(shop.events.authorized[1], { source: '3ds', purchaseId: res.body.purchase_id, authorization }, `${name}: after 3-D Secure`)
    t.notOk('recurringToken' in shop.events.authorized[1], 'no card saved')
  }
})

test('from a webhook or a lookup, the purchase\'s status decides', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => zero, lookupAttempts: 2 } })
  const hook = shop.sim.addWebhook({ url: `${shop.url}/qorepay/webhook` })
  // The payer never comes back from the bank: the webhook reports it.
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, remember_card: 'on' })
  await shop.sim.completeThreeDS(res.body.purchase_id, 'approve')
  await shop.sim.idle()
  t.match(shop.events.authorized, [{ source: 'webhook', authorization: 'preauthorized', recurringToken: res.body.purchase_id, purchase: { status: 'preauthorized', is_recurring_token: true } }])

  // The card post's answer is lost (and no webhook comes first): the lookup reports it.
  shop.sim.removeWebhook(hook.id)
  shop.sim.inject({ route: 'direct_post', kind: 'reset' })
  const lost = await shop.post('/qorepay/payments', CARD)
  t.equal(lost.statusCode, 200)
  t.match(shop.events.authorized[1], { source: 'direct', purchaseId: lost.body.purchase_id, authorization: 'preauthorized', purchase: { status: 'preauthorized' } })
  t.notOk('recurringToken' in shop.events.authorized[1], 'the gateway saved no card')
})

test('recurringToken: the purchase id on executed and authorized events of a saved card', async (t) => {
  const shop = await startShop(t)
  const saved = await shop.post('/qorepay/payments', { ...CARD, remember_card: 'on' })
  t.match(shop.events.executed[0], { source: 'direct', purchaseId: saved.body.purchase_id, recurringToken: saved.body.purchase_id })
  t.equal(shop.sim.purchases.get(saved.body.purchase_id)?.is_recurring_token, true)

  for (const remember of [undefined, 'off']) {
    const plain = await shop.post('/qorepay/payments', { ...CARD, remember_card: remember })
    t.notOk('recurringToken' in shop.events.executed.find((e) => e.purchaseId === plain.body.purchase_id)!, `remember_card ${String(remember)}`)
  }

  const threeDS = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSGet, remember_card: 'on' })
  const { termUrl, body } = await passAcs(shop, threeDS.body.redirect_url, 'approve')
  await postTermUrl(termUrl, body)
  t.match(shop.events.executed.at(-1), { source: '3ds', purchaseId: threeDS.body.purchase_id, recurringToken: threeDS.body.purchase_id })

  const declined = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.declined, remember_card: 'on' })
  t.equal(declined.statusCode, 402)
  t.notOk('recurringToken' in shop.events.failed[0], 'a failure saves nothing')
})

test('force_recurring from purchase(request) saves the card without remember_card', async (t) => {
  const shop = await startShop(t, { plugin: { purchase: async () => ({ ...zero, force_recurring: true }) } })
  const res = await shop.post('/qorepay/payments', CARD)
  t.match(shop.events.authorized[0], { authorization: 'preauthorized', recurringToken: res.body.purchase_id })
  t.equal(shop.sim.purchases.get(res.body.purchase_id)?.is_recurring_token, true)
})
