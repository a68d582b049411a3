import { test } from 'tap'
import { Redis } from 'ioredis'
import { request } from 'undici'
import { TEST_CARDS, type SimDelivery } from '../../lib/simulator/index.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { CARD, PURCHASE, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { startRedisServer } from '../helpers/redis-server.js'

const THREE_DS_CARD = { ...CARD, card_number: TEST_CARDS.threeDSPost }
const STORE_TIMEOUT = 500
const STORE_DOWN = 'FST_QOREPAY_STORE_UNAVAILABLE'

interface Answer { route: string, statusCode: number, code?: string, ms: number }

test('a Redis frozen with SIGSTOP: every route answers 503 within storeTimeout; after SIGCONT the same requests complete', async (t) => {
  const server = await startRedisServer()
  t.teardown(() => server.stop())
  // The host's client, with ioredis's defaults: while the server is frozen its commands just wait.
  const client = new Redis({ host: '127.0.0.1', port: server.port })
  const admin = new Redis({ host: '127.0.0.1', port: server.port })
  t.teardown(() => { client.disconnect(); admin.disconnect() })
  let sink = ''
  const shop = await startShop(t, {
    host: (app) => { app.post('/sink', async () => ({ ok: true })) },
    plugin: {
      store: new RedisStore({ client }),
      storeTimeout: STORE_TIMEOUT,
      // Deliveries go to a sink: the test replays their exact bytes to the routes under test.
      purchase: async () => ({ ...PURCHASE, success_callback: sink })
    }
  })
  sink = `${shop.url}/sink`
  const { sim } = shop
  sim.addWebhook({ url: sink })

  // Before the freeze: a 3DS payment waiting for its payer, and a direct payment whose deliveries we hold.
  const pending = await shop.post('/qorepay/payments', THREE_DS_CARD)
  t.equal(pending.body.status, '3DS_required')
  const threeDSId: string = pending.body.purchase_id
  const token = new URL(pending.body.redirect_url).pathname.split('/').at(-1) as string
  const { termUrl, body: acsAnswer } = await passAcs(shop, pending.body.redirect_url, 'approve')
  const direct = await shop.post('/qorepay/payments', CARD)
  t.equal(direct.body.status, 'executed')
  const directId: string = direct.body.purchase_id
  await sim.idle()
  const delivery = (kind: SimDelivery['kind']): SimDelivery => sim.deliveries.find((d) => d.purchaseId === directId && d.kind === kind && d.eventType === 'purchase.paid') as SimDelivery
  const webhook = delivery('webhook')
  const callback = delivery('success_callback')
  t.ok(webhook !== undefined && callback !== undefined, 'the simulator signed a webhook and a success callback')
  const callbacksBefore = sim.count('callback')

  async function timed (route: string, run: () => Promise<{ statusCode: number, body?: string }>): Promise<Answer> {
    const started = performance.now()
    const { statusCode, body } = await run()
    let code: string | undefined
    try { code = JSON.parse(body ?? '').code } catch {}
    return { route, statusCode, code, ms: performance.now() - started }
  }
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await request(shop.url + path, { method: 'POST', headers, body })
    return { statusCode: res.statusCode, body: await res.body.text() }
  }
  const every = () => Promise.all([
    timed('POST /payments', async () => { const r = await shop.post('/qorepay/payments', THREE_DS_CARD); return { statusCode: r.statusCode, body: r.text } }),
    timed('GET /3ds/:token', async () => { const r = await shop.get(`/qorepay/3ds/${token}`); return { statusCode: r.statusCode, body: r.text } }),
    timed('POST /3ds/:token/return', async () => {
      const r = await request(shop.url + new URL(termUrl).pathname, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: acsAnswer })
      return { statusCode: r.statusCode, body: await r.body.text() }
    }),
    timed('POST /webhook', () => post('/qorepay/webhook', webhook.body, { 'content-type': 'application/json', 'x-signature': webhook.signature })),
    timed('POST /callback', () => post('/qorepay/callback', callback.body, { 'content-type': 'application/json', 'x-signature': callback.signature }))
  ])

  server.freeze()
  const frozen = await every()
  for (const answer of frozen) {
    t.equal(answer.statusCode, 503, `${answer.route}: 503 while Redis is frozen`)
    t.equal(answer.code, STORE_DOWN, answer.route)
    // The route's own gateway calls come first on some routes; the store call is the one that waits.
    t.ok(answer.ms >= STORE_TIMEOUT - 5 && answer.ms < STORE_TIMEOUT + 3000, `${answer.route}: answered in ${answer.ms.toFixed(0)} ms`)
  }
  t.equal(sim.count('callback'), callbacksBefore, 'the TermUrl did not call the gateway')
  t.equal(shop.events.executed.length, 1, 'only the direct payment reported')
  t.equal(shop.events.webhook.length, 0)

  server.thaw()
  // The TermUrl's take ran once Redis resumed; the guard puts the unused session back.
  const key = `qorepay:3ds:${token}`
  for (let i = 0; i < 100 && await admin.exists(key) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await admin.exists(key), 1, 'the 3DS session is back in Redis')

  const page = await shop.get(`/qorepay/3ds/${token}`)
  t.equal(page.statusCode, 200, 'the 3DS page opens again')
  const again = await shop.post('/qorepay/payments', THREE_DS_CARD)
  t.equal(again.body.status, '3DS_required', 'a new payment starts')
  const back = await postTermUrl(termUrl, acsAnswer)
  t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${threeDSId}&status=executed`, 'the payer\'s TermUrl post completes')
  for (const round of ['now', 'again, a duplicate']) {
    for (const [path, d] of [['/qorepay/webhook', webhook], ['/qorepay/callback', callback]] as const) {
      const answer = await post(path, d.body, { 'content-type': 'application/json', 'x-signature': d.signature })
      t.equal(answer.statusCode, 200, `${path} answers 200 ${round}`)
    }
  }
  await sim.idle()
  t.equal(shop.events.executed.filter((e) => e.purchaseId === threeDSId).length, 1, 'the 3DS payment reported once')
  t.equal(shop.events.executed.filter((e) => e.purchaseId === directId).length, 1, 'the direct payment still once')
  t.equal(shop.events.webhook.filter((e) => e.purchaseId === directId).length, 2, 'the two deliveries the freeze refused fire onWebhook once each')
})
