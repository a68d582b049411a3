import { Redis, type Cluster, type RedisOptions } from 'ioredis'

export const REDIS_HOST = '127.0.0.1'
export const REDIS_PORT = 6379
export const REDIS_ADDRESS = `${REDIS_HOST}:${REDIS_PORT}`

/** Options for a test client on the test Redis: fail fast rather than queue commands for a server that is gone. */
export function redisTestOptions (overrides: RedisOptions = {}): RedisOptions {
  return { host: REDIS_HOST, port: REDIS_PORT, connectTimeout: 2000, maxRetriesPerRequest: 1, ...overrides }
}

/** Why Redis cannot be used (no connection, or no answer to PING), or `undefined` when it can. */
export async function redisUnreachable (options: RedisOptions = redisTestOptions()): Promise<string | undefined> {
  const client = new Redis({ ...options, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  // The event carries the cause (ECONNREFUSED...); connect() itself only says the connection closed.
  let cause: Error | undefined
  client.on('error', (err) => { cause = err })
  try {
    await client.connect()
    await client.ping()
    return undefined
  } catch (err) {
    return `Redis not reachable at ${options.host}:${options.port}: ${(cause ?? err as Error).message}`
  } finally {
    client.disconnect()
  }
}

export async function redisAvailable (options?: RedisOptions): Promise<boolean> {
  return await redisUnreachable(options) === undefined
}

/**
 * The `skip` option of a test that needs Redis: `false` when Redis answers,
 * else a message that says why. When `QOREPAY_REQUIRE_REDIS=1` (CI sets it),
 * an unreachable Redis rejects instead, so the run fails rather than skips.
 *
 *     const skip = await redisSkip()
 *     test('RedisStore', { skip }, async (t) => { ... })
 */
export async function redisSkip (options?: RedisOptions): Promise<false | string> {
  const reason = await redisUnreachable(options)
  if (reason === undefined) return false
  if (process.env.QOREPAY_REQUIRE_REDIS === '1') {
    throw new Error(`${reason} (QOREPAY_REQUIRE_REDIS=1: the Redis suite must run; start Redis or unset the variable)`)
  }
  return reason
}

/**
 * The client as Redis < 6.2 would answer it: GETDEL sends a command the
 * server does not know, so the error is Redis's own "ERR unknown command".
 */
export function withoutGetdel<C extends Redis | Cluster> (client: C, calls = { getdel: 0 }): C {
  return new Proxy(client, {
    get (target, property) {
      if (property === 'getdel') {
        return async (key: string) => {
          calls.getdel++
          return await target.call('getdel-before-6.2', key)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
