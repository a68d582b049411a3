import { test } from 'tap'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { passAcs, postTermUrl, startShop, CARD, PURCHASE } from '../helpers/shop.js'
import { points, spanTree, startTelemetry } from '../helpers/otel.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { reconcilingShop, sweepUntil } from '../helpers/reconcile.js'

const nextYear = String((new Date().getUTCFullYear() + 1) % 100).padStart(2, '0')

test('a 3DS payment: its span tree under the request spans, and its metrics', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, expires: `12/${nextYear}` })
  t.equal(res.body.status, '3DS_required')
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  // The success callback waits for the TermUrl's answer, so which path fires the hook is fixed.
  shop.sim.deliveryMode.outOfOrder = true
  t.equal((await postTermUrl(termUrl, body)).statusCode, 303)
  await shop.sim.idle()
  t.equal(shop.events.executed.length, 1)

  const spans = telemetry.spans()
  t.same(spanTree(spans), [
    'POST /qorepay/payments',
    '  qorepay payment',
    '    qorepay gateway purchases.create',
    '    qorepay gateway direct_post',
    'GET /qorepay/3ds/:token',
    'POST /qorepay/3ds/:token/return',
    '  qorepay gateway callback',
    '  qorepay outcome executed',
    'POST /qorepay/callback',
    '  qorepay gateway public_key',
    '  qorepay outcome executed'
  ])
  const purchaseId = res.body.purchase_id
  const payment = spans.find((s) => s.name === 'qorepay payment')!
  t.equal(payment.kind, SpanKind.INTERNAL)
  t.same(payment.attributes, { 'qorepay.source': 'direct', 'qorepay.purchase_id': purchaseId, 'qorepay.payment.status': '3DS_required' })
  const [viaTermUrl, viaCallback] = spans.filter((s) => s.name === 'qorepay outcome executed')
  const eventId = `${purchaseId}:executed`
  t.same(viaTermUrl.attributes, { 'qorepay.purchase_id': purchaseId, 'qorepay.outcome.status': 'executed', 'qorepay.source': '3ds', 'qorepay.event_id': eventId, 'qorepay.outcome.result': 'fired' })
  t.same(viaCallback.attributes, { 'qorepay.purchase_id': purchaseId, 'qorepay.outcome.status': 'executed', 'qorepay.source': 'callback', 'qorepay.event_id': eventId, 'qorepay.outcome.result': 'duplicate' })
  t.equal(viaTermUrl.status.code, SpanStatusCode.UNSET)
  const origin = new URL(shop.sim.origin)
  const gateway = Object.fromEntries(spans.filter((s) => s.name.startsWith('qorepay gateway')).map((s) => [s.name, s]))
  t.same(gateway['qorepay gateway direct_post'].attributes, {
    'qorepay.gateway.operation': 'direct_post',
    'http.request.method': 'POST',
    'server.address': origin.hostname,
    'server.port': Number(origin.port),
    'url.scheme': 'http',
    'qorepay.gateway.attempt': 1,
    'http.response.status_code': 200
  })
  t.equal(gateway['qorepay gateway direct_post'].kind, SpanKind.CLIENT)
  t.same(Object.values(gateway).map((s) => [s.attributes['http.request.method'], s.attributes['http.response.status_code']]),
    [['POST', 201], ['POST', 200], ['POST', 200], ['GET', 200]])

  const metrics = await telemetry.metrics()
  const durations = points(metrics.get('qorepay.gateway.duration')).map((p) => [p.attributes['qorepay.gateway.operation'], p.attributes['http.response.status_code'], (p.value as { count: number }).count])
  t.same(durations, [['purchases.create', 201, 1], ['direct_post', 200, 1], ['callback', 200, 1], ['public_key', 200, 1]])
  const outcomes = points(metrics.get('qorepay.outcomes')).map((p) => [p.attributes, p.value])
  t.same(outcomes.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
    [{ 'qorepay.outcome.status': 'executed', 'qorepay.source': '3ds', 'qorepay.outcome.result': 'fired' }, 1],
    [{ 'qorepay.outcome.status': 'executed', 'qorepay.source': 'callback', 'qorepay.outcome.result': 'duplicate' }, 1]
  ])
})

test('a declined card and a hook that throws: the error code is counted, hook_failed is an error span', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await startShop(t, {
    server: { serverFactory: telemetry.serverFactory },
    plugin: { onExecuted: async () => { throw new Error('the shop database is down') } }
  })
  t.equal((await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.declined })).statusCode, 402)
  t.equal((await shop.post('/qorepay/payments', CARD)).statusCode, 200)
  await shop.sim.idle()

  const outcomes = telemetry.spans().filter((s) => s.name.startsWith('qorepay outcome'))
  const declined = outcomes.find((s) => s.attributes['qorepay.outcome.status'] === 'error')!
  t.same([declined.attributes['qorepay.error.code'], declined.attributes['qorepay.outcome.result'], declined.status.code], ['do_not_honour', 'fired', SpanStatusCode.UNSET])
  const failedHook = outcomes.find((s) => s.attributes['qorepay.source'] === 'direct' && s.attributes['qorepay.outcome.status'] === 'executed')!
  t.same([failedHook.attributes['qorepay.outcome.result'], failedHook.status], ['hook_failed', { code: SpanStatusCode.ERROR, message: 'hook_failed' }])
  const payments = telemetry.spans().filter((s) => s.name === 'qorepay payment').map((s) => s.attributes['qorepay.payment.status'])
  t.same(payments, ['error', 'executed'])

  const counted = points((await telemetry.metrics()).get('qorepay.outcomes'))
  const declines = counted.filter((p) => p.attributes['qorepay.error.code'] === 'do_not_honour')
  t.same(declines.map((p) => [p.attributes['qorepay.outcome.status'], p.attributes['qorepay.source'], p.value]), [['error', 'direct', 1]])
  const hookFailures = counted.filter((p) => p.attributes['qorepay.outcome.result'] === 'hook_failed')
  // The success callback answers 500 while the hook fails, and the simulator retries it: one run per delivery.
  const callbacks = shop.sim.deliveries.filter((d) => d.kind === 'success_callback' && d.purchaseId === failedHook.attributes['qorepay.purchase_id'])
  t.ok(callbacks.length > 1)
  t.same(hookFailures.map((p) => [p.attributes['qorepay.source'], p.value]), [['direct', 1], ['callback', callbacks.length]])
})

