/**
 * When a failed gateway call is tried again. The project keeps its own
 * policy rather than undici's retry interceptor: that interceptor decides by
 * method and error code alone, while ours must also retry a POST (a purchase
 * create, a card post) exactly when the request provably never left this
 * machine, never once it may have, and it needs that fact on the error
 * (`sent`) for the caller's rule on unknown outcomes.
 */

/** Connection failures that prove the request never reached the gateway. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
/** undici's time limits: connecting, the answer's headers, its body. */
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
/** A `Retry-After` longer than this is not waited for: the payer is waiting. */
export const MAX_RETRY_AFTER_MS = 2_000

export function neverSent (networkCode: string): boolean {
  return NOT_SENT.has(networkCode)
}

export function isTimeout (networkCode: string): boolean {
  return TIMEOUTS.has(networkCode)
}

/** Exponential with jitter, capped at one second: a few quick tries while the payer waits. */
export function backoff (attempt: number): number {
  const ceiling = Math.min(1_000, 50 * 2 ** attempt)
  return ceiling / 2 + Math.random() * ceiling / 2
}

export function retryAfterMs (header: string | string[] | undefined): number | undefined {
  // Absent, or sent twice (an array): no usable hint, the backoff decides.
  if (typeof header !== 'string') return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
