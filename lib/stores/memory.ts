import type { SessionStore } from './session-store.js'
import { assertInstant, assertKey, assertLease, assertLimit, assertMember, assertQueueName, assertTtl, encodeValue } from './arguments.js'
import { TimeHeap } from './time-heap.js'

export interface MemoryStoreOptions {
  /**
   * Most keys and queue members held at once. Default 1_000_000. When full,
   * expired entries go; when none had expired, a write that needs room (a new
   * key or queue member) is refused, and the plugin answers 503. Nothing live
   * is evicted: the store cannot tell a pending 3DS session from an outcome
   * mark or an Idempotency-Key binding by its key, and those must never go.
   */
  maxEntries?: number
  /** Milliseconds between sweeps of expired entries. Default 60_000. */
  sweepIntervalMs?: number
}

class Entry {
  /** Slot in the expiry heap, so any entry leaves it in O(log n). */
  index = -1
  constructor (
    readonly key: string,
    /** JSON text: a fraction of the heap an object graph takes, and a copy no caller can mutate. */
    readonly json: string,
    /**
     * When it expires, on the monotonic clock of `performance.now()`, so
     * wall-clock jumps neither expire nor revive entries.
     */
    readonly at: number
  ) {}
}

class QueueMember {
  index = -1
  constructor (
    readonly member: string,
    /** When it is due, in epoch milliseconds as the caller gives them. */
    public at: number
  ) {}
}

/** One due-queue: members by name, and by due time for `due`. */
class Queue {
  readonly members = new Map<string, QueueMember>()
  readonly byDueTime = new TimeHeap<QueueMember>()
}

/**
 * JSON.stringify answers a rope of the parts it joined; reading a character
 * makes V8 flatten it in place, and the next GC drops the rope and the
 * caller's original strings: about 20% less heap per stored session.
 */
function flatten (json: string): string {
  json.charCodeAt(0)
  return json
}

/**
 * The default store: one process, bounded (refusing, never evicting, when
 * full), TTLs honoured to the millisecond.
 * Every method body is synchronous behind its async signature, so `claim` and
 * `take` are atomic within the process. Several processes need a shared store
 * such as `RedisStore`.
 *
 * Every operation is O(log n) (`due`: per member it answers): entries sit in
 * a Map and in a heap by expiry (for sweeping), queue members in a Map and a heap by due time, never scanned whole.
 */
export class MemoryStore implements SessionStore {
  readonly maxEntries: number
  readonly #entries = new Map<string, Entry>()
  readonly #expiries = new TimeHeap<Entry>()
  readonly #queues = new Map<string, Queue>()
  /** Members across every queue. */
  #queued = 0
  readonly #timer: NodeJS.Timeout

