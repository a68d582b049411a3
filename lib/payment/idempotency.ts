import { createHash, createHmac } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { QorePayIdempotencyConflictError, QorePayIdempotencyMismatchError, QorePayValidationError } from '../errors.js'
import { QorePayGatewayError } from '../gateway/gateway-error.js'
import type { SessionStore } from '../stores/session-store.js'

// Printable ASCII without spaces, as the IETF draft and the big payment APIs take it.
const KEY = /^[\x21-\x7e]{1,255}$/

/** An idempotency key as the route and the gateway actions take it. */
export function isIdempotencyKey (key: unknown): key is string {
  return typeof key === 'string' && KEY.test(key)
}
/**
 * How long a claim lives before its purchase is bound. Only a request that
 * created no purchase yet, or one not yet bound to the key, holds nothing
 * else: once it dies, nothing of it was charged, so the key may be taken
 * again. A slow request that outlives it is still safe: its binding is a
 * `claim` too, and the later of two purchases never gets the card.
 */
export const RUNNING_TTL_MS = 60_000
/** The binding and the answer live as long as a retry may come. */
export const ANSWER_TTL_MS = 24 * 3600_000

/** What a key is bound to before the card is sent: what a retry looks up. */
export interface BoundPurchase { purchaseId: string, reference?: string, maskedPan?: string }

interface Running { state: 'running', fingerprint: string }
/** `answer`: the request's reply; `at`: when it was recorded (epoch ms). */
interface Done<A> { state: 'done', fingerprint: string, bound: BoundPurchase, answer: A, at: number }
type Binding = BoundPurchase & { fingerprint: string }

/** How the answers of one kind of payment are replayed. */
export interface Answers<A> {
  /** A final answer is replayed as it was; any other (pending, 3DS_required) is looked up again. */
  final: (answer: A) => boolean
  /**
   * A retry's answer for a purchase bound to its key whose final answer was
   * never recorded: what the gateway says of it, never a second card post.
   * `recorded`: the last answer recorded for it, if any.
   */
  lookUp: (bound: BoundPurchase, recorded: { answer: A, at: number } | undefined, log: FastifyBaseLogger) => Promise<A>
}

export interface IdempotencyOptions<A> {
  store: SessionStore
  /** Keys the body fingerprint, so the store never holds even a plain hash of what it covers. */
  secret: string
  /** Namespaces keys per brand and prefix. */
  scope: string
  /**
   * Body fields left out of the fingerprint: the card data. Whether an answer
   * is a replay or a 422 then never tells whether a guessed CVC (or number,
   * expiry, name) matches the first request's, so a known key is no oracle
   * on them; another amount or order still is another body.
   */
  cardFields?: readonly string[]
  answers: Answers<A>
  /** A purchase created by a request that then found the key bound to another: it is never charged. */
  discard: (purchaseId: string) => Promise<unknown>
}

/** What the request brings: its key (`undefined`: none), its checked body, its log. */
export interface KeyedCall { key: unknown, body: object, log: FastifyBaseLogger }

/** Binds the key to the purchase just created; the card may be sent only once it resolved. */
export type Bind = (purchase: BoundPurchase) => Promise<void>

/** The key was bound to another purchase meanwhile: the one just created is never charged. */
class KeyTaken extends Error {
  constructor (readonly purchaseId: string) { super('bound to another purchase') }
}

/**
 * `Idempotency-Key` (and `payWithSavedCard`'s `idempotencyKey`): the key is
 * bound to its purchase before the card is sent, and a retry under it, at
 * any later time, on any instance, never sends a card again.
 *
 * Two records per key. The request record is claimed for `RUNNING_TTL_MS`
 * while no purchase is bound (a second request meanwhile gets 409), and
 * holds the answer for `ANSWER_TTL_MS` once there is one. The binding is
 * claimed (set if absent) for `ANSWER_TTL_MS` before the card post: its
 * claim failing with a store error answers 503 and sends nothing. A retry
 * replays a final answer; finds a pending or 3DS answer, or only the binding
 * (a crash, a lost write, an error after the card post), and then answers
 * what the gateway says of the bound purchase (`answers.lookUp`), updating
 * the record once that is final. Another body under the key is 422.
 */
