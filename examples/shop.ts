// A demo shop built on fastify-qorepay. `npm start` runs it against the
// embedded gateway simulator; set the QOREPAY_* variables to use a real account.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import createError from '@fastify/error'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import qorepay, { type Purchase } from 'fastify-qorepay'
import { createSimulator, type Simulator } from 'fastify-qorepay/simulator'

const PREFIX = '/qorepay'

// Prices are integers in the currency's minor unit (kobo for NGN).
const products = new Map([
  ['dog-food', { name: 'Dog food Max', description: 'Complete dry food for adult dogs, 2 kg.', price: 9000, currency: 'NGN' }]
])

// The platform's three first, then the simulator's own; any other number fails.
const TEST_CARDS = [
  ['4444 3333 2222 1111', 'paid at once, no 3-D Secure'],
  ['5555 5555 5555 4444', '3-D Secure, bank page opened by POST'],
  ['1111 1111 1111 1111', 'fails: general_transaction_error'],
  ['4111 1111 1111 1111', '3-D Secure, bank page opened by GET (the simulator\'s own)'],
  ['4000 0000 0000 0002', 'declined: do_not_honour (the simulator\'s own)'],
  ['4000 0000 0000 9995', 'declined: insufficient_funds (the simulator\'s own)']
]
const TEST_CARD_RULES = 'CVC 123 and any future expiry (MM/YY); another CVC fails.'

const SIMULATOR_CREDENTIALS = {
  apiKey: 'demo-api-key',
  s2sToken: 'demo-s2s-token',
  brandId: '409eb80e-3782-4b1d-afa8-b779759266a5'
}

// Our pages load nothing but their own script and stylesheet.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const UnknownProduct = createError('SHOP_UNKNOWN_PRODUCT', 'Unknown product', 400)

// Who is shopping: a random id in a cookie. A real shop has accounts; the saved card belongs to one.
const VISITOR_COOKIE = 'shop_visitor'

function visitorOf (request: FastifyRequest): string | undefined {
  const cookies = request.headers.cookie?.split(/;\s*/) ?? []
  const value = cookies.find((c) => c.startsWith(`${VISITOR_COOKIE}=`))?.slice(VISITOR_COOKIE.length + 1)
  return value !== undefined && /^[0-9a-f-]{36}$/.test(value) ? value : undefined
}

interface Outcome {
  state: 'paid' | 'authorized' | 'failed' | 'pending'
  source: string
  reason?: string
  product?: string
}

export interface ShopOptions {
  port?: number                // default PORT or 3000; 0 picks a free port
  host?: string                // default 127.0.0.1
  env?: NodeJS.ProcessEnv      // default process.env
  logger?: boolean | { level: string }
}

export interface Shop {
  url: string
  app: FastifyInstance
  sim: Simulator | undefined   // undefined when a real account is configured
  close (): Promise<void>
}

export async function startShop (opts: ShopOptions = {}): Promise<Shop> {
  const env = opts.env ?? process.env
  const host = opts.host ?? '127.0.0.1'
  // The plugin takes its public URL at registration, before Fastify listens,
  // so port 0 is resolved to a free port first.
  const port = (opts.port ?? Number(env.PORT ?? 3000)) || await freePort(host)
  const url = `http://${host}:${port}`
  const publicUrl = (env.PUBLIC_URL ?? url).replace(/\/+$/, '')

  const sim = env.QOREPAY_API_KEY ? undefined : await createSimulator(SIMULATOR_CREDENTIALS)
  const app = Fastify({ logger: opts.logger ?? false })
  try {
    await app.register(shop, { publicUrl, simulated: sim !== undefined, gateway: sim ? simulatorGateway(sim) : accountGateway(env) })
    await app.listen({ host, port })
    // The simulator sends its signed webhooks to the plugin like the platform would.
    sim?.addWebhook({ url: `${url}${PREFIX}/webhook` })
  } catch (err) {
    await app.close()
    await sim?.close()
    throw err
  }
  return {
    url,
    app,
    sim,
    async close () {
      await app.close()
      await sim?.close()
    }
  }
}

