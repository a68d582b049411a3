import { test } from 'tap'
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel'
import { paymentChannel, tracePayment, type PaymentContext } from '../../lib/observability/payment.js'
import { gatewayChannel, traceGatewayCall, type GatewayContext } from '../../lib/observability/gateway.js'
import { outcomeChannel, traceOutcome, type OutcomeContext } from '../../lib/observability/outcome.js'
import { reconcileChannel, traceSweep, type ReconcileContext } from '../../lib/observability/reconcile.js'
import { publishTracked, trackedChannel } from '../../lib/observability/tracking.js'
import type { StepChannel } from '../../lib/observability/publish.js'
import type { Tap } from '../helpers/tap.js'

/** Every event of one TracingChannel, with a copy of the context as it was then. */
function record<C extends object> (t: Tap, ch: StepChannel<C>): Array<[string, Record<string, unknown>]> {
  const seen: Array<[string, Record<string, unknown>]> = []
  const on = (name: string) => (context: C) => { seen.push([name, { ...context } as Record<string, unknown>]) }
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') }
  ch.subscribe(handlers)
  t.teardown(() => ch.unsubscribe(handlers))
  return seen
}

test('qorepay:payment publishes the status and purchase id of the answer, never the rest of it', async (t) => {
  const seen = record<PaymentContext>(t, paymentChannel)
  const answer = { statusCode: 200, body: { status: '3DS_required', purchase_id: 'p1', redirect_url: 'http://shop/qorepay/3ds/secret-token' } }
  let given: PaymentContext | undefined
  const got = await tracePayment('direct', async (context) => {
    given = context
    return answer
  }, (value) => value.body)
  t.equal(got, answer, 'the caller gets the whole answer')
  t.same(given, { source: 'direct', purchaseId: 'p1', status: '3DS_required', result: '3DS_required' })
  t.same(seen.map(([name]) => name), ['start', 'end', 'asyncStart', 'asyncEnd'])
  t.same(seen[0][1], { source: 'direct' })
  t.same(seen[3][1], { source: 'direct', purchaseId: 'p1', status: '3DS_required', result: '3DS_required' })
  t.notMatch(JSON.stringify(seen), /secret-token/)
})

test('a step that fails publishes its error and rejects with it', async (t) => {
  const seen = record<PaymentContext>(t, paymentChannel)
  const failure = new Error('the store is down')
  await t.rejects(tracePayment('saved_card', async (context) => {
    if (context !== undefined) context.purchaseId = 'p2'
    throw failure
  }, () => ({ status: 'never', purchase_id: 'never' })), failure)
  t.same(seen.map(([name]) => name), ['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
  t.same(seen[2][1], { source: 'saved_card', purchaseId: 'p2', error: failure })
})

test('qorepay:gateway publishes the status code, not the answer', async (t) => {
  const seen = record<GatewayContext>(t, gatewayChannel)
  const answer = { statusCode: 200, text: '{"PaReq":"secret-pareq"}' }
  const got = await traceGatewayCall(() => ({ operation: 'direct_post', method: 'POST', origin: 'http://127.0.0.1:1', attempt: 1 }), async () => answer)
  t.equal(got, answer)
  t.same(seen[3][1], { operation: 'direct_post', method: 'POST', origin: 'http://127.0.0.1:1', attempt: 1, statusCode: 200, result: 200 })
})

test('qorepay:outcome publishes the event id, the error code and what the report did', async (t) => {
  const seen = record<OutcomeContext>(t, outcomeChannel)
  const failed = { purchaseId: 'p3', status: 'error', source: 'webhook', eventId: 'e3', maskedPan: '444433******1111', error: { code: 'do_not_honour', message: 'Do not honour' } } as const
  t.equal(await traceOutcome(failed, async () => 'fired'), 'fired')
  t.same(seen[3][1], { purchaseId: 'p3', status: 'error', source: 'webhook', eventId: 'e3', code: 'do_not_honour', result: 'fired' })
  await traceOutcome({ purchaseId: 'p4', status: 'executed', source: '3ds', eventId: 'p4:executed' }, async () => 'duplicate')
  t.same(seen[7][1], { purchaseId: 'p4', status: 'executed', source: '3ds', eventId: 'p4:executed', code: undefined, result: 'duplicate' })
})

test('traceSweep publishes the three counts of a sweep, nothing else it returns', async (t) => {
  const seen = record<ReconcileContext>(t, reconcileChannel)
  const result = { checked: 5, reported: 2, pending: 3, purchases: ['p5'] }
  t.equal(await traceSweep(async () => result), result)
  t.same(seen.map(([name]) => name), ['start', 'end', 'asyncStart', 'asyncEnd'])
  t.same(seen[0][1], {})
  t.same(seen[3][1], { checked: 5, reported: 2, pending: 3, result: { checked: 5, reported: 2, pending: 3 } })
})

test('with nobody subscribed, a step runs without a context', async (t) => {
  t.equal(reconcileChannel.hasSubscribers, false)
  let given: PaymentContext | undefined = { source: 'direct' }
  const result = { checked: 0, reported: 0, pending: 0 }
  t.equal(await traceSweep(async () => result), result)
  await tracePayment('direct', async (context) => { given = context; return { status: 'executed', purchase_id: 'p6' } }, (a) => a)
  t.equal(given, undefined)
})

test('qorepay:tracked carries +1 and -1, and is not published to without a subscriber', async (t) => {
  const seen: unknown[] = []
  const onMessage = (message: unknown): void => { seen.push(message) }
  // Counts publish() calls; the channel swaps its prototype when subscribed, so the real publish is looked up each time.
  let published = 0
  trackedChannel.publish = (message: unknown) => {
    published++
    Object.getPrototypeOf(trackedChannel).publish.call(trackedChannel, message)
  }
  t.teardown(() => { delete (trackedChannel as { publish?: unknown }).publish })
  publishTracked(1)
  t.equal(published, 0)
  subscribe('qorepay:tracked', onMessage)
  publishTracked(1)
  publishTracked(-1)
  unsubscribe('qorepay:tracked', onMessage)
  publishTracked(1)
  t.same(seen, [{ change: 1 }, { change: -1 }])
  t.equal(published, 2)
  t.equal(channel('qorepay:tracked'), trackedChannel)
})
