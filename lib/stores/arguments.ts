/**
 * The argument rules the bundled stores enforce, so a misuse fails loudly and
 * the same way whichever store is configured. Messages name the type of a bad
 * argument, never its content: keys are secrets (3DS tokens) and values hold
 * payment details.
 */

export function assertKey (key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`SessionStore key must be a non-empty string, got ${describe(key)}`)
  }
}

export function assertTtl (ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`SessionStore ttlMs must be a positive finite number of milliseconds, got ${describe(ttlMs)}`)
  }
}

export function assertQueueName (queue: unknown): asserts queue is string {
  if (typeof queue !== 'string' || queue.length === 0) {
    throw new TypeError(`SessionStore queue must be a non-empty string, got ${describe(queue)}`)
  }
}

export function assertMember (member: unknown): asserts member is string {
  if (typeof member !== 'string' || member.length === 0) {
    throw new TypeError(`SessionStore queue member must be a non-empty string, got ${describe(member)}`)
  }
}

/** An instant in epoch milliseconds: `dueAt` and `now`. */
export function assertInstant (name: string, at: unknown): asserts at is number {
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new TypeError(`SessionStore ${name} must be a finite number of epoch milliseconds, got ${describe(at)}`)
  }
}

export function assertLimit (limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new TypeError(`SessionStore limit must be a positive integer, got ${describe(limit)}`)
  }
}

export function assertLease (leaseMs: unknown): asserts leaseMs is number {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new TypeError(`SessionStore leaseMs must be a positive finite number of milliseconds, got ${describe(leaseMs)}`)
  }
}

/** The JSON text of `value`; JSON.stringify itself throws a TypeError on cycles and BigInt. */
export function encodeValue (value: unknown): string {
  const json = JSON.stringify(value)
  // undefined, functions and symbols have no JSON form: storing them would read back as absent.
  if (json === undefined) {
    throw new TypeError(`SessionStore value must be JSON-serialisable, got ${typeof value}`)
  }
  return json
}

function describe (value: unknown): string {
  if (typeof value === 'number') return String(value)
  if (value === '') return 'an empty string'
  if (value === null) return 'null'
  return typeof value
}
