import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyRequest } from 'fastify'
import { QorePayConfigError } from './errors.js'
import { isWebUrl } from './wire/web-url.js'
import type { SessionStore } from './stores/session-store.js'
import type { AuthorizedEvent, ExecutedEvent, FailedEvent, ThreeDSRequiredEvent, WebhookEvent } from './events.js'
import type { PurchaseInput } from './payment/purchase-input.js'

const AbsoluteUrl = Type.String({ minLength: 1 })

/** The serialisable part of the options; functions and the store are checked by hand below. */
export const QorePayOptionsSchema = Type.Object({
  apiKey: Type.String({ minLength: 1 }),
  s2sToken: Type.String({ minLength: 1 }),
  brandId: Type.String({ minLength: 1 }),
  publicUrl: AbsoluteUrl,
  successRedirect: AbsoluteUrl,
  failureRedirect: AbsoluteUrl,
  baseUrl: Type.Optional(AbsoluteUrl),
  prefix: Type.Optional(Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$' })),
  sessionTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
  webhookPublicKey: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  decorator: Type.Optional(Type.String({ pattern: '^[A-Za-z_$][A-Za-z0-9_$]*$' })),
  timeouts: Type.Optional(Type.Object({
    connect: Type.Optional(Type.Integer({ minimum: 1 })),
    headers: Type.Optional(Type.Integer({ minimum: 1 })),
    body: Type.Optional(Type.Integer({ minimum: 1 }))
  }, { additionalProperties: false })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  lookupAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
  bodyLimit: Type.Optional(Type.Integer({ minimum: 1024 }))
})

export type Hook<E> = (event: E, request: FastifyRequest) => void | Promise<void>

export interface QorePayOptions extends Static<typeof QorePayOptionsSchema> {
  /** Decides what is charged: prices come only from here, never from the payer's body. */
  purchase: (request: FastifyRequest) => PurchaseInput | Promise<PurchaseInput>
  store?: SessionStore
  onExecuted?: Hook<ExecutedEvent>
  onAuthorized?: Hook<AuthorizedEvent>
  onFailed?: Hook<FailedEvent>
  on3DSRequired?: Hook<ThreeDSRequiredEvent>
  onWebhook?: Hook<WebhookEvent>
}

export interface ResolvedOptions extends Omit<QorePayOptions, 'webhookPublicKey' | 'baseUrl' | 'prefix' | 'sessionTtl' | 'decorator' | 'retries' | 'lookupAttempts' | 'bodyLimit' | 'timeouts'> {
  baseUrl: string
  prefix: string
  sessionTtl: number
  webhookPublicKeys: string[]
  decorator: string
  retries: number
  lookupAttempts: number
  bodyLimit: number
  timeouts: { connect: number, headers: number, body: number }
}

const HOOKS = ['onExecuted', 'onAuthorized', 'onFailed', 'on3DSRequired', 'onWebhook'] as const
const URL_OPTIONS = ['publicUrl', 'successRedirect', 'failureRedirect', 'baseUrl'] as const
const STORE_METHODS = ['get', 'set', 'claim', 'take', 'delete'] as const

/**
 * Reads the options once at registration and fails with the name of the first
 * bad one, so a misconfigured shop never starts taking payments.
 */
export function resolveOptions (raw: unknown): ResolvedOptions {
  if (raw === null || typeof raw !== 'object') throw new QorePayConfigError('options: expected an object')
  const opts = raw as Record<string, unknown>

  const problem = Value.Errors(QorePayOptionsSchema, opts).First()
  if (problem !== undefined) {
    const name = problem.path.slice(1).replaceAll('/', '.')
    const found = problem.value === undefined ? 'missing' : `got ${Array.isArray(problem.value) ? 'array' : typeof problem.value}`
    throw new QorePayConfigError(`${name}: ${problem.message.toLowerCase()} (${found})`)
  }
  for (const name of URL_OPTIONS) {
    if (opts[name] !== undefined && !isWebUrl(opts[name])) {
      throw new QorePayConfigError(`${name}: expected an absolute http(s) URL, got ${JSON.stringify(opts[name])}`)
    }
  }
  if (typeof opts.purchase !== 'function') throw new QorePayConfigError('purchase: required, a function (request) => purchase details')
  for (const name of HOOKS) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function') throw new QorePayConfigError(`${name}: expected a function`)
  }
  if (opts.store !== undefined) {
    const store = opts.store as Record<string, unknown> | null
    const missing = STORE_METHODS.find((m) => typeof store?.[m] !== 'function')
    if (missing !== undefined) throw new QorePayConfigError(`store: expected a SessionStore, missing method ${missing}()`)
  }

  const o = opts as unknown as QorePayOptions
  const keys = o.webhookPublicKey === undefined ? [] : ([] as string[]).concat(o.webhookPublicKey)
  return {
    ...o,
    baseUrl: withTrailingSlash(o.baseUrl ?? 'https://gate.qorepay.com/api/v1/'),
    publicUrl: o.publicUrl.replace(/\/+$/, ''),
    prefix: o.prefix ?? '/qorepay',
    sessionTtl: o.sessionTtl ?? 1800,
    webhookPublicKeys: keys,
    decorator: o.decorator ?? 'qorepay',
    retries: o.retries ?? 2,
    lookupAttempts: o.lookupAttempts ?? 3,
    bodyLimit: o.bodyLimit ?? 64 * 1024,
    timeouts: { connect: 5_000, headers: 15_000, body: 15_000, ...o.timeouts }
  }
}

function withTrailingSlash (url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}
