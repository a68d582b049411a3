import { qorepay } from './plugin.js'

export default qorepay
export { qorepay }
export type { QorePayApi } from './plugin.js'
export type { QorePayOptions, Hook } from './options.js'
export type { SessionStore } from './store.js'
export { MemoryStore } from './memory-store.js'
export type { MemoryStoreOptions } from './memory-store.js'
export type { PaymentBody } from './card.js'
export { PaymentBodySchema } from './card.js'
export type { PurchaseInput } from './purchase-input.js'
export type { AuthorizedEvent, ExecutedEvent, FailedEvent, OutcomeEvent, ThreeDSRequiredEvent, WebhookEvent, EventSource } from './events.js'
export type { Purchase, Payment, PurchaseStatus } from './gateway-types.js'
export * from './errors.js'
