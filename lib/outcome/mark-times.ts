/**
 * How long the exactly-once marks live. Not options: the defaults are what the
 * guarantees are stated for; tests hand shorter ones to `OutcomeReporter`
 * (through the plugin's `MARK_TIMES` seam) instead of sleeping for minutes.
 */
export interface MarkTimes {
  /**
   * How long a running hook's claim lives unless renewed. It is renewed every
   * third of this while the hook runs, so it only runs out when its process
   * died, froze or lost the store for a whole lease.
   */
  leaseMs: number
  /**
   * How long outcome, known and delivery marks live: at least as long as a
   * purchase can still change, so that a signed delivery, however late, finds
   * its mark. Deliveries older than this are acknowledged without firing.
   */
  lifetimeMs: number
}

/** Short, so a dead process's claim frees its hook soon; renewal keeps a live one held however long it runs. */
export const HOOK_LEASE_MS = 30_000

/** Refunds and chargebacks come months after a payment; 400 days covers a year of them with room. */
export const MARK_LIFETIME_MS = 400 * 24 * 3600_000

export const DEFAULT_MARK_TIMES: MarkTimes = { leaseMs: HOOK_LEASE_MS, lifetimeMs: MARK_LIFETIME_MS }

/**
 * Tests only: a `MarkTimes` under this key in the plugin's options replaces the
 * defaults. A symbol, so neither the options schema nor the types see it.
 */
export const MARK_TIMES = Symbol.for('fastify-qorepay.markTimes')

/** The mark times a registration runs with: the defaults, unless a test put its own under `MARK_TIMES`. */
export function markTimesOf (rawOptions: object): MarkTimes {
  const given = (rawOptions as { [MARK_TIMES]?: Partial<MarkTimes> })[MARK_TIMES]
  return { ...DEFAULT_MARK_TIMES, ...given }
}
