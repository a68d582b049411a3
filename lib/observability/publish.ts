import { tracingChannel, type TracingChannel } from 'node:diagnostics_channel'

/** A TracingChannel as Node has it since 20.13: @types/node 20 does not declare its aggregate `hasSubscribers`. */
export type StepChannel<C extends object> = TracingChannel<unknown, C> & { readonly hasSubscribers: boolean }

export function stepChannel<C extends object> (name: string): StepChannel<C> {
  return tracingChannel(name) as StepChannel<C>
}

/**
 * Runs `work` as one traced step. With nobody subscribed this costs one
 * `hasSubscribers` check, and the context is never built. Otherwise
 * `start`/`end`/`asyncStart`/`asyncEnd`/`error` carry the context that
 * `makeContext` built and `reveal` completed: `context.result` is what
 * `reveal` returns, never `work`'s own value, which may hold a PaReq, an MD
 * or a 3DS token.
 */
export function traced<C extends object, T> (
  channel: StepChannel<C>,
  makeContext: () => C,
  work: (context?: C) => Promise<T>,
  reveal: (value: T, context: C) => unknown
): Promise<T> {
  if (!channel.hasSubscribers) return work()
  const context = makeContext()
  let value: T
  return channel.tracePromise(async () => {
    value = await work(context)
    return reveal(value, context)
  }, context).then(() => value)
}
