import type { FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { CARD_DATA_FIELDS, PaymentBodySchema, toCardPost, type PaymentBody } from './card-fields.js'
import { maskPan } from '../wire/pan.js'
import { purchaseInputCheck } from './purchase-input.js'
import { QorePayGatewayError, QorePayPurchaseError } from '../errors.js'
import { callHook } from '../outcome/reporter.js'
import { payerMessage } from '../outcome/payer-message.js'
import { idempotent, type Answers, type Bind, type IdempotencyOptions } from './idempotency.js'
import { lookupOutcome, settle } from './settle.js'
import { bodyAjv, bodyValidationError } from './body-validation.js'
import { authorizationOf, toOutcomeEvent, type Outcome } from '../outcome/mapping.js'
import { createSession, sessionUrl } from '../three-ds/session.js'
import { isWebUrl } from '../wire/web-url.js'
import type { QorePayContext } from '../context.js'
import type { PaymentRequest } from '../options.js'
import { tracePayment, type PaymentContext } from '../observability/payment.js'
import { schemaProblem } from '../wire/schema-problem.js'

const PurchaseId = Type.String({ description: 'The gateway\'s purchase id' })

/** The answers of `POST {prefix}/payments` and `app.qorepay.pay`, as README and DESIGN.md document them. */
export const Paid = Type.Union([
  Type.Object({ status: Type.Union([Type.Literal('executed'), Type.Literal('authorized')]), purchase_id: PurchaseId }),
  Type.Object({ status: Type.Literal('3DS_required'), purchase_id: PurchaseId, redirect_url: Type.String({ description: '<publicUrl><prefix>/3ds/<token>: send the payer there' }) })
], { description: 'Executed, authorized, or 3-D Secure needed' })
export const Pending = Type.Object({ status: Type.Literal('pending'), purchase_id: PurchaseId }, { description: 'The outcome is not known yet; a webhook or reconciliation reports it later, once' })
export const Declined = Type.Object({
  status: Type.Literal('error'),
  purchase_id: PurchaseId,
  code: Type.String({ description: 'The gateway\'s error code, e.g. do_not_honour' }),
  message: Type.String({ description: 'The plugin\'s fixed text for that code, never the gateway\'s' })
}, { description: 'Declined' })

/** What `POST /payments` replies, and what an Idempotency-Key replays. */
export type PaymentReply =
  | { statusCode: 200, body: Static<typeof Paid> }
  | { statusCode: 202, body: Static<typeof Pending> }
  | { statusCode: 402, body: Static<typeof Declined> }

/** `app.qorepay.pay`'s answer: the route's status code and body; `replayed` when an Idempotency-Key answered it (the route's `idempotent-replayed: true`). */
export type PaymentResult = PaymentReply & { replayed: boolean }

export interface PayOptions {
  /** The payment body (card and browser fields, `order`), checked as the route checks it; default `request.body`. */
  body?: unknown
  /** Default the request's `Idempotency-Key` header. */
  idempotencyKey?: string
}

/** `app.qorepay.pay`: what `POST {prefix}/payments` runs. */
export type Pay = (request: FastifyRequest, options?: PayOptions) => Promise<PaymentResult>

/** Steps 1-3 of the S2S flow: create the purchase, post the card, start 3-D Secure when needed. */
export function directPayments (ctx: QorePayContext): Pay {
  const { opts, client, store, outcomes, undiciExposure } = ctx
  const settling = { client, outcomes, lookupAttempts: opts.lookupAttempts }
  const validBody = bodyAjv().compile<PaymentBody>(PaymentBodySchema)
  const idempotency = (request: PaymentRequest): IdempotencyOptions<PaymentReply> => ({
    store,
    secret: opts.apiKey,
    scope: ctx.storeScope,
    cardFields: CARD_DATA_FIELDS,
    answers: answers(request),
    // A purchase created by a request whose key turned out bound to another is never charged: nothing to reconcile.
    discard: async (purchaseId) => await ctx.tracking?.stop(purchaseId)
  })

  return async function pay (request, options = {}) {
    undiciExposure.check()
    const body = options.body ?? request.body
    if (!validBody(body)) throw bodyValidationError(validBody.errors!)
    // purchase(request) reads the checked body as request.body, whichever body was given.
    const paying: PaymentRequest = body === request.body ? request as PaymentRequest : Object.assign(Object.create(request) as PaymentRequest, { body })
    const call = { key: options.idempotencyKey ?? request.headers['idempotency-key'], body, log: request.log }
    const { result, replayed } = await tracePayment('direct', (trace) => idempotent(call, idempotency(paying), (bind) => run(body, paying, bind, trace)), ({ result }) => result.body)
    return { ...result, replayed }
  }

  /** A retry's answer for a purchase its key is bound to: what the gateway says, reported through the hooks once. */
  function answers (request: PaymentRequest): Answers<PaymentReply> {
    return {
      final: (reply) => reply.statusCode !== 202 && reply.body.status !== '3DS_required',
      lookUp: async (bound, recorded, log) => {
        const outcome = await lookupOutcome(client, bound.purchaseId, opts.lookupAttempts, log)
        if (outcome === undefined) {
          // Still waiting for 3-D Secure: its page answers while the session lives; then the payer waits for the outcome.
          const threeDS = recorded !== undefined && recorded.answer.body.status === '3DS_required' && Date.now() < recorded.at + opts.sessionTtl * 1000
          return threeDS ? recorded.answer : { statusCode: 202, body: { status: 'pending', purchase_id: bound.purchaseId } }
        }
        await outcomes.reportQuietly(toOutcomeEvent(outcome, { ...bound, source: 'direct' }), request)
        return replyOf(bound.purchaseId, outcome)
      }
    }
  }

  async function run (body: PaymentBody, request: PaymentRequest, bind: Bind, trace?: PaymentContext): Promise<PaymentReply> {
    const card = toCardPost(body, request)
    const input = await opts.purchase(request)
    if (!purchaseInputCheck.Check(input)) {
      const problem = purchaseInputCheck.Errors(input).First()!
      // No purchase exists yet: the path names the field (never its value, which may be anything).
      request.log.error({ path: problem.path }, `qorepay: purchase(request) returned details the gateway would refuse: ${schemaProblem(problem)}`)
      throw new QorePayPurchaseError()
    }

    const purchase = await client.createPurchase({
      ...input,
      brand_id: opts.brandId,
      success_redirect: opts.successRedirect,
      failure_redirect: opts.failureRedirect,
      success_callback: input.success_callback ?? `${ctx.routesUrl}/callback`
    })
    if (trace !== undefined) trace.purchaseId = purchase.id
    const directPostUrl = purchase.direct_post_url
    // The platform offers no direct post for such a purchase: say why it most likely did not.
    if (directPostUrl === null) throw unusable(`purchase ${purchase.id} cannot take a card server to server (no direct_post_url): S2S card payments are most likely not enabled for this account (ask QorePay to enable them), or purchase(request) asked for request_client_details, which only the hosted payment page collects`)
    if (!isWebUrl(directPostUrl)) throw unusable(`purchase ${purchase.id}: direct_post_url is not an http(s) URL`)
    const known = { purchaseId: purchase.id, reference: purchase.reference ?? undefined, maskedPan: maskPan(card.card_number) }
    // The card post's answer says neither: the purchase and the request do (the gateway saves the card on remember_card "on").
    const outcomeFacts = { authorization: authorizationOf(purchase), ...(card.remember_card === 'on' || purchase.force_recurring === true ? { recurringToken: purchase.id } : {}) }
    const event = { ...known, source: 'direct' as const, ...outcomeFacts }
    // Tracked before the card is sent: an outcome this process never reports is found by reconciliation.
    await ctx.tracking?.track({ purchaseId: purchase.id, source: 'direct', reference: known.reference, maskedPan: known.maskedPan })
    // Bound before the card is sent: a retry under the key looks this purchase up and never posts again.
    await bind(known)

    const settled = await settle(settling, { step: 'direct_post', send: () => client.postCard(directPostUrl, card, purchase.id), event }, request)
    if (settled.kind === 'pending') return { statusCode: 202, body: { status: 'pending', purchase_id: purchase.id } }
    if (settled.kind === 'outcome') return replyOf(purchase.id, settled.outcome)

    const { threeDS } = settled
    // The payer's browser is sent to the ACS: only a web URL, whatever the gateway says.
    if (!isWebUrl(threeDS.URL) || !isWebUrl(threeDS.callback_url)) throw unusable(`purchase ${purchase.id}: the ACS URL or callback_url is not an http(s) URL`)
    const token = await createSession(store, {
      ...known,
      ...outcomeFacts,
      callbackUrl: threeDS.callback_url,
      acsUrl: threeDS.URL,
      method: threeDS.Method,
      paReq: threeDS.PaReq,
      md: threeDS.MD ?? ''
    }, opts.sessionTtl * 1000)
    const redirectUrl = sessionUrl(ctx.routesUrl, token, 'page')
    await callHook('on3DSRequired', opts.on3DSRequired, { ...known, status: '3DS_required', source: 'direct', redirectUrl }, request, request.log)
    return { statusCode: 200, body: { status: '3DS_required', purchase_id: purchase.id, redirect_url: redirectUrl } }
  }
}

function replyOf (purchaseId: string, outcome: Outcome): PaymentReply {
  if (outcome.status === 'error') return { statusCode: 402, body: { status: 'error', purchase_id: purchaseId, code: outcome.code, message: payerMessage(outcome.code) } }
  return { statusCode: 200, body: { status: outcome.status, purchase_id: purchaseId } }
}

/** A checked answer that still cannot be used: the gateway answered, nothing further was sent. */
function unusable (detail: string): QorePayGatewayError {
  return new QorePayGatewayError({ kind: 'gateway', detail, sent: true })
}
