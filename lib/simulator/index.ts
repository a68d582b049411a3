import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SimFault, SimRequest, SimRoute, Simulator, SimulatorOptions } from './contract.js'
import { Deliveries, newSigningKey, signingKeyFromPem } from './deliveries.js'
import { Platform } from './platform.js'
import { platformError, jsonReply, type Reply } from './reply.js'

/**
 * A stateful QorePay gateway over real HTTP on 127.0.0.1, for tests and
 * demos: purchases, the S2S card post with 3-D Secure, an ACS page, signed
 * webhooks and success callbacks, and fault knobs for reliability work.
 * Built on node:http only, so it behaves like a remote server.
 */

export type { DeliveryMode, SimDelivery, SimFailureCode, SimFault, SimRequest, SimRoute, Simulator, SimulatorOptions } from './contract.js'
export { CARD_TABLE, TEST_CARDS } from './test-cards.js'
// Schemas and their Static types, under one name each.
export { GatewayError } from '../wire/api-error.js'
export { Payment, Purchase, PurchaseStatus } from '../wire/purchase.js'
export { S2SStatus } from '../wire/s2s-status.js'

const routes: Array<[string, RegExp, SimRoute]> = [
  ['POST', /^\/api\/v1\/purchases\/$/, 'purchases.create'],
  ['GET', /^\/api\/v1\/purchases\/([^/]+)\/$/, 'purchases.get'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/capture\/$/, 'purchases.capture'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/release\/$/, 'purchases.release'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/cancel\/$/, 'purchases.cancel'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/refund\/$/, 'purchases.refund'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/charge\/$/, 'purchases.charge'],
  ['POST', /^\/api\/v1\/purchases\/([^/]+)\/delete_recurring_token\/$/, 'purchases.delete_recurring_token'],
  ['GET', /^\/api\/v1\/public_key\/$/, 'public_key'],
  ['POST', /^\/p\/([^/]+)\/$/, 'direct_post'],
  ['POST', /^\/s2s\/callback\/([^/]+)\/$/, 'callback'],
  ['GET', /^\/acs\/$/, 'acs'],
  ['POST', /^\/acs\/$/, 'acs']
]

