/**
 * A stub of the gateway for the bench, in its own process: the calls the
 * payment flow makes, answered with pre-serialised bodies, no signatures and
 * no state beyond the status a lookup reads, so that the server under test,
 * not the gateway, sets the pace. Started by gateway-process.ts; IPC:
 *   -> { type: 'ready', baseUrl, origin }
 *   <- { type: 'trim' }  -> { type: 'trim', requests, deliveries: 0, failed: 0, micros }  requests answered since the last trim; CPU used so far
 *   <- { type: 'profile', file? } -> { type: 'profile' }  starts a CPU profile, or with `file` stops and writes it
 *
 *   GET  /api/v1/public_key/          the PEM in BENCH_STUB_PUBLIC_KEY, as a JSON string
 *   POST /api/v1/purchases/           a Purchase (status created), its direct_post_url here
 *   POST /p/<id>/?s2s=true            3DS_required for the 3DS test card, executed for any other
 *   POST /s2s/callback/<id>/          executed
 *   GET  /api/v1/purchases/<id>/      the Purchase, paid once its card post or callback executed
 * The shapes are the simulator's (lib/wire/purchase.ts, s2s-status.ts), sizes included.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { CREDENTIALS, PURCHASE, THREE_DS_CARD } from './config.js'
import { STUB_THREE_DS } from './stub-answers.js'
import { startProfile, stopProfile } from './profiler.js'

const server = createServer(handle)
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address() as { port: number }
const origin = `http://127.0.0.1:${port}`
const API = '/api/v1/'

const ID = '{{id}}'
const now = Math.floor(Date.now() / 1000)
function purchaseJson (status: string): string {
  return JSON.stringify({
    id: ID,
    type: 'purchase',
    status,
    status_history: [{ status: 'created', timestamp: now }],
    brand_id: CREDENTIALS.brandId,
    client: PURCHASE.client,
    purchase: { ...PURCHASE.purchase, total: 9000 },
    payment: null,
    transaction_data: { payment_method: 'card', flow: 'direct_post', extra: {}, country: null, attempts: [] },
    reference: PURCHASE.reference,
    skip_capture: false,
    force_recurring: false,
    is_recurring_token: false,
    recurring_token: null,
    creator_agent: null,
    is_test: true,
    success_redirect: 'https://shop.example/paid',
    failure_redirect: 'https://shop.example/failed',
    success_callback: `${origin}/qorepay/callback`,
    direct_post_url: `${origin}/p/${ID}/`,
    checkout_url: null,
    refundable_amount: status === 'paid' ? 9000 : 0,
    created_on: now,
    updated_on: now
  })
}
/** A template cut where the id goes: the answer is its parts joined around one id, no JSON.stringify per request. */
const parts = (json: string): string[] => json.split(ID)
const CREATED = parts(purchaseJson('created'))
const PAID = parts(purchaseJson('paid'))
const THREE_DS = parts(JSON.stringify({ status: '3DS_required', ...STUB_THREE_DS, URL: `${origin}/acs/`, callback_url: `${origin}/s2s/callback/${ID}/` }))
const EXECUTED = Buffer.from('{"status":"executed"}')
const PUBLIC_KEY = Buffer.from(JSON.stringify(process.env.BENCH_STUB_PUBLIC_KEY ?? ''))
const NOT_FOUND = Buffer.from('{"__all__":[{"message":"Not found","code":"not_found"}]}')
const THREE_DS_MARK = Buffer.from(`"${THREE_DS_CARD}"`)

// The one piece of state: purchases whose payment executed, so a lookup answers what a gateway would.
const paid = new Set<string>()
let requests = 0
// Unique across runs (keys in a shared Redis carry purchase ids), cheap per purchase.
const run = randomBytes(4).toString('hex')
let next = 0
const newId = (): string => `${run}-0000-4000-8000-${(next++).toString(16).padStart(12, '0')}`

function send (res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function handle (req: IncomingMessage, res: ServerResponse): void {
  requests++
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const url = req.url ?? ''
    const path = url.split('?')[0]
    if (req.method === 'POST' && path === `${API}purchases/`) {
      send(res, 201, CREATED.join(newId()))
    } else if (req.method === 'POST' && path.startsWith('/p/')) {
      const id = path.slice(3, -1)
      if (Buffer.concat(chunks).includes(THREE_DS_MARK)) return send(res, 200, THREE_DS.join(id))
      paid.add(id)
      send(res, 200, EXECUTED)
    } else if (req.method === 'POST' && path.startsWith('/s2s/callback/')) {
      paid.add(path.slice('/s2s/callback/'.length, -1))
      send(res, 200, EXECUTED)
    } else if (req.method === 'GET' && path === `${API}public_key/`) {
      send(res, 200, PUBLIC_KEY)
    } else if (req.method === 'GET' && path.startsWith(`${API}purchases/`)) {
      const id = path.slice(`${API}purchases/`.length, -1)
      send(res, 200, (paid.has(id) ? PAID : CREATED).join(id))
    } else {
      send(res, 404, NOT_FOUND)
    }
  })
}

process.on('message', (msg: { type: string, file?: string }) => {
  if (msg.type === 'profile') {
    const done = msg.file === undefined ? startProfile() : stopProfile(msg.file)
    done.then(() => process.send?.({ type: 'profile' }), () => process.send?.({ type: 'profile' }))
  } else if (msg.type === 'trim') {
    const answered = requests
    requests = 0
    paid.clear()
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'trim', requests: answered, deliveries: 0, failed: 0, micros: user + system })
  }
})
process.on('disconnect', () => { server.close(); server.closeAllConnections(); process.exit(0) })
process.send?.({ type: 'ready', baseUrl: `${origin}${API}`, origin })
