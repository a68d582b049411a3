import { Redis } from 'ioredis'
import { MemoryStore, type SessionStore } from '../../lib/index.js'
import { RedisStore } from '../../lib/stores/redis.js'
import type { ServerConfig } from '../config.js'

/**
 * The store the plugin server registers: MemoryStore or a RedisStore on one
 * shared connection, behind a handle that (a) counts every call the plugin
 * makes, for store operations per request, and (b) can be swapped for an
 * empty one between rounds (a new key prefix on Redis), so the webhook
 * scenario's fixed pool of signed events is new to the plugin's dedup in
 * each round. Each call only counts and forwards.
 */
export class RoundStore implements SessionStore {
  ops = 0
  #current: MemoryStore | RedisStore
  #round = 0
  readonly #redis: Redis | undefined
  readonly #prefix: string

  constructor (cfg: ServerConfig, owner: string) {
    this.#prefix = `${cfg.redisPrefix}${owner}:`
    this.#redis = cfg.store === 'redis' ? new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false }) : undefined
    this.#current = this.#fresh()
  }

  #fresh (): MemoryStore | RedisStore {
    return this.#redis === undefined ? new MemoryStore() : new RedisStore({ client: this.#redis, prefix: `${this.#prefix}${this.#round++}:` })
  }

  get (key: string) { this.ops++; return this.#current.get(key) }
  set (key: string, value: unknown, ttlMs: number) { this.ops++; return this.#current.set(key, value, ttlMs) }
  claim (key: string, value: unknown, ttlMs: number) { this.ops++; return this.#current.claim(key, value, ttlMs) }
  take (key: string) { this.ops++; return this.#current.take(key) }
  delete (key: string) { this.ops++; return this.#current.delete(key) }
  schedule (queue: string, member: string, dueAt: number) { this.ops++; return this.#current.schedule(queue, member, dueAt) }
  due (queue: string, now: number, limit: number, leaseMs: number) { this.ops++; return this.#current.due(queue, now, limit, leaseMs) }
  unschedule (queue: string, member: string) { this.ops++; return this.#current.unschedule(queue, member) }

  reset (): void {
    if (this.#current instanceof MemoryStore) this.#current.close()
    this.#current = this.#fresh()
  }

  async close (): Promise<void> {
    if (this.#current instanceof MemoryStore) this.#current.close()
    if (this.#redis !== undefined) {
      await deleteKeys(this.#redis, `${this.#prefix}*`)
      await this.#redis.quit()
    }
  }
}

/** Removes the bench's own keys from the shared Redis (never FLUSH): SCAN by pattern, UNLINK in batches. */
export async function deleteKeys (redis: Redis, pattern: string): Promise<void> {
  let cursor = '0'
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    if (keys.length > 0) await redis.unlink(...keys)
    cursor = nextCursor
  } while (cursor !== '0')
}
