import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { QorePayOptions } from '../../lib/index.js'
import type { Simulator } from '../../lib/simulator/index.js'
import type { SweepResult } from '../../lib/reconcile/sweeper.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import { PURCHASE, startShop, type Shop, type ShopOptions } from './shop.js'
import { startReceiver } from './simulator.js'
import type { Tap } from './tap.js'

/**
 * A shop that learns outcomes only by reconciliation: no webhook is
 * configured, and the purchases' success_callback goes to a receiver that is
 * not the shop. Sweeps run when the test calls `reconcile()` unless it sets
 * an `interval`.
 */
export async function reconcilingShop (t: Tap, plugin: Partial<QorePayOptions> = {}, options: Omit<ShopOptions, 'plugin'> = {}): Promise<Shop> {
  const elsewhere = await startReceiver(t, '/not-the-shop')
  return await startShop(t, {
    ...options,
    plugin: {
      webhookPublicKey: undefined,
      lookupAttempts: 1,
      purchase: async () => ({ ...PURCHASE, success_callback: elsewhere.url }),
      reconcile: { schedule: [0.05, 0.05, 0.05], interval: 0 },
      ...plugin
    }
  })
}

/** Waits for `condition`, checking every 10 ms; fails after `ms`. */
export async function until (condition: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!await condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/**
 * Runs sweeps (`app.qorepay.reconcile()`) until their summed counts satisfy
 * `done`; the sum of every sweep run.
 */
export async function sweepUntil (app: FastifyInstance, done: (sum: SweepResult) => boolean, what: string): Promise<SweepResult> {
  const sum = { checked: 0, reported: 0, pending: 0 }
  await until(async () => {
    const one = await app.qorepay.reconcile()
    sum.checked += one.checked
    sum.reported += one.reported
    sum.pending += one.pending
    return done(sum)
  }, what)
  return sum
}

/** GET /purchases/{id}/ requests the simulator received, by purchase id. */
export function lookupsAt (sim: Simulator): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of sim.requests) {
    if (r.route !== 'purchases.get') continue
    const id = /\/purchases\/([^/]+)\//.exec(r.path)![1]
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

/** Log lines at `level` (pino: 40 warn, 50 error) that name `purchaseId`. */
export function logLines (logs: string[], level: number, purchaseId: string): Array<{ msg: string }> {
  return logs.map((line) => JSON.parse(line)).filter((l) => l.level === level && JSON.stringify(l).includes(purchaseId))
}

/** The store, counting the calls the plugin makes on it, by method. */
export function counting (store: SessionStore): { store: SessionStore, calls: Record<string, number> } {
  const calls: Record<string, number> = {}
  const counted = new Proxy(store, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls[String(property)] = (calls[String(property)] ?? 0) + 1
        return value.apply(target, args)
      }
    }
  })
  return { store: counted, calls }
}

/** The due-queue and record key names reconciliation uses for the test shop (brand `brand-test`, prefix `/qorepay`). */
export const QUEUE = 'reconcile:brand-test/qorepay'
export const recordKey = (purchaseId: string): string => `${QUEUE}:${purchaseId}`