export async function idempotent<A> (call: KeyedCall, opts: IdempotencyOptions<A>, run: (bind: Bind) => Promise<A>): Promise<{ result: A, replayed: boolean }> {
  if (call.key === undefined) return { result: await run(async () => {}), replayed: false }
  if (!isIdempotencyKey(call.key)) {
    throw new QorePayValidationError('Idempotency-Key must be 1-255 printable ASCII characters without spaces')
  }
  const { store, answers } = opts
  const { log } = call
  const requestKey = `idem:${opts.scope}:${createHash('sha256').update(call.key).digest('base64url')}`
  const bindingKey = `${requestKey}:purchase`
  const fingerprint = fingerprintOf(call.body, opts)

  /** The bound purchase's answer to a retry, recorded (best effort) when `record` is set. */
  const answerBound = async (bound: BoundPurchase, recorded: Done<A> | undefined, record: boolean): Promise<A> => {
    const answer = await answers.lookUp(bound, recorded, log)
    if (record && (recorded === undefined || answers.final(answer))) await keep(bound, answer)
    return answer
  }
  const keep = async (bound: BoundPurchase, answer: A): Promise<void> => {
    const done: Done<A> = { state: 'done', fingerprint, bound, answer, at: Date.now() }
    await store.set(requestKey, done, ANSWER_TTL_MS).catch((err: unknown) => {
      // The binding stays: a retry looks the purchase up.
      log.error({ err, purchaseId: bound.purchaseId }, `qorepay: could not keep the answer of an Idempotency-Key for purchase ${bound.purchaseId}; a retry looks it up`)
    })
  }
  const release = async (keys: string[]): Promise<void> => {
    for (const key of keys) {
      await store.delete(key).catch((err: unknown) => {
        log.error({ err }, `qorepay: could not free an Idempotency-Key after a failure; it frees itself within ${RUNNING_TTL_MS / 1000} s`)
      })
    }
  }

  if (!await store.claim(requestKey, { state: 'running', fingerprint } satisfies Running, RUNNING_TTL_MS)) {
    const seen = await store.get(requestKey) as Running | Done<A> | undefined
    if (seen !== undefined && seen.fingerprint !== fingerprint) throw mismatch()
    if (seen?.state === 'done') {
      const result = answers.final(seen.answer) ? seen.answer : await answerBound(seen.bound, seen, true)
      return { result, replayed: true }
    }
    // In flight, or its process died: once bound, the purchase answers; before, nothing was charged yet.
    const binding = await store.get(bindingKey) as Binding | undefined
    if (binding === undefined) throw new QorePayIdempotencyConflictError('A request with this Idempotency-Key is still in progress')
    if (binding.fingerprint !== fingerprint) throw mismatch()
    return { result: await answerBound(boundOf(binding), undefined, false), replayed: true }
  }

  let bound: BoundPurchase | undefined
  let result: A
  try {
    result = await run(async (purchase) => {
      if (!await store.claim(bindingKey, { ...purchase, fingerprint } satisfies Binding, ANSWER_TTL_MS)) throw new KeyTaken(purchase.purchaseId)
      bound = purchase
    })
  } catch (err) {
    if (err instanceof KeyTaken) return { result: await takenOver(err.purchaseId), replayed: true }
    // Once bound, the card may have been sent: the binding stays unless the card post provably never left.
    if (bound === undefined) await release([requestKey])
    else if (err instanceof QorePayGatewayError && !err.sent) await release([bindingKey, requestKey])
    throw err
  }
  // Every payment binds a purchase before it can answer.
  await keep(bound!, result)
  return { result, replayed: false }

  /** This request's claim outlived an earlier one that bound a purchase (and died, or is still running). */
  async function takenOver (unused: string): Promise<A> {
    await opts.discard(unused).catch((err: unknown) => {
      log.warn({ err, purchaseId: unused }, `qorepay: purchase ${unused} was never charged (its Idempotency-Key is bound to another); could not stop tracking it`)
    })
    const binding = await store.get(bindingKey) as Binding | undefined
    if (binding === undefined || binding.fingerprint !== fingerprint) {
      await release([requestKey])
      throw binding === undefined ? new QorePayIdempotencyConflictError('A request with this Idempotency-Key is still in progress') : mismatch()
    }
    return await answerBound(boundOf(binding), undefined, true)
  }
}

function mismatch (): Error {
  return new QorePayIdempotencyMismatchError('This Idempotency-Key was used with a different request body')
}

function boundOf ({ fingerprint, ...bound }: Binding): BoundPurchase {
  return bound
}

function fingerprintOf (body: object, opts: Pick<IdempotencyOptions<unknown>, 'secret' | 'cardFields'>): string {
  const { cardFields } = opts
  const covered = cardFields === undefined ? body : Object.fromEntries(Object.entries(body).filter(([field]) => !cardFields.includes(field)))
  return createHmac('sha256', opts.secret).update(JSON.stringify(covered)).digest('base64url')
}
