import type { IncomingHttpHeaders } from 'node:http'
import type { Payment, Purchase, TransactionAttempt } from '../wire/purchase.js'
import { renderAcsError, renderAcsPage } from './acs-page.js'
import { checkCard } from './card-post-rules.js'
import type { SimRoute } from './contract.js'
import type { Deliveries } from './deliveries.js'
import { checkPurchaseBody, isAmount, newPurchase, newRefund, nowSeconds, recordPayment, setStatus } from './purchases.js'
import { fieldErrors, htmlReply, jsonReply, platformError, type Reply } from './reply.js'
import { cardBrand, decideCard, FAILURES, type FailureCode } from './test-cards.js'
// The masked PAN is the only card data the simulator keeps, masked as the plugin masks it.
import { maskPan } from '../wire/pan.js'
import { isWebUrl } from '../wire/web-url.js'
import { ThreeDSTokens, type ThreeDSResult } from './three-ds-tokens.js'

/**
 * The simulated platform's behaviour behind each route: the purchase state
 * machine, the S2S card post, the 3-D Secure round trip and the events each
 * step raises. Handlers return a Reply; the HTTP layer decides (faults) what
 * reaches the wire.
 */

export interface PlatformRequest {
  route: SimRoute
  /** The purchase id in the path, for routes that have one. */
  id: string
  method: string
  url: URL
  headers: IncomingHttpHeaders
  body: string
}

/** A 3-D Secure step in progress: what was issued, never the card itself. */
interface SimThreeDSStep {
  paReq: string
  md: string
  cvcOk: boolean
  /** remember_card was "on": a success makes the purchase a recurring token. */
  remember: boolean
  attempt: Omit<TransactionAttempt, 'successful' | 'error'>
  /** The callback's answer once decided, repeated to later callbacks. */
  final?: Reply
}

type Attempt = Omit<TransactionAttempt, 'successful' | 'error'>

/** What a slow acquirer is still working on, finished by `completePending`. */
type PendingOperation =
  | { kind: 'capture', amount: number }
  | { kind: 'release' }
  | { kind: 'refund', amount: number }
  | { kind: 'charge', attempt: Attempt }

const PENDING_STATUS = { capture: 'pending_capture', release: 'pending_release', refund: 'pending_refund', charge: 'pending_charge' } as const
// Where a refused operation leaves the purchase: as it was before it.
const BEFORE_PENDING = { capture: 'hold', release: 'hold', refund: 'paid', charge: 'error' } as const

const notFound = () => platformError(404, 'Not found.', 'not_found')
const s2sError = (code: string, message: string) => jsonReply(400, { status: 'error', code, message })

type Parsed = { ok: true, value: unknown } | { ok: false, reply: Reply }
function parseRequestJson (body: string, empty: unknown): Parsed {
  if (body.trim() === '') return { ok: true, value: empty }
  try {
    return { ok: true, value: JSON.parse(body) }
  } catch (err) {
    return { ok: false, reply: platformError(400, `JSON parse error - ${(err as Error).message}`, 'parse_error') }
  }
}

export interface PlatformOptions { apiKey: string, s2sToken: string, brandId: string, slowAcquirer?: boolean }

export class Platform {
  readonly purchases = new Map<string, Purchase>()
  origin = ''
  readonly #opts: PlatformOptions
  readonly #deliveries: Deliveries
  readonly #tokens = new ThreeDSTokens()
  // Keyed by the Purchase object: whoever clears `purchases` frees these too.
  readonly #sessions = new WeakMap<Purchase, SimThreeDSStep>()
  readonly #refunds = new WeakMap<Purchase, Payment[]>()
  readonly #pending = new WeakMap<Purchase, PendingOperation>()
  /** Capture, release, refund and charge answer the Purchase in `pending_*`; `completePending` finishes them. */
  slowAcquirer: boolean
  /** Charges with a saved card are declined with this code (the bank's answer), until unset. */
  declineCharges: FailureCode | undefined

  constructor (opts: PlatformOptions, deliveries: Deliveries) {
    this.#opts = opts
    this.#deliveries = deliveries
    this.slowAcquirer = opts.slowAcquirer ?? false
  }

