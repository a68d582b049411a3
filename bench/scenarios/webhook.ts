import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto'
import { request } from 'undici'
import { CREDENTIALS, NO_3DS_CARD, PREFIX, cardBody } from '../config.js'
import type { Target } from '../targets.js'
import type { BenchEnv, Scenario } from './types.js'

export interface SignedEvent { body: Buffer, signature: string }

let events: SignedEvent[] = []
let next = 0
/** Requests of the current round that had to reuse an event (pool too small for the throughput). */
let reused = 0

/**
 * A signed `purchase.paid` webhook: RSA verify plus dedup. Each request is a
 * distinct event (its own purchase id), signed in advance because signing
 * costs ~1 ms while verifying costs ~30 us. The servers' dedup state is reset
 * before every round, so the pool only has to cover one round.
 */
export const webhook: Scenario = {
  name: 'webhook',
  title: 'POST /webhook, signed purchase.paid (RSA verify + dedup)',
  requestsPerFlow: 1,
  expect: [200],
  async setup (env) {
    const template = await paidPurchase(env)
    const count = poolSize(env.duration)
    events = await signAll(template, count, createPrivateKey(env.webhookPrivateKey))
  },
  async beforeRound (target: Target) {
    next = 0
    reused = 0
    await target.ask('reset')
  },
  check: () => reused > 0 ? `${reused} requests reused an event (raise BENCH_WEBHOOK_EVENTS)` : undefined,
  load: () => ({
    requests: [{
      method: 'POST',
      path: `${PREFIX}/webhook`,
      setupRequest (req) {
        if (next >= events.length) reused++
        const event = events[next++ % events.length]
        return { ...req, headers: { 'content-type': 'application/json', 'x-signature': event.signature }, body: event.body }
      }
    }]
  })
}

/** Events a round may take: the fastest server stays under ~6k webhooks/s on 2 cores; BENCH_WEBHOOK_EVENTS overrides. */
function poolSize (duration: number): number {
  const fromEnv = Number(process.env.BENCH_WEBHOOK_EVENTS)
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.ceil(duration * 6_000)
}

/** A real paid purchase from the simulator, as the body of its webhooks looks. */
export async function paidPurchase (env: BenchEnv): Promise<Record<string, unknown>> {
  const auth = { authorization: `Bearer ${CREDENTIALS.apiKey}`, 'content-type': 'application/json' }
  const created = await request(`${env.sim.baseUrl}purchases/`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      brand_id: CREDENTIALS.brandId,
      client: { email: 'payer@example.com' },
      purchase: { currency: 'NGN', products: [{ name: 'Dog food Max', quantity: 1, price: 9000 }] },
      reference: 'order-42',
      success_redirect: 'https://shop.example/paid',
      failure_redirect: 'https://shop.example/failed'
    })
  })
  const purchase = await created.body.json() as { id: string, direct_post_url: string }
  const paid = await request(`${purchase.direct_post_url}?s2s=true`, {
    method: 'POST',
    headers: { ...auth, authorization: `Bearer ${CREDENTIALS.s2sToken}` },
    body: JSON.stringify({ ...JSON.parse(cardBody(NO_3DS_CARD)), remote_ip: '8.8.8.8' })
  })
  await paid.body.dump()
  const got = await request(`${env.sim.baseUrl}purchases/${purchase.id}/`, { headers: auth })
  return await got.body.json() as Record<string, unknown>
}

/** Signs on libuv's thread pool (the callback form of crypto.sign), so both cores work. */
export async function signAll (template: Record<string, unknown>, count: number, privateKey: KeyObject): Promise<SignedEvent[]> {
  const out: SignedEvent[] = new Array(count)
  const batch = 256
  for (let start = 0; start < count; start += batch) {
    const jobs: Promise<void>[] = []
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const body = Buffer.from(JSON.stringify({ ...template, id: randomUUID(), event_type: 'purchase.paid' }))
      jobs.push(new Promise((resolve, reject) => {
        sign('sha256', body, privateKey, (err, signature) => {
          if (err !== null) return reject(err)
          out[i] = { body, signature: signature.toString('base64') }
          resolve()
        })
      }))
    }
    await Promise.all(jobs)
  }
  return out
}
