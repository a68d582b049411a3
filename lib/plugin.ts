import fp from 'fastify-plugin'
import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { resolveOptions, type QorePayOptions } from './options.js'
import { QorePayClient } from './gateway/client.js'
import { MemoryStore } from './stores/memory.js'
import { guardStore, hasQueue } from './stores/session-store.js'
import { sessionTimeLeft } from './three-ds/session.js'
import { OutcomeReporter } from './outcome/reporter.js'
import { markTimesOf } from './outcome/mark-times.js'
import { QorePayConfigError } from './errors.js'
import { paymentsRoute } from './routes/payments.js'
import { threeDSRoutes } from './routes/three-ds.js'
import { webhookRoutes } from './routes/webhook.js'
import type { QorePayContext } from './context.js'
import { UndiciExposure } from './observability/undici-channels.js'
import { savedCardPayments, type PayWithSavedCard } from './payment/saved-card.js'
import { directPayments, type Pay } from './payment/direct-payment.js'
import { bodyAjv, schemaErrors } from './payment/body-validation.js'
import { Tracking } from './reconcile/tracking.js'
import { retriedActions, type RetriedActions } from './payment/retried-action.js'
import { Sweeper, sweepLeaseMs, type SweepResult } from './reconcile/sweeper.js'

/** The gateway calls a shop makes besides the payment flow, a payment with a saved card, and one reconciliation sweep, as `app.qorepay`. */
export interface QorePayApi extends Pick<QorePayClient, 'createPurchase' | 'getPurchase' | 'release' | 'cancel' | 'deleteRecurringToken' | 'publicKey'>, RetriedActions {
  /**
   * Runs exactly what `POST {prefix}/payments` runs, from the shop's own route
   * or resolver: `body` (default `request.body`) checked with the route's
   * schema and messages (400 `FST_ERR_VALIDATION`), the `Idempotency-Key`
   * rules with `idempotencyKey` (default the request's header), the purchase
   * from `purchase(request)`, the card post, 3-D Secure. Resolves the route's
   * `{ statusCode, body }` (200, 202, 402; `replayed` when a key answered it)
   * and rejects with the errors the route answers (their `statusCode` and `code`).
   */
  pay: Pay
  /**
   * Creates a purchase from `input` (what `purchase(request)` returns) and pays
   * it with the card saved under `recurringToken`, reporting the outcome
   * through the outcome hooks once (`source: 'saved_card'`). Never called with
   * a token from a payer's body: which customer may use which token is the
   * shop's decision.
   */
  payWithSavedCard: PayWithSavedCard
  /**
   * Runs one reconciliation sweep now (after the one in flight, if any):
   * up to `reconcile.batch` due purchases looked up and reported. With
   * `reconcile: false` it does nothing.
   */
  reconcile: () => Promise<SweepResult>
}

// The default name. A registration under another `decorator` name adds its own
// line to this interface in the shop's code (README, "Two brands in one app").
declare module 'fastify' {
  interface FastifyInstance {
    qorepay: QorePayApi
  }
}

async function qorepayPlugin (fastify: FastifyInstance, rawOptions: QorePayOptions): Promise<void> {
  const opts = resolveOptions(rawOptions)
  if (fastify.hasDecorator(opts.decorator)) {
    throw new QorePayConfigError(`decorator: "${opts.decorator}" is already taken; a second registration needs its own name, e.g. decorator: 'qorepayOther'`)
  }
  const ownStore = rawOptions.store === undefined ? new MemoryStore() : undefined
  const store = guardStore(rawOptions.store ?? ownStore as MemoryStore, { timeoutMs: opts.storeTimeout, takenTtl: sessionTimeLeft })
  // fastify.prefix is the parent scopes' prefix (fastify-plugin runs this in the host's scope).
  const storeScope = `${opts.brandId}${fastify.prefix}${opts.prefix}`
  const log = fastify.log.child({ plugin: 'fastify-qorepay', prefix: opts.prefix })
  const client = new QorePayClient(opts, log)
  // resolveOptions refused a store without the due-queue unless reconcile is false.
  const tracking = opts.reconcile !== false && hasQueue(store)
    ? new Tracking(store, { scope: storeScope, schedule: opts.reconcile.schedule, leaseMs: sweepLeaseMs(opts.reconcile, opts) })
    : undefined
  const outcomes = new OutcomeReporter(store, { executed: opts.onExecuted, authorized: opts.onAuthorized, error: opts.onFailed }, log,
    tracking === undefined ? undefined : (purchaseId) => tracking.stop(purchaseId), markTimesOf(rawOptions))
  const shared = { opts, storeScope, client, store, outcomes, tracking, log, undiciExposure: new UndiciExposure(log) }
  const sweeper = tracking === undefined || opts.reconcile === false
    ? undefined
    : new Sweeper({ tracking, client, outcomes, log, options: opts.reconcile })

  fastify.addHook('onReady', async () => { sweeper?.start() })
  fastify.addHook('onClose', async () => {
    // The sweep in flight lets go first: its lookups aborted, what it did not look up given back.
    await sweeper?.close()
    await client.close()
    ownStore?.close()
  })

  // Our own scope: our parsers, validator and error handling leave the host's untouched.
  await fastify.register(async (scope) => {
    // scope.prefix holds the parents' prefixes too: every URL the plugin hands out is built from it.
    const ctx: QorePayContext = { ...shared, routesUrl: `${opts.publicUrl}${scope.prefix}` }
    // Decorated from here, on the host's instance, so that payWithSavedCard gets this ctx as the routes do.
    const pay = directPayments(ctx)
    // Twice the longest a send can take from here: the gateway may still be at work after the client gave up.
    const { connect, headers, body } = opts.timeouts
    const api: QorePayApi = {
      createPurchase: client.createPurchase.bind(client),
      getPurchase: client.getPurchase.bind(client),
      ...retriedActions({ client, store, scope: storeScope, settleMs: 2 * (connect + headers + body) }),
      release: client.release.bind(client),
      cancel: client.cancel.bind(client),
      deleteRecurringToken: client.deleteRecurringToken.bind(client),
      publicKey: client.publicKey.bind(client),
      pay,
      payWithSavedCard: savedCardPayments(ctx),
      reconcile: async () => await sweeper?.sweep() ?? { checked: 0, reported: 0, pending: 0 }
    }
    fastify.decorate(opts.decorator, api)

    // One validator and one error text for the routes and app.qorepay.pay (lib/payment/body-validation.ts).
    const ajv = bodyAjv()
    scope.setValidatorCompiler(({ schema }) => ajv.compile(schema))
    scope.setSchemaErrorFormatter(schemaErrors)
    // Exactly our parsers, each where it belongs: JSON for payments (a cross-site
    // form cannot post one without a preflight), a form for the TermUrl, raw bytes
    // for webhooks. The host's own (a custom JSON parser, its formbody, which would
    // make ours throw FST_ERR_CTP_ALREADY_PRESENT) stay the host's.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: opts.bodyLimit }, scope.getDefaultJsonParser('error', 'error'))
    // Unknown paths under our prefix answer without echoing the path (a 3DS token, say).
    scope.setNotFoundHandler((_request, reply) => reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'Not found' }))
    paymentsRoute(scope, ctx, pay)
    await scope.register(async (forms) => {
      forms.removeAllContentTypeParsers()
      await forms.register(formbody, { bodyLimit: opts.bodyLimit })
      threeDSRoutes(forms, ctx)
    })
    webhookRoutes(scope, ctx)
  }, { prefix: opts.prefix })
}

export const qorepay = fp(qorepayPlugin, { fastify: '5.x', name: 'fastify-qorepay' })