interface Gateway {
  apiKey: string
  s2sToken: string
  brandId: string
  baseUrl?: string
  webhookPublicKey?: string
}

function simulatorGateway (sim: Simulator): Gateway {
  return { ...SIMULATOR_CREDENTIALS, baseUrl: sim.baseUrl, webhookPublicKey: sim.webhookPublicKey }
}

function accountGateway (env: NodeJS.ProcessEnv): Gateway {
  const need = (name: string) => {
    const value = env[name]
    if (!value) throw new Error(`${name} must be set along with QOREPAY_API_KEY`)
    return value
  }
  return {
    apiKey: need('QOREPAY_API_KEY'),
    s2sToken: need('QOREPAY_S2S_TOKEN'),
    brandId: need('QOREPAY_BRAND_ID'),
    // Left out when unset so that the plugin's defaults apply.
    ...(env.QOREPAY_BASE_URL ? { baseUrl: env.QOREPAY_BASE_URL } : {}),
    // A PEM in one line (`\n` escapes) is easier to keep in an env file.
    ...(env.QOREPAY_WEBHOOK_PUBLIC_KEY ? { webhookPublicKey: env.QOREPAY_WEBHOOK_PUBLIC_KEY.replace(/\\n/g, '\n') } : {})
  }
}

interface ShopSettings { publicUrl: string, simulated: boolean, gateway: Gateway }

