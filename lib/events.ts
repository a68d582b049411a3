import { Type, type Static, type TLiteral } from '@sinclair/typebox'
import { Payment, Purchase } from './wire/purchase.js'

/** Which path reported it: the card post's answer, the TermUrl, a webhook or the success callback. */
export const EventSource = Type.Union([Type.Literal('direct'), Type.Literal('3ds'), Type.Literal('webhook'), Type.Literal('callback')])
export type EventSource = Static<typeof EventSource>

export const OutcomeStatus = Type.Union([Type.Literal('executed'), Type.Literal('authorized'), Type.Literal('error')])
export type OutcomeStatus = Static<typeof OutcomeStatus>

export const EventError = Type.Object({ code: Type.String(), message: Type.String() })
export type EventError = Static<typeof EventError>

const outcomeEvent = <S extends TLiteral<OutcomeStatus>>(status: S) => Type.Object({
  purchaseId: Type.String(),
  status,
  source: EventSource,
  /** The host's `reference`, when the plugin knows it. */
  reference: Type.Optional(Type.String()),
  /** First six and last four digits, on the paths where the card was seen. */
  maskedPan: Type.Optional(Type.String()),
  /** The purchase as the gateway last described it (webhooks, callbacks, lookups). */
  purchase: Type.Optional(Purchase)
})

export const ExecutedEvent = outcomeEvent(Type.Literal('executed'))
export const AuthorizedEvent = outcomeEvent(Type.Literal('authorized'))
export const FailedEvent = Type.Composite([outcomeEvent(Type.Literal('error')), Type.Object({ error: EventError })])
export type ExecutedEvent = Static<typeof ExecutedEvent>
export type AuthorizedEvent = Static<typeof AuthorizedEvent>
export type FailedEvent = Static<typeof FailedEvent>
export type OutcomeEvent = ExecutedEvent | AuthorizedEvent | FailedEvent

export const ThreeDSRequiredEvent = Type.Object({
  purchaseId: Type.String(),
  status: Type.Literal('3DS_required'),
  source: Type.Literal('direct'),
  /** Where to send the payer: `<publicUrl><prefix>/3ds/<token>`. */
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
