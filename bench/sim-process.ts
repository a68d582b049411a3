import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What the bench issues per 3DS purchase: the MD the gateway gave and an approving PaRes. */
export interface IssuedThreeDS { md: string, paRes: string }

export interface Trimmed { deliveries: number, failed: number, /** CPU time the simulator used so far, microseconds. */ micros: number }

/** The simulator child, as the bench sees it. */
export interface SimHandle {
  baseUrl: string
  origin: string
  /** Filled as the simulator issues 3DS steps; scenarios take their entries out. */
  threeDS: Map<string, IssuedThreeDS>
  /** Drops what the simulator recorded (purchases, requests, deliveries); says how many success callbacks it delivered and how many failed. */
  trim (): Promise<Trimmed>
  /** Starts a CPU profile of the simulator, or with `file` stops it and writes it there. */
  profile (file?: string): Promise<void>
  close (): Promise<void>
}

const CHILD = fileURLToPath(new URL('./sim-child.ts', import.meta.url))

export async function startSimulator (): Promise<SimHandle> {
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const threeDS = new Map<string, IssuedThreeDS>()
  let onTrim: ((msg: Trimmed) => void) | undefined
  let onProfile: (() => void) | undefined
  const ready = new Promise<{ baseUrl: string, origin: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)))
    child.on('message', (msg: { type: string, id: string, md: string, paRes: string, baseUrl: string, origin: string, deliveries: number, failed: number, micros: number }) => {
      if (msg.type === '3ds') threeDS.set(msg.id, { md: msg.md, paRes: msg.paRes })
      else if (msg.type === 'ready') resolve(msg)
      else if (msg.type === 'trim') onTrim?.(msg)
      else if (msg.type === 'profile') onProfile?.()
    })
  })
  const { baseUrl, origin } = await ready
  return {
    baseUrl,
    origin,
    threeDS,
    trim () {
      threeDS.clear()
      return new Promise((resolve) => {
        onTrim = resolve
        child.send({ type: 'trim' })
      })
    },
    profile (file) {
      return new Promise((resolve) => {
        onProfile = resolve
        child.send({ type: 'profile', file })
      })
    },
    async close () {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.disconnect()
      await exited
    }
  }
}
