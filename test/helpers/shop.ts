import { Writable } from 'node:stream'
import { createServer } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { request } from 'undici'
import qorepay, { type QorePayApi, type QorePayOptions } from '../../lib/index.js'
import { createSimulator, type Simulator } from '../../lib/simulator/index.js'
import type { AuthorizedEvent, ExecutedEvent, FailedEvent, ThreeDSRequiredEvent, WebhookEvent } from '../../lib/events.js'
import type { Tap } from './tap.js'

export const CREDENTIALS = { apiKey: 'test-api-key', s2sToken: 'test-s2s-token', brandId: 'brand-test' }

export const CARD = {
  cardholder_name: 'John Doe',
  card_number: '4444333322221111',
  expires: '12/39',
  cvc: '123'
}

export const PURCHASE = {
  client: { email: 'payer@example.com' },
  purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }] },
  reference: 'order-42'
}

export interface Shop {
  app: FastifyInstance
  sim: Simulator
  /** http://127.0.0.1:<port> */
  url: string
  events: { executed: ExecutedEvent[], authorized: AuthorizedEvent[], failed: FailedEvent[], threeDS: ThreeDSRequiredEvent[], webhook: WebhookEvent[] }
  /** Every log line the host's logger wrote, raw. */
  logs: string[]
  /** The decorator: `app.qorepay`, or the scope's with `scope`. */
  api: QorePayApi
  post (path: string, body: unknown, headers?: Record<string, string>): Promise<{ statusCode: number, headers: Record<string, unknown>, body: any, text: string }>
  get (path: string): Promise<{ statusCode: number, headers: Record<string, unknown>, text: string }>
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface ShopOptions {
  plugin?: Partial<QorePayOptions>
  /** Runs on the host before the plugin registers (its own parsers, formbody, ...). */
  host?: (app: FastifyInstance) => unknown
  server?: FastifyServerOptions
  sim?: Simulator
  /** Registers the plugin inside a host scope with this prefix, as a shop that mounts it under its own routes would. */
  scope?: string
}

/** The simulator plus a host app with the plugin, listening on 127.0.0.1, closed at teardown. */
export async function startShop (t: Tap, options: ShopOptions = {}): Promise<Shop> {
  const sim = options.sim ?? await createSimulator({ ...CREDENTIALS })
  const logs: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(chunk.toString()); cb() } })
  const app = Fastify({ logger: { level: 'trace', stream }, ...options.server })
  // The simulator first: its webhook deliveries hold keep-alive connections to the shop.
  t.teardown(async () => {
    if (options.sim === undefined) await sim.close()
    await app.close()
  })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const events: Shop['events'] = { executed: [], authorized: [], failed: [], threeDS: [], webhook: [] }
  await options.host?.(app)
  const pluginOptions: QorePayOptions = {
    ...CREDENTIALS,
    baseUrl: sim.baseUrl,
    publicUrl: url,
    successRedirect: 'https://shop.example/paid?from=qorepay',
    failureRedirect: 'https://shop.example/failed',
    webhookPublicKey: sim.webhookPublicKey,
    purchase: async () => PURCHASE,
    onExecuted: async (event) => { events.executed.push(event) },
    onAuthorized: async (event) => { events.authorized.push(event) },
    onFailed: async (event) => { events.failed.push(event) },
    on3DSRequired: async (event) => { events.threeDS.push(event) },
    onWebhook: async (event) => { events.webhook.push(event) },
    ...options.plugin
  }
  let api = {} as QorePayApi
  if (options.scope === undefined) {
    await app.register(qorepay, pluginOptions)
    api = app.qorepay
  } else {
    await app.register(async (host) => {
      await host.register(qorepay, pluginOptions)
      api = host.qorepay
    }, { prefix: options.scope })
  }
  await app.listen({ port, host: '127.0.0.1' })

  return {
    app,
    sim,
    url,
    events,
    logs,
    api,
    async post (path, body, headers = {}) {
      const form = typeof body === 'string'
      const res = await request(url + path, {
        method: 'POST',
        headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', ...headers },
        body: form ? body : JSON.stringify(body)
      })
      const text = await res.body.text()
      let json: unknown
      try { json = JSON.parse(text) } catch { json = undefined }
      return { statusCode: res.statusCode, headers: res.headers, body: json, text }
    },
    async get (path) {
      const res = await request(url + path)
      return { statusCode: res.statusCode, headers: res.headers, text: await res.body.text() }
    }
  }
}

/** The hidden inputs of the first form in an HTML page, unescaped, and the form's action and method. */
export function readForm (html: string, formIndex = 0): { action: string, method: string, fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
  const form = forms[formIndex]
  if (form === undefined) throw new Error('no form in page')
  const attr = (source: string, name: string) => unescapeHtml(new RegExp(`\\b${name}="([^"]*)"`).exec(source)?.[1] ?? '')
  const fields: Record<string, string> = {}
  for (const input of form[2].matchAll(/<input\b([^>]*)>/g)) fields[attr(input[1], 'name')] = attr(input[1], 'value')
  return { action: attr(form[1], 'action'), method: attr(form[1], 'method').toUpperCase(), fields }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" }

/** The reverse of lib/wire/html.ts's escapeHtml: what a browser reads from an attribute. */
export function unescapeHtml (value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) => ENTITIES[entity])
}

/**
 * The payer's browser from the 3DS page to the TermUrl: opens our redirect
 * page, submits its form to the simulator's ACS, presses Approve or Fail,
 * and returns the MD/PaRes form the ACS would post to the TermUrl.
 */
export async function passAcs (shop: Shop, redirectUrl: string, choice: 'approve' | 'fail'): Promise<{ termUrl: string, body: string }> {
  const page = await request(redirectUrl)
  const ours = readForm(await page.body.text())
  const query = new URLSearchParams(ours.fields).toString()
  const acs = ours.method === 'GET'
    ? await request(`${ours.action}?${query}`)
    : await request(ours.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query })
  const acsPage = await acs.body.text()
  const answer = readForm(acsPage, choice === 'approve' ? 0 : 1)
  return { termUrl: answer.action, body: new URLSearchParams(answer.fields).toString() }
}

/** Posts the ACS answer to the TermUrl as the payer's browser would, without following the redirect. */
export async function postTermUrl (termUrl: string, body: string): Promise<{ statusCode: number, location: string | undefined }> {
  const res = await request(termUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  await res.body.dump()
  return { statusCode: res.statusCode, location: res.headers.location as string | undefined }
}

/** The shop's log lines that say `text`, parsed. */
export function logsSaying (shop: Pick<Shop, 'logs'>, text: string): Array<Record<string, any>> {
  return shop.logs.filter((l) => l.includes(text)).map((l) => JSON.parse(l))
}
