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
