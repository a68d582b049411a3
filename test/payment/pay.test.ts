import { test } from 'tap'
import { CARD, PURCHASE, passAcs, postTermUrl, startShop, type Shop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import type { Tap } from '../helpers/tap.js'
import { firedExactly } from '../helpers/outcomes.js'
import { maskPan } from '../../lib/wire/pan.js'
import type { QorePayOptions } from '../../lib/index.js'

/**
 * A shop route of its own, `POST /checkout`, whose body wraps the payment:
 * `{ payment, key? }`, paid through `app.qorepay.pay`. Its errors answer as
 * the host's own error handler answers them.
 */
async function checkoutShop (t: Tap, plugin: Partial<QorePayOptions> = {}): Promise<Shop> {
  return await startShop(t, {
    plugin,
    host: (app) => {
      app.post('/checkout', async (request, reply) => {
        const { payment, key } = request.body as { payment: unknown, key?: string }
        const result = await app.qorepay.pay(request, { body: payment, ...(key === undefined ? {} : { idempotencyKey: key }) })
        return await reply.code(result.statusCode).header('x-replayed', String(result.replayed)).send(result.body)
      })
      // The error pay() throws, as the host's own code catches it.
      app.post('/checkout-error', async (request) => {
        const err = await app.qorepay.pay(request, { body: (request.body as { payment: unknown }).payment }).then(() => undefined, (e: unknown) => e as Record<string, unknown>)
        return { statusCode: err?.statusCode, code: err?.code, validationContext: err?.validationContext, validation: err?.validation }
      })
    }
  })
}

test('pay() from the shop\'s own route: executed, declined, as the route answers them', async (t) => {
  const shop = await checkoutShop(t)
  const paid = await shop.post('/checkout', { payment: CARD })
  t.equal(paid.statusCode, 200)
  t.same(paid.body, { status: 'executed', purchase_id: paid.body.purchase_id })
  t.equal(paid.headers['x-replayed'], 'false')
  const declined = await shop.post('/checkout', { payment: { ...CARD, card_number: TEST_CARDS.declined } })
  t.equal(declined.statusCode, 402)
  t.same(declined.body, { status: 'error', purchase_id: declined.body.purchase_id, code: 'do_not_honour', message: declined.body.message })
  const routeDeclined = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.declined })
  t.equal(declined.body.message, routeDeclined.body.message, 'the route\'s fixed text')
  await firedExactly(t, shop, 'onExecuted', paid.body.purchase_id, [{ purchaseId: paid.body.purchase_id, source: 'direct' }])
  await firedExactly(t, shop, 'onFailed', declined.body.purchase_id, [{ source: 'direct', error: { code: 'do_not_honour' } }])
  t.equal(shop.sim.count('direct_post'), 3)
})

test('pay() through 3-D Secure: the redirect_url, the bank, the TermUrl, executed once', async (t) => {
  const shop = await checkoutShop(t)
  const res = await shop.post('/checkout', { payment: { ...CARD, card_number: TEST_CARDS.threeDSPost } })
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, '3DS_required')
  t.match(res.body.redirect_url, new RegExp(`^${shop.url}/qorepay/3ds/`))
  t.same(shop.events.threeDS, [{ purchaseId: res.body.purchase_id, reference: 'order-42', maskedPan: maskPan(TEST_CARDS.threeDSPost), status: '3DS_required', source: 'direct', redirectUrl: res.body.redirect_url }])
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid/)
  t.match(back.location, res.body.purchase_id)
  await firedExactly(t, shop, 'onExecuted', res.body.purchase_id, 1)
})

