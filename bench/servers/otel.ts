import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { instrumentQorePay } from '../../lib/otel/index.js'
import type { ServerConfig } from '../config.js'
import { build as buildPlugin } from './plugin.js'
import type { BenchServer } from './types.js'

/** Takes every batch and drops it: the SDK's whole pipeline runs, nothing leaves the process. */
class DroppingExporter implements SpanExporter {
  export (_spans: ReadableSpan[], done: (result: { code: number }) => void): void { done({ code: 0 }) }
  async shutdown (): Promise<void> {}
}

/** Metrics aggregate as in production; nobody collects them during the bench. */
class IdleReader extends MetricReader {
  protected async onForceFlush (): Promise<void> {}
  protected async onShutdown (): Promise<void> {}
}

/** The plugin server with `instrumentQorePay` on the OpenTelemetry SDK: every step a span, every gateway call measured. */
export async function build (cfg: ServerConfig): Promise<BenchServer> {
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new DroppingExporter())] })
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] })
  const instrumentation = instrumentQorePay({ tracerProvider, meterProvider })
  const server = await buildPlugin(cfg)
  return {
    ...server,
    async close () {
      await server.close()
      instrumentation.disable()
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
    }
  }
}
