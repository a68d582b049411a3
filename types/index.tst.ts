import { expect, test } from 'tstyche'
import Fastify, { type FastifyRequest } from 'fastify'
import qorepay, {
  fastifyQorepay,
  MemoryStore,
  QorePayGatewayError,
  type PaymentBody,
  type PaymentRequest,
  type PurchaseCreate,
  type AuthorizedEvent,
  type ExecutedEvent,
  type FailedEvent,
  type Payment,
  type Purchase,
  type QorePayApi,
  type QorePayOptions,
  type RefundAnswer,
  type SavedCardResult,
  type SessionStore,
  type ThreeDSRequiredEvent,
  type WebhookEvent
} from 'fastify-qorepay'

const base = {
  apiKey: 'k',
  s2sToken: 's',
  brandId: 'b',
  publicUrl: 'https://shop.example',
  successRedirect: 'https://shop.example/ok',
  failureRedirect: 'https://shop.example/ko',
  purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } })
}

test('the options object is typed', () => {
  const app = Fastify()
  expect(app.register(qorepay, base)).type.not.toRaiseError()
  expect(app.register(qorepay, { ...base, store: new MemoryStore(), sessionTtl: 60, prefix: '/pay', webhookPublicKey: ['a', 'b'] })).type.not.toRaiseError()
  expect(app.register(qorepay, { ...base, apiKey: 42 })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, sessionTtl: '60' })).type.toRaiseError()
  const { apiKey, ...withoutKey } = base
  expect(app.register(qorepay, withoutKey)).type.toRaiseError()
  expect(app.register(qorepay, { ...base, purchase: async () => ({ client: {}, purchase: { currency: 'NGN', products: [] } }) })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, store: { get: async () => undefined } })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, reconcile: false })).type.not.toRaiseError()
  expect(app.register(qorepay, { ...base, reconcile: { schedule: [60, 300], interval: 0, batch: 20 } })).type.not.toRaiseError()
  expect(app.register(qorepay, { ...base, reconcile: { interval: '15' } })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, reconcile: true })).type.toRaiseError()
})

test('hook signatures are typed', () => {
  const app = Fastify()
  expect(app.register(qorepay, { ...base, onExecuted: (event: ExecutedEvent, request: FastifyRequest | undefined) => { expect(event.status).type.toBe<'executed'>() } })).type.not.toRaiseError()
  // A saved-card payment and reconciliation report with no request: a hook that assumes one does not compile.
  expect(app.register(qorepay, { ...base, onExecuted: (event: ExecutedEvent, request: FastifyRequest) => {} })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, on3DSRequired: (event: ThreeDSRequiredEvent, request: FastifyRequest) => {} })).type.not.toRaiseError()
  expect(app.register(qorepay, { ...base, onExecuted: (event: { nope: string }) => {} })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, onFailed: (event: number) => {} })).type.toRaiseError()
  expect(app.register(qorepay, { ...base, onAuthorized: async () => 42 })).type.toRaiseError()
})

test('each hook event is typed', () => {
  const options: QorePayOptions = {
    ...base,
    onExecuted (event, request) {
      expect(event).type.toBe<ExecutedEvent>()
      expect(request).type.toBe<FastifyRequest | undefined>()
      expect(event.purchaseId).type.toBe<string>()
      expect(event.eventId).type.toBe<string>()
      expect(event.source).type.toBe<'direct' | '3ds' | 'webhook' | 'callback' | 'saved_card' | 'reconcile'>()
      expect(event.maskedPan).type.toBe<string | undefined>()
      expect(event.recurringToken).type.toBe<string | undefined>()
    },
    onAuthorized (event) {
      expect(event.status).type.toBe<'authorized'>()
      expect(event.authorization).type.toBe<'hold' | 'preauthorized'>()
      expect(event.recurringToken).type.toBe<string | undefined>()
    },
    onFailed (event) {
      expect(event).type.toBe<FailedEvent>()
      expect(event.error).type.toBe<{ code: string, message: string }>()
      expect(event).type.not.toHaveProperty('recurringToken')
    },
    on3DSRequired (event) {
      expect(event).type.toBe<ThreeDSRequiredEvent>()
      expect(event.redirectUrl).type.toBe<string>()
    },
    onWebhook (event, request) {
      expect(event).type.toBe<WebhookEvent>()
      expect(event.body).type.toBe<Purchase | Payment>()
      expect(request).type.toBe<FastifyRequest>()
    }
  }
  expect(options).type.toBeAssignableTo<QorePayOptions>()
  expect<AuthorizedEvent['status']>().type.toBe<'authorized'>()
})

