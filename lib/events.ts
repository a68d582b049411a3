import { Type, type Static, type TLiteral } from '@sinclair/typebox'
import { Payment, Purchase, PurchaseStatus } from './wire/purchase.js'
import { PaymentEventType, PurchaseEventType } from './wire/webhook-body.js'

/** Which path reported it: the card post's answer, the TermUrl, a webhook, the success callback, a charge with a saved card or a reconciliation lookup. */
export const EventSource = Type.Union([Type.Literal('direct'), Type.Literal('3ds'), Type.Literal('webhook'), Type.Literal('callback'), Type.Literal('saved_card'), Type.Literal('reconcile')])
export type EventSource = Static<typeof EventSource>

export const OutcomeStatus = Type.Union([Type.Literal('executed'), Type.Literal('authorized'), Type.Literal('error')])
export type OutcomeStatus = Static<typeof OutcomeStatus>

export const EventError = Type.Object({ code: Type.String(), message: Type.String() })
export type EventError = Static<typeof EventError>

const outcomeEvent = <S extends TLiteral<OutcomeStatus>>(status: S) => Type.Object({
  purchaseId: Type.String(),
  status,
  source: EventSource,
  /** Stable for one purchase and outcome, on every path, instance and retry: what a host's own writes can be idempotent on. */
  eventId: Type.String(),
  /** The host's `reference`, when the plugin knows it. */
  reference: Type.Optional(Type.String()),
  /** First six and last four digits, on the paths where the card was seen. */
  maskedPan: Type.Optional(Type.String()),
  /** The purchase as the gateway last described it (webhooks, callbacks, reconciliation, lookups). */
  purchase: Type.Optional(Purchase)
})

/**
 * What an authorization is: `hold`, money reserved that `capture` takes (or
 * `release` gives back); `preauthorized`, a zero-amount card check that
 * reserved nothing (the card is checked, and saved with `remember_card`).
 */
export const Authorization = Type.Union([Type.Literal('hold'), Type.Literal('preauthorized')])
export type Authorization = Static<typeof Authorization>

/** On events of a purchase the gateway made a recurring token (`remember_card: "on"`, `force_recurring`). */
const Saved = Type.Object({
  /** The purchase id: what `charge(newPurchaseId, recurringToken)` and `payWithSavedCard` take. */
  recurringToken: Type.Optional(Type.String())
})

export const ExecutedEvent = Type.Composite([outcomeEvent(Type.Literal('executed')), Saved])
export const AuthorizedEvent = Type.Composite([outcomeEvent(Type.Literal('authorized')), Saved, Type.Object({ authorization: Authorization })])
export const FailedEvent = Type.Composite([outcomeEvent(Type.Literal('error')), Type.Object({ error: EventError })])
// Interfaces over the schemas' types: an editor shows the name, not the expansion.
export interface ExecutedEvent extends Static<typeof ExecutedEvent> {}
export interface AuthorizedEvent extends Static<typeof AuthorizedEvent> {}
export interface FailedEvent extends Static<typeof FailedEvent> {}
export type OutcomeEvent = ExecutedEvent | AuthorizedEvent | FailedEvent

export const ThreeDSRequiredEvent = Type.Object({
  purchaseId: Type.String(),
  status: Type.Literal('3DS_required'),
  source: Type.Literal('direct'),
  /** Where to send the payer: `<publicUrl><prefix>/3ds/<token>`, the prefix a parent scope's included. */
  redirectUrl: Type.String(),
  reference: Type.Optional(Type.String()),
  maskedPan: Type.Optional(Type.String())
})
export interface ThreeDSRequiredEvent extends Static<typeof ThreeDSRequiredEvent> {}

const WebhookSource = Type.Union([Type.Literal('webhook'), Type.Literal('callback')])

/** A verified delivery about a purchase (`purchase.*`; the success callback reads as `purchase.paid`): the Purchase. */
export const PurchaseWebhookEvent = Type.Object({
  purchaseId: Type.String(),
  status: PurchaseStatus,
  source: WebhookSource,
  eventType: PurchaseEventType,
  body: Purchase
})
export interface PurchaseWebhookEvent extends Static<typeof PurchaseWebhookEvent> {}

/**
 * A verified delivery about a payment (`payment.refunded`, `payment.charged_back`):
 * the Payment, named by its purchase when it has one; `status` is what the
 * purchase becomes (`refunded`, `chargeback`).
 */
export const PaymentWebhookEvent = Type.Object({
  purchaseId: Type.String(),
  status: Type.Union([Type.Literal('refunded'), Type.Literal('chargeback')]),
  source: Type.Literal('webhook'),
  eventType: PaymentEventType,
  body: Payment
})
export interface PaymentWebhookEvent extends Static<typeof PaymentWebhookEvent> {}

/**
 * One verified delivery of `POST {prefix}/webhook` or `POST {prefix}/callback`,
 * told apart by `eventType`: `body` is the Purchase for `purchase.*`, the
 * Payment for `payment.*`.
 */
export const WebhookEvent = Type.Union([PurchaseWebhookEvent, PaymentWebhookEvent])
export type WebhookEvent = PurchaseWebhookEvent | PaymentWebhookEvent
