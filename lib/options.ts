import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyRequest } from 'fastify'
import { QorePayConfigError } from './errors.js'
import { isWebUrl } from './wire/web-url.js'
import { missingQueueMethods, type SessionStore } from './stores/session-store.js'
import type { AuthorizedEvent, ExecutedEvent, FailedEvent, ThreeDSRequiredEvent, WebhookEvent } from './events.js'
import type { PurchaseInput } from './payment/purchase-input.js'
import type { PaymentBody } from './payment/card-fields.js'
import { schemaReason } from './wire/schema-problem.js'

const AbsoluteUrl = Type.String({ minLength: 1 })

/** Milliseconds per gateway call; each defaults on its own. */
const Timeouts = Type.Object({
  connect: Type.Integer({ minimum: 1, default: 5_000 }),
  headers: Type.Integer({ minimum: 1, default: 15_000 }),
  body: Type.Integer({ minimum: 1, default: 15_000 })
}, { additionalProperties: false })

/**
 * Reconciliation (README, "Reconciliation"): `schedule` is the wait in
 * seconds before each lookup of an undecided purchase (the first counted
 * from its creation, each next one from the lookup before); `interval` the
 * seconds between two sweeps of this instance, 0 for none (a cron job calls
 * `app.qorepay.reconcile()`); `batch` the most lookups one sweep makes.
 */
export const ReconcileSchema = Type.Object({
  schedule: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 30 * 86400 }), { minItems: 1, maxItems: 100, default: [60, 300, 900, 3600, 10800, 43200, 86400, 172800] }),
  interval: Type.Number({ minimum: 0, maximum: 86400, default: 15 }),
  batch: Type.Integer({ minimum: 1, maximum: 1000, default: 50 })
}, { additionalProperties: false })
export type ReconcileOptions = Static<typeof ReconcileSchema>
const ReconcileInput = Type.Partial(ReconcileSchema, { additionalProperties: false })

/**
 * The serialisable part of the options, defaults included (`Value.Default`
 * fills them); functions and the store are checked by hand below.
 */
export const QorePayOptionsSchema = Type.Object({
  apiKey: Type.String({ minLength: 1 }),
  s2sToken: Type.String({ minLength: 1 }),
  brandId: Type.String({ minLength: 1 }),
  publicUrl: AbsoluteUrl,
  successRedirect: AbsoluteUrl,
  failureRedirect: AbsoluteUrl,
  /** Where the TermUrl sends a payer whose outcome is not known yet; default `successRedirect`. */
  pendingRedirect: Type.Optional(AbsoluteUrl),
  baseUrl: Type.Optional(Type.String({ minLength: 1, default: 'https://gate.qorepay.com/api/v1/' })),
  prefix: Type.Optional(Type.String({ pattern: '^(/[A-Za-z0-9._~-]+)*$', default: '/qorepay' })),
  sessionTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400, default: 1800 })),
  webhookPublicKey: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])),
  decorator: Type.Optional(Type.String({ pattern: '^[A-Za-z_$][A-Za-z0-9_$]*$', default: 'qorepay' })),
  timeouts: Type.Optional(Type.Partial(Timeouts, { default: {} })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 2 })),
  lookupAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 3 })),
  bodyLimit: Type.Optional(Type.Integer({ minimum: 1024, default: 64 * 1024 })),
  /** Milliseconds a store call may take before it counts as a store outage (503). */
  storeTimeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, default: 2000 })),
  /** `false` turns reconciliation off: no tracking, no sweeps. */
  reconcile: Type.Optional(Type.Union([Type.Literal(false), ReconcileInput]))
})

/** The same options once resolved: every default filled, the webhook keys as a list. */
export const ResolvedOptionsSchema = Type.Composite([
  Type.Required(Type.Omit(QorePayOptionsSchema, ['webhookPublicKey', 'timeouts', 'reconcile'])),
  Type.Object({ timeouts: Timeouts, webhookPublicKeys: Type.Array(Type.String()), reconcile: Type.Union([Type.Literal(false), ReconcileSchema]) })
])

/** What `purchase(request)` is given: the request of `POST {prefix}/payments`, its body checked. */
export interface PaymentRequest extends FastifyRequest {
  body: PaymentBody
}

export type Hook<E> = (event: E, request: FastifyRequest) => void | Promise<void>

/**
 * An outcome hook: `request` is the request on whose path the outcome was
 * learnt, and `undefined` when no request carries it: a charge with a saved
 * card (`source: 'saved_card'`, `app.qorepay.payWithSavedCard`), or an outcome
 * reconciliation learnt (`source: 'reconcile'`).
 */
export type OutcomeHook<E> = (event: E, request: FastifyRequest | undefined) => void | Promise<void>

/** What cannot be a JSON schema: the host's functions and its store. */
interface HostParts {
  /**
   * Decides what is charged: prices come only from here, never from the
   * payer's body: `request.body.order` is what the checkout sent to say
   * which order, and the shop looks the prices up.
   */
  purchase: (request: PaymentRequest) => PurchaseInput | Promise<PurchaseInput>
  store?: SessionStore
  onExecuted?: OutcomeHook<ExecutedEvent>
  onAuthorized?: OutcomeHook<AuthorizedEvent>
  onFailed?: OutcomeHook<FailedEvent>
  on3DSRequired?: Hook<ThreeDSRequiredEvent>
  onWebhook?: Hook<WebhookEvent>
}

export interface QorePayOptions extends Static<typeof QorePayOptionsSchema>, HostParts {}

export interface ResolvedOptions extends Static<typeof ResolvedOptionsSchema>, HostParts {}