async function shop (app: FastifyInstance, { publicUrl, simulated, gateway }: ShopSettings) {
  // What the hooks learnt, by purchase id. A real shop keeps this with its orders.
  const outcomes = new Map<string, Outcome>()
  // Each order's product and visitor, by the purchase's reference: every path's event carries the reference.
  const orders = new Map<string, { product: string, visitor: string | undefined }>()
  // A visitor's saved card: the recurring token and what to show of the card. Server side only.
  const savedCards = new Map<string, { token: string, maskedPan: string | undefined }>()

  function newOrder (product: string, visitor: string | undefined): string {
    const reference = `${product}-${randomUUID().slice(0, 8)}`
    orders.set(reference, { product, visitor })
    return reference
  }

  /** What the shop reads of any event: outcome events, the 3DS event, and its own for a pending saved-card payment. */
  interface Reported { purchaseId: string, source: string, reference?: string, maskedPan?: string, recurringToken?: string, purchase?: Purchase }

  function record (event: Reported, outcome: Omit<Outcome, 'source' | 'product'>) {
    const previous = outcomes.get(event.purchaseId)
    if (previous && previous.state !== 'pending' && outcome.state === 'pending') return
    const order = event.reference === undefined ? undefined : orders.get(event.reference)
    const product = (order === undefined ? undefined : products.get(order.product)?.name) ?? previous?.product
    outcomes.set(event.purchaseId, { ...outcome, source: event.source, product })
    // The card was saved (remember this card): the next checkout of this visitor can use it.
    if (event.recurringToken !== undefined && order?.visitor !== undefined) {
      savedCards.set(order.visitor, { token: event.recurringToken, maskedPan: event.maskedPan ?? event.purchase?.transaction_data.attempts[0]?.extra.masked_pan })
    }
  }

  await app.register(qorepay, {
    ...gateway,
    publicUrl,
    prefix: PREFIX,
    successRedirect: `${publicUrl}/success`,
    failureRedirect: `${publicUrl}/failure`,
    // The price comes from our catalogue, never from the payer's request.
    purchase: async (request) => {
      const order = (request.body as { order?: unknown }).order
      const product = typeof order === 'string' ? products.get(order) : undefined
      if (!product) throw new UnknownProduct()
      return { ...purchaseOf(product), reference: newOrder(order as string, visitorOf(request)) }
    },
    onExecuted: async (event) => record(event, { state: 'paid' }),
    onAuthorized: async (event) => record(event, { state: 'authorized' }),
    onFailed: async (event) => record(event, { state: 'failed', reason: reasonOf(event.error) }),
    on3DSRequired: async (event) => record(event, { state: 'pending' }),
    onWebhook: async (event, request) => {
      request.log.info({ purchaseId: event.purchaseId, status: event.status }, 'qorepay webhook')
    }
  })

  const checkoutJs = await readFile(new URL('public/checkout.js', import.meta.url))
  const shopCss = await readFile(new URL('public/shop.css', import.meta.url))
  app.get('/static/checkout.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(checkoutJs))
  app.get('/static/shop.css', (_request, reply) => reply.type('text/css; charset=utf-8').send(shopCss))
  app.get('/favicon.ico', (_request, reply) => reply.code(204).send())

  app.get('/', (_request, reply) => {
    const list = [...products].map(([sku, p]) => `
      <h1>${esc(p.name)}</h1>
      <p>${esc(p.description)}</p>
      <p class="price">${esc(money(p.price, p.currency))}</p>
      <p><a class="button" href="/checkout/${esc(sku)}">Buy now</a></p>`)
    return html(reply, 'Demo shop', list.join(''))
  })

  app.get<{ Params: { sku: string } }>('/checkout/:sku', (request, reply) => {
    const sku = request.params.sku
    const product = products.get(sku)
    if (!product) return html(reply, 'Not found', '<h1>No such product</h1><p><a href="/">Back to the shop</a></p>', 404)
    let visitor = visitorOf(request)
    if (visitor === undefined) {
      visitor = randomUUID()
      reply.header('set-cookie', `${VISITOR_COOKIE}=${visitor}; Path=/; HttpOnly; SameSite=Lax`)
    }
    const saved = savedCards.get(visitor)
    // One key per rendered form: a double click or a resent form pays once.
    const savedCardForm = saved === undefined
      ? ''
      : `
      <form id="saved-card" method="post" action="/checkout/${esc(sku)}/saved-card">
        <input type="hidden" name="attempt" value="${randomUUID()}">
        <button type="submit">Pay with the saved card ${esc(saved.maskedPan ?? '')}</button>
      </form>
      <p>or pay with another card:</p>`
    return html(reply, 'Checkout', `
      <h1>Checkout</h1>
      <p>${esc(product.name)}: <span class="price">${esc(money(product.price, product.currency))}</span></p>${savedCardForm}
      <form id="pay" method="post" action="${PREFIX}/payments">
        <input type="hidden" name="order" value="${esc(sku)}">
        <label for="name">Cardholder name</label>
        <input id="name" name="cardholder_name" autocomplete="cc-name" maxlength="30" required pattern="[A-Za-z .'\\-]+">
        <label for="number">Card number</label>
        <input id="number" name="card_number" autocomplete="cc-number" inputmode="numeric" required pattern="[0-9 \\-]{12,23}">
        <div class="row">
          <div><label for="expires">Expiry</label>
            <input id="expires" name="expires" autocomplete="cc-exp" placeholder="MM/YY" required pattern="\\d{2} ?/ ?\\d{2}"></div>
          <div><label for="cvc">CVC</label>
            <input id="cvc" name="cvc" autocomplete="cc-csc" inputmode="numeric" required pattern="\\d{3,4}"></div>
        </div>
        <label class="check"><input id="remember" type="checkbox" name="remember_card" value="on"> Remember this card</label>
        <button type="submit">Pay ${esc(money(product.price, product.currency))}</button>
        <p id="message" role="status"></p>
      </form>
      <script src="/static/checkout.js" defer></script>
      ${simulated ? testCardTable() : ''}`)
  })

  // A returning visitor pays with the card they saved. The token never leaves the server:
  // which visitor may use which card is this shop's decision, made here from its own records.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  app.post<{ Params: { sku: string }, Body: { attempt?: string } }>('/checkout/:sku/saved-card', async (request, reply) => {
    const sku = request.params.sku
    const product = products.get(sku)
    const visitor = visitorOf(request)
    const saved = visitor === undefined ? undefined : savedCards.get(visitor)
    if (!product || saved === undefined) return reply.redirect(`/checkout/${encodeURIComponent(sku)}`, 303)
    const attempt = typeof request.body?.attempt === 'string' ? request.body.attempt : randomUUID()
    const result = await app.qorepay.payWithSavedCard({ ...purchaseOf(product), reference: newOrder(sku, visitor) }, saved.token, { idempotencyKey: `saved-card-${attempt}` })
    if (result.status === 'pending') record({ purchaseId: result.purchaseId, source: 'saved_card' }, { state: 'pending' })
    return reply.redirect(`/${result.status === 'error' ? 'failure' : 'success'}?purchase_id=${encodeURIComponent(result.purchaseId)}`, 303)
  })

  // Both pages show what the hooks recorded: the query string only names the purchase.
  const outcomePage = (request: FastifyRequest<{ Querystring: { purchase_id?: string } }>, reply: FastifyReply) => {
    const id = request.query.purchase_id ?? ''
    const outcome = outcomes.get(id)
    if (!outcome) {
      return html(reply, 'Unknown payment', `<h1>No record of this payment</h1>
        <p>Purchase <code>${esc(id)}</code> is unknown to this shop.</p><p><a href="/">Back to the shop</a></p>`, 404)
    }
    const [title, css, text] = {
      paid: ['Payment received', 'ok', 'Thank you! Your order is on its way.'],
      authorized: ['Payment authorized', 'ok', 'The amount is reserved on your card.'],
      failed: ['Payment failed', 'failed', 'Your card was not charged.'],
      pending: ['Payment pending', 'pending', 'Your bank has not confirmed the payment yet. Reload this page in a moment.']
    }[outcome.state]
    return html(reply, title, `
      <h1 class="${css}">${esc(title)}</h1>
      <p>${esc(text)}</p>
      <dl>
        ${outcome.product ? `<dt>Product</dt><dd>${esc(outcome.product)}</dd>` : ''}
        <dt>Purchase</dt><dd><code>${esc(id)}</code></dd>
        ${outcome.reason ? `<dt>Reason</dt><dd>${esc(outcome.reason)}</dd>` : ''}
        <dt>Reported by</dt><dd>${esc(outcome.source)}</dd>
      </dl>
      <p><a href="/">Back to the shop</a></p>`)
  }
  const query = { type: 'object', properties: { purchase_id: { type: 'string', maxLength: 100 } } }
  app.get('/success', { schema: { querystring: query } }, outcomePage)
  app.get('/failure', { schema: { querystring: query } }, outcomePage)
}

