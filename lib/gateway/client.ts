import { setTimeout as sleep } from 'node:timers/promises'
import { Agent } from 'undici'
import type { FastifyError } from 'fastify'
import type { Payment, Purchase } from '../wire/purchase.js'
import type { S2SStatus } from '../wire/s2s-status.js'
import type { CardPost } from '../payment/card-fields.js'
import { QorePayAuthError, QorePayGatewayError, QorePayTimeoutError, QorePayUnavailableError } from '../errors.js'

export interface ClientOptions {
  baseUrl: string
  apiKey: string
  s2sToken: string
  /** Milliseconds. */
  timeouts: { connect: number, headers: number, body: number }
  /** Extra tries for calls that are safe to repeat. */
  retries: number
}

/** An error from a gateway call; `sent` says whether the gateway may have acted on it. */
export interface GatewayCallError extends FastifyError {
  sent: boolean
  gatewayStatus?: number
  gatewayCode?: string
}

interface Call {
  url: string
  method: 'GET' | 'POST'
  auth?: string
  json?: unknown
  form?: Record<string, string>
  /** Repeating it cannot do harm twice (reads). Anything else is retried only when it was never sent. */
  safe: boolean
  /** 4xx answers carrying `{"status":"error"}` are outcomes, not failures (card post, callback). */
  statusAnswer?: boolean
}

// Connection failures that prove the request never reached the gateway.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])
const MAX_RETRY_AFTER_MS = 2_000

/**
 * The gateway's API over one keep-alive undici Agent (a pool per origin:
 * the API and the card/callback hosts may differ). Every response body is
 * consumed; errors are FST_QOREPAY_* with the gateway's status and message,
 * never with what was sent.
 */
export class QorePayClient {
  readonly #agent: Agent
  readonly #opts: ClientOptions

  constructor (opts: ClientOptions) {
    this.#opts = opts
    this.#agent = new Agent({
      keepAliveTimeout: 10_000,
      connect: { timeout: opts.timeouts.connect },
      headersTimeout: opts.timeouts.headers,
      bodyTimeout: opts.timeouts.body
    })
  }

  createPurchase (body: Record<string, unknown>): Promise<Purchase> {
    return this.#api('POST', 'purchases/', body) as Promise<Purchase>
  }

  getPurchase (id: string): Promise<Purchase> {
    return this.#api('GET', `purchases/${encodeURIComponent(id)}/`) as Promise<Purchase>
  }

  capture (id: string, amount?: number): Promise<Purchase> {
    return this.#api('POST', `purchases/${encodeURIComponent(id)}/capture/`, amount === undefined ? {} : { amount }) as Promise<Purchase>
  }

  release (id: string): Promise<Purchase> {
    return this.#api('POST', `purchases/${encodeURIComponent(id)}/release/`, {}) as Promise<Purchase>
  }

  cancel (id: string): Promise<Purchase> {
    return this.#api('POST', `purchases/${encodeURIComponent(id)}/cancel/`, {}) as Promise<Purchase>
  }

  refund (id: string, amount?: number): Promise<Payment> {
    return this.#api('POST', `purchases/${encodeURIComponent(id)}/refund/`, amount === undefined ? {} : { amount }) as Promise<Payment>
  }

  /** The company public key (PEM) that signs `success_callback` posts. */
  publicKey (): Promise<string> {
    return this.#api('GET', 'public_key/') as Promise<string>
  }

  /** Step 2: the card, with the S2S token. Never repeated once sent. */
  postCard (directPostUrl: string, card: CardPost): Promise<S2SStatus> {
    const url = new URL(directPostUrl)
    url.searchParams.set('s2s', 'true')
    return this.#call({ url: url.href, method: 'POST', auth: this.#opts.s2sToken, json: card, safe: false, statusAnswer: true }) as Promise<S2SStatus>
  }

  /** Step 5: MD and PaRes to the callback URL, without auth. Never repeated once sent. */
  completeThreeDS (callbackUrl: string, fields: { MD: string, PaRes: string }): Promise<S2SStatus> {
    return this.#call({ url: callbackUrl, method: 'POST', form: fields, safe: false, statusAnswer: true }) as Promise<S2SStatus>
  }

  close (): Promise<void> {
    return this.#agent.close()
  }

  #api (method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
    return this.#call({ url: this.#opts.baseUrl + path, method, auth: this.#opts.apiKey, json, safe: method === 'GET' })
  }

  async #call (call: Call, attempt = 0): Promise<unknown> {
    const last = attempt >= this.#opts.retries
    let waitMs = backoff(attempt)
    try {
      const { statusCode, headers, text } = await this.#send(call)
      const body = parseJson(text)
      if (statusCode < 300 || (call.statusAnswer === true && statusCode < 500 && isStatusAnswer(body))) return body
      const failure = httpError(statusCode, body)
      const retryAfter = statusCode === 429 ? retryAfterMs(headers['retry-after']) : undefined
      if (retryAfter !== undefined) waitMs = retryAfter
      // 429 means "not processed"; a 5xx on a read is harmless to repeat.
      const retryable = call.safe && (statusCode === 429 || statusCode >= 500) && waitMs <= MAX_RETRY_AFTER_MS
      if (!retryable || last) throw failure
    } catch (err) {
      if (isGatewayCallError(err)) throw err
      const failure = networkError(err as NodeJS.ErrnoException)
      if (failure.sent || last) throw failure
    }
    await sleep(waitMs)
    return this.#call(call, attempt + 1)
  }

  async #send (call: Call): Promise<{ statusCode: number, headers: Record<string, string | string[] | undefined>, text: string }> {
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
    const res = await this.#agent.request({ origin: url.origin, path: url.pathname + url.search, method: call.method, headers, body })
    return { statusCode: res.statusCode, headers: res.headers, text: await res.body.text() }
  }
}

