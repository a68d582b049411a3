import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { PaymentBodySchema, toCardPost, type PaymentBody } from '../payment/card-fields.js'
import { maskPan } from '../wire/pan.js'
import { PurchaseInputSchema } from '../payment/purchase-input.js'
import { QorePayConfigError, QorePayGatewayError } from '../errors.js'
import { callHook } from '../outcome/reporter.js'
import { idempotent } from '../payment/idempotency.js'
import { redactingSerializers } from './log-redaction.js'
import { newSessionToken, sessionKey } from '../three-ds/session.js'
import { isWebUrl } from '../wire/web-url.js'
import { lookupOutcome, outcomeOfAnswer, toOutcomeEvent, type Outcome } from '../outcome/mapping.js'
import { outcomeUnknown, type GatewayCallError } from '../gateway/client.js'
import type { S2SStatus } from '../wire/s2s-status.js'
import type { ThreeDSSession } from '../three-ds/session.js'
import type { QorePayContext } from '../context.js'

export const PaymentAnswerSchema = Type.Union([
  Type.Object({ status: Type.Union([Type.Literal('executed'), Type.Literal('authorized'), Type.Literal('pending')]), purchase_id: Type.String() }),
  Type.Object({ status: Type.Literal('3DS_required'), purchase_id: Type.String(), redirect_url: Type.String() }),
  Type.Object({ status: Type.Literal('error'), purchase_id: Type.String(), message: Type.String() })
])
export type PaymentAnswer = Static<typeof PaymentAnswerSchema>

interface Answer { statusCode: 200 | 202 | 402, body: PaymentAnswer }

const purchaseInput = TypeCompiler.Compile(PurchaseInputSchema)

/** `POST {prefix}/payments`: Steps 1-3 of the S2S flow. */
export function paymentsRoute (scope: FastifyInstance, ctx: QorePayContext): void {
  const { opts, client, store, reportQuietly } = ctx
  const idempotency = { store, secret: opts.apiKey, scope: `${opts.brandId}${opts.prefix}`, ttlMs: 24 * 3600_000 }

  scope.post<{ Body: PaymentBody }>('/payments', {
    schema: { body: PaymentBodySchema },
    bodyLimit: opts.bodyLimit,
    logSerializers: redactingSerializers
  }, async (request, reply) => {
    const { answer, replayed } = await idempotent(request, idempotency, () => pay(request))
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(answer.statusCode).send(answer.body)
  })

  async function pay (request: FastifyRequest<{ Body: PaymentBody }>): Promise<Answer> {
    const card = toCardPost(request.body, request)
    const input = await opts.purchase(request)
    if (!purchaseInput.Check(input)) {
      const problem = purchaseInput.Errors(input).First()!
      throw new QorePayConfigError(`purchase(): returned ${problem.path || 'value'} ${problem.message.toLowerCase()}`)
    }

    const purchase = await client.createPurchase({
      ...input,
      brand_id: opts.brandId,
      success_redirect: opts.successRedirect,
      failure_redirect: opts.failureRedirect,
      success_callback: input.success_callback ?? `${opts.publicUrl}${opts.prefix}/callback`
    })
    if (!isWebUrl(purchase.direct_post_url)) throw new QorePayGatewayError(`purchase ${purchase.id} has no usable direct_post_url`)
    const base = { purchaseId: purchase.id, reference: purchase.reference ?? undefined, maskedPan: maskPan(card.card_number) }

    let answer: S2SStatus
    try {
      answer = await client.postCard(purchase.direct_post_url, card)
    } catch (err) {
      if (!outcomeUnknown(err as GatewayCallError)) throw err
      // The card may have been charged: never post it again, ask instead.
      request.log.warn({ err, purchaseId: purchase.id }, `qorepay: card post for purchase ${purchase.id} has an unknown outcome; looking it up`)
      const outcome = await lookupOutcome(client, purchase.id, opts.lookupAttempts, request.log)
      if (outcome === undefined) return { statusCode: 202, body: { status: 'pending', purchase_id: purchase.id } }
      return settle(request, outcome, base)
    }

    if (answer.status !== '3DS_required') return settle(request, outcomeOfAnswer(answer), base)
    // The payer's browser is sent to the ACS: only a web URL, whatever the gateway says.
    if (!isWebUrl(answer.URL) || !isWebUrl(answer.callback_url)) throw new QorePayGatewayError(`purchase ${purchase.id}: the ACS URL or callback_url is not an http(s) URL`)

    const token = newSessionToken()
    const session: ThreeDSSession = {
      ...base,
      callbackUrl: answer.callback_url,
      acsUrl: answer.URL,
      method: answer.Method,
      paReq: answer.PaReq,
      md: answer.MD ?? '',
      expiresAt: Date.now() + opts.sessionTtl * 1000
    }
    await store.set(sessionKey(token), session, opts.sessionTtl * 1000)
    const redirectUrl = `${opts.publicUrl}${opts.prefix}/3ds/${token}`
    await callHook('on3DSRequired', opts.on3DSRequired, { ...base, status: '3DS_required', source: 'direct', redirectUrl }, request, request.log)
    return { statusCode: 200, body: { status: '3DS_required', purchase_id: purchase.id, redirect_url: redirectUrl } }
  }

  async function settle (request: FastifyRequest, outcome: Outcome, base: { purchaseId: string, reference?: string, maskedPan?: string }): Promise<Answer> {
    await reportQuietly(toOutcomeEvent(outcome, { ...base, source: 'direct' }), request)
    if (outcome.status === 'error') return { statusCode: 402, body: { status: 'error', purchase_id: base.purchaseId, message: outcome.message } }
    return { statusCode: 200, body: { status: outcome.status, purchase_id: base.purchaseId } }
  }
}
