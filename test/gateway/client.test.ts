import { test } from 'tap'
import { CARD, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

test('ids that are not ids are refused before any call: no list endpoint, no other path', async (t) => {
  const shop = await startShop(t)
  const api = shop.app.qorepay
  const calls = [
    () => api.getPurchase('.'),
    () => api.getPurchase(''),
    () => api.refund('..'),
    () => api.capture('a/b'),
    () => api.release('a?b'),
    () => api.cancel('%2e'),
    () => api.getPurchase('x'.repeat(65)),
    () => api.getPurchase(42 as unknown as string)
  ]
  for (const call of calls) {
    await t.rejects(call(), { code: 'FST_QOREPAY_VALIDATION', statusCode: 400, message: 'id: expected a purchase id (1-64 letters, digits, "-" or "_")' })
  }
  t.equal(shop.sim.requests.length, 0, 'the gateway was not called')
})

test('a purchase the gateway does not know: FST_QOREPAY_NOT_FOUND (404) on a client call, not a 502', async (t) => {
  const shop = await startShop(t)
  const api = shop.app.qorepay
  for (const call of [() => api.getPurchase('6a4b1c9e-0000-4000-8000-000000000000'), () => api.capture('missing'), () => api.refund('missing', 100)]) {
    await t.rejects(call(), { code: 'FST_QOREPAY_NOT_FOUND', statusCode: 404, gatewayStatus: 404, message: /^QorePay has no such purchase: HTTP 404/ })
  }
  // Outside a purchase's own calls a 404 is still the gateway failing (a wrong baseUrl, say).
  shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 404 })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 502)
  t.equal(res.body.code, 'FST_QOREPAY_GATEWAY')
})

test('one debug line per gateway request: operation, status code, duration, purchase id, never a body', async (t) => {
  const shop = await startShop(t)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  await postTermUrl(termUrl, body)
  const id: string = res.body.purchase_id
  const lines = shop.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>))
    .filter((line) => line.level === 20 && typeof line.operation === 'string')
  t.same(lines.map((line) => [line.operation, line.statusCode, line.purchaseId]), [
    ['purchases.create', 201, id],
    ['direct_post', 200, id],
    ['callback', 200, id]
  ])
  for (const line of lines) {
    t.type(line.durationMs, 'number')
    t.match(line.msg, new RegExp(`^qorepay: gateway ${line.operation as string} for purchase ${id}: HTTP \\d+ in \\d+ ms$`))
    // The 3-digit CVC may well stand inside the line's time or id, so it is looked for as a value of its own.
    t.notOk(Object.values(line).some((value) => String(value) === CARD.cvc), 'no field holds the CVC')
    t.notOk(JSON.stringify(line).includes(TEST_CARDS.threeDSPost), 'the card number is nowhere in the line')
  }

  t.test('a network failure is logged by its code', async (t) => {
    shop.sim.inject({ route: 'purchases.get', kind: 'reset', count: 3 })
    const before = shop.logs.length
    await t.rejects(shop.app.qorepay.getPurchase(id))
    const failed = shop.logs.slice(before).join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>)
      .filter((line) => line.operation === 'purchases.get')
    t.ok(failed.some((line) => typeof line.error === 'string' && line.statusCode === undefined && line.purchaseId === id), 'logged with the error code')
  })
})
