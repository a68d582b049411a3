import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { STUB_PARES, STUB_THREE_DS } from './stub-answers.js'

/** What the bench posts to the TermUrl per 3DS purchase: the MD the gateway gave and an approving PaRes. */
export interface IssuedThreeDS { md: string, paRes: string }

export interface Trimmed {
  /** HTTP requests the gateway answered since the last trim. */
  requests: number
  deliveries: number
  failed: number
  /** CPU time the gateway process used so far, microseconds. */
  micros: number
}

/**
 * `stub`: bench/stub-gateway.ts, pre-serialised answers, so the server under
 * test is the limit. `simulator`: lib/simulator, the realistic mix (state,
 * rules, an RSA-signed success callback per paid purchase).
 */
export type GatewayName = 'stub' | 'simulator'

/** A gateway child, as the bench sees it. */
export interface GatewayHandle {
  name: GatewayName
  baseUrl: string
  origin: string
  /** The MD and PaRes for a purchase that answered 3DS_required; `undefined` while the simulator's has not arrived. */
  issued (purchaseId: string): IssuedThreeDS | undefined
  /** Drops what the gateway recorded; what it answered and delivered since the last trim. */
  trim (): Promise<Trimmed>
  /** Starts a CPU profile of the gateway, or with `file` stops it and writes it there. */
  profile (file?: string): Promise<void>
  close (): Promise<void>
}

const CHILDREN: Record<GatewayName, string> = {
  stub: fileURLToPath(new URL('./stub-gateway.ts', import.meta.url)),
  simulator: fileURLToPath(new URL('./sim-child.ts', import.meta.url))
}
const STUB_ISSUED: IssuedThreeDS = { md: STUB_THREE_DS.MD, paRes: STUB_PARES }

/** `publicKey`: the PEM the stub answers GET public_key/ with (it signs nothing, so any key does). */
export async function startGateway (name: GatewayName, publicKey: string): Promise<GatewayHandle> {
  const child = fork(CHILDREN[name], [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_STUB_PUBLIC_KEY: publicKey },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const threeDS = new Map<string, IssuedThreeDS>()
  let onTrim: ((msg: Trimmed) => void) | undefined
  let onProfile: (() => void) | undefined
  const ready = new Promise<{ baseUrl: string, origin: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} gateway exited with ${code}`)))
    child.on('message', (msg: Trimmed & { type: string, id: string, md: string, paRes: string, baseUrl: string, origin: string }) => {
      if (msg.type === '3ds') threeDS.set(msg.id, { md: msg.md, paRes: msg.paRes })
      else if (msg.type === 'ready') resolve(msg)
      else if (msg.type === 'trim') onTrim?.(msg)
      else if (msg.type === 'profile') onProfile?.()
    })
  })
  const { baseUrl, origin } = await ready
  return {
    name,
    baseUrl,
    origin,
    issued (purchaseId) {
      if (name === 'stub') return STUB_ISSUED
      const issued = threeDS.get(purchaseId)
      threeDS.delete(purchaseId)
      return issued
    },
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
