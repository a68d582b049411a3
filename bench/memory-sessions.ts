/**
 * Heap and RSS of MemoryStore holding 100,000 pending 3DS sessions, each the
 * value the plugin stores under its token (see lib/three-ds/session.ts
 * ThreeDSSession), with the reconciliation tracking record and due-queue
 * member the plugin writes for the same purchase before its card post
 * (lib/reconcile/tracking.ts, the plugin's own Tracking on the same store). Run with --expose-gc;
 * answers over IPC.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { MemoryStore } from '../lib/index.js'
import { Tracking } from '../lib/reconcile/tracking.js'

const COUNT = Number(process.env.BENCH_SESSIONS ?? 100_000)
const TTL_MS = 1800 * 1000
const origin = 'http://127.0.0.1:43210'

function settle (): { heapUsed: number, rss: number } {
  globalThis.gc?.()
  globalThis.gc?.()
  const { heapUsed, rss } = process.memoryUsage()
  return { heapUsed, rss }
}

const store = new MemoryStore()
// The plugin's defaults: its scope (brand id + prefix) and reconcile.schedule.
const tracking = new Tracking(store, { scope: '409eb80e-3782-4b1d-afa8-b779759266a5/qorepay', schedule: [60, 300, 900, 3600, 10800, 43200, 86400, 172800], leaseMs: 60_000 })
const before = settle()
for (let i = 0; i < COUNT; i++) {
  const purchaseId = randomUUID()
  await tracking.track({ purchaseId, source: 'direct', reference: 'order-42', maskedPan: '555555******4444' })
  // The same shapes and sizes the simulator issues: PaReq with markup characters, a 25-byte base64 MD.
  const session = {
    purchaseId,
    reference: 'order-42',
    maskedPan: '555555******4444',
    callbackUrl: `${origin}/s2s/callback/${purchaseId}/`,
    acsUrl: `${origin}/acs/`,
    method: 'POST',
    paReq: `<PaReq id="${purchaseId}" nonce='${randomBytes(6).toString('hex')}'>3DS&v=1.0.2</PaReq>`,
    md: randomBytes(25).toString('base64'),
    expiresAt: Date.now() + TTL_MS
  }
  await store.set(`3ds:${randomBytes(32).toString('base64url')}`, session, TTL_MS)
}
const after = settle()
store.close()
process.send?.({ count: COUNT, gc: typeof globalThis.gc === 'function', before, after })
