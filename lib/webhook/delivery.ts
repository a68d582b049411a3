import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { WebhookEvent } from '../events.js'
import { Payment, Purchase } from '../wire/purchase.js'
import { PaymentEventType, PurchaseEventType } from '../wire/webhook-body.js'
import { schemaReason } from '../wire/schema-problem.js'

/** Which receiver a delivery came to. */
export type DeliverySource = WebhookEvent['source']
type Source = DeliverySource

/** A verified delivery the plugin can read: the Purchase (or, for `payment.*`, the Payment) without its envelope field. */
export type Delivery = { kind: 'purchase', body: Purchase, eventType: PurchaseEventType } | { kind: 'payment', body: Payment, eventType: PaymentEventType }

const PURCHASE = TypeCompiler.Compile(Purchase)
const PAYMENT = TypeCompiler.Compile(Payment)
const PURCHASE_EVENT = TypeCompiler.Compile(PurchaseEventType)
const PAYMENT_EVENT = TypeCompiler.Compile(PaymentEventType)

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

  const named = typeof eventType === 'string' ? eventType : 'purchase.paid'
  const isPayment = 'type' in parsed && parsed.type === 'payment'
  if (isPayment) {
    const body = checked(PAYMENT, 'a Payment', parsed)
    if (typeof body === 'string') return { problem: `the ${source} body is not ${body}` }
    // The success callback is about a purchase: a Payment there is as unreadable as an unknown event.
    if (source === 'webhook' && PAYMENT_EVENT.Check(named)) return { kind: 'payment', body, eventType: named }
  } else {
    const body = checked(PURCHASE, 'a Purchase', parsed)
    if (typeof body === 'string') return { problem: `the ${source} body is not ${body}` }
    if (PURCHASE_EVENT.Check(named)) return { kind: 'purchase', body, eventType: named }
  }
  // Not one of the platform's events for this body: the hook's types promise it never sees one.
  return { problem: `the ${source} event_type is not an event of ${isPayment ? 'a Payment' : 'a Purchase'} the platform documents` }
}

/** `value` when it passes `check`; else what is wrong with it, as text. */
function checked<T extends TSchema> (check: TypeCheck<T>, name: string, value: unknown): Static<T> | string {
  if (check.Check(value)) return value
  // A failed Check always has a first error.
  const error = check.Errors(value).First()!
  return `${name}: ${error.path} ${schemaReason(error)}`
}

export function toWebhookEvent (delivery: Delivery, source: Source): WebhookEvent {
  if (delivery.kind === 'purchase') return { purchaseId: delivery.body.id, status: delivery.body.status, source, eventType: delivery.eventType, body: delivery.body }
  const { body, eventType } = delivery
  // A Payment has no status: it reads as what its purchase becomes. It is named by its purchase when it has one.
  const purchaseId = body.related_to?.type === 'purchase' ? body.related_to.id : body.id
  return { purchaseId, status: eventType === 'payment.refunded' ? 'refunded' : 'chargeback', source: 'webhook', eventType, body }
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
