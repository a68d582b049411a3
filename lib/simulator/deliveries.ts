import { setMaxListeners } from 'node:events'
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { Agent, request } from 'undici'
import { isWebUrl } from '../wire/web-url.js'
import type { DeliveryMode, SimDelivery } from './contract.js'

/**
 * Outgoing deliveries: webhooks (signed by the webhook's key) and
 * success callbacks (signed by the company key). At-least-once like the
 * platform: retried on its schedule (scaled) until a 2xx, a bounded number
 * of times, optionally duplicated or held and reordered.
 */

export interface SigningKey {
  privateKey: KeyObject
  publicPem: string
}

/** A fresh RSA 2048 key pair. */
export function newSigningKey (): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string }
}

/** A key pair from an RSA private key in PEM; `name` is the option it came from, for the error. */
export function signingKeyFromPem (pem: unknown, name: string): SigningKey {
  let privateKey: KeyObject | undefined
  try {
    privateKey = createPrivateKey(pem as string)
  } catch {
    privateKey = undefined
  }
  if (privateKey?.asymmetricKeyType !== 'rsa') throw new TypeError(`createSimulator: ${name} must be an RSA private key in PEM format`)
  return { privateKey, publicPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string }
}

/** PKCS#8 PEM of a key's private half: what a key file holds. */
export function privatePem (key: SigningKey): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
}

interface Webhook {
  id: string
  url: string
  events: string[] | undefined
  /** Its own key, or undefined to sign with the (rotatable) default webhook key. */
  key: SigningKey | undefined
}

interface HeldEvent { purchaseId: string, eventType: string, payload: object }

interface Job {
  kind: SimDelivery['kind']
  url: string
  eventType: string
  purchaseId: string
  body: string
  signature: string
}

export interface DeliveryOptions {
  attempts: number
  /** Milliseconds per minute of the platform's retry schedule. */
  retryScaleMs: number
}

/** Minutes after the first try that try `n` (1-based) goes out, as on the platform: 0, 2, 8, 26, ... 2186 (36 h 26 min). */
export const retryMinutes = (n: number): number => 3 ** (n - 1) - 1

export class Deliveries {
  readonly log: SimDelivery[] = []
  readonly mode: DeliveryMode

