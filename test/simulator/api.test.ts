import { generateKeyPairSync } from 'node:crypto'
import { test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import { GatewayError } from '../../lib/wire/api-error.js'
import { Payment, Purchase } from '../../lib/wire/purchase.js'
import { S2SStatus } from '../../lib/wire/s2s-status.js'
import { createSimulator, TEST_CARDS } from '../../lib/simulator/index.js'
import { call, cardBody, createPurchase, creds, postCard, purchaseBody, startSim } from '../helpers/simulator.js'

test('options are checked', async (t) => {
  await t.rejects(createSimulator({ ...creds, apiKey: '' }), { name: 'TypeError', message: /apiKey/ })
  // @ts-expect-error: a JavaScript caller may pass anything
  await t.rejects(createSimulator({ ...creds, brandId: 42 }), { message: /brandId/ })
  await t.rejects(createSimulator({ ...creds, s2sToken: '' }), { message: /s2sToken/ })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  // A JavaScript caller may pass anything.
  for (const [name, value] of [['webhookKey', 'not a key'], ['companyKey', ec], ['webhookKey', 42]] as Array<[string, string]>) {
    await t.rejects(createSimulator({ ...creds, [name]: value }), { name: 'TypeError', message: `createSimulator: ${name} must be an RSA private key in PEM format` })
  }
})

test('webhookKey and companyKey: signing keys given as PEM', async (t) => {
  const pem = () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: publicKey.export({ type: 'spki', format: 'pem' }) as string }
  }
  const webhook = pem()
  const company = pem()
  const sim = await startSim(t, { webhookKey: webhook.key, companyKey: company.key })
  t.equal(sim.webhookPublicKey, webhook.pub)
  t.equal(sim.companyPublicKey, company.pub)
  t.equal((await call(sim, 'GET', '/api/v1/public_key/')).json, company.pub)
  t.not(sim.rotateWebhookKey(), webhook.pub, 'still rotatable')
})

test('listens on an IPv6 host and a given port', async (t) => {
  const probe = await startSim(t)
  await probe.close()
  const port = Number(new URL(probe.origin).port)
  const sim = await startSim(t, { host: '::1', port })
  t.equal(sim.origin, `http://[::1]:${port}`)
  t.equal(sim.baseUrl, `http://[::1]:${port}/api/v1/`)
  const res = await call(sim, 'GET', 'public_key/'.replace(/^/, sim.baseUrl))
  t.equal(res.status, 200)
})

test('auth, paths and the platform error shape', async (t) => {
  const sim = await startSim(t)
  t.match(sim.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/$/)
  t.equal(sim.origin + '/api/v1/', sim.baseUrl)

  const authFailed = { __all__: [{ message: 'Invalid token.', code: 'authentication_failed' }] }
  for (const token of [null, 'wrong', creds.s2sToken]) {
    const res = await call(sim, 'GET', '/api/v1/public_key/', { token })
    t.equal(res.status, 401, `token ${token}`)
    t.same(res.json, authFailed)
  }
  const noAuthCreate = await call(sim, 'POST', '/api/v1/purchases/', { token: null, body: purchaseBody() })
  t.equal(noAuthCreate.status, 401)
  t.equal(sim.purchases.size, 0)

  const notFound = { __all__: [{ message: 'Not found.', code: 'not_found' }] }
  for (const [method, path] of [['GET', '/api/v1/public_key'], ['POST', '/api/v1/purchases'], ['GET', '/api/v1/purchases/'], ['GET', '/nothing/']]) {
    const res = await call(sim, method, path)
    t.equal(res.status, 404, `${method} ${path}`)
    t.same(res.json, notFound)
  }
  t.equal(sim.requests.at(-1)?.route, 'unknown')

  const key = await call(sim, 'GET', '/api/v1/public_key/')
  t.equal(key.status, 200)
  t.match(key.headers['content-type'], 'application/json')
  t.equal(key.json, sim.companyPublicKey)
  t.match(key.json, /^-----BEGIN PUBLIC KEY-----\n/)
  t.equal(sim.count('public_key'), 4)
})

