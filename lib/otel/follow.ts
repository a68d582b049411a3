import { AsyncLocalStorage } from 'node:async_hooks'
import { context as otelContext, trace, SpanStatusCode, type Attributes, type Context, type Span, type SpanKind, type Tracer } from '@opentelemetry/api'
import type { StepChannel } from '../observability/publish.js'

/** How one channel's steps become spans. */
export interface StepSpans<C extends object> {
  kind: SpanKind
  name (context: C): string
  /** Attributes known when the step starts. */
  started (context: C): Attributes
  /** Completes the span when the step ends; `seconds` is how long it took, `failure` the `error.type` of a step that threw. */
  ended (context: C, span: Span, seconds: number, failure?: string): void
}

/** The span a step runs in, while it runs: its children are parented to it. */
interface Running { context: Context, open: boolean }

interface Open { span: Span, running: Running, startedAt: number }

/**
 * The parent of a new step: the step it runs inside (bound through the
 * channel's `start.bindStore`), else the active OpenTelemetry context, which
 * is the Fastify request's span when an HTTP instrumentation made it active.
 * A step that has ended is no parent: work it scheduled (a timer re-armed by
 * a sweep) still carries its store.
 */
function parentOf (steps: AsyncLocalStorage<Running>): Context {
  const inside = steps.getStore()
  return inside?.open === true ? inside.context : otelContext.active()
}

/** Follows one TracingChannel with spans; returns the unsubscribe. */
export function follow<C extends object> (channel: StepChannel<C>, tracer: Tracer, steps: AsyncLocalStorage<Running>, spans: StepSpans<C>): () => void {
  const open = new WeakMap<C, Open>()
  const failures = new WeakMap<C, string>()

  // Runs before the step, in its caller's context: never throws (node would raise it on the next tick).
  const transform = (context: C): Running => {
    const parent = parentOf(steps)
    const span = tracer.startSpan(spans.name(context), { kind: spans.kind, attributes: spans.started(context) }, parent)
    const running = { context: trace.setSpan(parent, span), open: true }
    open.set(context, { span, running, startedAt: performance.now() })
    return running
  }
  const handlers = {
    error (context: C): void {
      const step = open.get(context)
      const type = errorType((context as { error?: unknown }).error)
      failures.set(context, type)
      step?.span.setAttribute('error.type', type)
      step?.span.setStatus({ code: SpanStatusCode.ERROR, message: type })
    },
    asyncEnd (context: C): void {
      const step = open.get(context)
      if (step === undefined) return
      open.delete(context)
      step.running.open = false
      spans.ended(context, step.span, (performance.now() - step.startedAt) / 1000, failures.get(context))
      step.span.end()
    }
  }
  channel.start.bindStore(steps, transform)
  channel.subscribe(handlers as Parameters<StepChannel<C>['subscribe']>[0])
  return () => {
    channel.unsubscribe(handlers as Parameters<StepChannel<C>['subscribe']>[0])
    channel.start.unbindStore(steps)
  }
}

/**
 * An error's code (`FST_QOREPAY_TIMEOUT`, ...) or class name: never its
 * message, which for a gateway error holds the gateway's own words.
 */
export function errorType (err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.name : 'unknown'
}

export function newStepStore (): AsyncLocalStorage<Running> {
  return new AsyncLocalStorage<Running>()
}
