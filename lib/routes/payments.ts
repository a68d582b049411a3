import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PaymentBodySchema } from '../payment/card-fields.js'
import { Declined, Paid, Pending, type Pay } from '../payment/direct-payment.js'
import { redactingSerializers } from './log-redaction.js'
import { TAGS, errorResponse } from './error-response.js'
import type { QorePayContext } from '../context.js'

const paymentsSchema = {
  summary: 'Pay by card (S2S): create the purchase, post the card, start 3-D Secure when needed',
  tags: TAGS,
  body: PaymentBodySchema,
  response: {
    200: Paid,
    202: Pending,
    400: errorResponse('A card or browser field breaks the gateway\'s rules, or a malformed Idempotency-Key; the gateway was not called'),
    402: Declined,
    409: errorResponse('The first request with this Idempotency-Key is still in flight'),
    413: errorResponse('The body is over bodyLimit'),
    415: errorResponse('The body is not JSON'),
    422: errorResponse('The Idempotency-Key was used with another body'),
    '5xx': errorResponse('The gateway or the store failed (502, 503, 504), or purchase(request) returned details the gateway would refuse (500)')
  }
}

/** `POST {prefix}/payments`: parses the body, runs `app.qorepay.pay` (lib/payment/direct-payment.ts), answers what it resolves. */
export function paymentsRoute (parent: FastifyInstance, ctx: QorePayContext, pay: Pay): void {
  const scope = parent.withTypeProvider<TypeBoxTypeProvider>()
  scope.post('/payments', { schema: paymentsSchema, bodyLimit: ctx.opts.bodyLimit, logSerializers: redactingSerializers }, async (request, reply) => {
    const { statusCode, body, replayed } = await pay(request)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.code(statusCode).send(body)
  })
}
