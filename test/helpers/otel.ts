import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { context, trace, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics'
import { instrumentQorePay, type QorePayInstrumentation } from '../../lib/otel/index.js'
import type { Tap } from './tap.js'

/** A reader the test collects from when it wants, instead of on a timer. */
class CollectingReader extends MetricReader {
  protected async onForceFlush (): Promise<void> {}
  protected async onShutdown (): Promise<void> {}
}

// The context manager an OpenTelemetry SDK installs: AsyncLocalStorage, so context.with() follows async work.
const contextManager = new AsyncLocalStorageContextManager().enable()
context.setGlobalContextManager(contextManager)

export interface Telemetry {
  exporter: InMemorySpanExporter
  instrumentation: QorePayInstrumentation
  /** For Fastify's `serverFactory`: each request runs inside a SERVER span made active, as an HTTP instrumentation does. */
  serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => ReturnType<typeof createServer>
  spans (): ReadableSpan[]
  /** Every metric collected now, by name. */
  metrics (): Promise<Map<string, MetricData>>
}

/** The real OpenTelemetry SDK (in-memory span exporter, a collecting metric reader) with instrumentQorePay installed. */
export function startTelemetry (t: Tap): Telemetry {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const reader = new CollectingReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const instrumentation = instrumentQorePay({ tracerProvider, meterProvider })
  const tracer = tracerProvider.getTracer('test-http-server')
  t.teardown(async () => {
    instrumentation.disable()
    await tracerProvider.shutdown()
    await meterProvider.shutdown()
  })
  return {
    exporter,
    instrumentation,
    serverFactory: (handler) => createServer((req, res) => {
      // Named by method and route only: the 3DS paths hold the payer's token.
      const route = (req.url ?? '/').replace(/\/3ds\/[^/?]+/, '/3ds/:token').split('?')[0]
      const span = tracer.startSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } })
      res.on('close', () => span.end())
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => handler(req, res))
    }),
    spans: () => exporter.getFinishedSpans(),
    async metrics () {
      const { resourceMetrics } = await reader.collect()
      return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
    }
  }
}

/**
 * The spans as indented lines, each trace from its root, children in start
 * order: `POST /qorepay/payments`, `  qorepay payment`, ...
 */
export function spanTree (spans: ReadableSpan[]): string[] {
  const byParent = new Map<string | undefined, ReadableSpan[]>()
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId
    const key = parent !== undefined && ids.has(parent) ? parent : undefined
    byParent.set(key, [...byParent.get(key) ?? [], span])
  }
  const lines: string[] = []
  const walk = (span: ReadableSpan, depth: number): void => {
    lines.push(`${'  '.repeat(depth)}${span.name}`)
    for (const child of sorted(byParent.get(span.spanContext().spanId) ?? [])) walk(child, depth + 1)
  }
  for (const root of sorted(byParent.get(undefined) ?? [])) walk(root, 0)
  return lines
}

function sorted (spans: ReadableSpan[]): ReadableSpan[] {
  return [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
}

/** The data points of a metric, with their attributes. */
export function points (metric: MetricData | undefined): Array<DataPoint<number | Histogram>> {
  return (metric?.dataPoints ?? []) as Array<DataPoint<number | Histogram>>
}
