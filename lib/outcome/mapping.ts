import type { Purchase, PurchaseStatus } from '../wire/purchase.js'
import type { S2SStatus } from '../wire/s2s-status.js'
import type { EventSource, OutcomeEvent } from '../events.js'
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

export function toOutcomeEvent (outcome: Outcome, base: { purchaseId: string, source: EventSource, reference?: string, maskedPan?: string }): OutcomeEvent {
  const event = { ...base, ...(outcome.purchase === undefined ? {} : { purchase: outcome.purchase }) }
  if (outcome.status !== 'error') return { ...event, status: outcome.status }
  return { ...event, status: 'error', error: { code: outcome.code, message: outcome.message } }
}