function purchaseOf (product: { name: string, price: number, currency: string }) {
  return {
    client: { email: 'buyer@example.com' },
    purchase: { currency: product.currency, products: [{ name: product.name, price: product.price }] }
  }
}

function html (reply: FastifyReply, title: string, body: string, statusCode = 200) {
  return reply
    .code(statusCode)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · fastify-qorepay demo</title>
<link rel="stylesheet" href="/static/shop.css">
</head>
<body>
<header><a href="/">fastify-qorepay demo shop</a></header>
<main>${body}</main>
</body>
</html>`)
}

function testCardTable () {
  const rows = TEST_CARDS.map(([number, what]) => `<tr><td>${esc(number)}</td><td>${esc(what)}</td></tr>`)
  return `<h2>Simulator test cards</h2><p>${esc(TEST_CARD_RULES)}</p><table>${rows.join('')}</table>`
}

function esc (value: string) {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function money (minor: number, currency: string) {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).format(minor / 100)
}

function reasonOf (error: unknown) {
  if (typeof error === 'string') return error
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message)
  return 'declined'
}

function freePort (host: string) {
  return new Promise<number>((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const shop = await startShop({ logger: { level: process.env.LOG_LEVEL ?? 'warn' } }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err
    // One line a person can act on, instead of a stack trace.
    console.error(`Port ${process.env.PORT ?? 3000} is already in use: set PORT to another one, e.g. PORT=3001 npm start`)
    process.exit(1)
  })
  console.log(`Demo shop: ${shop.url}/`)
  console.log(shop.sim
    ? `Gateway: the embedded simulator at ${shop.sim.baseUrl} (set QOREPAY_API_KEY etc. for a real account)`
    : `Gateway: ${process.env.QOREPAY_BASE_URL ?? 'QorePay'} with your account`)
  console.log(`\nTest cards (${TEST_CARD_RULES})`)
  for (const [number, what] of TEST_CARDS) console.log(`  ${number}  ${what}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { shop.close().catch((err) => { console.error(err); process.exitCode = 1 }) })
  }
}
