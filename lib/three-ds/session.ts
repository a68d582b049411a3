import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { S2SThreeDSRequired } from '../wire/s2s-status.js'
import { QorePayStoreError } from '../errors.js'
import { Authorization } from '../events.js'
import type { SessionStore } from '../stores/session-store.js'
import { randomToken } from './random-token.js'

/**
 * A pending 3-D Secure session: what the redirect page (Step 4) and the
 * TermUrl (Step 5) need, kept in the store under a random token between the
 * card post that asked for 3DS and the bank's return. The only place that
 * knows its token, its shape, its store key and its URLs.
 */
export const ThreeDSSessionSchema = Type.Object({
  purchaseId: Type.String(),
  /** The gateway's `callback_url`: where the TermUrl posts MD and PaRes. */
  callbackUrl: Type.String(),
  /** The issuer's ACS, where the page sends the payer. */
  acsUrl: Type.String(),
  method: S2SThreeDSRequired.properties.Method,
  paReq: Type.String(),
  md: Type.String(),
  reference: Type.Optional(Type.String()),
  maskedPan: Type.Optional(Type.String()),
  /** What an authorized outcome of this purchase is (from its amount); absent in sessions stored before it was kept: `hold`. */
  authorization: Type.Optional(Authorization),
  /** The purchase id, when the payer asked to save the card. */
  recurringToken: Type.Optional(Type.String()),
  /** Epoch milliseconds; the store keeps it exactly this long. */
  expiresAt: Type.Number()
})
export type ThreeDSSession = Static<typeof ThreeDSSessionSchema>

const checkSession = TypeCompiler.Compile(ThreeDSSessionSchema)

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

/** Step 4 is the page handed out as `redirect_url`; Step 5 the TermUrl the bank posts back to. */
export type SessionStep = 'page' | 'return'

/**
 * The path of a session's page or TermUrl under the plugin's prefix. With
 * `':token'` it is the route's path, with a token the one a payer gets: the
 * one place that spells `/3ds/...`.
 */
export function sessionPath (token: string, step: SessionStep): string {
  return step === 'page' ? `/3ds/${token}` : `/3ds/${token}/return`
}

/** The absolute URL of a session's page (`redirect_url`) or TermUrl under `routesUrl` (see QorePayContext), as payers and banks reach this server. */
export function sessionUrl (routesUrl: string, token: string, step: SessionStep): string {
  return `${routesUrl}${sessionPath(token, step)}`
}

// '/3ds/' and the token after it, wherever the prefix puts them.
const TOKEN_IN_URL = new RegExp(`${sessionPath('', 'page')}[^/?#]+`)

/** `url` with a session token (a bearer credential for the session) replaced by `[token]`, for logs. */
export function withoutSessionToken (url: string): string {
  return url.replace(TOKEN_IN_URL, sessionPath('[token]', 'page'))
}

/** Stores a new session for `ttlMs` milliseconds; its token. */
export async function createSession (store: SessionStore, fields: Omit<ThreeDSSession, 'expiresAt'>, ttlMs: number): Promise<string> {
  const token = newSessionToken()
  const session: ThreeDSSession = { ...fields, expiresAt: Date.now() + ttlMs }
  await store.set(sessionKey(token), session, ttlMs)
  return token
}

/** The session under `token`, left in place (the page may be opened again); `undefined` when unknown, used or expired. */
export async function openSession (store: SessionStore, token: string): Promise<ThreeDSSession | undefined> {
  return isSessionToken(token) ? checked(await store.get(sessionKey(token))) : undefined
}

/** The session under `token`, removed in one atomic step: of two concurrent callers only one gets it. */
export async function takeSession (store: SessionStore, token: string): Promise<ThreeDSSession | undefined> {
  return isSessionToken(token) ? checked(await store.take(sessionKey(token))) : undefined
}

/** Puts a taken session back for the rest of its life, for the payer's retry; an expired one stays gone. */
export async function putBackSession (store: SessionStore, token: string, session: ThreeDSSession): Promise<void> {
  const ttl = sessionTimeLeft(sessionKey(token), session)
  if (ttl > 0) await store.set(sessionKey(token), session, ttl)
}

/**
 * A value read back from the store, checked: absent is no session; anything
 * else that is not a session (another version's shape, a value written by
 * something else) is a store fault, never cast and used.
 */
function checked (value: unknown): ThreeDSSession | undefined {
  if (value === undefined || checkSession.Check(value)) return value
  // A failed Check always has a first error. Path and rule only: the value may hold the session's PaReq and MD.
  const problem = checkSession.Errors(value).First()!
  throw new QorePayStoreError(`the value under a 3DS session key is not a 3DS session: ${problem.path || 'the value'} ${problem.message.toLowerCase()}`)
}

/**
 * Milliseconds left of the 3DS session stored under `key`: how long the
 * store guard keeps a session it puts back after a `take` that timed out.
 * Anything else (not a session key, not a session) has none left.
 */
export function sessionTimeLeft (key: string, value: unknown): number {
  return key.startsWith(sessionKey('')) && checkSession.Check(value) ? value.expiresAt - Date.now() : 0
}
