import { setTimeout as sleep } from 'node:timers/promises'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { S2SThreeDSRequired } from '../wire/s2s-status.js'
import { QorePayStoreError } from '../errors.js'
import { Authorization } from '../events.js'
import type { SessionStore } from '../stores/session-store.js'
import { randomToken } from './random-token.js'
import { schemaProblem } from '../wire/schema-problem.js'

/**
 * A pending 3-D Secure session: what the redirect page (Step 4) and the
 * TermUrl (Step 5) need, kept in the store under a random token between the
 * card post that asked for 3DS and the bank's return. The only place that
 * knows its token, its shape, its store keys and its URLs.
 *
 * Two keys per session, both living the session's lifetime:
 * - `3ds:<token>`, the session itself, taken (read and deleted atomically)
 *   by the first TermUrl post: of two concurrent posts only one completes
 *   the payment;
 * - `3ds:<token>:answer`, written with the session (its purchase id) and
 *   completed with the first post's answer, so that a repeated post (a
 *   double click, a browser's resubmit) answers what the first did without
 *   a gateway call, and one that comes while the first still runs waits
 *   for it. Written before the session, so that once the session is gone it
 *   is there: a second post never mistakes a running first post for an
 *   unknown token.
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

/** What a TermUrl redirect tells the shop, as `status` in its query. */
export const TermUrlStatus = Type.Union([Type.Literal('executed'), Type.Literal('authorized'), Type.Literal('error'), Type.Literal('pending')])
export type TermUrlStatus = Static<typeof TermUrlStatus>

/** The session's answer record: its purchase, and once the first TermUrl post answered, what it answered. */
const SessionAnswerSchema = Type.Object({
  purchaseId: Type.String(),
  status: Type.Optional(TermUrlStatus)
})
type SessionAnswer = Static<typeof SessionAnswerSchema>
const checkAnswer = TypeCompiler.Compile(SessionAnswerSchema)

/** What a TermUrl post answers: the session's purchase and how it stands. */
export interface TermUrlAnswer { purchaseId: string, status: TermUrlStatus }

/** How long a repeated post waits for a first one still running, and how often it looks; past that it answers `pending`. */
export const ANSWER_WAIT_MS = 5000
const ANSWER_POLL_MS = 200
/** The least time an answer is kept, so that a double click at the very end of a session's life still finds it. */
const ANSWER_KEPT_MS = 60_000

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

export function answerKey (token: string): string {
  return `${sessionKey(token)}:answer`
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

/** Stores a new session for `ttlMs` milliseconds, its answer record first; its token. */
export async function createSession (store: SessionStore, fields: Omit<ThreeDSSession, 'expiresAt'>, ttlMs: number): Promise<string> {
  const token = newSessionToken()
  const session: ThreeDSSession = { ...fields, expiresAt: Date.now() + ttlMs }
  const open: SessionAnswer = { purchaseId: session.purchaseId }
  await store.set(answerKey(token), open, ttlMs)
  await store.set(sessionKey(token), session, ttlMs)
  return token
}

/** The session under `token`, left in place (the page may be opened again); `undefined` when unknown, used or expired. */
export async function openSession (store: SessionStore, token: string): Promise<ThreeDSSession | undefined> {
  return isSessionToken(token) ? checked(await store.get(sessionKey(token))) : undefined
}

/**
 * What a TermUrl post finds under `token`:
 * - `first`: it took the session (in one atomic step, so of two concurrent
 *   posts only one gets it) and completes the payment, then calls
 *   `answerSession` with what it answered, or `putBackSession`;
 * - `answered`: an earlier post took it; its answer, waited for while that
 *   post still runs (up to `ANSWER_WAIT_MS`, then `pending`);
 * - `unknown`: no such session, or it expired.
 */
export async function enterSession (store: SessionStore, token: string): Promise<
  | { kind: 'first', session: ThreeDSSession }
  | { kind: 'answered', answer: TermUrlAnswer }
  | { kind: 'unknown' }
> {
  if (!isSessionToken(token)) return { kind: 'unknown' }
  const session = checked(await store.take(sessionKey(token)))
  if (session !== undefined) return { kind: 'first', session }
  const deadline = Date.now() + ANSWER_WAIT_MS
  let record = await readAnswer(store, token)
  while (record !== undefined && record.status === undefined && Date.now() < deadline) {
    await sleep(ANSWER_POLL_MS)
    // Gone while waiting: the session's life ended with the first post still running.
    record = await readAnswer(store, token) ?? { purchaseId: record.purchaseId, status: 'pending' }
  }
  if (record === undefined) return { kind: 'unknown' }
  return { kind: 'answered', answer: { purchaseId: record.purchaseId, status: record.status ?? 'pending' } }
}

/** Remembers what the first TermUrl post answered, for the rest of the session's life. */
export async function answerSession (store: SessionStore, token: string, session: ThreeDSSession, status: TermUrlStatus): Promise<void> {
  const answer: SessionAnswer = { purchaseId: session.purchaseId, status }
  await store.set(answerKey(token), answer, Math.max(session.expiresAt - Date.now(), ANSWER_KEPT_MS))
}

async function readAnswer (store: SessionStore, token: string): Promise<SessionAnswer | undefined> {
  const value = await store.get(answerKey(token))
  if (value === undefined || checkAnswer.Check(value)) return value
  const problem = checkAnswer.Errors(value).First()!
  throw new QorePayStoreError(`the value under a 3DS answer key is not a 3DS answer: ${schemaProblem(problem)}`)
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
  throw new QorePayStoreError(`the value under a 3DS session key is not a 3DS session: ${schemaProblem(problem)}`)
}

/**
 * Milliseconds left of the 3DS session stored under `key`: how long the
 * store guard keeps a session it puts back after a `take` that timed out.
 * Anything else (not a session key, not a session) has none left.
 */
export function sessionTimeLeft (key: string, value: unknown): number {
  return key.startsWith(sessionKey('')) && checkSession.Check(value) ? value.expiresAt - Date.now() : 0
}
