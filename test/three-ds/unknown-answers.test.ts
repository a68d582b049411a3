import { test } from 'tap'
import { CARD, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { UNREADABLE_ANSWERS } from '../helpers/unreadable-answers.js'
import { firedExactly } from '../helpers/outcomes.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

const LOOKUPS = 2

/** A 3DS payment to the TermUrl, whose callback answer is replaced by `body` (processed by the gateway or not). */
async function returnWithAnswer (shop: Shop, choice: 'approve' | 'fail', body: unknown, processed: boolean) {
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const purchaseId: string = res.body.purchase_id
  const { termUrl, body: form } = await passAcs(shop, res.body.redirect_url, choice)
  const callbacks = shop.sim.count('callback')
  shop.sim.inject({ route: 'callback', kind: 'status', status: 200, process: processed, body })
  const back = await postTermUrl(termUrl, form)
  // The payer presses back and posts the TermUrl again: the session was taken, nothing is sent twice,
  // and the answer is the one the first post got (from its lookup), with no gateway call at all.
  const lookups = shop.sim.count('purchases.get')
  const replay = await postTermUrl(termUrl, form)
  const replayLookups = shop.sim.count('purchases.get') - lookups
  await shop.sim.idle()
  return { purchaseId, back, replay, replayLookups, callbacks: shop.sim.count('callback') - callbacks }
}

test('a 3DS callback answered 2xx with nothing readable: looked up, redirected as the lookup says, never re-sent', async (t) => {
  const shop = await startShop(t, { plugin: { lookupAttempts: LOOKUPS, pendingRedirect: 'https://shop.example/pending' } })
  for (const [name, body] of UNREADABLE_ANSWERS) {
    t.test(`${name}, the bank approved: the success page from the lookup`, async (t) => {
      const { purchaseId, back, replay, replayLookups, callbacks } = await returnWithAnswer(shop, 'approve', body, true)
      t.equal(back.statusCode, 303)
      t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${purchaseId}&status=executed`)
      t.same(replay, back, 'the replay answers what the lookup found')
      t.equal(callbacks, 1, 'one callback, the replay included')
      t.equal(replayLookups, 0, 'the replay looks nothing up')
      await firedExactly(t, shop, 'onExecuted', purchaseId, 1)
      await firedExactly(t, shop, 'onAuthorized', purchaseId, 0)
      await firedExactly(t, shop, 'onFailed', purchaseId, 0)
    })
    t.test(`${name}, the bank refused: the failure page from the lookup`, async (t) => {
      const { purchaseId, back, replay, callbacks } = await returnWithAnswer(shop, 'fail', body, true)
      t.equal(back.location, `https://shop.example/failed?purchase_id=${purchaseId}&status=error`)
      t.same(replay, back)
      t.equal(callbacks, 1, 'one callback, the replay included')
      await firedExactly(t, shop, 'onExecuted', purchaseId, 0)
      await firedExactly(t, shop, 'onAuthorized', purchaseId, 0)
      await firedExactly(t, shop, 'onFailed', purchaseId, [{ source: '3ds', error: { code: '3ds_failed' } }])
    })
    t.test(`${name}, the gateway still undecided: pendingRedirect, never the success status, no hook, the session not put back`, async (t) => {
      const lookups = shop.sim.count('purchases.get')
      const { purchaseId, back, replay, replayLookups, callbacks } = await returnWithAnswer(shop, 'approve', body, false)
      t.equal(back.statusCode, 303)
      t.equal(back.location, `https://shop.example/pending?purchase_id=${purchaseId}&status=pending`)
      t.same(replay, back, 'the replay: pending too, not sent again')
      t.equal(callbacks, 1, 'one callback, the replay included')
      t.equal(replayLookups, 0)
      t.equal(shop.sim.count('purchases.get') - lookups, LOOKUPS, 'every lookup attempt, all by the first post')
      await firedExactly(t, shop, 'onExecuted', purchaseId, 0)
      await firedExactly(t, shop, 'onAuthorized', purchaseId, 0)
      await firedExactly(t, shop, 'onFailed', purchaseId, 0)
      t.equal(shop.sim.purchases.get(purchaseId)?.status, 'pending_execute')
    })
  }
  t.test('nothing was logged as an error', async (t) => {
    t.notOk(shop.logs.some((l) => JSON.parse(l).level >= 50))
    t.ok(shop.logs.some((l) => l.includes('3DS callback for purchase') && l.includes('has an unknown outcome; looking it up')))
  })
})
