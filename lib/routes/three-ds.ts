import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { contentSecurityPolicy, renderExpiredPage, renderRedirectPage } from '../three-ds/page.js'
import { answerSession, enterSession, openSession, putBackSession, sessionPath, sessionUrl, type TermUrlAnswer, type TermUrlStatus, type ThreeDSSession } from '../three-ds/session.js'
import { settle, type Settled } from '../payment/settle.js'
import { QorePayGatewayError } from '../gateway/gateway-error.js'
import type { QorePayContext } from '../context.js'
import { redactingSerializers } from './log-redaction.js'
import { TAGS, errorResponse } from './error-response.js'
import { randomToken } from '../three-ds/random-token.js'

// Any string: a token of another shape gets the expired page, never a 400 that tells shapes apart.
const TokenParams = Type.Object({ token: Type.String({ description: 'The 3DS session token of redirect_url' }) })
/** What the ACS posts; not schema-checked, since a missing or odd field is sent on to the gateway as it came. */
interface TermUrlBody { MD?: unknown, PaRes?: unknown }

const html = (description: string) => ({ description, content: { 'text/html': { schema: Type.String() } } })

const pageSchema = {
  summary: '3-D Secure, Step 4: the page that sends the payer to the bank',
  tags: TAGS,
  params: TokenParams,
  response: {
    200: html('A form that submits itself to the bank\'s ACS with PaReq, MD and TermUrl'),
    404: html('The session is unknown, used or expired'),
    '5xx': errorResponse('The store failed')
  }
}

const termUrlSchema = {
  summary: '3-D Secure, Step 5: the TermUrl the bank posts MD and PaRes back to',
  tags: TAGS,
  params: TokenParams,
  response: {
    303: Type.Null({ description: 'To successRedirect (status executed or authorized), failureRedirect (error) or pendingRedirect (pending: the outcome is not known yet; a webhook or reconciliation reports it), with purchase_id and status in the query; a repeated post answers what the first did. An unknown or expired token: failureRedirect, without either' }),
    400: errorResponse('The form body cannot be read'),
    413: errorResponse('The body is over bodyLimit'),
    415: errorResponse('The body is not a form'),
    '5xx': errorResponse('The gateway or the store failed (502, 503, 504)')
  }
}

/** `GET {prefix}/3ds/:token` (Step 4) and the TermUrl `POST {prefix}/3ds/:token/return` (Step 5). */
export function threeDSRoutes (parent: FastifyInstance, ctx: QorePayContext): void {
  const scope = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { opts, client, store, outcomes } = ctx
  const settling = { client, outcomes, lookupAttempts: opts.lookupAttempts }
  const targets: Record<TermUrlStatus, string> = { executed: opts.successRedirect, authorized: opts.successRedirect, error: opts.failureRedirect, pending: opts.pendingRedirect }

  scope.get(sessionPath(':token', 'page'), { schema: pageSchema, logSerializers: redactingSerializers }, async (request, reply) => {
    const { token } = request.params
    const session = await openSession(store, token)
    const nonce = randomToken(16)
    reply
      .header('cache-control', 'no-store')
      .header('content-security-policy', contentSecurityPolicy(nonce))
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
    if (session === undefined) return reply.code(404).send(renderExpiredPage(nonce))
    return renderRedirectPage(session, sessionUrl(ctx.routesUrl, token, 'return'), nonce)
  })

  scope.post<{ Params: Static<typeof TokenParams>, Body: TermUrlBody }>(sessionPath(':token', 'return'), { schema: termUrlSchema, bodyLimit: opts.bodyLimit, logSerializers: redactingSerializers }, async (request, reply) => {
    const { token } = request.params
    const entry = await enterSession(store, token)
    if (entry.kind === 'unknown') return redirect(reply, opts.failureRedirect)
    if (entry.kind === 'answered') return redirect(reply, targets[entry.answer.status], entry.answer)

    const { session } = entry
    const body = request.body ?? {}
    const event = { purchaseId: session.purchaseId, source: '3ds' as const, reference: session.reference, maskedPan: session.maskedPan, authorization: session.authorization, recurringToken: session.recurringToken }
    const fields = {
      MD: typeof body.MD === 'string' ? body.MD : session.md,
      PaRes: typeof body.PaRes === 'string' ? body.PaRes : ''
    }
    let settled: Settled
    try {
      settled = await settle(settling, { step: 'callback', send: () => client.completeThreeDS(session.callbackUrl, fields, session.purchaseId), event }, request)
    } catch (err) {
      // Only a callback proven never sent may be tried again: put the session back for the payer's retry.
      // Anything that may have reached the gateway keeps the session taken, so it is never sent twice,
      // and a repeated post answers pending at once instead of waiting for an answer that never comes.
      if (err instanceof QorePayGatewayError && !err.sent) await putBackSession(store, token, session)
      else await remember(token, session, 'pending', request)
      throw err
    }
    // Still undecided at the gateway: the webhook or reconciliation reports it.
    const status = settled.kind === 'outcome' ? settled.outcome.status : 'pending'
    await remember(token, session, status, request)
    return redirect(reply, targets[status], { purchaseId: session.purchaseId, status })
  })

  /** The answer kept for a repeated post; a store failure here does not keep the payer from their answer. */
  async function remember (token: string, session: ThreeDSSession, status: TermUrlStatus, request: FastifyRequest): Promise<void> {
    try {
      await answerSession(store, token, session, status)
    } catch (err) {
      request.log.warn({ err, purchaseId: session.purchaseId }, `qorepay: the TermUrl answer for purchase ${session.purchaseId} could not be kept; a repeated post waits for it, then answers pending`)
    }
  }
}

/** Only to the configured redirects, never a URL from the request. */
function redirect (reply: FastifyReply, target: string, answer?: TermUrlAnswer): FastifyReply {
  const url = new URL(target)
  if (answer !== undefined) {
    url.searchParams.set('purchase_id', answer.purchaseId)
    url.searchParams.set('status', answer.status)
  }
  return reply.header('cache-control', 'no-store').redirect(url.href, 303)
}
