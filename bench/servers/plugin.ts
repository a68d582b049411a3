import Fastify from 'fastify'
import qorepay, { MemoryStore, type SessionStore } from '../../lib/index.js'
import { FAILURE_REDIRECT, PURCHASE, SUCCESS_REDIRECT, type ServerConfig } from '../config.js'
import type { BenchServer } from './types.js'

/**
 * The default MemoryStore behind a handle the bench can swap between rounds,
 * so the webhook scenario's fixed pool of signed events is new to the
 * plugin's dedup in each round. Each call only forwards to the current store.
 */
class RoundStore implements SessionStore {
  current = new MemoryStore()
  get (key: string) { return this.current.get(key) }
  set (key: string, value: unknown, ttlMs: number) { return this.current.set(key, value, ttlMs) }
  claim (key: string, value: unknown, ttlMs: number) { return this.current.claim(key, value, ttlMs) }
  take (key: string) { return this.current.take(key) }
  delete (key: string) { return this.current.delete(key) }
}

const done = async (): Promise<void> => {}

/** The plugin as a shop registers it: its options, a purchase() and the hooks the shop listens to. */
export async function build (cfg: ServerConfig): Promise<BenchServer> {
  const store = new RoundStore()
  const app = Fastify({ logger: false })
  await app.register(qorepay, {
    apiKey: cfg.apiKey,
    s2sToken: cfg.s2sToken,
    brandId: cfg.brandId,
    baseUrl: cfg.baseUrl,
    publicUrl: cfg.publicUrl,
    successRedirect: SUCCESS_REDIRECT,
    failureRedirect: FAILURE_REDIRECT,
    webhookPublicKey: cfg.webhookPublicKey,
    store,
    purchase: async () => PURCHASE,
    onExecuted: done,
    onAuthorized: done,
    onFailed: done,
    on3DSRequired: done,
    onWebhook: done
  })
  return {
    app,
    reset () {
      store.current.close()
      store.current = new MemoryStore()
    },
    async close () {
      await app.close()
      store.current.close()
    }
  }
}