test('a payment that fails after its purchase was created: its span names the purchase', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: { status: '3DS_required', Method: 'POST', PaReq: 'pr', MD: 'md', URL: 'javascript:alert(1)', callback_url: 'https://acs.example/cb' } })
  t.equal((await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })).statusCode, 502)
  const [purchaseId] = [...shop.sim.purchases.keys()]
  const payment = telemetry.spans().find((s) => s.name === 'qorepay payment')!
  t.equal(payment.attributes['qorepay.purchase_id'], purchaseId)
  t.equal(payment.attributes['qorepay.source'], 'direct')
})

test('a saved-card payment: its span says saved_card, the purchase and the status', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
  await shop.post('/qorepay/payments', { ...CARD, remember_card: 'on' })
  await shop.sim.idle()
  const token = shop.events.executed[0].status === 'executed' ? shop.events.executed[0].recurringToken! : ''
  const result = await shop.app.qorepay.payWithSavedCard(PURCHASE, token)
  const payment = telemetry.spans().filter((s) => s.name === 'qorepay payment').at(-1)!
  t.same(payment.attributes, { 'qorepay.source': 'saved_card', 'qorepay.purchase_id': result.purchaseId, 'qorepay.payment.status': 'executed' })
})

test('a read the gateway answers 503 and then 200: two gateway spans, the retry counted as a resend', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
  const paid = await shop.post('/qorepay/payments', CARD)
  telemetry.exporter.reset()
  shop.sim.inject({ route: 'purchases.get', kind: 'status', status: 503, count: 1 })
  const purchase = await shop.app.qorepay.getPurchase(paid.body.purchase_id)
  t.equal(purchase.id, paid.body.purchase_id)

  const lookups = telemetry.spans().filter((s) => s.name === 'qorepay gateway purchases.get')
  t.same(lookups.map((s) => [s.attributes['qorepay.gateway.attempt'], s.attributes['http.request.resend_count'], s.attributes['http.response.status_code'], s.status.code]),
    [[1, undefined, 503, SpanStatusCode.ERROR], [2, 1, 200, SpanStatusCode.UNSET]])
  const durations = points((await telemetry.metrics()).get('qorepay.gateway.duration'))
    .filter((p) => p.attributes['qorepay.gateway.operation'] === 'purchases.get')
  t.same(durations.map((p) => [p.attributes['http.response.status_code'], p.attributes['error.type'], (p.value as { count: number }).count]), [[503, '503', 1], [200, undefined, 1]])
})

test('a reconciliation sweep: a qorepay reconcile span with its counts, and the tracked purchases counter moving', async (t) => {
  const telemetry = startTelemetry(t)
  const shop = await reconcilingShop(t, {}, { server: { serverFactory: telemetry.serverFactory } })
  const tracked = async () => points((await telemetry.metrics()).get('qorepay.purchases.tracked')).map((p) => p.value)
  const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, expires: `12/${nextYear}` })
  t.same(await tracked(), [1], 'tracked from its creation')

  await sweepUntil(shop.app, (s) => s.checked > 0, 'an undecided lookup')
  await shop.sim.completeThreeDS(res.body.purchase_id, 'approve')
  await sweepUntil(shop.app, (s) => s.reported > 0, 'the report')
  t.same(await tracked(), [0], 'no longer tracked once reported')

  const sweeps = telemetry.spans().filter((s) => s.name === 'qorepay reconcile')
  const counts = sweeps.map((s) => [s.attributes['qorepay.reconcile.checked'], s.attributes['qorepay.reconcile.reported'], s.attributes['qorepay.reconcile.pending']])
  t.same(counts.filter(([checked]) => checked !== 0), [[1, 0, 1], [1, 1, 0]], 'one span per sweep, with what it did')
  t.ok(sweeps.every((s) => s.kind === SpanKind.INTERNAL && s.status.code === SpanStatusCode.UNSET))
  t.same(spanTree(telemetry.spans()).filter((line) => line.includes('reconcile') || line.startsWith('  qorepay') || line.startsWith('    qorepay')).slice(-3), [
    'qorepay reconcile',
    '  qorepay gateway purchases.get',
    '  qorepay outcome executed'
  ], 'the lookup and the report under the sweep that made them')
})
