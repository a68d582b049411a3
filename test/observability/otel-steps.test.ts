import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { context, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { points, spanTree, startTelemetry } from '../helpers/otel.js'
import { reconcileChannel, traceSweep, type SweepResult } from '../../lib/observability/reconcile.js'
import { traceGatewayCall, type GatewayContext } from '../../lib/observability/gateway.js'
import { traceOutcome } from '../../lib/observability/outcome.js'
import { publishTracked } from '../../lib/observability/tracking.js'
import { instrumentQorePay } from '../../lib/otel/index.js'

/*
 * The spans and metrics of each channel, driven by the plugin's own
 * publishing helpers with synthetic work: a sweep (reconciliation calls
 * traceSweep around each one), gateway calls that answer, fail with a
 * status, or throw.
 */

const lookup = (attempt: number, origin = 'http://127.0.0.1:8080'): () => GatewayContext =>
  () => ({ operation: 'purchases.get', method: 'GET', origin, attempt })

test('a sweep and the gateway calls it makes: span tree, HTTP attributes, durations', async (t) => {
  const telemetry = startTelemetry(t)
  const timeout = Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' })
  const result = await traceSweep(async () => {
    await traceGatewayCall(lookup(1), async () => ({ statusCode: 503 }))
    await t.rejects(traceGatewayCall(lookup(2), async () => { throw timeout }), timeout)
    await traceGatewayCall(lookup(3, 'https://gate.qorepay.com'), async () => ({ statusCode: 200 }))
    return { checked: 1, reported: 1, pending: 0 }
  })
  t.same(result, { checked: 1, reported: 1, pending: 0 })

  const spans = telemetry.spans()
  t.same(spanTree(spans), [
    'qorepay reconcile',
    '  qorepay gateway purchases.get',
    '  qorepay gateway purchases.get',
    '  qorepay gateway purchases.get'
  ])
  const [sweep, unavailable, timedOut, found] = [spans.find((s) => s.name === 'qorepay reconcile')!, ...spans.filter((s) => s.name !== 'qorepay reconcile')]
  t.same(sweep.attributes, { 'qorepay.reconcile.checked': 1, 'qorepay.reconcile.reported': 1, 'qorepay.reconcile.pending': 0 })
  t.equal(unavailable.kind, SpanKind.CLIENT)
  t.same(unavailable.attributes, {
    'qorepay.gateway.operation': 'purchases.get',
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': 8080,
    'url.scheme': 'http',
    'qorepay.gateway.attempt': 1,
    'http.response.status_code': 503,
    'error.type': '503'
  })
  t.same(unavailable.status, { code: SpanStatusCode.ERROR, message: '503' })
  t.same(timedOut.attributes['error.type'], 'UND_ERR_HEADERS_TIMEOUT')
  t.same(timedOut.attributes['http.request.resend_count'], 1)
  t.same(timedOut.status, { code: SpanStatusCode.ERROR, message: 'UND_ERR_HEADERS_TIMEOUT' })
  t.same(found.attributes, {
    'qorepay.gateway.operation': 'purchases.get',
    'http.request.method': 'GET',
    'server.address': 'gate.qorepay.com',
    'server.port': 443,
    'url.scheme': 'https',
    'qorepay.gateway.attempt': 3,
    'http.request.resend_count': 2,
    'http.response.status_code': 200
  })
  t.equal(found.status.code, SpanStatusCode.UNSET)

  const durations = points((await telemetry.metrics()).get('qorepay.gateway.duration'))
  t.same(durations.map((p) => p.attributes), [
    { 'qorepay.gateway.operation': 'purchases.get', 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': 8080, 'http.response.status_code': 503, 'error.type': '503' },
    { 'qorepay.gateway.operation': 'purchases.get', 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': 8080, 'error.type': 'UND_ERR_HEADERS_TIMEOUT' },
    { 'qorepay.gateway.operation': 'purchases.get', 'http.request.method': 'GET', 'server.address': 'gate.qorepay.com', 'server.port': 443, 'http.response.status_code': 200 }
  ])
  for (const p of durations) t.equal((p.value as { count: number }).count, 1)
})

test('a step is parented to the active span; a step that has ended parents nothing', async (t) => {
  const telemetry = startTelemetry(t)
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(telemetry.exporter)] }).getTracer('host')
  const request = tracer.startSpan('POST /orders', { kind: SpanKind.SERVER })
  await context.with(trace.setSpan(ROOT_CONTEXT, request), () => traceSweep(async () => ({ checked: 0, reported: 0, pending: 0 })))
  request.end()
  let later: Promise<unknown> | undefined
  await traceSweep(async () => {
    // Work a sweep schedules outlives it (a re-armed timer): the next sweep is no child of this one.
    later = sleep(20).then(() => traceSweep(async () => ({ checked: 0, reported: 0, pending: 0 })))
    return { checked: 0, reported: 0, pending: 0 }
  })
  await later
  t.same(spanTree(telemetry.spans()), ['POST /orders', '  qorepay reconcile', 'qorepay reconcile', 'qorepay reconcile'])
})

