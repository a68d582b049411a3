import type { S2SThreeDSRequired } from '../wire/s2s-status.js'
import { randomToken } from './random-token.js'

/** What the 3-D Secure redirect page needs, as kept in the store under the token. */
export interface ThreeDSSession {
  purchaseId: string
  callbackUrl: string
  acsUrl: string
  method: S2SThreeDSRequired['Method']
  paReq: string
  md: string
  reference?: string
  maskedPan?: string
  expiresAt: number
}

/** 256 random bits, URL-safe: the only handle a payer's browser gets on a 3DS session. */
export function newSessionToken (): string {
  return randomToken(32)
}

/** The shape `newSessionToken` makes; anything else is not worth a store lookup. */
export function isSessionToken (token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token)
}

export function sessionKey (token: string): string {
  return `3ds:${token}`
}

/**
 * Milliseconds left of the 3DS session stored under `key`: how long the
 * store guard keeps a session it puts back after a `take` that timed out.
 * Anything else (no session key, no expiry) has none left.
 */
export function sessionTimeLeft (key: string, value: unknown): number {
  const expiresAt = (value as Partial<ThreeDSSession> | null)?.expiresAt
  return key.startsWith(sessionKey('')) && typeof expiresAt === 'number' ? expiresAt - Date.now() : 0
}