  handle (req: PlatformRequest): Reply {
    switch (req.route) {
      case 'acs': return this.#acs(req)
      case 'callback': return this.#callback(req)
      case 'direct_post': return this.#directPost(req)
    }
    if (req.headers.authorization !== `Bearer ${this.#opts.apiKey}`) return unauthorized()
    if (req.route === 'public_key') return jsonReply(200, this.#deliveries.companyKey.publicPem)
    if (req.route === 'purchases.create') return this.#create(req.body)
    const purchase = this.purchases.get(req.id)
    if (!purchase) return notFound()
    switch (req.route) {
      case 'purchases.get': return jsonReply(200, purchase)
      case 'purchases.capture': return this.#capture(purchase, req.body)
      case 'purchases.release': return this.#release(purchase)
      case 'purchases.cancel': return this.#cancel(purchase)
      case 'purchases.refund': return this.#refund(purchase, req.body)
      case 'purchases.charge': return this.#charge(purchase, req.body)
      case 'purchases.delete_recurring_token': return this.#deleteRecurringToken(purchase)
    }
  }

  /** The slow acquirer is done: the pending capture, release, refund or charge succeeds, or (`fail`) is refused. */
  completePending (purchaseId: string, result: 'approve' | 'fail'): void {
    const purchase = this.purchases.get(purchaseId)
    const operation = purchase && this.#pending.get(purchase)
    if (!purchase || !operation) throw new Error(`completePending: purchase ${purchaseId} has nothing pending`)
    this.#pending.delete(purchase)
    if (result === 'fail') {
      if (operation.kind === 'charge') {
        this.#recordFailure(purchase, operation.attempt, 'do_not_honour')
        return
      }
      setStatus(purchase, BEFORE_PENDING[operation.kind])
      return
    }
    switch (operation.kind) {
      case 'capture': return this.#captured(purchase, operation.amount)
      case 'release': return this.#released(purchase)
      case 'refund':
        this.#refunded(purchase, operation.amount)
        return
      case 'charge':
        this.#approve(purchase, operation.attempt, false)
    }
  }

  /** Re-sends an event for a purchase (`payment.refunded` carries its latest refund). */
  emit (purchaseId: string, eventType: string): Promise<void> {
    const purchase = this.purchases.get(purchaseId)
    if (!purchase) return Promise.reject(new Error(`emit: unknown purchase ${purchaseId}`))
    if (eventType === 'payment.refunded') {
      const refund = this.#refunds.get(purchase)?.at(-1)
      if (!refund) return Promise.reject(new Error(`emit: purchase ${purchaseId} has no refund`))
      return this.#deliveries.emit(purchaseId, eventType, refund)
    }
    return this.#deliveries.emit(purchaseId, eventType, purchase)
  }

  /** The bank decided while nobody came back to the TermUrl. */
  completeThreeDS (purchaseId: string, result: ThreeDSResult): void {
    const purchase = this.purchases.get(purchaseId)
    const session = purchase && this.#sessions.get(purchase)
    if (!purchase || !session) throw new Error(`completeThreeDS: no 3-D Secure step for purchase ${purchaseId}`)
    if (!session.final) session.final = this.#finishThreeDS(purchase, session, result)
  }

  #create (body: string): Reply {
    const parsed = parseRequestJson(body, {})
    if (!parsed.ok) return parsed.reply
    const checked = checkPurchaseBody(parsed.value, this.#opts.brandId)
    if (!checked.ok) return fieldErrors(checked.errors)
    const purchase = newPurchase(checked.input, this.#opts.brandId, this.origin)
    this.purchases.set(purchase.id, purchase)
    return jsonReply(201, purchase)
  }

  /** `{amount}` of capture and refund: absent means all of `max`. */
  #amount (body: string, max: number): { ok: true, amount: number } | { ok: false, reply: Reply } {
    const parsed = parseRequestJson(body, {})
    if (!parsed.ok) return parsed
    const amount = (parsed.value as { amount?: unknown } | null)?.amount ?? max
    if (!isAmount(amount) || amount === 0) return { ok: false, reply: fieldErrors({ amount: [{ message: 'Must be a positive integer.', code: 'invalid' }] }) }
    if (amount > max) return { ok: false, reply: fieldErrors({ amount: [{ message: `Must not exceed ${max}.`, code: 'invalid' }] }) }
    return { ok: true, amount }
  }

  #capture (purchase: Purchase, body: string): Reply {
    if (purchase.status !== 'hold') return operationError(purchase, 'capture')
    const checked = this.#amount(body, purchase.payment!.amount)
    if (!checked.ok) return checked.reply
    if (this.slowAcquirer) return this.#startPending(purchase, { kind: 'capture', amount: checked.amount })
    this.#captured(purchase, checked.amount)
    return jsonReply(200, purchase)
  }

