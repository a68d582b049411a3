import Fastify from 'fastify'
import qorepay from '../../lib/index.js'
import { FAILURE_REDIRECT, PURCHASE, SUCCESS_REDIRECT, type ServerConfig } from '../config.js'
import type { BenchServer } from './types.js'
import { RoundStore } from './round-store.js'

const done = async (): Promise<void> => {}

/** The plugin as a shop registers it: its options, a purchase() and the hooks the shop listens to. */
export async function build (cfg: ServerConfig): Promise<BenchServer> {
  const store = new RoundStore(cfg, 'plugin')
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
    reset () { store.reset() },
    storeOps: () => store.ops,
    async close () {
      await app.close()
      await store.close()
    }
  }
}
