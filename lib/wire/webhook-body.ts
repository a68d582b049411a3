import { Type, type Static } from '@sinclair/typebox'
import { Payment, Purchase } from './purchase.js'

const loose = { additionalProperties: true }

/** Webhook bodies: the Purchase (or, for `payment.refunded`, the Payment) plus `event_type`. */
export const PurchaseEvent = Type.Composite([Purchase, Type.Object({ event_type: Type.String() })], loose)
export const PaymentEvent = Type.Composite([Payment, Type.Object({ event_type: Type.String() })], loose)
export type PurchaseEvent = Static<typeof PurchaseEvent>
export type PaymentEvent = Static<typeof PaymentEvent>
