import { expect, test } from 'tstyche'
import type { Cluster, Redis } from 'ioredis'
import { RedisStore, type SessionStore } from 'fastify-qorepay/redis'

declare const redis: Redis
declare const cluster: Cluster

test('RedisStore takes an ioredis Redis or Cluster', () => {
  expect(new RedisStore({ client: redis })).type.toBeAssignableTo<SessionStore>()
  expect(new RedisStore({ client: cluster, prefix: 'shop:' })).type.toBeAssignableTo<SessionStore>()
  expect(new RedisStore({ client: redis as Redis | Cluster })).type.not.toRaiseError()
  expect(new RedisStore({ client: {} })).type.toRaiseError()
  expect(new RedisStore({ client: cluster, prefix: 5 })).type.toRaiseError()
})