test('outcomes: a failure\'s error code, a report that throws, and the error types of odd errors', async (t) => {
  const telemetry = startTelemetry(t)
  const failed = { purchaseId: 'p1', status: 'error', source: 'webhook', eventId: 'p1:error', error: { code: 'do_not_honour', message: 'Do not honour' } } as const
  await traceOutcome(failed, async () => 'fired')
  await t.rejects(traceOutcome({ purchaseId: 'p2', status: 'executed', source: 'direct', eventId: 'p2:executed' }, async () => { throw new TypeError('store down') }))
  // eslint-disable-next-line prefer-promise-reject-errors
  await t.rejects(traceOutcome({ purchaseId: 'p3', status: 'executed', source: 'direct', eventId: 'p3:executed' }, () => Promise.reject('a string')))

  const spans = telemetry.spans()
  t.same(spans.map((s) => [s.name, s.attributes['error.type'], s.status.code]), [
    ['qorepay outcome error', undefined, SpanStatusCode.UNSET],
    ['qorepay outcome executed', 'TypeError', SpanStatusCode.ERROR],
    ['qorepay outcome executed', 'unknown', SpanStatusCode.ERROR]
  ])
  t.equal(spans[0].attributes['qorepay.error.code'], 'do_not_honour')
  const counted = points((await telemetry.metrics()).get('qorepay.outcomes')).map((p) => [p.attributes, p.value])
  t.same(counted, [
    [{ 'qorepay.outcome.status': 'error', 'qorepay.source': 'webhook', 'qorepay.outcome.result': 'fired', 'qorepay.error.code': 'do_not_honour' }, 1],
    [{ 'qorepay.outcome.status': 'executed', 'qorepay.source': 'direct', 'error.type': 'TypeError' }, 1],
    [{ 'qorepay.outcome.status': 'executed', 'qorepay.source': 'direct', 'error.type': 'unknown' }, 1]
  ])
})

test('tracked purchases: an up-down counter fed by qorepay:tracked', async (t) => {
  const telemetry = startTelemetry(t)
  publishTracked(1)
  publishTracked(1)
  publishTracked(-1)
  const tracked = points((await telemetry.metrics()).get('qorepay.purchases.tracked'))
  t.same(tracked.map((p) => p.value), [1])
})

test('a step already running when the instrumentation starts makes no span', async (t) => {
  const onStart = (): void => {}
  reconcileChannel.start.subscribe(onStart)
  t.teardown(() => reconcileChannel.start.unsubscribe(onStart))
  let finish: (result: SweepResult) => void = () => {}
  let fail: (err: Error) => void = () => {}
  const running = traceSweep(() => new Promise<SweepResult>((resolve) => { finish = resolve }))
  const failing = traceSweep(() => new Promise<SweepResult>((_resolve, reject) => { fail = reject }))
  const telemetry = startTelemetry(t)
  finish({ checked: 1, reported: 0, pending: 1 })
  fail(new Error('gateway down'))
  await running
  await t.rejects(failing)
  t.same(telemetry.spans(), [])
})

test('disable() stops spans and measurements; twice is harmless', async (t) => {
  const telemetry = startTelemetry(t)
  telemetry.instrumentation.disable()
  telemetry.instrumentation.disable()
  await traceSweep(async () => ({ checked: 0, reported: 0, pending: 0 }))
  publishTracked(1)
  t.same(telemetry.spans(), [])
  t.equal((await telemetry.metrics()).size, 0)
})

test('without providers, the global ones are used', async (t) => {
  const exporter = new InMemorySpanExporter()
  t.ok(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })))
  t.teardown(() => trace.disable())
  const instrumentation = instrumentQorePay()
  await traceSweep(async () => ({ checked: 2, reported: 0, pending: 2 }))
  instrumentation.disable()
  t.same(exporter.getFinishedSpans().map((s) => s.name), ['qorepay reconcile'])
})
