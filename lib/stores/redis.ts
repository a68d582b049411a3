import type { Cluster, Redis } from 'ioredis'
import type { SessionStore } from './session-store.js'
import { createHash } from 'node:crypto'
import { assertInstant, assertKey, assertLease, assertLimit, assertMember, assertQueueName, assertTtl, encodeValue } from './arguments.js'

export type { SessionStore } from './session-store.js'

export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` the host owns: the store never connects, quits or reconfigures it. */
  client: Redis | Cluster
  /**
   * Prepended to every key, so several shops or plugin instances can share one Redis. Default `'qorepay:'`.
   * On a cluster, a hash tag (`{...}`) in it would put every key in one slot, on one node: it still works, unspread.
   */
  prefix?: string
}

// What GETDEL does, for servers older than Redis 6.2: a script runs atomically.
const TAKE_SCRIPT = "local value = redis.call('GET', KEYS[1]) if value then redis.call('DEL', KEYS[1]) end return value"

/**
 * `due` in one atomic step: the earliest members at or before `now`
 * (ARGV[1]), at most ARGV[2] of them, each moved to ARGV[3] (now + lease).
 * One ZADD per member: unpack() of thousands of arguments overflows Lua's stack.
 */
const DUE_SCRIPT = [
  "local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])",
  "for _, member in ipairs(members) do redis.call('ZADD', KEYS[1], ARGV[3], member) end",
  'return members'
].join('\n')
const DUE_SHA = createHash('sha1').update(DUE_SCRIPT).digest('hex')

/**
 * A store shared by every instance that talks to one Redis: `claim` is
 * `SET NX PX` and `take` is `GETDEL`, both atomic on the server. Values are
 * JSON text; TTLs are in milliseconds, rounded up to whole ones. Client errors
 * (Redis down, timeouts) reject the call unchanged.
 *
 * A due-queue is one sorted set (`<prefix>queue:<name>`, scored by due time).
 *
 * On a Redis Cluster every command names exactly one key (no multi-key
 * command, no SCAN or KEYS, no pipeline or MULTI), so ioredis's `Cluster`
 * sends each to the node serving that key's slot, and follows MOVED/ASK there.
 * The scripts too: ioredis routes EVALSHA and EVAL by their one key, so a node
 * that has not seen `due`'s script answers NOSCRIPT and EVAL loads it on that
 * node, once per node (what `defineCommand` would do, without adding a command
 * to the host's client).
 */
export class RedisStore implements SessionStore {
  readonly prefix: string
  readonly #client: Redis | Cluster
  // Turns false for good once the server says it has no GETDEL.
  #getdel = true

  constructor (opts: RedisStoreOptions) {
    const { client, prefix = 'qorepay:' } = (opts ?? {}) as Partial<RedisStoreOptions>
    if (typeof client?.set !== 'function' || typeof client.getdel !== 'function') {
      throw new TypeError('RedisStore needs { client }: an ioredis Redis or Cluster instance')
    }
    if (typeof prefix !== 'string') {
      throw new TypeError(`RedisStore prefix must be a string, got ${typeof prefix}`)
    }
    this.#client = client
    this.prefix = prefix
  }

  async get (key: string): Promise<unknown | undefined> {
    assertKey(key)
    return decode(await this.#client.get(this.prefix + key))
  }

  async set (key: string, value: unknown, ttlMs: number): Promise<void> {
    assertKey(key)
    assertTtl(ttlMs)
    await this.#client.set(this.prefix + key, encodeValue(value), 'PX', Math.ceil(ttlMs))
  }

  async claim (key: string, value: unknown, ttlMs: number): Promise<boolean> {
    assertKey(key)
    assertTtl(ttlMs)
    return await this.#client.set(this.prefix + key, encodeValue(value), 'PX', Math.ceil(ttlMs), 'NX') === 'OK'
  }

  async take (key: string): Promise<unknown | undefined> {
    assertKey(key)
    const redisKey = this.prefix + key
    if (this.#getdel) {
      try {
        return decode(await this.#client.getdel(redisKey))
      } catch (err) {
        if (!isUnknownCommand(err)) throw err
        this.#getdel = false
      }
    }
    return decode(await this.#client.eval(TAKE_SCRIPT, 1, redisKey) as string | null)
  }

  async delete (key: string): Promise<void> {
    assertKey(key)
    await this.#client.del(this.prefix + key)
  }

  async schedule (queue: string, member: string, dueAt: number): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    assertInstant('dueAt', dueAt)
    await this.#client.zadd(this.#queueKey(queue), dueAt, member)
  }

  async due (queue: string, now: number, limit: number, leaseMs: number): Promise<string[]> {
    assertQueueName(queue)
    assertInstant('now', now)
    assertLimit(limit)
    assertLease(leaseMs)
    const args = [1, this.#queueKey(queue), now, limit, now + leaseMs] as const
    try {
      return await this.#client.evalsha(DUE_SHA, ...args) as string[]
    } catch (err) {
      // A server (or cluster node) that has not seen the script yet: EVAL runs it and caches it there.
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err
      return await this.#client.eval(DUE_SCRIPT, ...args) as string[]
    }
  }

  async unschedule (queue: string, member: string): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    await this.#client.zrem(this.#queueKey(queue), member)
  }

  #queueKey (queue: string): string {
    return `${this.prefix}queue:${queue}`
  }
}

function decode (json: string | null): unknown | undefined {
  return json === null ? undefined : JSON.parse(json)
}

// Redis answers "ERR unknown command 'getdel', ..." before 6.2, and when the command is renamed away.
function isUnknownCommand (err: unknown): boolean {
  return err instanceof Error && /unknown command/i.test(err.message)
}