/**
 * Whether the gateway may have acted on a call that failed: it was sent and
 * no definite answer came back (a timeout, a reset, a 5xx). A 4xx is the
 * gateway saying it did not.
 */
export function outcomeUnknown (err: GatewayCallError): boolean {
  return err.sent && (err.gatewayStatus === undefined || err.gatewayStatus >= 500)
}

function isStatusAnswer (body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { status?: unknown }).status === 'string'
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function isGatewayCallError (err: unknown): err is GatewayCallError {
  return typeof (err as GatewayCallError | null)?.sent === 'boolean'
}

/** The gateway's own words: `__all__` first, else the first field's first message. */
export function gatewayMessage (body: unknown): { message: string, code?: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const record = body as Record<string, unknown>
  if (typeof record.message === 'string') return { message: record.message, code: typeof record.code === 'string' ? record.code : undefined }
  const key = '__all__' in record ? '__all__' : Object.keys(record)[0]
  if (key === undefined) return undefined
  const value = record[key]
  const item = Array.isArray(value) ? value[0] as { message?: unknown, code?: unknown } | undefined : undefined
  if (item === undefined) return typeof value === 'object' ? prefixed(key, gatewayMessage(value)) : undefined
  const message = typeof item.message === 'string' ? item.message : 'error'
  const code = typeof item.code === 'string' ? item.code : undefined
  return key === '__all__' ? { message, code } : { message: `${key}: ${message}`, code }
}

function prefixed (key: string, inner: { message: string, code?: string } | undefined): { message: string, code?: string } | undefined {
  return inner === undefined ? undefined : { ...inner, message: `${key}.${inner.message}` }
}

function httpError (statusCode: number, body: unknown): GatewayCallError {
  const said = gatewayMessage(body)
  const text = said?.message ?? `HTTP ${statusCode}`
  const err = (statusCode === 401 || statusCode === 403
    ? new QorePayAuthError(text)
    : new QorePayGatewayError(`HTTP ${statusCode}: ${text}`)) as GatewayCallError
  err.sent = true
  err.gatewayStatus = statusCode
  err.gatewayCode = said?.code
  return err
}

function networkError (cause: NodeJS.ErrnoException): GatewayCallError {
  // Every error undici and node:net raise carries a code; this only guards a future one that does not.
  /* c8 ignore next */
  const code = cause.code ?? 'UNKNOWN'
  const err = (TIMEOUTS.has(code)
    ? new QorePayTimeoutError(code)
    : new QorePayUnavailableError(code)) as GatewayCallError
  err.sent = !NOT_SENT.has(code)
  err.gatewayCode = code
  return err
}

function backoff (attempt: number): number {
  const ceiling = Math.min(1_000, 50 * 2 ** attempt)
  return ceiling / 2 + Math.random() * ceiling / 2
}

function retryAfterMs (header: string | string[] | undefined): number | undefined {
  // Absent, or sent twice (an array): no usable hint, the backoff decides.
  if (typeof header !== 'string') return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
