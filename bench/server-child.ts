/**
 * Runs one server under test in its own process, so its CPU time, heap and
 * JIT state are its own. Started by run.ts with the kind as argv[2], the
 * port and config in env; talks over IPC:
 *   -> { type: 'ready' }                       once listening
 *   <- { type: 'reset' }                       forget per-round state
 *   <- { type: 'cpu' }     -> { type: 'cpu', micros, storeOps }  CPU time (user + system) and store operations so far
 *   <- { type: 'memory' }  -> { type: 'memory', heapUsed, rss } after a full GC when --expose-gc is on
 *   <- { type: 'profile', file? }  -> { type: 'profile' }  starts a CPU profile, or with `file` stops and writes it
 */
import type { ServerConfig } from './config.js'
import type { Kind } from './targets.js'
import { startProfile, stopProfile } from './profiler.js'
import type { BenchServer } from './servers/types.js'

type Message = { type: 'reset' } | { type: 'memory' } | { type: 'cpu' } | { type: 'profile', file?: string } | { type: 'close' }

const kind = process.argv[2] as Kind
const port = Number(process.env.BENCH_PORT)
const config = JSON.parse(process.env.BENCH_SERVER_CONFIG ?? '{}') as ServerConfig

// Imported by name so that a kind whose code is not there yet does not stop the others.
const factory = await import(`./servers/${kind}.js`) as { build (cfg: ServerConfig): Promise<BenchServer> }
const server = await factory.build(config)
await server.app.listen({ host: '127.0.0.1', port })

const send = (msg: unknown): void => { process.send?.(msg) }

process.on('message', (msg: Message) => {
  if (msg.type === 'reset') {
    server.reset()
    send({ type: 'reset' })
  } else if (msg.type === 'cpu') {
    const { user, system } = process.cpuUsage()
    send({ type: 'cpu', micros: user + system, storeOps: server.storeOps() })
  } else if (msg.type === 'memory') {
    // Two passes: the first may only queue finalizers (WeakRefs, FinalizationRegistry).
    globalThis.gc?.()
    globalThis.gc?.()
    const { heapUsed, rss } = process.memoryUsage()
    send({ type: 'memory', heapUsed, rss, gc: typeof globalThis.gc === 'function' })
  } else if (msg.type === 'profile') {
    const done = msg.file === undefined ? startProfile() : stopProfile(msg.file)
    done.then(() => send({ type: 'profile' }), (err: Error) => send({ type: 'profile', error: err.message }))
  } else if (msg.type === 'close') {
    server.close().then(() => process.exit(0), () => process.exit(1))
  }
})
// The parent going away must never leave a server behind.
process.on('disconnect', () => process.exit(0))
send({ type: 'ready' })
