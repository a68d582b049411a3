/**
 * The gateway simulator in its own process, so its work (HTTP, purchase
 * state, RSA-signing a success callback per paid purchase) is not done on
 * the load generator's event loop. IPC:
 *   -> { type: 'ready', baseUrl, origin, companyPublicKey }
 *   -> { type: '3ds', id, md, paRes }  for each 3DS step issued (an approving PaRes)
 *   <- { type: 'profile', file? } -> { type: 'profile' }  starts a CPU profile, or with `file` stops and writes it
 *   <- { type: 'trim' }  -> { type: 'trim', requests, deliveries, failed, micros }  drop what it recorded so far; CPU used so far
 */
import { createSimulator } from '../lib/simulator/index.js'
import { ThreeDSTokens } from '../lib/simulator/three-ds-tokens.js'
import { CREDENTIALS } from './config.js'
import { startProfile, stopProfile } from './profiler.js'

// The bench plays the payer's bank: it needs, per purchase, the MD the gateway
// issued and an approving PaRes, synchronously when autocannon builds the
// TermUrl post. The ACS page would give both, but only through an extra HTTP
// round trip per flow that autocannon cannot make; so the bench takes them
// where the simulator issues them (PaReq, then MD, in the same call).
const issue = { paReq: ThreeDSTokens.prototype.paReq, md: ThreeDSTokens.prototype.md }
if (typeof issue.paReq !== 'function' || typeof issue.md !== 'function' || typeof ThreeDSTokens.prototype.paRes !== 'function') {
  throw new Error('bench: the simulator\'s ThreeDSTokens changed shape; update bench/sim-child.ts')
}
let issuing = ''
ThreeDSTokens.prototype.paReq = function (purchaseId: string): string {
  issuing = purchaseId
  return issue.paReq.call(this, purchaseId)
}
ThreeDSTokens.prototype.md = function (): string {
  const md = issue.md.call(this)
  process.send?.({ type: '3ds', id: issuing, md, paRes: this.paRes(issuing, 'approve') })
  return md
}

// One delivery try: a server that does not take success callbacks must not
// multiply the load with retries.
const sim = await createSimulator({ ...CREDENTIALS, webhookAttempts: 1 })

process.on('message', (msg: { type: string, file?: string }) => {
  if (msg.type === 'profile') {
    const done = msg.file === undefined ? startProfile() : stopProfile(msg.file)
    done.then(() => process.send?.({ type: 'profile' }), () => process.send?.({ type: 'profile' }))
  } else if (msg.type === 'trim') {
    const requests = sim.requests.length
    const deliveries = sim.deliveries.length
    const failed = sim.deliveries.filter((d) => d.statusCode === null || d.statusCode >= 300).length
    sim.purchases.clear()
    sim.requests.length = 0
    sim.deliveries.length = 0
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'trim', requests, deliveries, failed, micros: user + system })
  }
})
process.on('disconnect', () => { sim.close().finally(() => process.exit(0)) })
process.send?.({ type: 'ready', baseUrl: sim.baseUrl, origin: sim.origin, companyPublicKey: sim.companyPublicKey })
