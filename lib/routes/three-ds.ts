import type { FastifyInstance, FastifyReply } from 'fastify'
import { contentSecurityPolicy, renderExpiredPage, renderRedirectPage } from '../three-ds/page.js'
import { type ThreeDSSession } from '../three-ds/session.js'
import { isSessionToken, sessionKey } from '../three-ds/session.js'
import { lookupOutcome, outcomeOfAnswer, toOutcomeEvent, type Outcome } from '../outcome/mapping.js'
import type { GatewayCallError } from '../gateway/client.js'
import type { QorePayContext } from '../context.js'
import { redactingSerializers } from './log-redaction.js'
import { randomToken } from '../three-ds/random-token.js'

interface TokenParams { token: string }
interface TermUrlBody { MD?: unknown, PaRes?: unknown }

/** `GET {prefix}/3ds/:token` (Step 4) and the TermUrl `POST {prefix}/3ds/:token/return` (Step 5). */
export function threeDSRoutes (scope: FastifyInstance, ctx: QorePayContext): void {
  const { opts, client, store, reportQuietly } = ctx

  scope.get<{ Params: TokenParams }>('/3ds/:token', { logSerializers: redactingSerializers }, async (request, reply) => {
    const { token } = request.params
    const session = isSessionToken(token) ? await store.get(sessionKey(token)) as ThreeDSSession | undefined : undefined
    const nonce = randomToken(16)
    reply
      .header('cache-control', 'no-store')
      .header('content-security-policy', contentSecurityPolicy(nonce))
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
    if (session === undefined) return reply.code(404).send(renderExpiredPage(nonce))
    return renderRedirectPage(session, termUrl(token), nonce)
  })

  scope.post<{ Params: TokenParams, Body: TermUrlBody }>('/3ds/:token/return', { bodyLimit: opts.bodyLimit, logSerializers: redactingSerializers }, async (request, reply) => {
    const { token } = request.params
    // take: of two concurrent posts of the same TermUrl, only one completes the payment.
    const session = isSessionToken(token) ? await store.take(sessionKey(token)) as ThreeDSSession | undefined : undefined
    if (session === undefined) return redirect(reply, opts.failureRedirect)

    const body = request.body ?? {}
    const fields = {
      MD: typeof body.MD === 'string' ? body.MD : session.md,
      PaRes: typeof body.PaRes === 'string' ? body.PaRes : ''
    }
    let outcome: Outcome | undefined
    try {
      const answer = await client.completeThreeDS(session.callbackUrl, fields)
      // A second 3DS round is not part of the S2S flow; treat it as a failure to authenticate.
      outcome = answer.status === '3DS_required'
        ? { status: 'error', code: '3ds_failed', message: '3-D Secure did not complete' }
        : outcomeOfAnswer(answer)
    } catch (err) {
      if (!(err as GatewayCallError).sent) {
        // Never reached the gateway: put the session back so the payer's retry can finish.
        const ttl = session.expiresAt - Date.now()
        if (ttl > 0) await store.set(sessionKey(token), session, ttl)
        throw err
      }
      request.log.warn({ err, purchaseId: session.purchaseId }, `qorepay: 3DS callback for purchase ${session.purchaseId} has an unknown outcome; looking it up`)
      outcome = await lookupOutcome(client, session.purchaseId, opts.lookupAttempts, request.log)
    }
    if (outcome === undefined) {
      // Still undecided at the gateway: the webhook will report it; the payer lands on the failure page for now.
      return redirect(reply, opts.failureRedirect, session.purchaseId)
    }
    await reportQuietly(toOutcomeEvent(outcome, { purchaseId: session.purchaseId, source: '3ds', reference: session.reference, maskedPan: session.maskedPan }), request)
    return redirect(reply, outcome.status === 'error' ? opts.failureRedirect : opts.successRedirect, session.purchaseId)
  })

  function termUrl (token: string): string {
    return `${opts.publicUrl}${opts.prefix}/3ds/${token}/return`
  }
}

/** Only to the configured redirects, never a URL from the request. */
function redirect (reply: FastifyReply, target: string, purchaseId?: string): FastifyReply {
  const url = new URL(target)
  if (purchaseId !== undefined) url.searchParams.set('purchase_id', purchaseId)
  return reply.header('cache-control', 'no-store').redirect(url.href, 303)
}
