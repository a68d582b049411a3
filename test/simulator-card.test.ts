import { test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import { S2SStatus } from '../lib/gateway-types.js'
import { TEST_CARDS } from '../lib/simulator.js'
import { call, cardBody, createPurchase, creds, postCard, startSim } from './simulator-fixture.js'

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

  await t.test('any other digits execute like 4444', async (t) => {
    const { p, res } = await pay({ card_number: '6011000990139424' })
    t.same(res.json, { status: 'executed' })
    t.equal(p.transaction_data.attempts[0].extra.masked_pan, '601100******9424')
    t.equal(p.transaction_data.attempts[0].extra.card_brand, 'unknown')
    const short = await pay({ card_number: '123' })
    t.same(short.res.json, { status: 'executed' })
    t.equal(short.p.transaction_data.attempts[0].extra.masked_pan, '***', 'too short to show any digit')
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
    for (const first of [TEST_CARDS.noThreeDS, TEST_CARDS.threeDSPost, TEST_CARDS.declined]) {
      const { p } = await pay({ card_number: first })
      const before = JSON.stringify(sim.purchases.get(p.id))
      const again = await postCard(sim, p)
      t.equal(again.status, 400)
      t.match(again.json, { status: 'error', code: 'purchase_not_payable', message: new RegExp(`status ${p.status}`) })
      t.equal(JSON.stringify(sim.purchases.get(p.id)), before, 'nothing changed')
    }
  })
})

function lastMonth (): string {
  const d = new Date()
  d.setUTCDate(1)
  d.setUTCMonth(d.getUTCMonth() - 1)
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCFullYear() % 100).padStart(2, '0')}`
}