test('pay() with an idempotency key: a replay, under the same namespace as the route\'s header', async (t) => {
  const shop = await checkoutShop(t)
  const first = await shop.post('/checkout', { payment: CARD, key: 'order-1' })
  const again = await shop.post('/checkout', { payment: CARD, key: 'order-1' })
  t.same(again.body, first.body)
  t.equal(again.headers['x-replayed'], 'true')
  const byRoute = await shop.post('/qorepay/payments', CARD, { 'idempotency-key': 'order-1' })
  t.same(byRoute.body, first.body, 'the route answers the same key the same')
  t.equal(byRoute.headers['idempotent-replayed'], 'true')
  // No idempotencyKey: the request's own header.
  const byHeader = await shop.post('/checkout', { payment: CARD }, { 'idempotency-key': 'order-1' })
  t.same(byHeader.body, first.body)
  const other = await shop.post('/checkout', { payment: { ...CARD, order: 'other' }, key: 'order-1' })
  t.equal(other.statusCode, 422)
  t.equal(other.body.code, 'FST_QOREPAY_IDEMPOTENCY_MISMATCH')
  const bad = await shop.post('/checkout', { payment: CARD, key: 'two words' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.body.code, 'FST_QOREPAY_VALIDATION')
  t.equal(shop.sim.count('purchases.create'), 1)
  t.equal(shop.sim.count('direct_post'), 1)
})

test('pay() of a card post whose answer is lost, the gateway undecided: 202 pending, and the same for a retry under its key', async (t) => {
  const shop = await checkoutShop(t, { timeouts: { connect: 500, headers: 300, body: 300 }, lookupAttempts: 1 })
  shop.sim.inject({ route: 'direct_post', kind: 'hang' })
  const first = await shop.post('/checkout', { payment: CARD, key: 'lost-1' })
  t.equal(first.statusCode, 202)
  t.same(first.body, { status: 'pending', purchase_id: first.body.purchase_id })
  const again = await shop.post('/checkout', { payment: CARD, key: 'lost-1' })
  t.equal(again.statusCode, 202)
  t.same(again.body, first.body, 'looked up again: still undecided')
  t.equal(again.headers['x-replayed'], 'true')
  t.equal(shop.sim.count('direct_post'), 1)
})

test('the route hands purchase(request) its own request: what purchase() puts on it is there for the host\'s hooks', async (t) => {
  const shop = await startShop(t, {
    plugin: {
      purchase: async (request) => {
        (request as unknown as { shopOrder: string }).shopOrder = 'o-9'
        return { client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 100 }] } }
      }
    },
    host: (app) => {
      app.addHook('onSend', async (request, reply, payload) => {
        reply.header('x-shop-order', String((request as unknown as { shopOrder?: string }).shopOrder))
        return payload
      })
    }
  })
  const res = await shop.post('/qorepay/payments', CARD)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-shop-order'], 'o-9')
})

test('the outcome carries recurringToken only when the card is saved: remember_card "on", or a force_recurring purchase', async (t) => {
  const shop = await startShop(t, {
    plugin: {
      purchase: async (request) => ({ ...PURCHASE, ...(request.body.order === 'recurring' ? { force_recurring: true } : {}) })
    }
  })
  const plain = await shop.post('/qorepay/payments', CARD)
  const off = await shop.post('/qorepay/payments', { ...CARD, remember_card: 'off' })
  const remembered = await shop.post('/qorepay/payments', { ...CARD, remember_card: 'on' })
  const forced = await shop.post('/qorepay/payments', { ...CARD, order: 'recurring' })
  const executed = async (res: { body: { purchase_id: string } }) => {
    await shop.sim.idle()
    return shop.events.executed.filter((e) => e.purchaseId === res.body.purchase_id)
  }
  for (const res of [plain, off]) {
    const [event] = await executed(res)
    t.ok(event !== undefined && !('recurringToken' in event), 'no token')
  }
  for (const res of [remembered, forced]) {
    t.match(await executed(res), [{ recurringToken: res.body.purchase_id }])
  }
})

