import type { Options } from 'autocannon'
import type { GatewayHandle } from '../gateway-process.js'
import type { Target } from '../targets.js'

/** What scenarios may use besides the server under test. */
export interface BenchEnv {
  /** The simulator: real purchases for webhook bodies. */
  sim: GatewayHandle
  /** The gateway the servers of the current runs talk to (the stub or the simulator). */
  gateway: GatewayHandle
  /** PEM of the key pair the bench signs webhooks with (the servers verify with its public half). */
  webhookPrivateKey: string
  /** Seconds per measured round. */
  duration: number
}

export interface Scenario {
  /** Key in results.json. */
  name: string
  title: string
  /** HTTP requests one flow takes (the table shows requests/s; flows/s = requests/s / this). */
  requestsPerFlow: number
  /** Status codes a correct answer has; anything else is counted as a failure. */
  expect: number[]
  /** Once, before the servers start (pre-generated request bodies). */
  setup? (env: BenchEnv): Promise<void>
  /** Once per server, before its warm-up (pre-created sessions). */
  prepare? (target: Target, env: BenchEnv): Promise<void>
  /** Before every round of a server, the warm-up included. */
  beforeRound? (target: Target, env: BenchEnv): Promise<void>
  /** After every round: a warning when the round did not measure what it should. */
  check? (): string | undefined
  /** The autocannon options of one round against `target`. */
  load (target: Target, env: BenchEnv): Omit<Options, 'url' | 'connections' | 'duration'>
}
