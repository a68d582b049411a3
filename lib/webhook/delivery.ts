import { QorePayValidationError } from '../errors.js'
import type { WebhookEvent } from '../events.js'
import type { Payment, Purchase } from '../wire/purchase.js'

/** Which receiver a delivery came to. */
export type DeliverySource = WebhookEvent['source']
type Source = DeliverySource
export type Body = Record<string, unknown> & { id: string }

/** The signed body as JSON: an object with an `id`; webhooks also name their `event_type`. */
export function parseDelivery (raw: Buffer, source: Source): { body: Body, eventType: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.toString('utf8'))
  } catch {
    // JSON.parse's message quotes the body; ours does not.
    throw new QorePayValidationError(`the ${source} body is not valid JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as Body).id !== 'string') {
    throw new QorePayValidationError(`the ${source} body is not an object with an id`)
  }
  // The envelope field comes off in place: a copy of the whole purchase costs more.
  const body = parsed as Body
  const eventType = body.event_type
  delete body.event_type
  if (typeof eventType === 'string') return { body, eventType }
  // The success callback is sent when a purchase is paid, with or without event_type.
  if (source === 'callback') return { body, eventType: 'purchase.paid' }
  throw new QorePayValidationError('the webhook body has no event_type')
}

export function toWebhookEvent (body: Body, eventType: string, source: Source): WebhookEvent {
  const related = body.type === 'payment' ? (body as unknown as Payment).related_to : undefined
  const purchaseId = related?.type === 'purchase' && typeof related.id === 'string' ? related.id : body.id
  // A Payment has no status; `payment.refunded` reads as `refunded`.
  const status = typeof body.status === 'string' ? body.status : eventType.slice(eventType.lastIndexOf('.') + 1)
  return { purchaseId, status, source, eventType, body: body as unknown as Purchase | Payment }
}
