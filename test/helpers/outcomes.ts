import type { Test } from 'tap'
import type { AuthorizedEvent, ExecutedEvent, FailedEvent } from '../../lib/events.js'

/** Where test/helpers/shop.ts records each outcome hook's events. */
interface Recorded { executed: ExecutedEvent, authorized: AuthorizedEvent, failed: FailedEvent }

const RECORDED = { onExecuted: 'executed', onAuthorized: 'authorized', onFailed: 'failed' } as const

/** The outcome hooks, by the name the host registers them under. */
export type OutcomeHookName = keyof typeof RECORDED
type EventOf<H extends OutcomeHookName> = Recorded[(typeof RECORDED)[H]]

/** What the helper needs of a shop (test/helpers/shop.ts's `Shop` fits): its simulator and the events its hooks recorded. */
export interface Recording {
  sim: { idle (): Promise<void> }
  events: { [K in keyof Recorded]?: ReadonlyArray<Recorded[K]> }
}

/**
 * "`hook` fired exactly N times for `purchaseId`, after everything settled":
 * waits until the simulator has nothing held, in flight or waiting for a
 * retry (its webhooks and success callbacks could each fire the hook again),
 * then counts exactly. `expected` is the count, or one shape per call in
 * order: each call's event is cut down to the shape's keys (nested objects
 * likewise, arrays and other values whole) and compared with `strictSame`,
 * so a missing, extra or repeated call fails, never a prefix match.
 * Returns the calls for further checks.
 */
export async function firedExactly<H extends OutcomeHookName> (
  t: Test, shop: Recording, hook: H, purchaseId: string, expected: number | readonly object[], message = `${hook} for ${purchaseId}`
): Promise<Array<EventOf<H>>> {
  await shop.sim.idle()
  // TypeScript cannot tie the key RECORDED[hook] to its list's element type.
  const recorded = (shop.events[RECORDED[hook]] ?? []) as ReadonlyArray<EventOf<H>>
  const calls = recorded.filter((e) => e.purchaseId === purchaseId)
  const count = typeof expected === 'number' ? expected : expected.length
  t.equal(calls.length, count, `${message}: fired exactly ${count} time(s)`)
  if (typeof expected !== 'number') {
    t.strictSame(calls.map((call, i) => cut(call, expected[i])), expected, `${message}: the events`)
  }
  return calls
}

/** `value` with only the keys `shape` names, recursively through plain objects. */
function cut (value: unknown, shape: unknown): unknown {
  if (!isPlainObject(shape) || !isPlainObject(value)) return value
  return Object.fromEntries(Object.keys(shape).map((key) => [key, cut(value[key], shape[key])]))
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