  readonly #attempts: number
  readonly #retryScaleMs: number
  readonly #webhooks = new Map<string, Webhook>()
  readonly #held = new Map<string, HeldEvent[]>()
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout, wake: () => void }>()
  readonly #idleWaiters: Array<() => void> = []
  readonly #abort = new AbortController()
  // One keep-alive pool for every target, like a real platform's sender.
  readonly #agent = new Agent({ keepAliveTimeout: 2000, connections: 16 })
  // Made on first use: an RSA key costs ~0.2 s of CPU, and many tests never need one.
  #webhookKey: SigningKey | undefined
  #companyKey: SigningKey | undefined
  #pending = 0
  #closed = false

  constructor (opts: DeliveryOptions) {
    // Every delivery in flight listens on this one signal; hundreds at once are normal under load.
    setMaxListeners(0, this.#abort.signal)
    this.#attempts = opts.attempts
    this.#retryScaleMs = opts.retryScaleMs
    let outOfOrder = false
    const flush = () => { this.#flush() }
    this.mode = {
      duplicate: false,
      get outOfOrder () { return outOfOrder },
      set outOfOrder (value: boolean) {
        outOfOrder = value
        // Switching the knob off releases what it held.
        if (!value) flush()
      }
    }
  }

  /** Signs webhooks added without their own key. */
  get webhookKey (): SigningKey { return (this.#webhookKey ??= newSigningKey()) }
  set webhookKey (key: SigningKey) { this.#webhookKey = key }
  /** Signs success callbacks; served by GET /public_key/. */
  get companyKey (): SigningKey { return (this.#companyKey ??= newSigningKey()) }
  set companyKey (key: SigningKey) { this.#companyKey = key }

  addWebhook (opts: { url: string, events?: string[], newKey?: boolean }): { id: string, publicKey: string } {
    if (!isWebUrl(opts.url)) throw new TypeError('addWebhook: url must be an absolute http(s) URL')
    const key = opts.newKey ? newSigningKey() : undefined
    const id = randomUUID()
    this.#webhooks.set(id, { id, url: opts.url, events: opts.events, key })
    return { id, publicKey: (key ?? this.webhookKey).publicPem }
  }

  removeWebhook (id: string): void {
    this.#webhooks.delete(id)
  }

  /** An event as the platform raises it: held when out-of-order mode is on, else sent now. */
  publish (purchaseId: string, eventType: string, payload: object): void {
    // Snapshot now: a held event must carry the state it was raised with.
    const event = { purchaseId, eventType, payload: structuredClone(payload) }
    if (this.mode.outOfOrder) {
      const held = this.#held.get(purchaseId) ?? []
      held.push(event)
      this.#held.set(purchaseId, held)
      return
    }
    // Never rejects: delivery failures end up in the log, not as errors.
    this.#track(() => this.#dispatch(event))
  }

  /** Sends an event now, whatever the mode; resolves when every delivery of it is done. */
  emit (purchaseId: string, eventType: string, payload: object): Promise<void> {
    return this.#track(() => this.#dispatch({ purchaseId, eventType, payload }))
  }

  successCallback (purchaseId: string, url: string, payload: object): void {
    const body = JSON.stringify({ ...payload, event_type: 'purchase.paid' })
    const job: Job = { kind: 'success_callback', url, eventType: 'purchase.paid', purchaseId, body, signature: signBody(body, this.companyKey) }
    this.#track(() => this.#twice(job))
  }

  /** Resolves once nothing is held, in flight or waiting for a retry. */
  async idle (): Promise<void> {
    while (!this.#closed) {
      if (this.#held.size > 0) await this.#flush()
      if (this.#pending === 0) return
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#held.clear()
    this.#abort.abort()
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer)
      sleep.wake()
    }
    this.#wakeIdle()
    await this.#agent.destroy()
  }

  #flush (): Promise<void> {
    const batches = [...this.#held.values()]
    this.#held.clear()
    return this.#track(async () => {
      for (const batch of batches) {
        for (const event of batch.reverse()) await this.#dispatch(event)
      }
    })
  }

  async #dispatch ({ purchaseId, eventType, payload }: HeldEvent): Promise<void> {
    const body = JSON.stringify({ ...payload, event_type: eventType })
    const jobs: Promise<void>[] = []
    for (const hook of this.#webhooks.values()) {
      if (hook.events && !hook.events.includes(eventType)) continue
      const signature = signBody(body, hook.key ?? this.webhookKey)
      jobs.push(this.#twice({ kind: 'webhook', url: hook.url, eventType, purchaseId, body, signature }))
    }
    await Promise.all(jobs)
  }

  async #twice (job: Job): Promise<void> {
    if (this.mode.duplicate) await Promise.all([this.#deliver(job), this.#deliver(job)])
    else await this.#deliver(job)
  }

  async #deliver (job: Job): Promise<void> {
    const first = Date.now()
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      // On the schedule counted from the first try, however long the tries before took.
      if (attempt > 1) await this.#sleep(Math.max(0, first + retryMinutes(attempt) * this.#retryScaleMs - Date.now()))
      if (this.#closed) return
      const statusCode = await this.#post(job)
      if (this.#closed) return
      this.log.push({ ...job, attempt, statusCode })
      if (statusCode !== null && statusCode >= 200 && statusCode < 300) return
    }
  }

  async #post (job: Job): Promise<number | null> {
    try {
      const res = await request(job.url, {
        method: 'POST',
        dispatcher: this.#agent,
        signal: this.#abort.signal,
        headers: { 'content-type': 'application/json', 'x-signature': job.signature, 'user-agent': 'qorepay-simulator' },
        body: job.body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000
      })
      await res.body.dump()
      return res.statusCode
    } catch {
      // Refused, reset or timed out: no HTTP answer, retried like a 5xx.
      return null
    }
  }

  #sleep (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep = {
        wake: () => {
          this.#sleeps.delete(sleep)
          resolve()
        },
        timer: setTimeout(() => sleep.wake(), ms)
      }
      this.#sleeps.add(sleep)
    })
  }

  async #track (work: () => Promise<void>): Promise<void> {
    this.#pending++
    try {
      await work()
    } finally {
      this.#pending--
      if (this.#pending === 0) this.#wakeIdle()
    }
  }

  #wakeIdle (): void {
    for (const wake of this.#idleWaiters.splice(0)) wake()
  }
}

/** Base64 RSA PKCS#1 v1.5 SHA-256 over the exact body bytes. */
export function signBody (body: string, key: SigningKey): string {
  return sign('sha256', Buffer.from(body), key.privateKey).toString('base64')
}
