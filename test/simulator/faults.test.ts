import { connect } from 'node:net'
import { test } from 'tap'
import { request } from 'undici'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { call, cardBody, createPurchase, creds, postCard, purchaseBody, startReceiver, startSim } from '../helpers/simulator.js'

test('status faults', async (t) => {
  const sim = await startSim(t)

  await t.test('answers the status, skips the work, once by default', async (t) => {
    sim.inject({ route: 'purchases.create', kind: 'status', status: 500 })
    const res = await call(sim, 'POST', '/api/v1/purchases/', { body: purchaseBody() })
    t.equal(res.status, 500)
    t.same(res.json, { __all__: [{ message: 'Simulated fault: HTTP 500.', code: 'simulated_fault' }] })
    t.equal(res.headers['retry-after'], undefined)
    t.equal(sim.purchases.size, 0, 'not processed')
    t.equal(sim.count('purchases.create'), 1, 'recorded before the fault applied')
    t.equal((await call(sim, 'POST', '/api/v1/purchases/', { body: purchaseBody() })).status, 201, 'the next call is served')
  })

  await t.test('count, Retry-After, a custom body', async (t) => {
    sim.inject({ route: 'public_key', kind: 'status', status: 429, count: 2, retryAfter: 3 })
    sim.inject({ route: 'public_key', kind: 'status', status: 502, body: '<html>Bad gateway</html>', retryAfter: 0 })
    for (let i = 0; i < 2; i++) {
      const res = await call(sim, 'GET', '/api/v1/public_key/')
      t.equal(res.status, 429)
      t.equal(res.headers['retry-after'], '3')
      t.match(res.json, { __all__: [{ code: 'simulated_fault' }] })
    }
    const custom = await call(sim, 'GET', '/api/v1/public_key/')
    t.equal(custom.status, 502)
    t.equal(custom.text, '<html>Bad gateway</html>', 'a string body as it is')
    t.equal(custom.headers['content-type'], 'text/html; charset=utf-8')
    t.equal(custom.headers['retry-after'], '0')
    t.equal((await call(sim, 'GET', '/api/v1/public_key/')).status, 200)
  })

  await t.test('process: true changes state but loses the answer', async (t) => {
    const hooks = await startReceiver(t)
    sim.addWebhook({ url: hooks.url })
    const p = await createPurchase(sim)
    sim.inject({ route: 'direct_post', kind: 'status', status: 502, process: true, body: { detail: 'upstream' } })
    const res = await postCard(sim, p)
    t.equal(res.status, 502)
    t.same(res.json, { detail: 'upstream' })
    t.equal(sim.purchases.get(p.id)?.status, 'paid', 'the card was charged')
    await sim.idle()
    t.equal(JSON.parse(hooks.received[0].body).event_type, 'purchase.paid')
  })

  await t.test("'*' matches every route; faults queue in order; clearFaults", async (t) => {
    sim.inject({ route: '*', kind: 'status', status: 503 })
    sim.inject({ route: 'public_key', kind: 'status', status: 504 })
    t.equal((await call(sim, 'GET', '/api/v1/public_key/')).status, 503)
    t.equal((await call(sim, 'GET', '/api/v1/public_key/')).status, 504)
    t.equal((await call(sim, 'GET', '/nowhere/')).status, 404, 'unknown paths are never faulted')

    sim.inject({ route: 'acs', kind: 'status', status: 500, count: Infinity })
    for (let i = 0; i < 5; i++) t.equal((await call(sim, 'GET', '/acs/', { token: null })).status, 500)
    sim.clearFaults()
    t.equal((await call(sim, 'GET', '/acs/', { token: null })).status, 400, 'served again')

    t.throws(() => sim.inject({ route: 'acs', kind: 'status', status: 500, count: 0 }), RangeError)
    t.throws(() => sim.inject({ route: 'acs', kind: 'latency', ms: 1, count: Number.NaN }), RangeError)
  })
})