  constructor (opts: MemoryStoreOptions = {}) {
    const { maxEntries = 1_000_000, sweepIntervalMs = 60_000 } = opts
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError(`MemoryStore maxEntries must be a positive integer, got ${String(maxEntries)}`)
    }
    if (typeof sweepIntervalMs !== 'number' || !Number.isFinite(sweepIntervalMs) || sweepIntervalMs <= 0) {
      throw new TypeError(`MemoryStore sweepIntervalMs must be a positive finite number, got ${String(sweepIntervalMs)}`)
    }
    this.maxEntries = maxEntries
    // The timer holds the store only weakly, so a store dropped without close() is still collected.
    const store = new WeakRef(this)
    const timer = setInterval(() => {
      const live = store.deref()
      if (live === undefined) clearInterval(timer)
      else live.#sweep(performance.now())
    }, sweepIntervalMs)
    // The sweep must never keep the process alive.
    timer.unref()
    this.#timer = timer
  }

  /** Keys and queue members held, expired keys not yet swept included. */
  get size (): number {
    return this.#entries.size + this.#queued
  }

  async get (key: string): Promise<unknown | undefined> {
    assertKey(key)
    const entry = this.#live(key, performance.now())
    return entry === undefined ? undefined : JSON.parse(entry.json)
  }

  async set (key: string, value: unknown, ttlMs: number): Promise<void> {
    assertKey(key)
    assertTtl(ttlMs)
    const json = encodeValue(value)
    const now = performance.now()
    this.#put(key, json, now + ttlMs, now)
  }

  async claim (key: string, value: unknown, ttlMs: number): Promise<boolean> {
    assertKey(key)
    assertTtl(ttlMs)
    const json = encodeValue(value)
    const now = performance.now()
    if (this.#live(key, now) !== undefined) return false
    this.#put(key, json, now + ttlMs, now)
    return true
  }

  async take (key: string): Promise<unknown | undefined> {
    assertKey(key)
    const entry = this.#live(key, performance.now())
    if (entry === undefined) return undefined
    this.#remove(entry)
    return JSON.parse(entry.json)
  }

  async delete (key: string): Promise<void> {
    assertKey(key)
    const entry = this.#entries.get(key)
    if (entry !== undefined) this.#remove(entry)
  }

  async schedule (queue: string, member: string, dueAt: number): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    assertInstant('dueAt', dueAt)
    let q = this.#queues.get(queue)
    if (q === undefined) {
      q = new Queue()
      this.#queues.set(queue, q)
    }
    const queued = q.members.get(member)
    if (queued === undefined) {
      this.#makeRoom(performance.now())
      const added = new QueueMember(member, dueAt)
      q.members.set(member, added)
      q.byDueTime.push(added)
      this.#queued++
    } else {
      q.byDueTime.remove(queued)
      queued.at = dueAt
      q.byDueTime.push(queued)
    }
  }

  async due (queue: string, now: number, limit: number, leaseMs: number): Promise<string[]> {
    assertQueueName(queue)
    assertInstant('now', now)
    assertLimit(limit)
    assertLease(leaseMs)
    const q = this.#queues.get(queue)
    if (q === undefined) return []
    // Taken out first and put back after, so a member leased here cannot come round again in this call.
    const leased: QueueMember[] = []
    for (let next = q.byDueTime.peek(); next !== undefined && next.at <= now && leased.length < limit; next = q.byDueTime.peek()) {
      q.byDueTime.remove(next)
      leased.push(next)
    }
    for (const member of leased) {
      member.at = now + leaseMs
      q.byDueTime.push(member)
    }
    return leased.map((m) => m.member)
  }

  async unschedule (queue: string, member: string): Promise<void> {
    assertQueueName(queue)
    assertMember(member)
    const q = this.#queues.get(queue)
    const queued = q?.members.get(member)
    if (q === undefined || queued === undefined) return
    q.members.delete(member)
    q.byDueTime.remove(queued)
    this.#queued--
    if (q.members.size === 0) this.#queues.delete(queue)
  }

  /** Stops the periodic sweep and drops every entry. The plugin calls it on close when it created the store. */
  close (): void {
    clearInterval(this.#timer)
    this.#entries.clear()
    this.#expiries.clear()
    this.#queues.clear()
    this.#queued = 0
  }

  /** The entry under `key` unless it expired; an expired one is removed on the way. */
  #live (key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.at <= now) {
      this.#remove(entry)
      return undefined
    }
    return entry
  }

  #put (key: string, json: string, expiresAt: number, now: number): void {
    const previous = this.#entries.get(key)
    // A replacement never needs room.
    if (previous !== undefined) this.#remove(previous)
    else this.#makeRoom(now)
    const entry = new Entry(key, flatten(json), expiresAt)
    this.#entries.set(key, entry)
    this.#expiries.push(entry)
  }

  /** Makes room for one more key or member: every expired entry goes, and when none had, the write is refused. */
  #makeRoom (now: number): void {
    if (this.size < this.maxEntries) return
    this.#sweep(now)
    if (this.size >= this.maxEntries) {
      throw new Error(`MemoryStore is full (maxEntries ${this.maxEntries}): a new key or queue member is refused, since evicting one could drop an exactly-once guard`)
    }
  }

  #sweep (now: number): void {
    for (let next = this.#expiries.peek(); next !== undefined && next.at <= now; next = this.#expiries.peek()) {
      this.#remove(next)
    }
  }

  #remove (entry: Entry): void {
    this.#entries.delete(entry.key)
    this.#expiries.remove(entry)
  }
}
