import { Type, type Static } from '@sinclair/typebox'
import { Payment, Purchase } from './purchase.js'

const loose = { additionalProperties: true }

/** Webhook bodies: the Purchase (or, for `payment.refunded`, the Payment) plus `event_type`. */
export const PurchaseEvent = Type.Composite([Purchase, Type.Object({ event_type: Type.String() })], loose)
export const PaymentEvent = Type.Composite([Payment, Type.Object({ event_type: Type.String() })], loose)
export type PurchaseEvent = Static<typeof PurchaseEvent>
export type PaymentEvent = Static<typeof PaymentEvent>

/** The events whose body is a Purchase. */
export const PurchaseEventType = Type.Union([
  Type.Literal('purchase.created'), Type.Literal('purchase.paid'), Type.Literal('purchase.payment_failure'),
  Type.Literal('purchase.cancelled'), Type.Literal('purchase.hold'), Type.Literal('purchase.captured'),
  Type.Literal('purchase.released'), Type.Literal('purchase.preauthorized'), Type.Literal('purchase.pending_execute'),
  Type.Literal('purchase.pending_charge'), Type.Literal('purchase.pending_capture'), Type.Literal('purchase.pending_release'),
  Type.Literal('purchase.pending_refund'), Type.Literal('purchase.settled'), Type.Literal('purchase.viewed'),
  Type.Literal('purchase.recurring_token_deleted'), Type.Literal('purchase.pending_recurring_token_delete'), Type.Literal('purchase.subscription_charge_failure')
])
export type PurchaseEventType = Static<typeof PurchaseEventType>

/** The events whose body is a Payment. */
export const PaymentEventType = Type.Union([Type.Literal('payment.refunded'), Type.Literal('payment.charged_back')])
export type PaymentEventType = Static<typeof PaymentEventType>

/** Every event the platform sends (webhook `event_type`); `payment.*` bodies are a Payment, the rest a Purchase. */
export const WebhookEventType = Type.Union([PurchaseEventType, PaymentEventType])
export type WebhookEventType = Static<typeof WebhookEventType>