function matchRoute (method: string, path: string): { route: SimRoute, id: string } | undefined {
  for (const [m, pattern, route] of routes) {
    const match = m === method ? pattern.exec(path) : null
    if (match) return { route, id: match[1] ?? '' }
  }
  return undefined
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

interface QueuedFault { fault: SimFault, left: number }

export async function createSimulator (opts: SimulatorOptions): Promise<Simulator> {
  for (const key of ['apiKey', 's2sToken', 'brandId'] as const) {
    if (typeof opts[key] !== 'string' || opts[key] === '') throw new TypeError(`createSimulator: ${key} must be a non-empty string`)
  }
  const latencyMs = opts.latencyMs ?? 0
  const deliveries = new Deliveries({ attempts: opts.webhookAttempts ?? 8, retryScaleMs: opts.webhookRetryScale ?? 1 })
  if (opts.webhookKey !== undefined) deliveries.webhookKey = signingKeyFromPem(opts.webhookKey, 'webhookKey')
  if (opts.companyKey !== undefined) deliveries.companyKey = signingKeyFromPem(opts.companyKey, 'companyKey')
  const platform = new Platform(opts, deliveries)
  const requests: SimRequest[] = []
  const faults: QueuedFault[] = []
  const timers = new Set<NodeJS.Timeout>()
  const hanging = new Set<ServerResponse>()
  let closing: Promise<void> | undefined

  // Timers die with close(); a handler waiting on one simply never resumes.
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      resolve()
    }, ms)
    timers.add(timer)
  })

  function takeFault (route: SimRoute): SimFault | undefined {
    const index = faults.findIndex((q) => q.fault.route === route || q.fault.route === '*')
    if (index === -1) return undefined
    const queued = faults[index]
    if (--queued.left <= 0) faults.splice(index, 1)
    return queued.fault
  }

  function faultReply (fault: Extract<SimFault, { kind: 'status' }>): Reply {
    const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) }
    // A string is sent as it is, like the HTML error page of a proxy; anything else as JSON.
    if (typeof fault.body === 'string') return { status: fault.status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, body: fault.body }
    if (fault.body !== undefined) return jsonReply(fault.status, fault.body, headers)
    const reply = platformError(fault.status, `Simulated fault: HTTP ${fault.status}.`, 'simulated_fault')
    return { ...reply, headers: { ...reply.headers, ...headers } }
  }

  async function send (res: ServerResponse, reply: Reply): Promise<void> {
    if (latencyMs > 0) await sleep(latencyMs)
    res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) })
    res.end(reply.body)
  }

  async function onRequest (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const method = req.method as string
    const url = new URL(req.url as string, origin)
    const match = matchRoute(method, url.pathname)
    requests.push({ route: match?.route ?? 'unknown', method, path: req.url as string, headers: req.headers, body, at: Date.now() })
    if (!match) return send(res, platformError(404, 'Not found.', 'not_found'))

    const fault = takeFault(match.route)
    const run = () => platform.handle({ route: match.route, id: match.id, method, url, headers: req.headers, body })
    switch (fault?.kind) {
      case 'hang':
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        if (fault.process) run()
        return
      case 'reset':
        run()
        req.socket.destroy()
        return
      case 'status':
        if (fault.process) run()
        return send(res, faultReply(fault))
      case 'latency':
        await sleep(fault.ms)
    }
    return send(res, run())
  }

  const server = createServer((req, res) => {
    // A client that aborts while sending its body gets its connection dropped.
    onRequest(req, res).catch(() => res.destroy())
  })
  // Longer than any client keeps an idle connection: the client closes it, never
  // the server while a request is on its way (an ECONNRESET on a loaded machine).
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { address, port } = server.address() as AddressInfo
  const host = address.includes(':') ? `[${address}]` : address
  const origin = `http://${host}:${port}`
  platform.origin = origin

  return {
    baseUrl: `${origin}/api/v1/`,
    origin,
    get webhookPublicKey () { return deliveries.webhookKey.publicPem },
    get companyPublicKey () { return deliveries.companyKey.publicPem },
    requests,
    purchases: platform.purchases,
    deliveries: deliveries.log,
    count: (route) => requests.filter((r) => r.route === route).length,
    inject (fault) {
      const count = fault.count ?? 1
      if (!(count >= 1)) throw new RangeError('inject: count must be at least 1')
      faults.push({ fault, left: count })
    },
    clearFaults: () => { faults.length = 0 },
    addWebhook: (hook) => deliveries.addWebhook(hook),
    removeWebhook: (id) => deliveries.removeWebhook(id),
    rotateWebhookKey () {
      deliveries.webhookKey = newSigningKey()
      return deliveries.webhookKey.publicPem
    },
    rotateCompanyKey () {
      deliveries.companyKey = newSigningKey()
      return deliveries.companyKey.publicPem
    },
    get deliveryMode () { return deliveries.mode },
    set deliveryMode (mode) {
      deliveries.mode.duplicate = mode.duplicate
      deliveries.mode.outOfOrder = mode.outOfOrder
    },
    get slowAcquirer () { return platform.slowAcquirer },
    set slowAcquirer (slow) { platform.slowAcquirer = slow },
    get declineCharges () { return platform.declineCharges },
    set declineCharges (code) { platform.declineCharges = code },
    completePending: (purchaseId, result = 'approve') => platform.completePending(purchaseId, result),
    emit: (purchaseId, eventType) => platform.emit(purchaseId, eventType),
    completeThreeDS: async (purchaseId, result) => platform.completeThreeDS(purchaseId, result),
    idle: () => deliveries.idle(),
    close () {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer)
        for (const res of hanging) res.destroy()
        await deliveries.close()
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })()
      return closing
    }
  }
}
