import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { createSimulator, TEST_CARDS, type Purchase, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.js'
import { unescapeHtml } from './shop.js'

/** Shared set-up of the simulator tests: a simulator, an HTTP helper, a webhook receiver. */

interface Teardown { teardown (fn: () => unknown): void }

export const creds = {
  apiKey: 'test-api-key',
  s2sToken: 'test-s2s-token',
  brandId: '409eb80e-3782-4b1d-afa8-b779759266a5'
}

export async function startSim (t: Teardown, opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await createSimulator({ ...creds, ...opts })
  t.teardown(() => sim.close())
  return sim
}

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  text: string
  json: any
}

export interface CallOptions {
  /** A JSON body, sent as is when a string. */
  body?: unknown
  /** Form fields, sent form-urlencoded. */
  form?: Record<string, string>
  /** Bearer token; default the API key; null for none. */
  token?: string | null
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** One real HTTP call; `url` is absolute or relative to the simulator's origin. */
export async function call (sim: Simulator, method: string, url: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers }
  const token = opts.token === undefined ? creds.apiKey : opts.token
  if (token !== null) headers.authorization = `Bearer ${token}`
  let body: string | undefined
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(opts.form).toString()
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
  }
  const res = await request(new URL(url, sim.origin), { method: method as 'GET', headers, body, signal: opts.signal })
  const text = await res.body.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.statusCode, headers: res.headers, text, json }
}

export function purchaseBody (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    brand_id: creds.brandId,
    client: { email: 'payer@example.com' },
    purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }] },
    success_redirect: 'https://shop.example/ok',
    failure_redirect: 'https://shop.example/fail',
    ...extra
  }
}

export async function createPurchase (sim: Simulator, extra: Record<string, unknown> = {}): Promise<Purchase> {
  const res = await call(sim, 'POST', '/api/v1/purchases/', { body: purchaseBody(extra) })
  if (res.status !== 201) throw new Error(`create purchase: ${res.status} ${res.text}`)
  return res.json
}

const nextYear = String((new Date().getUTCFullYear() + 1) % 100).padStart(2, '0')

export function cardBody (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cardholder_name: 'John Doe',
    card_number: TEST_CARDS.noThreeDS,
    expires: `12/${nextYear}`,
    cvc: TEST_CARDS.cvc,
    remote_ip: '8.8.8.8',
    ...extra
  }
}

export function postCard (sim: Simulator, purchase: Purchase, extra: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<Answer> {
  return call(sim, 'POST', `${purchase.direct_post_url}?s2s=true`, { token: creds.s2sToken, body: cardBody(extra), ...opts })
}

export interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface Receiver {
  url: string
  received: Received[]
  /** Status code for the next answer; default 200. Receives the number of the request (1-based). */
  answer: (n: number, req: Received) => number | 'hang'
}

/** A tiny real HTTP server that records what it receives (webhook target, TermUrl). */
export async function startReceiver (t: Teardown, path = '/hook'): Promise<Receiver> {
  const receiver: Receiver = { url: '', received: [], answer: () => 200 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const got = { method: req.method as string, url: req.url as string, headers: req.headers, body: Buffer.concat(chunks).toString() }
      receiver.received.push(got)
      const status = receiver.answer(receiver.received.length, got)
      if (status === 'hang') return
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`
  return receiver
}

/** The hidden inputs of each form of an ACS page, keyed by the submit button's id. */
export function acsForms (html: string): Record<string, { action: string, MD: string, PaRes: string }> {
  const forms: Record<string, { action: string, MD: string, PaRes: string }> = {}
  for (const [, action, md, paRes, id] of html.matchAll(/<form method="POST" action="([^"]*)"><input type="hidden" name="MD" value="([^"]*)"><input type="hidden" name="PaRes" value="([^"]*)"><button type="submit" id="([^"]+)">/g)) {
    forms[id] = { action: unescapeHtml(action), MD: unescapeHtml(md), PaRes: unescapeHtml(paRes) }
  }
  return forms
}

// ---------------------------------------------------------------- the CLI

/** lib/simulator/cli.ts */
export const cliSource = fileURLToPath(new URL('../../lib/simulator/cli.ts', import.meta.url))

export interface CliRun { child: ChildProcess, stdout: string, stderr: string, exit: Promise<number | null> }

/**
 * Starts the CLI with `env` as its only SIM_* / QOREPAY_* settings, under the same
 * TypeScript loader and coverage hooks as this test (tsx would transpile differently
 * and garble the merged coverage).
 */
export function runCli (env: Record<string, string>, args: string[] = []): CliRun {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SIM|QOREPAY)_/.test(name)))
  const child = spawn(process.execPath, [...process.execArgv, cliSource, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const result: CliRun = { child, stdout: '', stderr: '', exit: new Promise((resolve) => child.on('exit', resolve)) }
  child.stdout?.on('data', (chunk: Buffer) => { result.stdout += chunk })
  child.stderr?.on('data', (chunk: Buffer) => { result.stderr += chunk })
  return result
}

export async function cliReady (r: CliRun): Promise<void> {
  while (!r.stdout.includes('Ctrl-C stops it.')) {
    if (r.child.exitCode !== null) throw new Error(`CLI exited: ${r.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The PEM printed after the line `after` in the CLI's output. */
export const printedPem = (text: string, after: string) => {
  const start = text.indexOf('-----BEGIN PUBLIC KEY-----', text.indexOf(after))
  return text.slice(start, text.indexOf('-----END PUBLIC KEY-----', start) + 24) + '\n'
}

/** Creates a purchase on the CLI's simulator and pays it with the default card: the card post's answer. */
export async function payOnce (baseUrl: string, auth: { apiKey: string, s2sToken: string, brandId: string }): Promise<unknown> {
  const created = await request(`${baseUrl}purchases/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auth.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(purchaseBody({ brand_id: auth.brandId }))
  })
  const purchase = await created.body.json() as { direct_post_url: string }
  const paid = await request(`${purchase.direct_post_url}?s2s=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auth.s2sToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(cardBody())
  })
  return paid.body.json()
}
