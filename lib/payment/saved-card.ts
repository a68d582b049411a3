import type { Authorization } from '../events.js'
import { QorePayValidationError } from '../errors.js'
import { checkedId } from '../gateway/client.js'
import { QorePayGatewayError } from '../gateway/gateway-error.js'
import { outcomeOfPurchase, toOutcomeEvent, type Outcome } from '../outcome/mapping.js'
import { payerMessage } from '../outcome/payer-message.js'
import { tracePayment } from '../observability/payment.js'
import type { QorePayContext } from '../context.js'
import { idempotent, type Answers, type Bind } from './idempotency.js'
import { purchaseInputCheck, type PurchaseInput } from './purchase-input.js'
import { lookupOutcome, outcomeUnknown } from './settle.js'
import { schemaReason } from '../wire/schema-problem.js'

/**
 * `app.qorepay.payWithSavedCard`: a new purchase paid with a card saved
 * earlier (`remember_card: "on"`), server to server, no payer present. The
 * same guarantees as `POST /payments`: an idempotency key held before the
 * charge, an unknown outcome looked up and never charged again, the outcome
 * hooks once (`source: 'saved_card'`).
 */

export type SavedCardResult =
  | { status: 'executed', purchaseId: string }
  | { status: 'authorized', purchaseId: string, authorization: Authorization }
  /** Not decided yet (`pending_charge`, or a lost answer): the webhook or a lookup tells, the hooks fire then. */
  | { status: 'pending', purchaseId: string }
  /** `message`: the plugin's fixed text for `code`, never the gateway's words. */
  | { status: 'error', purchaseId: string, code: string, message: string }

export interface SavedCardOptions {
  /**
   * The same key with the same input and token resolves what the first call
   * resolved, without a second purchase or charge; while the first is running
   * a second call fails FST_QOREPAY_IDEMPOTENCY_CONFLICT, another input under
   * the key FST_QOREPAY_IDEMPOTENCY_MISMATCH.
   */
  idempotencyKey?: string
}

export type PayWithSavedCard = (input: PurchaseInput, recurringToken: string, options?: SavedCardOptions) => Promise<SavedCardResult>

export function savedCardPayments (ctx: QorePayContext): PayWithSavedCard {
  const { opts, client, store, outcomes, log } = ctx
  const answers: Answers<SavedCardResult> = {
    final: (result) => result.status !== 'pending',
    // A retry under a key bound to a purchase: looked up, never charged again.
    lookUp: async ({ purchaseId, reference }) => await resultOf({ purchaseId, reference }, await lookupOutcome(client, purchaseId, opts.lookupAttempts, log))
  }
  // Keys of their own: a key a payer's browser sent to POST /payments never answers for a saved card.
  const idempotency = {
    store,
    secret: opts.apiKey,
    scope: `${ctx.storeScope}:saved_card`,
    answers,
    discard: async (purchaseId: string) => await ctx.tracking?.stop(purchaseId)
  }

  return async function payWithSavedCard (input, recurringToken, options = {}) {
    if (!purchaseInputCheck.Check(input)) {
      const problem = purchaseInputCheck.Errors(input).First()!
      throw new QorePayValidationError(`input${problem.path.replaceAll('/', '.')}: ${schemaReason(problem)}`)
    }
    const token = checkedId(recurringToken, 'recurringToken')
    const { idempotencyKey } = options
    const call = { key: idempotencyKey, body: { input, recurringToken: token }, log }
    const { result } = await tracePayment('saved_card', () => idempotent(call, idempotency, (bind) => pay(input, token, bind)),
      ({ result }) => ({ status: result.status, purchase_id: result.purchaseId }))
    return result
  }

  async function pay (input: PurchaseInput, token: string, bind: Bind): Promise<SavedCardResult> {
    const purchase = await client.createPurchase({
      ...input,
      brand_id: opts.brandId,
      success_callback: input.success_callback ?? `${ctx.routesUrl}/callback`
    })
    const purchaseId = purchase.id
    // Tracked before the charge, as a card post is: reconciliation finds an outcome this process never reports.
    const reference = purchase.reference ?? undefined
    await ctx.tracking?.track({ purchaseId, source: 'saved_card', reference })
    // Bound before the charge: a retry under the key looks this purchase up and never charges again.
    await bind({ purchaseId, reference })
    let outcome: Outcome | undefined
    try {
      outcome = outcomeOfPurchase(await client.charge(purchaseId, token))
    } catch (err) {
      // Never sent: nothing happened, the caller may try again.
      if (!(err instanceof QorePayGatewayError) || !err.sent) throw err
      // A decline is a 400 as much as a refused token is: only the purchase tells them apart (error, or still
      // created). An unknown outcome (a timeout, a 5xx) is looked up the same way, with more patience, and
      // never charged again.
      const unknown = outcomeUnknown(err)
      log.warn({ err, purchaseId }, `qorepay: charge with a saved card for purchase ${purchaseId} ${unknown ? 'has an unknown outcome' : 'was refused'}; looking it up`)
      outcome = await lookupOutcome(client, purchaseId, unknown ? opts.lookupAttempts : 1, log)
      if (outcome === undefined && !unknown) throw err
    }
    return await resultOf({ purchaseId, reference }, outcome)
  }

  /**
   * The result of an outcome (`undefined`: still undecided), reported through the hooks once. Every outcome
   * here is read off a Purchase (the charge's answer, or a lookup), whose own status tells hold from preauthorized.
   */
  async function resultOf (known: { purchaseId: string, reference?: string }, outcome: Outcome | undefined): Promise<SavedCardResult> {
    const { purchaseId } = known
    if (outcome === undefined) return { status: 'pending', purchaseId }
    const event = toOutcomeEvent(outcome, { ...known, source: 'saved_card' })
    await outcomes.reportQuietly(event, undefined)
    if (event.status === 'error') return { status: 'error', purchaseId, code: event.error.code, message: payerMessage(event.error.code) }
    if (event.status === 'executed') return { status: 'executed', purchaseId }
    return { status: 'authorized', purchaseId, authorization: event.authorization }
  }
}
