import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from './shop.js'

/** A `redis-server` of a test's own, on a free port: one the test may freeze, or make a cluster node. */
export interface RedisServer {
  readonly port: number
  readonly pid: number
  /** Its working directory (a fresh temporary one), where a cluster node keeps nodes-<port>.conf. */
  readonly dir: string
  /** SIGSTOP: the server holds its connections open and answers nothing, as a hung Redis does. */
  freeze (): void
  /** SIGCONT: it answers again, queued commands first. */
  thaw (): void
  /** Stops it by its PID (thawing it first, so SIGTERM is acted on) and removes its directory. */
  stop (): Promise<void>
}

export interface RedisServerOptions {
  /** Appended to its arguments; a function of the port for arguments that name it (a cluster node's config file). */
  args?: string[] | ((port: number) => string[])
  /** Its working directory, which the caller owns and removes; by default a fresh temporary one that `stop()` removes. */
  dir?: string
  /** Picks the port to try (default: any free one); called again when the server could not bind it. */
  port?: () => Promise<number>
}

/** `redis-server` on 127.0.0.1 at a free port, nothing persisted. */
export async function startRedisServer (options: RedisServerOptions = {}): Promise<RedisServer> {
  const { args = [], dir, port: pickPort = freePort } = options
  const own = dir === undefined
  const workDir = dir ?? await mkdtemp(join(tmpdir(), 'qorepay-redis-'))
  // Another process may take the free port before the server binds it: try again on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort()
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', workDir, '--daemonize', 'no', ...(typeof args === 'function' ? args(port) : args)
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    // No redis-server on the PATH (ENOENT): the child never runs, and says why here.
    child.on('error', (err) => { output += err.message })
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    if (await answers(child, port)) return handle(child, port, workDir, own)
    await stopChild(child)
    if (attempt === 3) {
      if (own) await rm(workDir, { recursive: true, force: true })
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${output.slice(-500)}`)
    }
  }
}

/** Whether the server answers PING within ten seconds, while it runs. */
async function answers (child: ChildProcess, port: number): Promise<boolean> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline && child.exitCode === null) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 })
    client.on('error', () => {})
    try {
      await client.connect()
      if (await client.ping() === 'PONG') return true
    } catch {
      await sleep(50)
    } finally {
      client.disconnect()
    }
  }
  return false
}

function handle (child: ChildProcess, port: number, dir: string, own: boolean): RedisServer {
  const pid = child.pid as number
  // A test process that dies before its teardown (an uncaught error) still stops its servers, by PID.
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL')
    if (own) rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  return {
    port,
    pid,
    dir,
    freeze: () => { process.kill(pid, 'SIGSTOP') },
    thaw: () => { process.kill(pid, 'SIGCONT') },
    async stop () {
      process.removeListener('exit', onExit)
      await stopChild(child)
      if (own) await rm(dir, { recursive: true, force: true })
    }
  }
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  const pid = child.pid as number
  process.kill(pid, 'SIGCONT')
  process.kill(pid, 'SIGTERM')
  const timer = setTimeout(() => { if (child.exitCode === null) process.kill(pid, 'SIGKILL') }, 5000)
  await exited
  clearTimeout(timer)
}