test('latency faults and latencyMs', async (t) => {
  const sim = await startSim(t)
  sim.inject({ route: 'purchases.get', kind: 'latency', ms: 400, count: 2 })
  const p = await createPurchase(sim)
  for (let i = 0; i < 2; i++) {
    const start = Date.now()
    const res = await call(sim, 'GET', `/api/v1/purchases/${p.id}/`)
    t.ok(Date.now() - start >= 395, 'delayed')
    t.equal(res.status, 200, 'then answered normally')
  }
  const start = Date.now()
  await call(sim, 'GET', `/api/v1/purchases/${p.id}/`)
  t.ok(Date.now() - start < 395, 'only count times')

  const slow = await startSim(t, { latencyMs: 120 })
  for (const path of ['/api/v1/public_key/', '/nowhere/']) {
    const begin = Date.now()
    await call(slow, 'GET', path)
    t.ok(Date.now() - begin >= 115, `${path}: every answer waits latencyMs`)
  }
  slow.inject({ route: 'public_key', kind: 'status', status: 500 })
  const begin = Date.now()
  t.equal((await call(slow, 'GET', '/api/v1/public_key/')).status, 500)
  t.ok(Date.now() - begin >= 115, 'fault answers too')
})

test('hang faults', async (t) => {
  const sim = await startSim(t)
  const p = await createPurchase(sim)
  sim.inject({ route: 'direct_post', kind: 'hang' })
  const hung = request(`${p.direct_post_url}?s2s=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${creds.s2sToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(cardBody()),
    headersTimeout: 200
  })
  await t.rejects(hung, { code: 'UND_ERR_HEADERS_TIMEOUT' }, 'the client gives up')
  t.equal(sim.count('direct_post'), 1, 'the card post was received')
  t.equal(sim.purchases.get(p.id)?.status, 'created', 'and not processed')

  const q = await createPurchase(sim)
  sim.inject({ route: 'direct_post', kind: 'hang', process: true })
  const controller = new AbortController()
  const pending = postCard(sim, q, {}, { signal: controller.signal })
  while (sim.purchases.get(q.id)?.status !== 'paid') await new Promise((resolve) => setTimeout(resolve, 5))
  controller.abort()
  await t.rejects(pending, 'no answer ever came')
  t.equal(sim.purchases.get(q.id)?.status, 'paid', 'processed: the payer was charged')

  // A hang or a pending latency ends when the simulator closes.
  const other = await startSim(t)
  other.inject({ route: 'public_key', kind: 'hang' })
  other.inject({ route: 'public_key', kind: 'latency', ms: 60_000 })
  const hanging = call(other, 'GET', '/api/v1/public_key/')
  const waiting = call(other, 'GET', '/api/v1/public_key/')
  while (other.count('public_key') < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  const ended = Promise.all([
    t.rejects(hanging, 'close destroys the hanging socket'),
    t.rejects(waiting, 'and the delayed one')
  ])
  const start = Date.now()
  await other.close()
  await ended
  t.ok(Date.now() - start < 1000)
})

test('reset faults', async (t) => {
  const sim = await startSim(t)
  const p = await createPurchase(sim, { skip_capture: true })
  sim.inject({ route: 'direct_post', kind: 'reset' })
  await t.rejects(postCard(sim, p), { name: 'SocketError' }, 'the connection breaks')
  t.equal(sim.purchases.get(p.id)?.status, 'hold', 'after the card was authorized')
  sim.inject({ route: 'purchases.capture', kind: 'reset', count: 2 })
  await t.rejects(call(sim, 'POST', `/api/v1/purchases/${p.id}/capture/`))
  t.equal(sim.purchases.get(p.id)?.status, 'paid')
  await t.rejects(call(sim, 'POST', `/api/v1/purchases/${p.id}/capture/`))
  const third = await call(sim, 'POST', `/api/v1/purchases/${p.id}/capture/`)
  t.equal(third.status, 400, 'the capture already happened')

  const q = await createPurchase(sim)
  const tds = (await postCard(sim, q, { card_number: TEST_CARDS.threeDSGet })).json
  sim.inject({ route: 'callback', kind: 'reset' })
  await sim.completeThreeDS(q.id, 'approve')
  await t.rejects(call(sim, 'POST', tds.callback_url, { token: null, form: { PaRes: 'x' } }))
  t.equal(sim.count('callback'), 1)
})

test('a client that aborts mid-body is dropped, the server goes on', async (t) => {
  const sim = await startSim(t)
  const { port } = new URL(sim.origin)
  await new Promise<void>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('POST /api/v1/purchases/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"brand')
      setTimeout(() => socket.destroy(), 30)
    })
    socket.on('close', () => resolve())
  })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(sim.requests.length, 0, 'an incomplete request is not recorded')
  t.equal((await call(sim, 'GET', '/api/v1/public_key/')).status, 200)
})
