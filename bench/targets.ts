import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { ServerConfig } from './config.js'

/** `otel`: the plugin server with fastify-qorepay/otel on the OpenTelemetry SDK. */
export type Kind = 'plugin' | 'otel' | 'floor' | 'handwritten'
export const KINDS: Kind[] = ['plugin', 'otel', 'floor', 'handwritten']

export interface Answer { type: string, heapUsed?: number, rss?: number, gc?: boolean, micros?: number, storeOps?: number, error?: string }

/** A server under test running in its own child process. */
export interface Target {
  kind: Kind
  /** 'http://127.0.0.1:<port>' */
  origin: string
  /** Sends an IPC message and waits for the answer of the same type. */
  ask (type: 'reset' | 'memory' | 'cpu' | 'profile', extra?: object): Promise<Answer>
  close (): Promise<void>
}

const CHILD = fileURLToPath(new URL('./server-child.ts', import.meta.url))

/** A free port now, so the server knows its public URL before it registers its routes. */
async function freePort (): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  return port
}

export async function startTarget (kind: Kind, base: Omit<ServerConfig, 'publicUrl'>, nodeArgs: string[] = []): Promise<Target> {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const config: ServerConfig = { ...base, publicUrl: origin }
  const child: ChildProcess = fork(CHILD, [kind], {
    execArgv: ['--import', 'tsx', ...nodeArgs],
    env: { ...process.env, BENCH_PORT: String(port), BENCH_SERVER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`${kind} server exited with ${code} before it was ready`)) }
    child.once('exit', onExit)
    child.once('message', () => {
      child.off('exit', onExit)
      resolve()
    })
  })

  function ask (type: 'reset' | 'memory' | 'cpu' | 'profile', extra: object = {}): Promise<Answer> {
    return new Promise((resolve) => {
      const onMessage = (msg: Answer): void => {
        if (msg.type !== type) return
        child.off('message', onMessage)
        resolve(msg)
      }
      child.on('message', onMessage)
      child.send({ ...extra, type })
    })
  }

  async function close (): Promise<void> {
    if (child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.send({ type: 'close' })
    // A server stuck on open sockets is ended by its id after a grace period.
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }

  return { kind, origin, ask, close }
}
