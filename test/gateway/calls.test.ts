import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { test } from 'tap'
import { QorePayClient } from '../../lib/gateway/client.js'
import { cardBody, createPurchase, creds, startSim } from '../helpers/simulator.js'
import { clientOnSimulator } from '../helpers/gateway-client.js'
import { TEST_CARDS, type Simulator } from '../../lib/simulator/index.js'
import type { CardPost } from '../../lib/payment/card-fields.js'

const card = (): CardPost => cardBody() as unknown as CardPost

test('each call is logged under its own operation name', async (t) => {
  const { sim, client, lines } = await clientOnSimulator(t)
  const paid = await createPurchase(sim, { skip_capture: true })
  await client.postCard(paid.direct_post_url as string, card(), paid.id)
  await client.capture(paid.id, 100)
  const held = await createPurchase(sim, { skip_capture: true })
  await client.postCard(held.direct_post_url as string, card(), held.id)
  await client.release(held.id)
  await client.refund(paid.id)
  const saved = await createPurchase(sim, { force_recurring: true })
  await client.postCard(saved.direct_post_url as string, card(), saved.id)
  const next = await createPurchase(sim)
  await client.charge(next.id, saved.id)
  await client.deleteRecurringToken(saved.id)
  t.strictSame(lines.map((line) => line.operation).filter((op) => !['purchases.create', 'direct_post'].includes(op)),
    ['purchases.capture', 'purchases.release', 'purchases.refund', 'purchases.charge', 'purchases.delete_recurring_token'])
})

test('a 2xx (and only a 2xx) answer that is not what the call expects names the expected answer; the gateway may have acted', async (t) => {
  const { sim, client } = await clientOnSimulator(t)
  const purchase = await createPurchase(sim)
  const calls: Array<[string, Parameters<Simulator['inject']>[0]['route'], () => Promise<unknown>, string]> = [
    ['getPurchase', 'purchases.get', () => client.getPurchase(purchase.id), 'a Purchase'],
    ['refund', 'purchases.refund', () => client.refund(purchase.id), 'a Payment or a Purchase'],
    ['publicKey', 'public_key', () => client.publicKey(), 'a JSON string'],
    ['postCard', 'direct_post', () => client.postCard(purchase.direct_post_url as string, card(), purchase.id), 'a card payment status']
  ]
  for (const [name, route, call, expected] of calls) {
    sim.inject({ route, kind: 'status', status: 200, body: { status: 'surprise' } })
    await t.rejects(call(), { code: 'FST_QOREPAY_GATEWAY', statusCode: 502, sent: true, gatewayStatus: 200, message: `QorePay answered an error: HTTP 200: the answer is not ${expected}` }, name)
  }
  // A 300 with the right body is still no answer of the call's.
  sim.inject({ route: 'purchases.get', kind: 'status', status: 300, body: purchase })
  await t.rejects(client.getPurchase(purchase.id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 300 })
})

test('4xx status answers are outcomes of the card post and the 3DS callback only; a 5xx never is', async (t) => {
  // One retry allowed, which neither write may use.
  const { sim, client } = await clientOnSimulator(t, { retries: 1 })
  const declined = { status: 'error', code: 'do_not_honour', message: 'Do not honour' }
  const purchase = await createPurchase(sim)
  sim.inject({ route: 'direct_post', kind: 'status', status: 400, body: declined })
  t.strictSame(await client.postCard(purchase.direct_post_url as string, card(), purchase.id), declined, 'a card post answered 400 with a status')
  sim.inject({ route: 'direct_post', kind: 'status', status: 500, body: declined })
  await t.rejects(client.postCard(purchase.direct_post_url as string, card(), purchase.id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 500 })

  const threeDS = await createPurchase(sim)
  const challenge = await client.postCard(threeDS.direct_post_url as string, { ...card(), card_number: TEST_CARDS.threeDSPost }, threeDS.id) as { callback_url: string }
  sim.inject({ route: 'callback', kind: 'status', status: 400, body: declined })
  t.strictSame(await client.completeThreeDS(challenge.callback_url, { MD: '', PaRes: 'x' }, threeDS.id), declined, 'a callback answered 400 with a status')
  sim.inject({ route: 'callback', kind: 'status', status: 503, body: declined })
  await t.rejects(client.completeThreeDS(challenge.callback_url, { MD: '', PaRes: 'x' }, threeDS.id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 503 })
  t.equal(sim.count('callback'), 2, 'the callback is never sent twice, not even on a 503')

  // Elsewhere a 4xx is the gateway refusing, whatever its body says.
  sim.inject({ route: 'purchases.get', kind: 'status', status: 400, body: purchase })
  await t.rejects(client.getPurchase(purchase.id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 400 })
})

