import { expect, test } from 'tstyche'
import Fastify from 'fastify'
import qorepay, { type QorePayApi, type QorePayOptions } from 'fastify-qorepay'

// The README's recipe for a second registration under its own decorator name.
declare module 'fastify' {
  interface FastifyInstance {
    qorepayOther: QorePayApi
  }
}

declare const options: QorePayOptions

test('a second brand under its own decorator is typed through module augmentation', async () => {
  const app = Fastify()
  await app.register(qorepay, options)
  await app.register(qorepay, { ...options, decorator: 'qorepayOther', prefix: '/other' })
  expect(app.qorepayOther).type.toBe<QorePayApi>()
  expect(app.qorepayOther.getPurchase('id')).type.toBe<ReturnType<QorePayApi['getPurchase']>>()
  expect(app.qorepay).type.toBe<QorePayApi>()
  // Only the names the shop declared exist.
  expect(app).type.not.toHaveProperty('qorepayThird')
  expect(app.register(qorepay, { ...options, decorator: 42 })).type.toRaiseError()
})