  #captured (purchase: Purchase, amount: number): void {
    recordPayment(purchase, amount, true)
    setStatus(purchase, 'paid')
    this.#deliveries.publish(purchase.id, 'purchase.captured', purchase)
    this.#paid(purchase)
  }

  #release (purchase: Purchase): Reply {
    if (purchase.status !== 'hold') return operationError(purchase, 'release')
    if (this.slowAcquirer) return this.#startPending(purchase, { kind: 'release' })
    this.#released(purchase)
    return jsonReply(200, purchase)
  }

  #released (purchase: Purchase): void {
    setStatus(purchase, 'released')
    this.#deliveries.publish(purchase.id, 'purchase.released', purchase)
  }

  /** A slow acquirer: the Purchase answers in `pending_*` now, the operation finishes at `completePending`. */
  #startPending (purchase: Purchase, operation: PendingOperation): Reply {
    this.#pending.set(purchase, operation)
    const status = PENDING_STATUS[operation.kind]
    setStatus(purchase, status)
    this.#deliveries.publish(purchase.id, `purchase.${status}`, purchase)
    return jsonReply(200, purchase)
  }

  #cancel (purchase: Purchase): Reply {
    if (purchase.status !== 'created') return wrongStatus(purchase, 'cancel')
    setStatus(purchase, 'cancelled')
    this.#deliveries.publish(purchase.id, 'purchase.cancelled', purchase)
    return jsonReply(200, purchase)
  }

  #refund (purchase: Purchase, body: string): Reply {
    if (purchase.status !== 'paid') return operationError(purchase, 'refund')
    const checked = this.#amount(body, purchase.refundable_amount)
    if (!checked.ok) return checked.reply
    if (this.slowAcquirer) return this.#startPending(purchase, { kind: 'refund', amount: checked.amount })
    return jsonReply(200, this.#refunded(purchase, checked.amount))
  }

  #refunded (purchase: Purchase, amount: number): Payment {
    const refund = newRefund(purchase, amount)
    const refunds = this.#refunds.get(purchase) ?? []
    refunds.push(refund)
    this.#refunds.set(purchase, refunds)
    purchase.refundable_amount -= amount
    // Partly refunded: paid still (back from pending_refund when the acquirer was slow).
    if (purchase.refundable_amount === 0) setStatus(purchase, 'refunded')
    else if (purchase.status !== 'paid') setStatus(purchase, 'paid')
    else purchase.updated_on = refund.created_on
    this.#deliveries.publish(purchase.id, 'payment.refunded', refund)
    return refund
  }

  /** `POST /purchases/{id}/charge/`: pays a new purchase with the card saved under `recurring_token`. */
  #charge (purchase: Purchase, body: string): Reply {
    const parsed = parseRequestJson(body, {})
    if (!parsed.ok) return parsed.reply
    const token = (parsed.value as { recurring_token?: unknown } | null)?.recurring_token
    if (typeof token !== 'string' || token === '') return fieldErrors({ recurring_token: [{ message: 'This field is required.', code: 'required' }] })
    // Like the card post: a new or failed purchase may be paid, anything else is decided.
    if (purchase.status !== 'created' && purchase.status !== 'error') return operationError(purchase, 'charge')
    const saved = this.purchases.get(token)
    // Only a purchase that saved a card is a token, and only until it is deleted.
    if (saved?.is_recurring_token !== true) {
      return platformError(400, 'The recurring token is not valid: no saved card, or deleted.', 'purchase_charge_error')
    }
    // A token's newest successful attempt is the payment that saved the card: its masked PAN and brand.
    const saving = saved.transaction_data.attempts.find((a) => a.successful) as TransactionAttempt
    const attempt: Attempt = {
      type: 'recurring_execute',
      payment_method: 'card',
      flow: 'recurring',
      extra: { ...saving.extra },
      country: null,
      client_ip: null,
      processing_time: null
    }
    purchase.recurring_token = saved.id
    if (this.declineCharges !== undefined) {
      this.#recordFailure(purchase, attempt, this.declineCharges)
      return platformError(400, `The charge was declined: ${FAILURES[this.declineCharges]}.`, 'purchase_charge_error')
    }
    if (this.slowAcquirer) return this.#startPending(purchase, { kind: 'charge', attempt })
    this.#approve(purchase, attempt, false)
    return jsonReply(200, purchase)
  }

  /** `POST /purchases/{id}/delete_recurring_token/`: the saved card is gone; charges with it are refused. */
  #deleteRecurringToken (purchase: Purchase): Reply {
    if (purchase.is_recurring_token !== true) {
      return platformError(400, 'This purchase is not a recurring token.', 'purchase_delete_recurring_token_error')
    }
    purchase.is_recurring_token = false
    purchase.transaction_data.attempts.unshift({
      type: 'delete_recurring_token', successful: true, payment_method: 'card', flow: 'recurring', extra: {}, country: null, client_ip: null, processing_time: null, error: null
    })
    purchase.updated_on = nowSeconds()
    this.#deliveries.publish(purchase.id, 'purchase.recurring_token_deleted', purchase)
    return jsonReply(200, purchase)
  }

  #directPost (req: PlatformRequest): Reply {
    if (req.url.searchParams.get('s2s') !== 'true') {
      return platformError(400, 'Server-to-server card posts need ?s2s=true.', 's2s_required')
    }
    if (req.headers.authorization !== `Bearer ${this.#opts.s2sToken}`) return unauthorized()
    const purchase = this.purchases.get(req.id)
    if (!purchase) return notFound()
    if (!purchase.direct_post_url) {
      return platformError(400, 'Direct post needs success_redirect and failure_redirect on the purchase.', 'direct_post_not_enabled')
    }
    const parsed = parseRequestJson(req.body, undefined)
    if (!parsed.ok) return parsed.reply
    if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value)) {
      return platformError(400, 'Invalid data. Expected a dictionary.', 'invalid')
    }
    const checked = checkCard(parsed.value as Record<string, unknown>)
    if (!checked.ok) return fieldErrors(checked.errors)
    // A failed payment may be tried again, as on the platform's checkout; anything else is decided.
    if (purchase.status !== 'created' && purchase.status !== 'error') {
      return s2sError('purchase_not_payable', `The purchase cannot be paid (status ${purchase.status}).`)
    }
    const { card } = checked
    const attempt = {
      type: 'execute',
      payment_method: 'card',
      flow: 'direct_post',
      extra: { masked_pan: maskPan(card.cardNumber), card_brand: cardBrand(card.cardNumber) },
      country: null,
      client_ip: card.remoteIp,
      processing_time: null
    }
    const remember = card.rememberCard === 'on'
    const outcome = decideCard(card.cardNumber, card.expires, card.cvc, new Date())
    if (outcome.kind === 'failed') return this.#fail(purchase, attempt, outcome.code)
    if (outcome.kind === 'approved') return jsonReply(200, { status: this.#approve(purchase, attempt, remember) })

    const session: SimThreeDSStep = {
      paReq: this.#tokens.paReq(purchase.id),
      md: outcome.method === 'POST' ? this.#tokens.md() : '',
      cvcOk: outcome.cvcOk,
      remember,
      attempt
    }
    this.#sessions.set(purchase, session)
    setStatus(purchase, 'pending_execute')
    this.#deliveries.publish(purchase.id, 'purchase.pending_execute', purchase)
    return jsonReply(200, {
      status: '3DS_required',
      Method: outcome.method,
      PaReq: session.paReq,
      MD: session.md,
      URL: `${this.origin}/acs/`,
      callback_url: `${this.origin}/s2s/callback/${purchase.id}/`
    })
  }

  #acs (req: PlatformRequest): Reply {
    const params = req.method === 'GET' ? req.url.searchParams : new URLSearchParams(req.body)
    const paReq = params.get('PaReq')
    const termUrl = params.get('TermUrl')
    if (!paReq || !termUrl) return htmlReply(400, renderAcsError('PaReq and TermUrl are required.'))
    if (!isWebUrl(termUrl)) return htmlReply(400, renderAcsError('TermUrl must be an absolute http(s) URL.'))
    const purchase = this.purchases.get(this.#tokens.purchaseOf(paReq) ?? '')
    const session = purchase && this.#sessions.get(purchase)
    if (session?.paReq !== paReq) return htmlReply(400, renderAcsError('Unknown PaReq.'))
    const { id: purchaseId, purchase: { total, currency } } = purchase as Purchase
    return htmlReply(200, renderAcsPage({
      paReq,
      // The ACS echoes MD untouched; checking it is the callback's job.
      md: params.get('MD') ?? '',
      termUrl,
      amount: `${(total / 100).toFixed(2)} ${currency}`,
      approvePaRes: this.#tokens.paRes(purchaseId, 'approve'),
      failPaRes: this.#tokens.paRes(purchaseId, 'fail')
    }))
  }

  #callback (req: PlatformRequest): Reply {
    const purchase = this.purchases.get(req.id)
    if (!purchase) return notFound()
    const session = this.#sessions.get(purchase)
    if (!session) return s2sError('no_3ds_pending', 'This purchase has no 3-D Secure step to complete.')
    const params = new URLSearchParams(req.body)
    const result = this.#tokens.verify(params.get('PaRes') ?? '', purchase.id)
    if (!result) return s2sError('invalid_pares', 'PaRes is missing, forged or for another purchase.')
    if ((params.get('MD') ?? '') !== session.md) return s2sError('invalid_md', 'MD does not match the one issued.')
    session.final ??= this.#finishThreeDS(purchase, session, result)
    return session.final
  }

  #finishThreeDS (purchase: Purchase, session: SimThreeDSStep, result: ThreeDSResult): Reply {
    if (result === 'fail') return this.#fail(purchase, session.attempt, '3ds_failed')
    if (!session.cvcOk) return this.#fail(purchase, session.attempt, 'incorrect_cvc')
    return jsonReply(200, { status: this.#approve(purchase, session.attempt, session.remember) })
  }

  #approve (purchase: Purchase, attempt: Attempt, remember: boolean): 'executed' | 'authorized' {
    // Newest first, as on the platform: attempts[0] is the one that decided.
    purchase.transaction_data.attempts.unshift({ ...attempt, successful: true, error: null })
    if (remember || purchase.force_recurring) purchase.is_recurring_token = true
    const total = purchase.purchase.total
    if (purchase.skip_capture) {
      recordPayment(purchase, total, false)
      // A zero-amount card check saves the card and reserves nothing: preauthorized, not a hold.
      const status = total === 0 ? 'preauthorized' : 'hold'
      setStatus(purchase, status)
      this.#deliveries.publish(purchase.id, `purchase.${status}`, purchase)
      return 'authorized'
    }
    recordPayment(purchase, total, true)
    setStatus(purchase, 'paid')
    this.#deliveries.publish(purchase.id, 'purchase.paid', purchase)
    this.#paid(purchase)
    return 'executed'
  }

  #fail (purchase: Purchase, attempt: Attempt, code: FailureCode): Reply {
    this.#recordFailure(purchase, attempt, code)
    return s2sError(code, FAILURES[code])
  }

  #recordFailure (purchase: Purchase, attempt: Attempt, code: FailureCode): void {
    purchase.transaction_data.attempts.unshift({ ...attempt, successful: false, error: { code, message: FAILURES[code] } })
    setStatus(purchase, 'error')
    this.#deliveries.publish(purchase.id, 'purchase.payment_failure', purchase)
  }

  #paid (purchase: Purchase): void {
    if (purchase.success_callback) this.#deliveries.successCallback(purchase.id, purchase.success_callback, purchase)
  }
}

function unauthorized (): Reply {
  return platformError(401, 'Invalid token.', 'authentication_failed')
}

/** A cancel the purchase's status does not allow. */
function wrongStatus (purchase: Purchase, action: string): Reply {
  return platformError(400, `Cannot ${action} a purchase with status ${purchase.status}.`, 'purchase_wrong_status')
}

/** A capture, release, refund or charge the purchase's status does not allow: the platform's `purchase_<action>_error`. */
function operationError (purchase: Purchase, action: 'capture' | 'release' | 'refund' | 'charge'): Reply {
  return platformError(400, `Cannot ${action} a purchase with status ${purchase.status}.`, `purchase_${action}_error`)
}
