import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { Agent } from 'undici'
import { Type, type TSchema, type Static } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Purchase, RefundAnswer } from '../wire/purchase.js'
import { S2SStatus } from '../wire/s2s-status.js'
import type { CardPost } from '../payment/card-fields.js'
import type { PurchaseCreate } from '../payment/purchase-input.js'
import type { ResolvedOptions } from '../options.js'
import { QorePayGatewayError } from './gateway-error.js'
import { QorePayValidationError } from '../errors.js'
import { gatewayMessage } from './gateway-message.js'
import { maskMessages, type SentCard } from './card-text.js'
import { MAX_RETRY_AFTER_MS, backoff, isTimeout, neverSent, retryAfterMs } from './retry-policy.js'
import { traceGatewayCall, type GatewayOperation } from '../observability/gateway.js'

/** `retries`: extra tries for calls that are safe to repeat; `timeouts` in milliseconds. */
export type ClientOptions = Pick<ResolvedOptions, 'baseUrl' | 'apiKey' | 's2sToken' | 'timeouts' | 'retries'>

/** A wire schema compiled once, with the name an error uses for it. */
interface Expected<T extends TSchema> { name: string, check: TypeCheck<T> }

function expect<T extends TSchema> (name: string, schema: T): Expected<T> {
  return { name, check: TypeCompiler.Compile(schema) }
}

const { name: PACKAGE, version: VERSION } = createRequire(import.meta.url)('../../package.json') as { name: string, version: string }
/** `creator_agent` on the purchases the plugin creates: the platform's record of which software made them. */
export const CREATOR_AGENT = `${PACKAGE}/${VERSION}`

const PURCHASE = expect('a Purchase', Purchase)
const REFUND = expect('a Payment or a Purchase', RefundAnswer)
const PEM = expect('a JSON string', Type.String())
const STATUS = expect('a card payment status', S2SStatus)

interface Call<T extends TSchema> {
  /** Its name on the `qorepay:gateway` channel. */
  operation: GatewayOperation
  url: string
  method: 'GET' | 'POST'
  auth?: string
  json?: unknown
  form?: Record<string, string>
  /** Repeating it cannot do harm twice (reads). Anything else is retried only when it was never sent. */
  safe: boolean
  /** What a 2xx answer must be; anything else is FST_QOREPAY_GATEWAY. */
  expected: Expected<T>
  /** 4xx answers that pass `expected` (`{"status":"error"}`) are outcomes, not failures (card post, callback). */
  statusAnswer?: boolean
  /** The card this call sends: masked out of every message the gateway answers. */
  card?: SentCard
  /** The purchase it is about, when known before the answer: for the debug line. */
  purchaseId?: string
  /** A 404 means this purchase does not exist (FST_QOREPAY_NOT_FOUND), not a gateway failure. */
  aboutPurchase?: boolean
  /** Aborts the request and any retry: the caller is shutting down. */
  signal?: AbortSignal
}

// The platform's ids are UUIDs; anything else (".", "..", "a/b") would address another endpoint.
const ID = /^[A-Za-z0-9_-]{1,64}$/

export function checkedId (id: unknown, name = 'id'): string {
  if (typeof id === 'string' && ID.test(id)) return id
  throw new QorePayValidationError(`${name}: expected a purchase id (1-64 letters, digits, "-" or "_")`)
}

/**
 * The gateway's API over one keep-alive undici Agent (a pool per origin:
 * the API and the card/callback hosts may differ). Every response body is
 * consumed and checked against its wire schema before anyone reads it;
 * failures are QorePayGatewayError with the gateway's status and message,
 * never with what was sent.
 */
export class QorePayClient {
  readonly #agent: Agent
  readonly #opts: ClientOptions
  readonly #log: FastifyBaseLogger | undefined