test('POST /purchases/ creates a purchase', async (t) => {
  const sim = await startSim(t)
  const res = await call(sim, 'POST', '/api/v1/purchases/', {
    body: purchaseBody({
      purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }, { name: 'Bowl', price: 250, quantity: 2 }], notes: 'kept' },
      success_callback: 'https://shop.example/callback',
      reference: 'order-42',
      skip_capture: true,
      creator_agent: 'fastify-qorepay/0.1.0'
    })
  })
  t.equal(res.status, 201)
  const p = res.json
  t.ok(Value.Check(Purchase, p), 'matches the Purchase schema')
  t.match(p.id, /^[0-9a-f-]{36}$/)
  t.match(p, {
    type: 'purchase',
    status: 'created',
    brand_id: creds.brandId,
    client: { email: 'payer@example.com' },
    purchase: { currency: 'NGN', total: 9500, notes: 'kept', products: [{ quantity: 1 }, { quantity: 2 }] },
    success_redirect: 'https://shop.example/ok',
    failure_redirect: 'https://shop.example/fail',
    success_callback: 'https://shop.example/callback',
    reference: 'order-42',
    skip_capture: true,
    creator_agent: 'fastify-qorepay/0.1.0',
    force_recurring: false,
    is_recurring_token: false,
    recurring_token: null,
    is_test: true,
    payment: null,
    direct_post_url: `${sim.origin}/p/${p.id}/`,
    transaction_data: { attempts: [] }
  })
  t.equal(typeof p.created_on, 'number')
  t.same(sim.purchases.get(p.id), p)

  const got = await call(sim, 'GET', `/api/v1/purchases/${p.id}/`)
  t.equal(got.status, 200)
  t.same(got.json, p)
  t.equal(sim.count('purchases.get'), 1)

  const missing = await call(sim, 'GET', '/api/v1/purchases/00000000-0000-0000-0000-000000000000/')
  t.equal(missing.status, 404)
  t.same(missing.json, { __all__: [{ message: 'Not found.', code: 'not_found' }] })
})