const HOOKS = ['onExecuted', 'onAuthorized', 'onFailed', 'on3DSRequired', 'onWebhook'] as const
/**
 * Every name `register` accepts: ours, and what Fastify itself reads from a
 * plugin's options and leaves in them (`prefix` is ours too). A name outside
 * it is a typo that would otherwise be ignored: a shop never told it was paid.
 */
const KNOWN_OPTIONS: readonly string[] = [...new Set([
  ...Object.keys(QorePayOptionsSchema.properties),
  'purchase', 'store', ...HOOKS,
  'logLevel', 'logSerializers'
])]
const NESTED_OPTIONS = { timeouts: Object.keys(Timeouts.properties), reconcile: Object.keys(ReconcileSchema.properties) } as const
const URL_OPTIONS = ['publicUrl', 'successRedirect', 'failureRedirect', 'pendingRedirect', 'baseUrl'] as const
const STORE_METHODS = ['get', 'set', 'claim', 'take', 'delete'] as const

/**
 * Reads the options once at registration and fails with the name of the first
 * bad one, so a misconfigured shop never starts taking payments.
 */
export function resolveOptions (raw: unknown): ResolvedOptions {
  if (raw === null || typeof raw !== 'object') throw new QorePayConfigError('options: expected an object')
  const opts = raw as Record<string, unknown>
  checkNames(opts, KNOWN_OPTIONS, '')
  for (const [parent, names] of Object.entries(NESTED_OPTIONS)) {
    const nested = opts[parent]
    if (typeof nested === 'object' && nested !== null && !Array.isArray(nested)) checkNames(nested as Record<string, unknown>, names, `${parent}.`)
  }

  // Checked on its own first, so that a bad field is named (reconcile.interval), not the union.
  const reconcileProblem = typeof opts.reconcile === 'object' && opts.reconcile !== null ? Value.Errors(ReconcileInput, opts.reconcile).First() : undefined
  const problem = reconcileProblem === undefined ? Value.Errors(QorePayOptionsSchema, opts).First() : { ...reconcileProblem, path: `/reconcile${reconcileProblem.path}` }
  if (problem !== undefined) {
    const name = problem.path.slice(1).replaceAll('/', '.')
    const found = problem.value === undefined ? 'missing' : `got ${Array.isArray(problem.value) ? 'array' : typeof problem.value}`
    throw new QorePayConfigError(`${name}: ${schemaReason(problem)} (${found})`)
  }
  for (const name of URL_OPTIONS) {
    if (opts[name] !== undefined && !isWebUrl(opts[name])) {
      throw new QorePayConfigError(`${name}: expected an absolute http(s) URL, got ${JSON.stringify(opts[name])}`)
    }
  }
  // Links are publicUrl + prefix + a path of ours: a query or a fragment would end up in the middle of them.
  if (/[?#]/.test(opts.publicUrl as string)) {
    throw new QorePayConfigError(`publicUrl: expected an origin with an optional path, without a query or a fragment, got ${JSON.stringify(opts.publicUrl)}`)
  }
  if (typeof opts.purchase !== 'function') throw new QorePayConfigError('purchase: required, a function (request) => purchase details')
  for (const name of HOOKS) {
    if (opts[name] !== undefined && typeof opts[name] !== 'function') throw new QorePayConfigError(`${name}: expected a function`)
  }
  if (opts.store !== undefined) {
    const store = opts.store as Record<string, unknown> | null
    const missing = STORE_METHODS.find((m) => typeof store?.[m] !== 'function')
    if (missing !== undefined) throw new QorePayConfigError(`store: expected a SessionStore, missing method ${missing}()`)
    const noQueue = missingQueueMethods(opts.store as SessionStore)
    if (opts.reconcile !== false && noQueue.length > 0) {
      throw new QorePayConfigError(`store: reconciliation needs the due-queue methods, and this store has no ${noQueue.map((m) => `${m}()`).join(', ')}; add them, or register with reconcile: false`)
    }
  }

  // Checked above; Value.Default fills what is missing from the schema's defaults, on copies.
  const { webhookPublicKey, reconcile, ...filled } = Value.Default(QorePayOptionsSchema, { ...opts, timeouts: { ...opts.timeouts as object } }) as Required<QorePayOptions>
  return {
    ...filled,
    reconcile: reconcile === false ? false : Value.Default(ReconcileSchema, { ...reconcile }) as ReconcileOptions,
    timeouts: filled.timeouts as Static<typeof Timeouts>,
    baseUrl: withTrailingSlash(filled.baseUrl),
    pendingRedirect: filled.pendingRedirect ?? filled.successRedirect,
    publicUrl: filled.publicUrl.replace(/\/+$/, ''),
    webhookPublicKeys: webhookPublicKey === undefined ? [] : ([] as string[]).concat(webhookPublicKey)
  }
}

/** Fails on the first name that is not an option, suggesting the known one it is a typo of. */
function checkNames (given: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue
    const near = known.find((candidate) => candidate.toLowerCase() === name.toLowerCase()) ?? known.find((candidate) => oneEditApart(candidate, name))
    throw new QorePayConfigError(`${path}${name}: unknown option${near === undefined ? '' : `; did you mean ${path}${near}?`}`)
  }
}

/**
 * Damerau-Levenshtein distance of at most one: one edit (a letter added,
 * dropped or changed, or two neighbours swapped) turns one into the other.
 * What is left once the common start and end are cut off tells.
 */
function oneEditApart (a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false
  let start = 0
  while (start < a.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB-- }
  const restA = a.slice(start, endA)
  const restB = b.slice(start, endB)
  if (restA.length <= 1 && restB.length <= 1) return true
  return restA.length === 2 && restB.length === 2 && restA[0] === restB[1] && restA[1] === restB[0]
}

function withTrailingSlash (url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}
