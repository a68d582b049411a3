import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { until } from './reconcile.js'

const hostSource = fileURLToPath(new URL('./host-process.ts', import.meta.url))

export interface Host { child: ChildProcess, url: string, stdout: string, exit: Promise<number | null> }

/** test/helpers/host-process.ts in a child process, under this test's loader and coverage hooks; configured by `env`. */
export async function startHost (env: Record<string, string>): Promise<Host> {
  const child = spawn(process.execPath, [...process.execArgv, hostSource], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] })
  const host: Host = { child, url: '', stdout: '', exit: new Promise((resolve) => child.on('exit', resolve)) }
  child.stdout?.on('data', (chunk: Buffer) => { host.stdout += chunk })
  await until(() => host.stdout.includes('ready ') || child.exitCode !== null, 'the host to listen')
  host.url = /ready (\S+)/.exec(host.stdout)![1]
  return host
}
