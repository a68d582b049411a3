import { qorepay } from './plugin.js'

export default qorepay
// The fastify org's convention beside the default: `import { fastifyQorepay }`, `const { fastifyQorepay } = require(...)`.
export { qorepay, qorepay as fastifyQorepay }
export type { QorePayApi } from './plugin.js'
export type { QorePayOptions, Hook, OutcomeHook, PaymentRequest, ReconcileOptions } from './options.js'
export type { SweepResult } from './reconcile/sweeper.js'
export type { SessionStore } from './stores/session-store.js'
export { MemoryStore } from './stores/memory.js'
export type { MemoryStoreOptions } from './stores/memory.js'
export type { PaymentBody } from './payment/card-fields.js'
export { PaymentBodySchema } from './payment/card-fields.js'
export type { PurchaseInput, PurchaseCreate } from './payment/purchase-input.js'
export type { Pay, PayOptions, PaymentReply, PaymentResult } from './payment/direct-payment.js'
export type { PayWithSavedCard, SavedCardOptions, SavedCardResult } from './payment/saved-card.js'
export type { ActionOptions } from './payment/retried-action.js'
export type { Authorization, AuthorizedEvent, ExecutedEvent, FailedEvent, OutcomeEvent, ThreeDSRequiredEvent, WebhookEvent, PurchaseWebhookEvent, PaymentWebhookEvent, EventSource } from './events.js'
export type { Purchase, Payment, PurchaseStatus, RefundAnswer } from './wire/purchase.js'
export type { WebhookEventType, PurchaseEventType, PaymentEventType } from './wire/webhook-body.js'
export * from './errors.js'
