import type { FastifyBaseLogger } from 'fastify'
import { QorePayClient } from '../../lib/gateway/client.js'
import type { Simulator } from '../../lib/simulator/index.js'
import { creds, startSim } from './simulator.js'

/** One debug line of the client: its fields and its message. */
export interface DebugLine { msg: string, operation: string, statusCode?: number, error?: string, purchaseId?: string, durationMs: number }

/**
 * A QorePayClient on a simulator of its own, both closed at teardown;
 * `retries` extra tries for reads (default 0), and every debug line it
 * writes in `lines`.
 */
export async function clientOnSimulator (t: { teardown (fn: () => unknown): void }, { retries = 0 } = {}): Promise<{ sim: Simulator, client: QorePayClient, lines: DebugLine[] }> {
  const sim = await startSim(t)
  const lines: DebugLine[] = []
  const log = { debug: (fields: Omit<DebugLine, 'msg'>, msg: string) => { lines.push({ ...fields, msg }) } } as unknown as FastifyBaseLogger
  const client = new QorePayClient({ baseUrl: sim.baseUrl, apiKey: creds.apiKey, s2sToken: creds.s2sToken, timeouts: { connect: 1000, headers: 1000, body: 1000 }, retries }, log)
  t.teardown(() => client.close())
  return { sim, client, lines }
}
