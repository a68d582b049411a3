import { expect, test } from 'tstyche'
import type { Payment, PaymentWebhookEvent, Purchase, PurchaseStatus, PurchaseWebhookEvent, WebhookEvent, WebhookEventType } from 'fastify-qorepay'

declare const event: WebhookEvent

test('eventType is the platform\'s full event list', () => {
  expect(event.eventType).type.toBe<WebhookEventType>()
  expect<WebhookEventType>().type.toBe<
    'purchase.created' | 'purchase.paid' | 'purchase.payment_failure' | 'purchase.cancelled' | 'purchase.hold' |
    'purchase.captured' | 'purchase.released' | 'purchase.preauthorized' | 'purchase.pending_execute' |
    'purchase.pending_charge' | 'purchase.pending_capture' | 'purchase.pending_release' | 'purchase.pending_refund' |
    'purchase.settled' | 'purchase.viewed' | 'purchase.recurring_token_deleted' | 'purchase.pending_recurring_token_delete' |
    'purchase.subscription_charge_failure' | 'payment.refunded' | 'payment.charged_back'
  >()
  expect(event.status).type.toBe<PurchaseStatus>()
  expect(event.source).type.toBe<'webhook' | 'callback'>()
})

test('eventType narrows the body to a Purchase or a Payment', () => {
  if (event.eventType === 'payment.refunded') {
    expect(event).type.toBe<PaymentWebhookEvent>()
    expect(event.body).type.toBe<Payment>()
    expect(event.body.amount).type.toBe<number>()
    expect(event.status).type.toBe<'refunded' | 'chargeback'>()
    expect(event.source).type.toBe<'webhook'>()
  }
  if (event.eventType === 'purchase.paid') {
    expect(event).type.toBe<PurchaseWebhookEvent>()
    expect(event.body).type.toBe<Purchase>()
    expect(event.body.status).type.toBe<PurchaseStatus>()
  }
  switch (event.eventType) {
    case 'payment.refunded':
    case 'payment.charged_back':
      expect(event.body).type.toBe<Payment>()
      break
    default:
      expect(event.body).type.toBe<Purchase>()
      expect(event.body.purchase.total).type.toBe<number>()
  }
  // Without narrowing, only what both have.
  expect(event.body).type.toBe<Purchase | Payment>()
  expect(event.body).type.not.toHaveProperty('status')
})

test('an event the platform does not send is no eventType', () => {
  expect<'purchase.teleported'>().type.not.toBeAssignableTo<WebhookEventType>()
  expect<PurchaseWebhookEvent>().type.toBeAssignableTo<WebhookEvent>()
  expect<{ eventType: 'payment.refunded', body: Purchase }>().type.not.toBeAssignableTo<WebhookEvent>()
})