test('pay() refuses a bad body with the route\'s 400: the same code and message, no gateway call', async (t) => {
  const shop = await checkoutShop(t)
  // The first refusal only (a union names each of its branches), and the field, never a deeper path.
  const bodies: Array<[string, unknown, string]> = [
    ['a short cvc', { ...CARD, cvc: '12' }, 'body/cvc must match pattern "^[0-9]{3,4}$"'],
    ['a name with digits and a short cvc', { ...CARD, cardholder_name: 'R2 D2', cvc: '12' }, 'body/cardholder_name must match pattern "^[A-Za-z \'.-]+$"'],
    ['no card number', { ...CARD, card_number: undefined }, 'body must have required property \'card_number\''],
    ['an unknown field', { ...CARD, price: 1 }, 'body must NOT have additional properties'],
    ['an IP that is none', { ...CARD, remote_ip: '1.2.3' }, 'body/remote_ip must match format "ipv4", body/remote_ip must match format "ipv6", body/remote_ip must match a schema in anyOf'],
    ['a colour depth of 300', { ...CARD, color_depth: 300 }, 'body/color_depth must be <= 255'],
    ['an order key too long', { ...CARD, order: { ['k'.repeat(65)]: 1 } }, 'body/order must be string, body/order must be integer, body/order must NOT have more than 64 characters, body/order property name must be valid, body/order must match a schema in anyOf'],
    ['an order value too long, under a key of the payer\'s', { ...CARD, order: { 'my-key': 'o'.repeat(257) } }, 'body/order must be string, body/order must be integer, body/order must NOT have more than 256 characters, body/order must be number, body/order must be boolean, body/order must match a schema in anyOf, body/order must match a schema in anyOf'],
    ['an array', [CARD], 'body must be object'],
    ['a number', 42, 'body must be object']
  ]
  for (const [name, body, message] of bodies) {
    const route = await shop.post('/qorepay/payments', body)
    const mine = await shop.post('/checkout', { payment: body })
    t.equal(route.statusCode, 400, name)
    t.equal(mine.statusCode, 400, name)
    t.same(mine.body, route.body, name)
    t.equal(mine.body.code, 'FST_ERR_VALIDATION')
    t.equal(mine.body.message, message, name)
  }
  // What a host's error handler gets from pay(): Fastify's validation error, as a route's own.
  const thrown = await shop.post('/checkout-error', { payment: { ...CARD, cvc: '12' } })
  t.match(thrown.body, { statusCode: 400, code: 'FST_ERR_VALIDATION', validationContext: 'body', validation: [{ instancePath: '/cvc', keyword: 'pattern' }] })
  t.equal(shop.sim.requests.length, 0, 'no gateway call')
})

test('pay() without options pays request.body', async (t) => {
  const shop = await startShop(t, {
    host: (app) => {
      app.post('/pay-as-is', async (request, reply) => {
        const { statusCode, body } = await app.qorepay.pay(request)
        return await reply.code(statusCode).send(body)
      })
    }
  })
  const res = await shop.post('/pay-as-is', CARD, { 'idempotency-key': 'as-is' })
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, 'executed')
  const refused = await shop.post('/pay-as-is', { ...CARD, cvc: 'abc' })
  t.equal(refused.statusCode, 400)
  t.match(refused.body.message, 'body/cvc must match pattern')
})

test('purchase(request) reads the body pay() was given as request.body, checked; the host\'s request is left as it was', async (t) => {
  const seen: unknown[] = []
  const shop = await startShop(t, {
    plugin: { purchase: async (request) => { seen.push(request.body.order); return { client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 100 }] } } } },
    host: (app) => {
      app.post('/checkout', async (request, reply) => {
        const result = await app.qorepay.pay(request, { body: { ...CARD, order: 'sku-9' } })
        return await reply.code(result.statusCode).send({ ...result.body, hostBody: request.body })
      })
    }
  })
  const res = await shop.post('/checkout', { wrapper: true })
  t.equal(res.statusCode, 200)
  t.equal(res.body.status, 'executed')
  t.same(res.body.hostBody, { wrapper: true })
  t.same(seen, ['sku-9'])
})
