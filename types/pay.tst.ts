import { expect, test } from 'tstyche'
import Fastify, { type FastifyRequest } from 'fastify'
import { type PaymentResult, type PayOptions } from 'fastify-qorepay'

declare const request: FastifyRequest

test('app.qorepay.pay takes a request and options, and resolves the route\'s answers', async () => {
  const app = Fastify()
  expect(app.qorepay.pay(request)).type.toBe<Promise<PaymentResult>>()
  expect(app.qorepay.pay(request, { body: { card_number: '4444333322221111' }, idempotencyKey: 'order-1' })).type.not.toRaiseError()
  expect(app.qorepay.pay(request, { idempotencyKey: 42 })).type.toRaiseError()
  expect(app.qorepay.pay(request, { amount: 1 })).type.toRaiseError()
  expect(app.qorepay.pay()).type.toRaiseError()
  expect<PayOptions>().type.toBeAssignableFrom({})

  const result = await app.qorepay.pay(request)
  expect(result.replayed).type.toBe<boolean>()
  if (result.statusCode === 402) {
    expect(result.body.status).type.toBe<'error'>()
    expect(result.body.code).type.toBe<string>()
  } else if (result.statusCode === 202) {
    expect(result.body).type.toBe<{ status: 'pending', purchase_id: string }>()
  } else {
    expect(result.body.status).type.toBe<'executed' | 'authorized' | '3DS_required'>()
  }
})