test('what goes on the wire: JSON asked for, the API key on API calls, the S2S token on the card post, a form and no key on the callback', async (t) => {
  const { sim, client } = await clientOnSimulator(t)
  const purchase = await createPurchase(sim)
  const before = sim.requests.length
  await client.getPurchase(purchase.id)
  await client.cancel(purchase.id)
  const threeDS = await createPurchase(sim)
  const challenge = await client.postCard(threeDS.direct_post_url as string, { ...card(), card_number: TEST_CARDS.threeDSPost }, threeDS.id) as { callback_url: string }
  await client.completeThreeDS(challenge.callback_url, { MD: '', PaRes: 'x' }, threeDS.id)
  const sent = sim.requests.slice(before).filter((r) => r.route !== 'purchases.create')
    .map((r) => ({ route: r.route, accept: r.headers.accept, authorization: r.headers.authorization, type: r.headers['content-type'] }))
  t.strictSame(sent, [
    { route: 'purchases.get', accept: 'application/json', authorization: `Bearer ${creds.apiKey}`, type: undefined },
    { route: 'purchases.cancel', accept: 'application/json', authorization: `Bearer ${creds.apiKey}`, type: 'application/json' },
    { route: 'direct_post', accept: 'application/json', authorization: `Bearer ${creds.s2sToken}`, type: 'application/json' },
    { route: 'callback', accept: 'application/json', authorization: undefined, type: 'application/x-www-form-urlencoded' }
  ])
})

test('403 is an auth failure as 401 is', async (t) => {
  const { sim, client } = await clientOnSimulator(t)
  for (const status of [401, 403]) {
    sim.inject({ route: 'public_key', kind: 'status', status })
    await t.rejects(client.publicKey(), { code: 'FST_QOREPAY_AUTH', gatewayStatus: status })
  }
})

test('an abort ends a wait for Retry-After at once, and sends nothing more', async (t) => {
  const { sim, client } = await clientOnSimulator(t, { retries: 1 })
  const purchase = await createPurchase(sim)
  sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: 2 })
  const controller = new AbortController()
  const startedAt = performance.now()
  const lookup = client.getPurchase(purchase.id, { signal: controller.signal })
  setTimeout(() => controller.abort(), 100)
  await t.rejects(lookup, { name: 'AbortError' })
  t.ok(performance.now() - startedAt < 1000, 'not the two seconds asked for')
  t.equal(sim.count('purchases.get'), 1)
})

test('a client without a logger works; a closed one sends nothing', async (t) => {
  // Its own client, not the helper's: the test closes it itself.
  const sim = await startSim(t)
  const client = new QorePayClient({ baseUrl: sim.baseUrl, apiKey: creds.apiKey, s2sToken: creds.s2sToken, timeouts: { connect: 1000, headers: 1000, body: 1000 }, retries: 0 })
  const purchase = await createPurchase(sim)
  t.match(await client.getPurchase(purchase.id), { id: purchase.id })
  await client.close()
  const before = sim.requests.length
  await t.rejects(client.getPurchase(purchase.id), { code: 'FST_QOREPAY_UNAVAILABLE', gatewayCode: 'UND_ERR_DESTROYED' })
  t.equal(sim.requests.length, before)
})

test('the connect timeout is the one configured: a gateway that never completes the handshake is a timeout that sent nothing', async (t) => {
  // Node's own servers accept every connection; a Python listener that never accepts, its queue filled, leaves the next handshake unanswered.
  const listener = spawn('python3', ['-c', 'import socket, time\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)'])
  t.teardown(() => { listener.kill('SIGKILL') })
  const port = await new Promise<number>((resolve) => listener.stdout.once('data', (data) => { resolve(Number(String(data).trim())) }))
  const filling: Socket[] = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}))
  t.teardown(() => { for (const socket of filling) socket.destroy() })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const client = new QorePayClient({ baseUrl: `http://127.0.0.1:${port}/api/v1/`, apiKey: creds.apiKey, s2sToken: creds.s2sToken, timeouts: { connect: 300, headers: 1000, body: 1000 }, retries: 0 })
  t.teardown(() => client.close())
  const startedAt = performance.now()
  await t.rejects(client.publicKey(), { code: 'FST_QOREPAY_TIMEOUT', gatewayCode: 'UND_ERR_CONNECT_TIMEOUT', sent: false })
  // undici checks connect timeouts on a coarse timer (about a second); its default would be 10 s.
  t.ok(performance.now() - startedAt < 4000, `${Math.round(performance.now() - startedAt)} ms`)
})
