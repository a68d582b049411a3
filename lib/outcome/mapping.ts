import type { Purchase, PurchaseStatus } from '../wire/purchase.js'
import type { S2SStatus } from '../wire/s2s-status.js'
import type { Authorization, EventSource, OutcomeEvent } from '../events.js'
import { gatewayMessage } from '../gateway/gateway-message.js'

/**
 * What the gateway's answers say about a card payment: pure functions from a
 * status (of a purchase, of a card post or callback answer) to an outcome,
 * and from an outcome to the event the hooks get. No I/O here.
 */

/** A final answer of the gateway, however it was learnt. */
export type Outcome =
  | { status: 'executed' | 'authorized', purchase?: Purchase }
  | { status: 'error', code: string, message: string, purchase?: Purchase }

/**
 * What a purchase's status says about the card payment; `undefined` while it
 * is not decided, or when it says nothing new (a released hold).
 */
export function outcomeOfStatus (status: PurchaseStatus | string): Outcome['status'] | undefined {
  switch (status) {
    case 'paid': case 'cleared': case 'settled': case 'pending_refund': case 'refunded': case 'chargeback':
      return 'executed'
    case 'hold': case 'preauthorized': case 'pending_capture':
      return 'authorized'
    case 'error': case 'blocked':
      return 'error'
    default:
      return undefined
  }
}

export function outcomeOfPurchase (purchase: Purchase): Outcome | undefined {
  const status = outcomeOfStatus(purchase.status)
  if (status !== 'error') return status === undefined ? undefined : { status, purchase }
  const attempts = purchase.transaction_data?.attempts ?? []
  // Newest first: the attempt that decided the purchase.
  const said = attempts[0]?.error
  return { status, code: said?.code ?? 'payment_failed', message: said?.message ?? 'The payment failed', purchase }
}

/** The card post's or the callback's answer, when it is final (not `3DS_required`). */
export function outcomeOfAnswer (answer: Exclude<S2SStatus, { status: '3DS_required' }>): Outcome {
  if (answer.status !== 'error') return { status: answer.status }
  const said = gatewayMessage(answer)
  return { status: 'error', code: said?.code ?? 'declined', message: said?.message ?? 'The payment was declined' }
}

/** A zero-amount card check (`preauthorized`), or money on hold; from the purchase's status, or before any answer from its amount. */
export function authorizationOf (purchase: Purchase): Authorization {
  return purchase.status === 'preauthorized' || purchase.purchase.total === 0 ? 'preauthorized' : 'hold'
}

/** What an outcome event carries besides the outcome. */
export interface EventBase {
  purchaseId: string
  source: EventSource
  reference?: string
  maskedPan?: string
  /**
   * What the path knew before the gateway answered, for an answer without the
   * purchase (the card post's, the callback's): `authorizationOf` the purchase
   * as created, and its id when the payer asked to save the card. A purchase
   * in the outcome decides instead.
   */
  authorization?: Authorization
  recurringToken?: string
}

/** The `eventId` of one purchase's outcome: the same on every path, instance and retry. */
export function outcomeEventId (purchaseId: string, status: Outcome['status']): string {
  return `${purchaseId}:${status}`
}

export function toOutcomeEvent (outcome: Outcome, base: EventBase): OutcomeEvent {
  const { authorization = 'hold', recurringToken, ...known } = base
  const { purchase } = outcome
  const event = { ...known, eventId: outcomeEventId(base.purchaseId, outcome.status), ...(purchase === undefined ? {} : { purchase }) }
  if (outcome.status === 'error') return { ...event, status: 'error', error: { code: outcome.code, message: outcome.message } }
  const token = purchase === undefined ? recurringToken : purchase.is_recurring_token === true ? purchase.id : undefined
  const saved = token === undefined ? {} : { recurringToken: token }
  if (outcome.status === 'executed') return { ...event, ...saved, status: 'executed' }
  return { ...event, ...saved, status: 'authorized', authorization: purchase === undefined ? authorization : authorizationOf(purchase) }
}
