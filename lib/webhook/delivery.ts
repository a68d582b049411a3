import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { WebhookEvent } from '../events.js'
import { Payment, Purchase } from '../wire/purchase.js'

/** Which receiver a delivery came to. */
export type DeliverySource = WebhookEvent['source']
type Source = DeliverySource

/** A verified delivery the plugin can read: the Purchase (or, for `payment.*`, the Payment) without its envelope field. */
export interface Delivery { body: Purchase | Payment, eventType: string }

const PURCHASE = TypeCompiler.Compile(Purchase)
const PAYMENT = TypeCompiler.Compile(Payment)

/**
 * The signed body, checked against the wire schema its `type` names (a
 * `payment` is a Payment, anything else must be a Purchase); webhooks also
 * name their `event_type`. What cannot be read comes back as a `problem`
 * that names what was wrong (the field's path and rule, never a value).
 */
export function parseDelivery (raw: Buffer, source: Source): Delivery | { problem: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.toString('utf8'))
  } catch {
    // JSON.parse's message quotes the body; ours does not.
    return { problem: `the ${source} body is not valid JSON` }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('id' in parsed) || typeof parsed.id !== 'string') {
    return { problem: `the ${source} body is not an object with an id` }
  }
  const eventType = 'event_type' in parsed ? parsed.event_type : undefined
  // The envelope field comes off in place: a copy of the whole purchase costs more.
  Reflect.deleteProperty(parsed, 'event_type')
  // The success callback is sent when a purchase is paid, with or without event_type.
  if (typeof eventType !== 'string' && source !== 'callback') return { problem: 'the webhook body has no event_type' }

  const body = 'type' in parsed && parsed.type === 'payment' ? checked(PAYMENT, 'a Payment', parsed) : checked(PURCHASE, 'a Purchase', parsed)
  if (typeof body === 'string') return { problem: `the ${source} body is not ${body}` }
  return { body, eventType: typeof eventType === 'string' ? eventType : 'purchase.paid' }
}

/** `value` when it passes `check`; else what is wrong with it, as text. */
function checked<T extends TSchema> (check: TypeCheck<T>, name: string, value: unknown): Static<T> | string {
  if (check.Check(value)) return value
  // A failed Check always has a first error.
  const error = check.Errors(value).First()!
  return `${name}: ${error.path} ${error.message.toLowerCase()}`
}

export function toWebhookEvent ({ body, eventType }: Delivery, source: Source): WebhookEvent {
  if (body.type === 'purchase') return { purchaseId: body.id, status: body.status, source, eventType, body }
  // A Payment has no status: `payment.refunded` reads as `refunded`. It is named by its purchase when it has one.
  const purchaseId = body.related_to?.type === 'purchase' ? body.related_to.id : body.id
  return { purchaseId, status: eventType.slice(eventType.lastIndexOf('.') + 1), source, eventType, body }
}

/**
 * Whether the delivered purchase (or payment) was last changed longer than
 * `lifetimeMs` ago, by the gateway's `updated_on`: a delivery that old may
 * have outlived its own dedup mark, so it cannot be told from a replay and
 * fires nothing. `created_on` says the same of the purchase's outcome marks,
 * which the first report of its outcome wrote.
 */
export function olderThan (body: Purchase | Payment, field: 'updated_on' | 'created_on', lifetimeMs: number, now = Date.now()): boolean {
  return now - body[field] * 1000 > lifetimeMs
}