test('direct_post_url needs both redirects', async (t) => {
  const sim = await startSim(t)
  const minimal = await createPurchase(sim, { success_redirect: undefined, failure_redirect: undefined })
  t.equal(minimal.direct_post_url, null)
  t.equal(minimal.success_redirect, null)
  t.equal(minimal.reference, null)
  t.equal(minimal.skip_capture, false)
  t.equal(minimal.creator_agent, null)
  t.equal((await createPurchase(sim, { failure_redirect: null })).direct_post_url, null)
  t.equal((await createPurchase(sim, { success_redirect: null })).direct_post_url, null)
  // Fields the payer fills on the hosted page: no direct post either.
  t.equal((await createPurchase(sim, { request_client_details: ['phone'] })).direct_post_url, null)
  t.match((await createPurchase(sim, { request_client_details: [] })).direct_post_url, /^http:\/\/127\.0\.0\.1:\d+\/p\//)
})

test('POST /purchases/ validates like the platform', async (t) => {
  const sim = await startSim(t)
  const required = [{ message: 'This field is required.', code: 'required' }]
  const cases: Array<[string, unknown, unknown]> = [
    ['not JSON', '{nope', { __all__: [{ code: 'parse_error' }] }],
    ['not an object', [1], { __all__: [{ code: 'invalid' }] }],
    ['empty body', '', { brand_id: required, client: required, purchase: required }],
    ['other brand', purchaseBody({ brand_id: 'other' }), { brand_id: [{ message: 'Brand not found.', code: 'invalid' }] }],
    ['no email', purchaseBody({ client: {} }), { client: { email: required } }],
    ['bad email', purchaseBody({ client: { email: 'nope' } }), { client: { email: [{ code: 'invalid' }] } }],
    ['currency', purchaseBody({ purchase: { currency: 'naira', products: [{ name: 'a', price: 1 }] } }), { purchase: { currency: [{ code: 'invalid' }] } }],
    ['no products', purchaseBody({ purchase: { currency: 'NGN', products: [] } }), { purchase: { products: [{ code: 'invalid' }] } }],
    ['products not a list', purchaseBody({ purchase: { currency: 'NGN' } }), { purchase: { products: [{ code: 'invalid' }] } }],
    ['bad products', purchaseBody({
      purchase: {
        currency: 'NGN',
        products: ['x', { price: 1 }, { name: 'a', price: -1 }, { name: 'a', price: 1.5 }, { name: 'a', price: 1, quantity: 0 }, { name: 'a', price: 1, quantity: '2' }, { name: 'ok', price: 0, quantity: 0.5 }]
      }
    }), {
      purchase: {
        products: [
          { message: 'Product 1: must be an object.' }, { message: /name/ }, { message: /Product 3: price/ },
          { message: /Product 4: price/ }, { message: /Product 5: quantity/ }, { message: /Product 6: quantity/ }
        ]
      }
    }],
    ['urls', purchaseBody({ success_redirect: 'javascript:alert(1)', failure_redirect: 42, success_callback: 'http://' }), {
      success_redirect: [{ code: 'invalid' }], failure_redirect: [{ code: 'invalid' }], success_callback: [{ code: 'invalid' }]
    }],
    ['reference and skip_capture', purchaseBody({ reference: 7, skip_capture: 'yes' }), { reference: [{ code: 'invalid' }], skip_capture: [{ code: 'invalid' }] }],
    ['force_recurring and creator_agent', purchaseBody({ force_recurring: 1, creator_agent: {} }), { force_recurring: [{ code: 'invalid' }], creator_agent: [{ code: 'invalid' }] }],
    ['request_client_details not a list', purchaseBody({ request_client_details: 'phone' }), { request_client_details: [{ code: 'invalid' }] }],
    ['request_client_details not names', purchaseBody({ request_client_details: [1] }), { request_client_details: [{ code: 'invalid' }] }]
  ]
  for (const [name, body, errors] of cases) {
    const res = await call(sim, 'POST', '/api/v1/purchases/', { body })
    t.equal(res.status, 400, name)
    t.match(res.json, errors, name)
    t.ok(Value.Check(GatewayError, res.json), `${name}: matches the error schema`)
  }
  const bad = await call(sim, 'POST', '/api/v1/purchases/', { body: purchaseBody({ purchase: { currency: 'NGN', products: ['x', { name: 'a', price: 1 }] } }) })
  t.equal(bad.json.purchase.products.length, 1, 'one error per bad product')
  t.equal(sim.purchases.size, 0)
})

test('state machine: capture, release, cancel, refund', async (t) => {
  const sim = await startSim(t)
  const api = (p: { id: string }, action: string, body?: unknown) => call(sim, 'POST', `/api/v1/purchases/${p.id}/${action}/`, { body })
  // cancel has no code of its own; capture, release and refund answer the platform's purchase_<action>_error.
  const wrong = (action: string, status: string) => ({ __all__: [{ code: action === 'cancel' ? 'purchase_wrong_status' : `purchase_${action}_error`, message: `Cannot ${action} a purchase with status ${status}.` }] })

  await t.test('cancel only from created', async (t) => {
    const p = await createPurchase(sim)
    for (const action of ['capture', 'release', 'refund']) {
      const res = await api(p, action)
      t.equal(res.status, 400)
      t.match(res.json, wrong(action, 'created'))
    }
    const res = await api(p, 'cancel')
    t.equal(res.status, 200)
    t.equal(res.json.status, 'cancelled')
    t.same(res.json.status_history.map((h: { status: string }) => h.status), ['created', 'cancelled'])
    t.match((await api(p, 'cancel')).json, wrong('cancel', 'cancelled'))
    t.equal((await postCard(sim, p)).status, 400, 'a cancelled purchase cannot be paid')
  })

  await t.test('hold -> capture (partial) -> refund', async (t) => {
    const p = await createPurchase(sim, { skip_capture: true })
    t.same((await postCard(sim, p)).json, { status: 'authorized' })
    t.equal(sim.purchases.get(p.id)?.status, 'hold')
    t.match(sim.purchases.get(p.id)?.payment, { amount: 9000, paid_on: null, pending_amount: 9000 })
    t.match((await api(p, 'cancel')).json, wrong('cancel', 'hold'))
    t.match((await api(p, 'refund')).json, wrong('refund', 'hold'))

    for (const [body, message] of [[{ amount: 0 }, /positive/], [{ amount: 9001 }, /exceed 9000/], [{ amount: '5' }, /positive/], ['{', /JSON/]] as const) {
      const res = await api(p, 'capture', body)
      t.equal(res.status, 400)
      t.match(JSON.stringify(res.json), message)
    }
    const captured = await api(p, 'capture', { amount: 6000 })
    t.equal(captured.status, 200)
    t.match(captured.json, { status: 'paid', refundable_amount: 6000, payment: { amount: 6000, pending_amount: 0 } })
    t.equal(typeof captured.json.payment.paid_on, 'number')
    t.match((await api(p, 'capture')).json, wrong('capture', 'paid'))
    t.match((await api(p, 'release')).json, wrong('release', 'paid'))

    const partial = await api(p, 'refund', { amount: 1000 })
    t.equal(partial.status, 200)
    t.ok(Value.Check(Payment, partial.json), 'matches the Payment schema')
    t.match(partial.json, { type: 'payment', payment_type: 'refund', amount: 1000, currency: 'NGN', is_outgoing: true, related_to: { type: 'purchase', id: p.id } })
    t.equal(sim.purchases.get(p.id)?.status, 'paid')
    t.equal(sim.purchases.get(p.id)?.refundable_amount, 5000)

    const over = await api(p, 'refund', { amount: 5001 })
    t.equal(over.status, 400)
    t.match(over.json, { amount: [{ code: 'invalid', message: 'Must not exceed 5000.' }] })
    const rest = await api(p, 'refund', 'null')
    t.equal(rest.status, 200)
    t.equal(rest.json.amount, 5000, 'no amount: all that is left')
    t.equal(sim.purchases.get(p.id)?.status, 'refunded')
    t.equal(sim.purchases.get(p.id)?.refundable_amount, 0)
    t.match((await api(p, 'refund', { amount: 1 })).json, wrong('refund', 'refunded'))
  })

  await t.test('hold -> release; full capture by default', async (t) => {
    const a = await createPurchase(sim, { skip_capture: true })
    await postCard(sim, a)
    const released = await api(a, 'release')
    t.equal(released.status, 200)
    t.equal(released.json.status, 'released')
    t.match((await api(a, 'capture')).json, wrong('capture', 'released'))

    const b = await createPurchase(sim, { skip_capture: true })
    await postCard(sim, b)
    const captured = await api(b, 'capture')
    t.equal(captured.json.payment.amount, 9000)
  })

  await t.test('a paid purchase refunds in full by default', async (t) => {
    const p = await createPurchase(sim)
    t.same((await postCard(sim, p)).json, { status: 'executed' })
    t.match(sim.purchases.get(p.id), { status: 'paid', refundable_amount: 9000, payment: { amount: 9000 } })
    const res = await api(p, 'refund')
    t.equal(res.json.amount, 9000)
    t.equal(sim.purchases.get(p.id)?.status, 'refunded')
  })

  await t.test('unknown purchase', async (t) => {
    for (const action of ['capture', 'release', 'cancel', 'refund']) {
      t.equal((await api({ id: 'nope' }, action)).status, 404)
    }
  })

  t.equal(sim.count('purchases.capture'), 10)
  t.equal(cardBody().cvc, '123')
})

// The S2S card post: POST {direct_post_url}?s2s=true
test('the direct post: query, token, purchase', async (t) => {
  const sim = await startSim(t)
  const p = await createPurchase(sim)

  const noS2S = await call(sim, 'POST', p.direct_post_url as string, { token: creds.s2sToken, body: cardBody() })
  t.equal(noS2S.status, 400)
  t.match(noS2S.json, { __all__: [{ code: 's2s_required' }] })
  for (const token of [creds.apiKey, null, 'wrong']) {
    const res = await postCard(sim, p, {}, { token })
    t.equal(res.status, 401, `token ${token}`)
    t.same(res.json, { __all__: [{ message: 'Invalid token.', code: 'authentication_failed' }] })
  }
  const unknown = await call(sim, 'POST', '/p/nope/?s2s=true', { token: creds.s2sToken, body: cardBody() })
  t.equal(unknown.status, 404)

  const noRedirects = await createPurchase(sim, { success_redirect: undefined })
  const disabled = await call(sim, 'POST', `/p/${noRedirects.id}/?s2s=true`, { token: creds.s2sToken, body: cardBody() })
  t.equal(disabled.status, 400)
  t.match(disabled.json, { __all__: [{ code: 'direct_post_not_enabled' }] })

  for (const body of ['{', '', '[]', 'null', '"text"']) {
    const res = await postCard(sim, p, {}, { body })
    t.equal(res.status, 400, `body ${body}`)
    t.match(res.json, { __all__: [{ code: /parse_error|invalid/ }] })
  }
  t.equal(sim.purchases.get(p.id)?.status, 'created', 'nothing charged')
  t.equal(sim.count('direct_post'), 11)
  t.match(sim.requests.at(-1), { route: 'direct_post', method: 'POST', path: `/p/${p.id}/?s2s=true`, headers: { authorization: `Bearer ${creds.s2sToken}` } })
})

test('every card field is validated by the seed table', async (t) => {
  const sim = await startSim(t)
  const p = await createPurchase(sim)
  const required = [{ message: 'This field is required.', code: 'required' }]
  const missing = await postCard(sim, p, { cardholder_name: undefined, card_number: '', expires: null, cvc: undefined, remote_ip: undefined })
  t.equal(missing.status, 400)
  t.same(missing.json, { cardholder_name: required, card_number: required, expires: required, cvc: required, remote_ip: required })

  const invalid: Array<[string, unknown]> = [
    ['cardholder_name', 'Jöhn Doe'], ['cardholder_name', 'A'.repeat(31)], ['cardholder_name', 42],
    ['card_number', '4444 3333 2222 1111'], ['card_number', '1'.repeat(20)], ['card_number', 4444333322221111],
    ['expires', '1/30'], ['expires', '13/30'], ['expires', '00/30'], ['expires', '12/2030'],
    ['cvc', '12'], ['cvc', '12345'], ['cvc', 123],
    ['remote_ip', 'localhost'], ['remote_ip', '300.1.1.1'],
    ['remember_card', 1],
    ['user_agent', 'x'.repeat(2049)], ['accept_header', 7], ['language', 'en-US-extra'],
    ['java_enabled', 'false'], ['javascript_enabled', 1],
    ['color_depth', 256], ['color_depth', -1], ['color_depth', 1.5],
    ['utc_offset', 32768], ['utc_offset', -32769], ['utc_offset', '0'],
    ['screen_width', -1], ['screen_height', 1.5], ['screen_height', null]
  ]
  for (const [field, value] of invalid) {
    const res = await postCard(sim, p, { [field]: value })
    t.equal(res.status, 400, `${field} ${JSON.stringify(value)}`)
    t.same(Object.keys(res.json), [field], `${field}: only that field`)
    t.equal(res.json[field][0].code, 'invalid')
  }

  const valid = await postCard(sim, p, {
    cardholder_name: "Jean-Luc O'Neil Jr.",
    card_number: '4444333322221111',
    remote_ip: '2001:db8::1',
    remember_card: 'on',
    user_agent: 'x'.repeat(2048),
    accept_header: 'text/html',
    language: 'en-US',
    java_enabled: false,
    javascript_enabled: true,
    color_depth: 255,
    utc_offset: -32768,
    screen_width: 0,
    screen_height: 2160
  })
  t.equal(valid.status, 200)
  t.same(valid.json, { status: 'executed' })
})

test('test cards', async (t) => {
  const sim = await startSim(t)
  const pay = async (extra: Record<string, unknown>, purchase: Record<string, unknown> = {}) => {
    const p = await createPurchase(sim, purchase)
    const res = await postCard(sim, p, extra)
    t.ok(Value.Check(S2SStatus, res.json), 'answer matches the S2S status schema')
    return { p: sim.purchases.get(p.id)!, res }
  }

  await t.test('4444333322221111 executes; authorized with skip_capture', async (t) => {
    const { p, res } = await pay({ card_number: TEST_CARDS.noThreeDS })
    t.equal(res.status, 200)
    t.same(res.json, { status: 'executed' })
    t.equal(p.status, 'paid')
    t.match(p.transaction_data.attempts, [{
      successful: true, error: null, client_ip: '8.8.8.8', extra: { masked_pan: '444433******1111', card_brand: 'visa' }
    }])
    t.notMatch(JSON.stringify(p), /4444333322221111|"cvc"|"expires"/, 'no card data kept')

    const held = await pay({ card_number: TEST_CARDS.noThreeDS }, { skip_capture: true })
    t.same(held.res.json, { status: 'authorized' })
    t.equal(held.p.status, 'hold')
  })

  await t.test('any other digits fail, as on the platform\'s sandbox', async (t) => {
    const { p, res } = await pay({ card_number: '6011000990139424' })
    t.equal(res.status, 400)
    t.match(res.json, { status: 'error', code: 'invalid_card_number' })
    t.equal(p.transaction_data.attempts[0].extra.masked_pan, '601100******9424')
    t.equal(p.transaction_data.attempts[0].extra.card_brand, 'unknown')
    const short = await pay({ card_number: '123' })
    t.match(short.res.json, { status: 'error', code: 'invalid_card_number' })
    t.equal(short.p.transaction_data.attempts[0].extra.masked_pan, '***', 'too short to show any digit')
  })

  await t.test('a zero-amount skip_capture purchase: preauthorized, not a hold', async (t) => {
    const zero = { skip_capture: true, purchase: { currency: 'NGN', products: [{ name: 'Card check', price: 0 }] } }
    const { p, res } = await pay({}, zero)
    t.same(res.json, { status: 'authorized' })
    t.equal(p.status, 'preauthorized')
    t.match(p.payment, { amount: 0, pending_amount: 0 })
    const capture = await call(sim, 'POST', `/api/v1/purchases/${p.id}/capture/`)
    t.equal(capture.status, 400, 'nothing to capture')
    const paidZero = await pay({}, { purchase: zero.purchase })
    t.equal(paidZero.p.status, 'paid', 'without skip_capture a zero amount is paid')
  })

  await t.test('5555555555554444: 3DS, Method POST, non-empty MD', async (t) => {
    const { p, res } = await pay({ card_number: TEST_CARDS.threeDSPost })
    t.equal(res.status, 200)
    t.match(res.json, {
      status: '3DS_required',
      Method: 'POST',
      URL: `${sim.origin}/acs/`,
      callback_url: `${sim.origin}/s2s/callback/${p.id}/`
    })
    t.match(res.json.MD, /^[A-Za-z0-9+/]+==$/)
    for (const c of ['<', '&', '"', "'"]) t.ok(res.json.PaReq.includes(c), `PaReq contains ${c}`)
    t.ok(res.json.PaReq.includes(p.id), 'PaReq names its purchase')
    t.equal(p.status, 'pending_execute')
    t.same(p.transaction_data.attempts, [], 'decided at the callback')
  })

  await t.test('4111111111111111: 3DS, Method GET, empty MD', async (t) => {
    const { p, res } = await pay({ card_number: TEST_CARDS.threeDSGet })
    t.match(res.json, { status: '3DS_required', Method: 'GET', MD: '' })
    t.equal(p.status, 'pending_execute')
  })

  const failures: Array<[string, Record<string, unknown>, string]> = [
    ['1111111111111111 fails', { card_number: TEST_CARDS.fails }, 'general_transaction_error'],
    ['declined', { card_number: TEST_CARDS.declined }, 'do_not_honour'],
    ['insufficient funds', { card_number: TEST_CARDS.insufficientFunds }, 'insufficient_funds'],
    ['wrong CVC without 3DS', { cvc: '999' }, 'incorrect_cvc'],
    ['wrong 4-digit CVC', { cvc: '1234' }, 'incorrect_cvc'],
    ['expired last month', { expires: lastMonth() }, 'expired_card'],
    ['expired 3DS card', { card_number: TEST_CARDS.threeDSPost, expires: '01/20' }, 'expired_card']
  ]
  for (const [name, extra, code] of failures) {
    await t.test(name, async (t) => {
      const { p, res } = await pay(extra)
      t.equal(res.status, 400)
      t.match(res.json, { status: 'error', code, message: String })
      t.equal(p.status, 'error')
      t.match(p.transaction_data.attempts, [{ successful: false, error: { code } }])
    })
  }

  await t.test('an expiry this month still works', async (t) => {
    const now = new Date()
    const expires = `${String(now.getUTCMonth() + 1).padStart(2, '0')}/${String(now.getUTCFullYear() % 100).padStart(2, '0')}`
    t.same((await pay({ expires })).res.json, { status: 'executed' })
  })

  await t.test('a second card post is refused and charges nothing', async (t) => {
    for (const first of [TEST_CARDS.noThreeDS, TEST_CARDS.threeDSPost]) {
      const { p } = await pay({ card_number: first })
      const before = JSON.stringify(sim.purchases.get(p.id))
      const again = await postCard(sim, p)
      t.equal(again.status, 400)
      t.match(again.json, { status: 'error', code: 'purchase_not_payable', message: new RegExp(`status ${p.status}`) })
      t.equal(JSON.stringify(sim.purchases.get(p.id)), before, 'nothing changed')
    }
  })

  await t.test('a failed purchase may be paid again; attempts are newest first', async (t) => {
    const { p } = await pay({ card_number: TEST_CARDS.declined })
    t.match((await postCard(sim, p, { card_number: TEST_CARDS.insufficientFunds })).json, { status: 'error', code: 'insufficient_funds' })
    const failedTwice = sim.purchases.get(p.id)!
    t.equal(failedTwice.status, 'error')
    t.same(failedTwice.transaction_data.attempts.map((a) => a.error?.code), ['insufficient_funds', 'do_not_honour'], 'the second failure is attempts[0]')
    t.same((await postCard(sim, p)).json, { status: 'executed' })
    const paid = sim.purchases.get(p.id)!
    t.same(paid.transaction_data.attempts.map((a) => [a.successful, a.error?.code ?? null]), [[true, null], [false, 'insufficient_funds'], [false, 'do_not_honour']])
    t.same(paid.status_history.map((h) => h.status), ['created', 'error', 'error', 'paid'])
    t.equal((await postCard(sim, p)).status, 400, 'paid: no more posts')
  })
})

function lastMonth (): string {
  const d = new Date()
  d.setUTCDate(1)
  d.setUTCMonth(d.getUTCMonth() - 1)
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCFullYear() % 100).padStart(2, '0')}`
}

test('a payment with remember_card "on" or force_recurring makes a recurring token', async (t) => {
  const sim = await startSim(t)
  const token = async (card: Record<string, unknown>, purchase: Record<string, unknown> = {}) => {
    const p = await createPurchase(sim, purchase)
    const res = await postCard(sim, p, card)
    if (res.json.status === '3DS_required') await sim.completeThreeDS(p.id, 'approve')
    return sim.purchases.get(p.id)!.is_recurring_token
  }
  t.equal(await token({ remember_card: 'on' }), true, 'remember_card "on"')
  t.equal(await token({ remember_card: 'on', card_number: TEST_CARDS.threeDSPost }), true, 'after 3-D Secure')
  t.equal(await token({}, { force_recurring: true }), true, 'force_recurring')
  t.equal(await token({ remember_card: 'off' }), false)
  t.equal(await token({}), false)
  t.equal(await token({ remember_card: 'on', card_number: TEST_CARDS.declined }), false, 'not by a failure')
})
