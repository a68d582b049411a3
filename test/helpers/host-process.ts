import { createInterface } from 'node:readline'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { request } from 'undici'
import qorepay from '../../lib/index.js'
import { RedisStore } from '../../lib/stores/redis.js'
import type { OutcomeEvent } from '../../lib/events.js'
import { MARK_TIMES } from '../../lib/outcome/mark-times.js'

/**
 * A shop in a process of its own, for tests that kill it (SIGKILL) or watch
 * it exit. Configured by environment: QP_BASE_URL (the simulator),
 * QP_REPORT_URL (where each outcome hook posts its event), QP_CALLBACK_URL
 * (the purchases' success_callback), QP_RECONCILE (JSON), QP_REDIS_PREFIX
 * for a RedisStore on the test Redis (else a MemoryStore), and optionally
 * QP_WEBHOOK_KEY (a PEM: the webhook route) and QP_MARK_TIMES (JSON: short
 * hook leases, lib/outcome/mark-times.ts). Prints
 * `ready <url>` once listening; `close` on stdin closes the app and prints `closed`; the process must
 * then exit by itself.
 */
const env = process.env as Record<string, string>
const redis = env.QP_REDIS_PREFIX === undefined ? undefined : new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 })
const app = Fastify()
const report = (event: OutcomeEvent) => request(env.QP_REPORT_URL, { method: 'POST', body: JSON.stringify({ pid: process.pid, event }) }).then((res) => res.body.dump())
await app.register(qorepay, {
  apiKey: 'test-api-key',
  s2sToken: 'test-s2s-token',
  brandId: 'brand-test',
  baseUrl: env.QP_BASE_URL,
  publicUrl: 'http://127.0.0.1:1',
  successRedirect: 'https://shop.example/ok',
  failureRedirect: 'https://shop.example/ko',
  lookupAttempts: 1,
  reconcile: JSON.parse(env.QP_RECONCILE),
  ...(redis === undefined ? {} : { store: new RedisStore({ client: redis, prefix: env.QP_REDIS_PREFIX }) }),
  ...(env.QP_WEBHOOK_KEY === undefined ? {} : { webhookPublicKey: env.QP_WEBHOOK_KEY }),
  ...(env.QP_MARK_TIMES === undefined ? {} : { [MARK_TIMES]: JSON.parse(env.QP_MARK_TIMES) }),
  purchase: async () => ({
    client: { email: 'payer@example.com' },
    purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }] },
    reference: 'order-42',
    success_callback: env.QP_CALLBACK_URL
  }),
  onExecuted: report,
  onAuthorized: report,
  onFailed: report
})
app.addHook('onClose', async () => { await redis?.quit() })
const url = await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`ready ${url}\n`)

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (line !== 'close') return
  // Our own pipe goes first: after this, only what the app left behind can keep the process alive.
  lines.close()
  process.stdin.destroy()
  // Then nothing may keep the event loop alive: the process exits by itself.
  app.close().then(() => process.stdout.write('closed\n'), (err: Error) => process.stdout.write(`close failed ${err.message}\n`))
})
