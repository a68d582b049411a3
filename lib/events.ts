import { Type, type Static, type TLiteral } from '@sinclair/typebox'
import { Payment, Purchase } from './wire/purchase.js'

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
export type ExecutedEvent = Static<typeof ExecutedEvent>
export type AuthorizedEvent = Static<typeof AuthorizedEvent>
export type FailedEvent = Static<typeof FailedEvent>
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
export type ThreeDSRequiredEvent = Static<typeof ThreeDSRequiredEvent>

/** One verified delivery of `POST {prefix}/webhook` or `POST {prefix}/callback`. */
export const WebhookEvent = Type.Object({
  purchaseId: Type.String(),
  status: Type.String(),
  source: Type.Union([Type.Literal('webhook'), Type.Literal('callback')]),
  eventType: Type.String(),
  body: Type.Union([Purchase, Payment])
})
export type WebhookEvent = Static<typeof WebhookEvent>
