import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { ServerConfig } from './config.js'
import { createPrivateKey } from 'node:crypto'
import { PREFIX } from './config.js'
import { createSessions } from './scenarios/three-ds-page.js'
import { paidPurchase, signAll } from './scenarios/webhook.js'
import type { BenchEnv } from './scenarios/types.js'
import { startTarget } from './targets.js'

const MB = 1024 * 1024
const mb = (bytes: number) => Math.round(bytes / MB * 10) / 10
// Growth is small next to the totals: two decimals.
const mb2 = (bytes: number) => Math.round(bytes / MB * 100) / 100

export interface MemoryReport {
  sessions: { count: number, heap_mb: number, heap_growth_mb: number, rss_mb: number, rss_growth_mb: number, bytes_per_session: number }
  requests: { count: number, mix: string, heap_before_mb: number, heap_after_mb: number, heap_growth_mb: number, rss_after_mb: number, failed: number }
}

/** Both memory figures; each runs in a child with --expose-gc so a full GC comes before every reading. */
export async function measureMemory (env: BenchEnv, config: Omit<ServerConfig, 'publicUrl'>, log: (msg: string) => void): Promise<MemoryReport> {
  const sessions = await sessionsMemory()
  log(`memory: ${sessions.count} pending sessions: heap ${sessions.heap_mb} MB (+${sessions.heap_growth_mb} MB), RSS ${sessions.rss_mb} MB`)
  const requests = await requestsMemory(env, config)
  log(`memory: ${requests.count} requests (${requests.mix}): heap ${requests.heap_before_mb} -> ${requests.heap_after_mb} MB (${requests.heap_growth_mb >= 0 ? '+' : ''}${requests.heap_growth_mb} MB)`)
  return { sessions, requests }
}

async function sessionsMemory (): Promise<MemoryReport['sessions']> {
  const child = fork(fileURLToPath(new URL('./memory-sessions.ts', import.meta.url)), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const [msg] = await once(child, 'message') as [{ count: number, gc: boolean, before: { heapUsed: number, rss: number }, after: { heapUsed: number, rss: number } }]
  await once(child, 'exit')
  if (!msg.gc) throw new Error('memory-sessions ran without --expose-gc')
  return {
    count: msg.count,
    heap_mb: mb(msg.after.heapUsed),
    heap_growth_mb: mb(msg.after.heapUsed - msg.before.heapUsed),
    rss_mb: mb(msg.after.rss),
    rss_growth_mb: mb(msg.after.rss - msg.before.rss),
    bytes_per_session: Math.round((msg.after.heapUsed - msg.before.heapUsed) / msg.count)
  }
}

/**
 * Heap of a plugin server before and after BENCH_MEMORY_REQUESTS (default 200,000)
 * requests that by design leave nothing behind, three to one: the 3DS page
 * of pending sessions, and webhooks the plugin has already seen (verify,
 * hash, parse, dedup lookups, no new marks). A leak per request (listeners,
 * closures, caches) shows as growth beyond noise. Payments are left out on
 * purpose: each one keeps a 7-day outcome mark, growth by design, and the
 * simulator caps them at a few hundred per second here.
 */
async function requestsMemory (env: BenchEnv, config: Omit<ServerConfig, 'publicUrl'>): Promise<MemoryReport['requests']> {
  const count = Number(process.env.BENCH_MEMORY_REQUESTS ?? 200_000)
  const target = await startTarget('plugin', config, ['--expose-gc'])
  try {
    const paths = await createSessions(target, 500)
    const events = await signAll(await paidPurchase(env), 200, createPrivateKey(env.webhookPrivateKey))
    let page = 0
    let hook = 0
    const pageRequest = { method: 'GET', setupRequest: (req: object) => ({ ...req, path: paths[page++ % paths.length] }) }
    const requests = [
      pageRequest,
      pageRequest,
      pageRequest,
      {
        method: 'POST',
        setupRequest (req: object) {
          const event = events[hook++ % events.length]
          return { ...req, path: `${PREFIX}/webhook`, headers: { 'content-type': 'application/json', 'x-signature': event.signature }, body: event.body }
        }
      }
    ]
    // Warm: JIT, pools and caches reach their steady size before the first reading.
    await autocannon({ url: target.origin, connections: 50, amount: 10_000, requests })
    const before = await target.ask('memory')
    const result = await autocannon({ url: target.origin, connections: 50, amount: count, requests })
    const after = await target.ask('memory')
    if (!before.gc) throw new Error('plugin server ran without --expose-gc')
    return {
      count,
      mix: '3 GET /3ds/:token : 1 POST /webhook (already seen)',
      heap_before_mb: mb(before.heapUsed as number),
      heap_after_mb: mb(after.heapUsed as number),
      heap_growth_mb: mb2((after.heapUsed as number) - (before.heapUsed as number)),
      rss_after_mb: mb(after.rss as number),
      failed: result.non2xx + result.errors + result.timeouts
    }
  } finally {
    await target.close()
  }
}
