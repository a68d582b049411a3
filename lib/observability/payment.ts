import { stepChannel, traced } from './publish.js'

export type PaymentSource = 'direct' | 'saved_card'

/** `qorepay:payment`, one per `POST /payments` or saved-card payment. */
export interface PaymentContext {
  source: PaymentSource
  /** Set as soon as the gateway has created the purchase. */
  purchaseId?: string
  /** The answer's `status`: `executed`, `authorized`, `3DS_required`, `error` or `pending`. */
  status?: string
}

export const paymentChannel = stepChannel<PaymentContext>('qorepay:payment')

/**
 * Traces one payment. `work` gets the context (when someone listens) to
 * record the purchase id once it is known; `answerOf` picks the answer's
 * status and purchase id, and nothing else of it is published.
 */
export function tracePayment<T> (
  source: PaymentSource,
  work: (context?: PaymentContext) => Promise<T>,
  answerOf: (value: T) => { status: string, purchase_id: string }
): Promise<T> {
  return traced(paymentChannel, (): PaymentContext => ({ source }), work, (value, context) => {
    const { status, purchase_id: purchaseId } = answerOf(value)
    context.purchaseId = purchaseId
    context.status = status
    return status
  })
}
