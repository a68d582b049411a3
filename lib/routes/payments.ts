import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { PaymentBodySchema, toCardPost, type PaymentBody } from '../payment/card-fields.js'
import { maskPan } from '../wire/pan.js'
import { PurchaseInputSchema } from '../payment/purchase-input.js'
import { QorePayConfigError, QorePayGatewayError } from '../errors.js'
import { callHook } from '../outcome/reporter.js'
import { idempotent } from '../payment/idempotency.js'
import { settle } from '../payment/settle.js'
import { redactingSerializers } from './log-redaction.js'
import { newSessionToken, sessionKey } from '../three-ds/session.js'
import { isWebUrl } from '../wire/web-url.js'
import type { ThreeDSSession } from '../three-ds/session.js'
import type { QorePayContext } from '../context.js'

export const PaymentAnswerSchema = Type.Union([
  Type.Object({ status: Type.Union([Type.Literal('executed'), Type.Literal('authorized'), Type.Literal('pending')]), purchase_id: Type.String() }),
  Type.Object({ status: Type.Literal('3DS_required'), purchase_id: Type.String(), redirect_url: Type.String() }),
  Type.Object({ status: Type.Literal('error'), purchase_id: Type.String(), message: Type.String() })
])
export type PaymentAnswer = Static<typeof PaymentAnswerSchema>

/** What `POST /payments` replies (and an Idempotency-Key replays). */
interface PaymentReply { statusCode: 200 | 202 | 402, body: PaymentAnswer }

const purchaseInput = TypeCompiler.Compile(PurchaseInputSchema)

/** `POST {prefix}/payments`: Steps 1-3 of the S2S flow. */
export function paymentsRoute (scope: FastifyInstance, ctx: QorePayContext): void {
  const { opts, client, store, outcomes } = ctx
  const settling = { client, outcomes, lookupAttempts: opts.lookupAttempts }
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

  async function pay (request: FastifyRequest<{ Body: PaymentBody }>): Promise<PaymentReply> {
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
    const directPostUrl = purchase.direct_post_url
    if (!isWebUrl(directPostUrl)) throw unusable(`purchase ${purchase.id} has no usable direct_post_url`)
    const event = { purchaseId: purchase.id, source: 'direct' as const, reference: purchase.reference ?? undefined, maskedPan: maskPan(card.card_number) }

    const settled = await settle(settling, { step: 'direct_post', send: () => client.postCard(directPostUrl, card), event }, request)
    if (settled.kind === 'pending') return { statusCode: 202, body: { status: 'pending', purchase_id: purchase.id } }
    if (settled.kind === 'outcome') {
      const { outcome } = settled
      if (outcome.status === 'error') return { statusCode: 402, body: { status: 'error', purchase_id: purchase.id, message: outcome.message } }
      return { statusCode: 200, body: { status: outcome.status, purchase_id: purchase.id } }
    }

    const { answer } = settled
    // The payer's browser is sent to the ACS: only a web URL, whatever the gateway says.
    if (!isWebUrl(answer.URL) || !isWebUrl(answer.callback_url)) throw unusable(`purchase ${purchase.id}: the ACS URL or callback_url is not an http(s) URL`)
    const token = newSessionToken()
    const { source, ...known } = event
    const session: ThreeDSSession = {
      ...known,
      callbackUrl: answer.callback_url,
      acsUrl: answer.URL,
      method: answer.Method,
      paReq: answer.PaReq,
      md: answer.MD ?? '',
      expiresAt: Date.now() + opts.sessionTtl * 1000
    }
    await store.set(sessionKey(token), session, opts.sessionTtl * 1000)
    const redirectUrl = `${opts.publicUrl}${opts.prefix}/3ds/${token}`
    await callHook('on3DSRequired', opts.on3DSRequired, { ...known, status: '3DS_required', source, redirectUrl }, request, request.log)
    return { statusCode: 200, body: { status: '3DS_required', purchase_id: purchase.id, redirect_url: redirectUrl } }
  }
}

/** A checked answer that still cannot be used: the gateway answered, nothing further was sent. */
function unusable (detail: string): QorePayGatewayError {
  return new QorePayGatewayError({ kind: 'gateway', detail, sent: true })
}