  /** `log`: one debug line per gateway request (operation, status code, duration, purchase id; never a body). */
  constructor (opts: ClientOptions, log?: FastifyBaseLogger) {
    this.#opts = opts
    this.#log = log
    this.#agent = new Agent({
      keepAliveTimeout: 10_000,
      connect: { timeout: opts.timeouts.connect },
      headersTimeout: opts.timeouts.headers,
      bodyTimeout: opts.timeouts.body
    })
  }

  /** Names the plugin as `creator_agent` unless `body` names its own. */
  createPurchase (body: PurchaseCreate): Promise<Purchase> {
    return this.#api('purchases.create', 'POST', 'purchases/', PURCHASE, { creator_agent: CREATOR_AGENT, ...body })
  }

  /** `signal` aborts the lookup, retries included (reconciliation's sweep, when the plugin closes). */
  getPurchase (id: string, options: { signal?: AbortSignal } = {}): Promise<Purchase> {
    return this.#about(id, 'purchases.get', 'GET', '', PURCHASE, undefined, options.signal)
  }

  /**
   * The Purchase, `paid`, or `pending_capture` while a slow acquirer works
   * (the `purchase.captured` webhook, or `getPurchase`, tells the end). A
   * refusal is FST_QOREPAY_GATEWAY with `gatewayCode: 'purchase_capture_error'`.
   */
  capture (id: string, amount?: number): Promise<Purchase> {
    return this.#about(id, 'purchases.capture', 'POST', 'capture/', PURCHASE, amount === undefined ? {} : { amount })
  }

  /** The Purchase, `released` or `pending_release`; a refusal has `gatewayCode: 'purchase_release_error'`. */
  release (id: string): Promise<Purchase> {
    return this.#about(id, 'purchases.release', 'POST', 'release/', PURCHASE, {})
  }

  cancel (id: string): Promise<Purchase> {
    return this.#about(id, 'purchases.cancel', 'POST', 'cancel/', PURCHASE, {})
  }

  /**
   * The refund's Payment (`type: 'payment'`), or, while a slow acquirer works,
   * the Purchase in `pending_refund` (`type: 'purchase'`; `payment.refunded`
   * follows). A refusal has `gatewayCode: 'purchase_refund_error'`.
   */
  refund (id: string, amount?: number): Promise<RefundAnswer> {
    return this.#about(id, 'purchases.refund', 'POST', 'refund/', REFUND, amount === undefined ? {} : { amount })
  }

  /**
   * Pays purchase `id` (new, or failed) with the card saved under
   * `recurringToken` (the id of a purchase with `is_recurring_token`): the
   * Purchase, `paid` (`hold` with `skip_capture`) or `pending_charge`. Never
   * repeated once sent. A refusal or a decline is FST_QOREPAY_GATEWAY with
   * `gatewayCode: 'purchase_charge_error'`.
   */
  async charge (id: string, recurringToken: string): Promise<Purchase> {
    const token = checkedId(recurringToken, 'recurringToken')
    return await this.#about(id, 'purchases.charge', 'POST', 'charge/', PURCHASE, { recurring_token: token })
  }

  /** Deletes the card saved under purchase `id`: charges with it are refused from then on. The Purchase. */
  deleteRecurringToken (id: string): Promise<Purchase> {
    return this.#about(id, 'purchases.delete_recurring_token', 'POST', 'delete_recurring_token/', PURCHASE, {})
  }

  /** The company public key (PEM) that signs `success_callback` posts. */
  publicKey (): Promise<string> {
    return this.#api('public_key', 'GET', 'public_key/', PEM)
  }

  /**
   * Step 2: the card, with the S2S token. Never repeated once sent. A 2xx
   * that is not a known status rejects with `sent: true` and its HTTP
   * status: an unknown outcome (lib/payment/settle.ts).
   */
  postCard (directPostUrl: string, card: CardPost, purchaseId?: string): Promise<S2SStatus> {
    const url = new URL(directPostUrl)
    url.searchParams.set('s2s', 'true')
    return this.#call({ operation: 'direct_post', url: url.href, method: 'POST', auth: this.#opts.s2sToken, json: card, safe: false, expected: STATUS, statusAnswer: true, card, purchaseId })
  }

  /** Step 5: MD and PaRes to the callback URL, without auth. Never repeated once sent; answers as `postCard`. */
  completeThreeDS (callbackUrl: string, fields: { MD: string, PaRes: string }, purchaseId?: string): Promise<S2SStatus> {
    return this.#call({ operation: 'callback', url: callbackUrl, method: 'POST', form: fields, safe: false, expected: STATUS, statusAnswer: true, purchaseId })
  }

  close (): Promise<void> {
    return this.#agent.close()
  }

  #api<T extends TSchema> (operation: GatewayOperation, method: 'GET' | 'POST', path: string, expected: Expected<T>, json?: unknown, purchaseId?: string, signal?: AbortSignal): Promise<Static<T>> {
    return this.#call({ operation, url: this.#opts.baseUrl + path, method, auth: this.#opts.apiKey, json, safe: method === 'GET', expected, purchaseId, aboutPurchase: purchaseId !== undefined, signal })
  }

  /** A call about one purchase: its id is checked before anything is sent. */
  async #about<T extends TSchema> (id: string, operation: GatewayOperation, method: 'GET' | 'POST', action: string, expected: Expected<T>, json?: unknown, signal?: AbortSignal): Promise<Static<T>> {
    const purchaseId = checkedId(id)
    return await this.#api(operation, method, `purchases/${purchaseId}/${action}`, expected, json, purchaseId, signal)
  }

  /** `answeredId`: the id in the answer's body, which names the purchase a create made. */
  #logCall (call: Call<TSchema>, startedAt: number, answer: { statusCode: number } | { error: string }, answeredId?: unknown): void {
    if (this.#log === undefined) return
    const durationMs = Math.round(performance.now() - startedAt)
    const purchaseId = call.purchaseId ?? (typeof answeredId === 'string' ? answeredId : undefined)
    const said = 'error' in answer ? answer.error : `HTTP ${answer.statusCode}`
    this.#log.debug({ operation: call.operation, ...answer, durationMs, purchaseId },
      `qorepay: gateway ${call.operation}${purchaseId === undefined ? '' : ` for purchase ${purchaseId}`}: ${said} in ${durationMs} ms`)
  }

  async #call<T extends TSchema> (call: Call<T>, attempt = 0): Promise<Static<T>> {
    const last = attempt >= this.#opts.retries
    let waitMs = backoff(attempt)
    const startedAt = performance.now()
    try {
      const { statusCode, headers, text } = await traceGatewayCall(
        () => ({ operation: call.operation, method: call.method, origin: new URL(call.url).origin, attempt: attempt + 1 }), () => this.#send(call))
      // The gateway's messages may quote the request: nothing past here holds the card. No parsed key reads
      // "message" unless the text spells it or escapes a character, so most answers skip the walk and its copy.
      const parsed = parseAnswer(text)
      const body = text.includes('message') || text.includes('\\') ? maskMessages(parsed, call.card) : parsed
      this.#logCall(call, startedAt, { statusCode }, typeof body === 'object' && body !== null && 'id' in body ? body.id : undefined)
      if (statusCode < 300) {
        if (call.expected.check.Check(body)) return body
        // Answered, but not in words we can read: the gateway may have acted.
        throw new QorePayGatewayError({ kind: 'gateway', detail: `HTTP ${statusCode}: the answer is not ${call.expected.name}`, sent: true, gatewayStatus: statusCode })
      }
      // The calls that take status answers expect one on a 2xx too: the same check.
      if (call.statusAnswer === true && statusCode < 500 && call.expected.check.Check(body)) return body
      const failure = httpError(statusCode, body, call.aboutPurchase === true)
      const retryAfter = statusCode === 429 ? retryAfterMs(headers['retry-after']) : undefined
      if (retryAfter !== undefined) waitMs = retryAfter
      // 429 means "not processed"; a 5xx on a read is harmless to repeat.
      const retryable = call.safe && (statusCode === 429 || statusCode >= 500) && waitMs <= MAX_RETRY_AFTER_MS
      if (!retryable || last) throw failure
    } catch (err) {
      if (err instanceof QorePayGatewayError) throw err
      const failure = networkError(err as NodeJS.ErrnoException)
      this.#logCall(call, startedAt, { error: failure.gatewayCode as string })
      if (failure.sent || last) throw failure
    }
    await sleep(waitMs, undefined, { signal: call.signal })
    return this.#call(call, attempt + 1)
  }

  async #send (call: Call<TSchema>): Promise<{ statusCode: number, headers: Record<string, string | string[] | undefined>, text: string }> {
    const url = new URL(call.url)
    const headers: Record<string, string> = { accept: 'application/json' }
    let body: string | undefined
    if (call.auth !== undefined) headers.authorization = `Bearer ${call.auth}`
    if (call.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(call.form).toString()
    } else if (call.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(call.json)
    }
    const res = await this.#agent.request({ origin: url.origin, path: url.pathname + url.search, method: call.method, headers, body, signal: call.signal })
    return { statusCode: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
}

/** An answer's body as JSON; `undefined` when it is none (HTML, empty), which no wire schema admits. */
function parseAnswer (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function httpError (statusCode: number, body: unknown, aboutPurchase: boolean): QorePayGatewayError {
  const said = gatewayMessage(body)
  const auth = statusCode === 401 || statusCode === 403
  return new QorePayGatewayError({
    kind: auth ? 'auth' : statusCode === 404 && aboutPurchase ? 'notFound' : 'gateway',
    detail: said?.code === undefined ? `HTTP ${statusCode}` : `HTTP ${statusCode} ${said.code}`,
    sent: true,
    gatewayStatus: statusCode,
    gatewayCode: said?.code,
    gatewayMessage: said?.message
  })
}

function networkError (cause: NodeJS.ErrnoException): QorePayGatewayError {
  // Every error undici and node:net raise carries a code; this only guards a future one that does not.
  /* c8 ignore next */
  const code = cause.code ?? 'UNKNOWN'
  return new QorePayGatewayError({ kind: isTimeout(code) ? 'timeout' : 'unavailable', detail: code, sent: !neverSent(code), gatewayCode: code })
}
