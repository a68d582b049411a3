import { createHash, createHmac } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { QorePayIdempotencyConflictError, QorePayIdempotencyMismatchError, QorePayValidationError } from '../errors.js'
import type { SessionStore } from '../stores/session-store.js'

// Printable ASCII without spaces, as the IETF draft and the big payment APIs take it.
const KEY = /^[\x21-\x7e]{1,255}$/
// A running record outlives any sane request; if its instance dies the key frees itself.
const RUNNING_TTL_MS = 5 * 60_000

interface Running { state: 'running', fingerprint: string }
/** `answer`: the finished request's reply, kept to be replayed (the stored shape stays as it was). */
interface Done<A> { state: 'done', fingerprint: string, answer: A }

export interface IdempotencyOptions {
  store: SessionStore
  /** Keys the body fingerprint, so the store never holds even a plain hash of card data. */
  secret: string
  /** Namespaces keys per brand and prefix. */
  scope: string
  ttlMs: number
}

/**
 * `Idempotency-Key` on `POST {prefix}/payments`: the same key with the same
 * body answers what the first request answered without creating a second
 * purchase; while the first is in flight a second gets 409; another body
 * under the same key gets 422. Only a finished answer is kept: a request
 * that failed (gateway down, store down) frees its key for the retry.
 */
export async function idempotent<A> (
  // What it reads of a request: also what app.qorepay.payWithSavedCard hands it (its key and arguments).
  request: Pick<FastifyRequest, 'headers' | 'body' | 'log'>,
  opts: IdempotencyOptions,
  run: () => Promise<A>
): Promise<{ result: A, replayed: boolean }> {
  const header = request.headers['idempotency-key']
  if (header === undefined) return { result: await run(), replayed: false }
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw new QorePayValidationError('Idempotency-Key must be 1-255 printable ASCII characters without spaces')
  }
  const key = `idem:${opts.scope}:${createHash('sha256').update(header).digest('base64url')}`
  const fingerprint = createHmac('sha256', opts.secret).update(JSON.stringify(request.body)).digest('base64url')

  const running: Running = { state: 'running', fingerprint }
  if (!await opts.store.claim(key, running, RUNNING_TTL_MS)) {
    const seen = await opts.store.get(key) as Running | Done<A> | undefined
    if (seen !== undefined && seen.fingerprint !== fingerprint) throw new QorePayIdempotencyMismatchError('This Idempotency-Key was used with a different request body')
    if (seen?.state !== 'done') throw new QorePayIdempotencyConflictError('A request with this Idempotency-Key is still in progress')
    return { result: seen.answer, replayed: true }
  }

  let result: A
  try {
    result = await run()
  } catch (err) {
    // Nothing final happened (or it would be an answer): free the key for the retry.
    await opts.store.delete(key).catch((cause: unknown) => {
      request.log.error({ err: cause }, 'qorepay: could not free an Idempotency-Key after a failure; it frees itself within five minutes')
    })
    throw err
  }
  try {
    await opts.store.set(key, { state: 'done', fingerprint, answer: result } satisfies Done<A>, opts.ttlMs)
  } catch (err) {
    // The payment happened: the payer gets its answer; the running record keeps retries at 409 for a while.
    request.log.error({ err }, 'qorepay: could not keep the answer of an Idempotency-Key')
  }
  return { result, replayed: false }
}
