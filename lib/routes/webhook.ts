import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { QorePaySignatureError, QorePayValidationError } from '../errors.js'
import { ErrorResponse, TAGS, errorResponse } from './error-response.js'
import { callHook, runOnce } from '../outcome/reporter.js'
import { outcomeOfPurchase, toOutcomeEvent } from '../outcome/mapping.js'
import { CompanyKey, checkSignature, webhookKeys, type SignatureProblem } from '../webhook/signature.js'
import type { QorePayContext } from '../context.js'
import type { WebhookEvent } from '../events.js'
import { olderThan, parseDelivery, toWebhookEvent, type DeliverySource } from '../webhook/delivery.js'

type Source = DeliverySource
type Verify = (body: Buffer, header: string | string[] | undefined) => SignatureProblem | undefined | Promise<SignatureProblem | undefined>

/** A purchase is a few kilobytes; the limit only stops abuse, and never below the plugin's own. */
const BODY_LIMIT = 1024 * 1024
/** Seconds; a hint only, the gateway retries on its own schedule. */
const RETRY_AFTER = '1'
const EMPTY = Buffer.alloc(0)

type Fired = 'done' | 'in_progress' | 'hook_failed'

const Handled = Type.Object({ ok: Type.Literal(true) }, { description: 'Verified and handled, a duplicate or a stale outcome included' })
const NotDone = Type.Object({ ok: Type.Literal(false), status: Type.Union([Type.Literal('hook_failed'), Type.Literal('in_progress')]) })

function deliverySchema (summary: string) {
  return {
    summary,
    tags: TAGS,
    response: {
      200: Handled,
      400: errorResponse('Verified, but not a JSON object with an id (a webhook also needs event_type)'),
      401: errorResponse('X-Signature is missing, malformed or wrong'),
      413: errorResponse('The body is over the limit'),
      500: Type.Union([NotDone, ErrorResponse], { description: 'A hook threw: nothing was marked done, the gateway\'s retry runs it again' }),
      502: errorResponse('The company key could not be fetched (callback only)'),
      503: Type.Union([NotDone, ErrorResponse], { description: 'Being handled by another request (Retry-After), or the store failed' })
    }
  }
}

/**
 * `POST {prefix}/webhook` (gateway webhooks, signed by `webhookPublicKey`)
 * and `POST {prefix}/callback` (the purchase's `success_callback`, signed by
 * the company key). Every verified delivery fires `onWebhook` once and
 * reports the outcome it carries through the exactly-once outcome hooks; the
 * answer is 2xx only when both are done, so the gateway's retries finish
 * whatever a failing hook or store left undone.
 */
export function webhookRoutes (scope: FastifyInstance, ctx: QorePayContext): void {
  const { opts, client, store, outcomes, log } = ctx
  // Parsed now so that a bad PEM fails registration, not the first webhook.
  const keys = webhookKeys(opts.webhookPublicKeys)
  const companyKey = new CompanyKey(() => client.publicKey())
  if (keys.length === 0) {
    log.warn(`qorepay: POST ${ctx.routesUrl}/webhook is not registered because webhookPublicKey is not set; outcomes of payers who leave the 3-D Secure page are then learnt only through the success callback`)
  }

  // Its own scope: raw bytes for these routes only, the host's and our other parsers untouched.
  scope.register(async (raw) => {
    raw.removeAllContentTypeParsers()
    raw.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: Math.max(opts.bodyLimit, BODY_LIMIT) }, (_request, body, done) => {
      done(null, body)
    })
    if (keys.length > 0) {
      raw.post('/webhook', { schema: deliverySchema('A signed gateway webhook') }, (request, reply) => receive('webhook', (body, header) => checkSignature(body, header, keys), request, reply))
    }
    raw.post('/callback', { schema: deliverySchema('The purchase\'s signed success_callback') }, (request, reply) => receive('callback', (body, header) => companyKey.check(body, header), request, reply))
  })

  async function receive (source: Source, verify: Verify, request: FastifyRequest, reply: FastifyReply) {
    const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY
    const problem = await verify(raw, request.headers['x-signature'])
    if (problem !== undefined) {
      request.log.warn({ source, problem, bytes: raw.length }, `qorepay: ${source} refused: ${problem} X-Signature`)
      throw new QorePaySignatureError(`${problem} X-Signature`)
    }
    const delivery = parseDelivery(raw, source)
    if ('problem' in delivery) {
      // Signed, so the platform sent it, but not in words the plugin can read: nothing is
      // marked, and the 400 has the platform retry it (a fixed plugin or schema then reads it).
      request.log.warn({ source, bytes: raw.length }, `qorepay: ${source} refused: ${delivery.problem}; the gateway will retry it`)
      throw new QorePayValidationError(delivery.problem)
    }
    const { body } = delivery
    const event = toWebhookEvent(delivery, source)
    const { lifetimeMs } = outcomes.times
    if (olderThan(body, 'updated_on', lifetimeMs)) {
      // Its dedup mark may be gone, so it cannot be told from a replay: acknowledged so the platform stops, and nothing fires.
      request.log.info({ purchaseId: event.purchaseId, source, updatedOn: body.updated_on }, `qorepay: ${source} for purchase ${event.purchaseId} last changed longer ago than its marks live; acknowledged without firing`)
      return { ok: true }
    }

    // Duplicates are byte-identical, so the body's hash names the delivery.
    const fired = await fireOnce(`${source}:${createHash('sha256').update(raw).digest('hex')}`, event, request)
    if (fired !== 'done') return retryLater(reply, fired)

    const outcome = body.type === 'payment' ? undefined : outcomeOfPurchase(body)
    if (outcome === undefined) return { ok: true }
    if (body.brand_id !== opts.brandId) {
      // A company-wide webhook also carries other brands' purchases; their outcomes are not ours to report.
      request.log.info({ purchaseId: event.purchaseId, source }, `qorepay: ${source} for purchase ${event.purchaseId} of another brand; no outcome reported`)
      return { ok: true }
    }
    if (olderThan(body, 'created_on', lifetimeMs)) {
      // Its outcome was reported when it was new, and that mark may be gone: reporting it now could fire it twice.
      request.log.info({ purchaseId: event.purchaseId, source }, `qorepay: ${source} for purchase ${event.purchaseId}, created longer ago than its outcome marks live; no outcome reported`)
      return { ok: true }
    }
    const reference = body.reference ?? undefined
    const result = await outcomes.report(toOutcomeEvent(outcome, { purchaseId: event.purchaseId, source, reference }), request)
    if (result === 'in_progress' || result === 'hook_failed') return retryLater(reply, result)
    // fired, duplicate or stale (a later outcome was reported first): settled either way.
    return { ok: true }
  }

  /** `onWebhook` once per delivery; a failed hook is run again by the gateway's retry. */
  async function fireOnce (key: string, event: WebhookEvent, request: FastifyRequest): Promise<Fired> {
    const result = await runOnce(store, key, request.log, () => callHook('onWebhook', opts.onWebhook, event, request, request.log), { times: outcomes.times })
    // Without an isStale check runOnce never answers stale; it would be settled too.
    return result === 'fired' || result === 'duplicate' || result === 'stale' ? 'done' : result
  }

  function retryLater (reply: FastifyReply, why: Exclude<Fired, 'done'>) {
    if (why === 'hook_failed') return reply.code(500).send({ ok: false, status: why })
    reply.request.log.info('qorepay: this delivery is being handled by another request; the gateway will retry it')
    return reply.code(503).header('retry-after', RETRY_AFTER).send({ ok: false, status: why })
  }
}