test('the decorator is typed', () => {
  const app = Fastify()
  expect(app.qorepay).type.toBe<QorePayApi>()
  expect(app.qorepay.getPurchase('id')).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.capture('id', 100)).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.refund('id')).type.toBe<Promise<Payment | Purchase>>()
  expect(app.qorepay.release('id')).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.charge('id', 'token')).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.charge('id')).type.toRaiseError()
  expect(app.qorepay.deleteRecurringToken('token')).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.capture('id', '100')).type.toRaiseError()
  // A retry after a lost answer is safe under an idempotencyKey.
  expect(app.qorepay.capture('id', undefined, { idempotencyKey: 'order-1-capture' })).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.refund('id', 100, { idempotencyKey: 'k' })).type.toBe<Promise<Payment | Purchase>>()
  expect(app.qorepay.charge('id', 'token', { idempotencyKey: 'k' })).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.refund('id', 100, { idempotencyKey: 42 })).type.toRaiseError()
  expect(app.qorepay.release('id', { idempotencyKey: 'k' })).type.toRaiseError()
  expect(app.qorepay.reconcile()).type.toBe<Promise<{ checked: number, reported: number, pending: number }>>()
})

test('payWithSavedCard is typed', async () => {
  const app = Fastify()
  const input = { client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] }, reference: 'order-1' }
  const result = await app.qorepay.payWithSavedCard(input, 'token', { idempotencyKey: 'k' })
  expect(result).type.toBe<SavedCardResult>()
  expect(result.status).type.toBe<'executed' | 'authorized' | 'pending' | 'error'>()
  if (result.status === 'authorized') expect(result.authorization).type.toBe<'hold' | 'preauthorized'>()
  if (result.status === 'error') expect(result.code).type.toBe<string>()
  expect(app.qorepay.payWithSavedCard(input, 'token')).type.toBe<Promise<SavedCardResult>>()
  expect(app.qorepay.payWithSavedCard({ client: {} }, 'token')).type.toRaiseError()
  expect(app.qorepay.payWithSavedCard(input, 'token', { idempotencyKey: 1 })).type.toRaiseError()
})

test('a refund answer is told by its type', async () => {
  const app = Fastify()
  const answer = await app.qorepay.refund('id')
  expect<RefundAnswer>().type.toBe<Payment | Purchase>()
  if (answer.type === 'payment') expect(answer).type.toBe<Payment>()
  else expect(answer.status).type.toBe<Purchase['status']>()
})

test('stores implement SessionStore', () => {
  expect(new MemoryStore()).type.toBeAssignableTo<SessionStore>()
  expect<SessionStore['take']>().type.toBe<(key: string) => Promise<unknown | undefined>>()
})

test('a named export fastifyQorepay beside the default', () => {
  expect(fastifyQorepay).type.toBe<typeof qorepay>()
  expect(Fastify().register(fastifyQorepay, base)).type.not.toRaiseError()
})

test('purchase(request) sees the payments body', () => {
  const app = Fastify()
  expect(app.register(qorepay, {
    ...base,
    purchase: async (request) => {
      expect(request).type.toBe<PaymentRequest>()
      expect(request.body).type.toBe<PaymentBody>()
      expect(request.body.order).type.toBe<string | number | Record<string, string | number | boolean> | undefined>()
      expect(request.body.card_number).type.toBe<string>()
      expect(request.body).type.not.toHaveProperty('price')
      return { client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } }
    }
  })).type.not.toRaiseError()
  // A function written for any request still fits.
  expect(app.register(qorepay, { ...base, purchase: async (request: FastifyRequest) => base.purchase() })).type.not.toRaiseError()
})

test('createPurchase takes the typed purchase input', () => {
  const app = Fastify()
  const input = { brand_id: 'b', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } }
  expect(app.qorepay.createPurchase(input)).type.toBe<Promise<Purchase>>()
  expect(app.qorepay.createPurchase({ ...input, success_callback: 'https://shop.example/cb', skip_capture: true })).type.not.toRaiseError()
  // A host's own creator_agent wins over the plugin's default.
  expect(app.qorepay.createPurchase({ ...input, creator_agent: 'my-shop/2.1' })).type.not.toRaiseError()
  expect(app.qorepay.createPurchase).type.toBe<(body: PurchaseCreate) => Promise<Purchase>>()
  expect(app.qorepay.createPurchase({})).type.toRaiseError()
  const { brand_id: _, ...withoutBrand } = input
  expect(app.qorepay.createPurchase(withoutBrand)).type.toRaiseError()
  expect(app.qorepay.createPurchase({ ...input, purchase: { currency: 'NGN', products: [{ name: 'x', price: '1' }] } })).type.toRaiseError()
})

test('the gateway error class and its fields', () => {
  const err: unknown = new Error('x')
  if (err instanceof QorePayGatewayError) {
    expect(err.code).type.toBe<'FST_QOREPAY_AUTH' | 'FST_QOREPAY_GATEWAY' | 'FST_QOREPAY_NOT_FOUND' | 'FST_QOREPAY_UNAVAILABLE' | 'FST_QOREPAY_TIMEOUT'>()
    expect(err.statusCode).type.toBe<404 | 502 | 504>()
    expect(err.sent).type.toBe<boolean>()
    expect(err.gatewayStatus).type.toBe<number | undefined>()
    expect(err.gatewayCode).type.toBe<string | undefined>()
    expect(err.gatewayMessage).type.toBe<string | undefined>()
    expect(err.message).type.toBe<string>()
    expect(err).type.toBeAssignableTo<Error>()
  }
})
