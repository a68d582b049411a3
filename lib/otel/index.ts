import { createRequire } from 'node:module'
import { metrics, trace, SpanKind, SpanStatusCode, type Attributes, type MeterProvider, type TracerProvider } from '@opentelemetry/api'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { paymentChannel, type PaymentContext } from '../observability/payment.js'
import { gatewayChannel, type GatewayContext } from '../observability/gateway.js'
import { outcomeChannel, type OutcomeContext } from '../observability/outcome.js'
import { reconcileChannel, type ReconcileContext } from '../observability/reconcile.js'
import { trackedChannel, type TrackedMessage } from '../observability/tracking.js'
import { follow, newStepStore } from './follow.js'

export interface InstrumentQorePayOptions {
  /** Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider
  /** Default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider
}

export interface QorePayInstrumentation {
  /** Unsubscribes from every channel: no span or measurement after it. */
  disable (): void
}

const { name, version } = createRequire(import.meta.url)('../../package.json') as { name: string, version: string }

// The buckets OpenTelemetry's HTTP semantic conventions advise for request durations, in seconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 }

/**
 * Turns the plugin's diagnostics channels into OpenTelemetry spans and
 * metrics. Spans: `qorepay payment`, `qorepay gateway <operation>`,
 * `qorepay outcome <status>`, `qorepay reconcile`, each a child of the step
 * it runs in or of the active span (the request's). Metrics:
 * `qorepay.gateway.duration` (s), `qorepay.outcomes`, `qorepay.purchases.tracked`.
 */
export function instrumentQorePay (options: InstrumentQorePayOptions = {}): QorePayInstrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(name, version)
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(name, version)
  const gatewayDuration = meter.createHistogram('qorepay.gateway.duration', {
    description: 'Duration of HTTP requests to the QorePay gateway',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS }
  })
  const outcomes = meter.createCounter('qorepay.outcomes', { description: 'Outcomes reported through the outcome hooks, by status, source, result and error code' })
  const tracked = meter.createUpDownCounter('qorepay.purchases.tracked', { description: 'Purchases tracked for reconciliation (not yet reported or final)' })
  const steps = newStepStore()

  const stops = [
    follow<PaymentContext>(paymentChannel, tracer, steps, {
      kind: SpanKind.INTERNAL,
      name: () => 'qorepay payment',
      started: (c) => ({ 'qorepay.source': c.source }),
      ended (c, span) {
        span.setAttributes(defined({ 'qorepay.purchase_id': c.purchaseId, 'qorepay.payment.status': c.status }))
      }
    }),
    follow<GatewayContext>(gatewayChannel, tracer, steps, {
      kind: SpanKind.CLIENT,
      name: (c) => `qorepay gateway ${c.operation}`,
      started: (c) => ({ ...gatewayAttributes(c), 'qorepay.gateway.attempt': c.attempt, ...(c.attempt > 1 ? { 'http.request.resend_count': c.attempt - 1 } : {}) }),
      ended (c, span, seconds, failure) {
        const status = c.statusCode === undefined ? {} : { 'http.response.status_code': c.statusCode }
        span.setAttributes(status)
        // A client span's 4xx and 5xx are errors too (HTTP semantic conventions); a thrown error has set its own.
        const httpError = c.statusCode !== undefined && c.statusCode >= 400 ? String(c.statusCode) : undefined
        if (httpError !== undefined) {
          span.setAttribute('error.type', httpError)
          span.setStatus({ code: SpanStatusCode.ERROR, message: httpError })
        }
        const type = httpError ?? failure
        gatewayDuration.record(seconds, { ...gatewayAttributes(c, true), ...status, ...defined({ 'error.type': type }) })
      }
    }),
    follow<OutcomeContext>(outcomeChannel, tracer, steps, {
      kind: SpanKind.INTERNAL,
      name: (c) => `qorepay outcome ${c.status}`,
      started: (c) => defined({ 'qorepay.purchase_id': c.purchaseId, 'qorepay.outcome.status': c.status, 'qorepay.source': c.source, 'qorepay.event_id': c.eventId, 'qorepay.error.code': c.code }),
      ended (c, span, _seconds, failure) {
        if (c.result !== undefined) span.setAttribute('qorepay.outcome.result', c.result)
        if (c.result === 'hook_failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'hook_failed' })
        outcomes.add(1, defined({
          'qorepay.outcome.status': c.status,
          'qorepay.source': c.source,
          'qorepay.outcome.result': c.result,
          'qorepay.error.code': c.code,
          'error.type': failure
        }))
      }
    }),
    follow<ReconcileContext>(reconcileChannel, tracer, steps, {
      kind: SpanKind.INTERNAL,
      name: () => 'qorepay reconcile',
      started: () => ({}),
      ended (c, span) {
        span.setAttributes(defined({ 'qorepay.reconcile.checked': c.checked, 'qorepay.reconcile.reported': c.reported, 'qorepay.reconcile.pending': c.pending }))
      }
    })
  ]
  const onTracked = (message: unknown): void => { tracked.add((message as TrackedMessage).change) }
  subscribe(trackedChannel.name, onTracked)
  stops.push(() => unsubscribe(trackedChannel.name, onTracked))

  let enabled = true
  return {
    disable () {
      if (!enabled) return
      enabled = false
      for (const stop of stops) stop()
    }
  }
}

/** HTTP client semantic conventions for the gateway's origin (never its path: ids and tokens). */
function gatewayAttributes (c: GatewayContext, forMetric = false): Attributes {
  const url = new URL(c.origin)
  const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port)
  return {
    'qorepay.gateway.operation': c.operation,
    'http.request.method': c.method,
    'server.address': url.hostname,
    'server.port': port,
    ...(forMetric ? {} : { 'url.scheme': url.protocol.slice(0, -1) })
  }
}

/** Attributes without the keys whose value is not known. */
function defined (attributes: Record<string, string | number | undefined>): Attributes {
  const out: Attributes = {}
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value
  return out
}
