import { test } from 'tap'
import { createPurchase, creds } from '../helpers/simulator.js'
import { clientOnSimulator } from '../helpers/gateway-client.js'

/** A client on its own simulator, with `retries` extra tries for reads, its debug lines, and a purchase made. */
async function gateway (t: { teardown (fn: () => unknown): void }, retries = 2): Promise<Awaited<ReturnType<typeof clientOnSimulator>> & { id: string }> {
  const made = await clientOnSimulator(t, { retries })
  const { id } = await createPurchase(made.sim)
  return { ...made, id }
}

const CREATE = { brand_id: creds.brandId, client: { email: 'payer@example.com' }, purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }] } }

test('a read failing with 5xx is tried 1 + retries times, then the last answer is the error', async (t) => {
  const { sim, client, id } = await gateway(t, 2)
  sim.inject({ route: 'purchases.get', kind: 'status', status: 500, count: 5 })
  await t.rejects(client.getPurchase(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 500 })
  t.equal(sim.count('purchases.get'), 3)

  sim.clearFaults()
  sim.inject({ route: 'purchases.get', kind: 'status', status: 500, count: 2 })
  t.match(await client.getPurchase(id), { id, status: 'created' }, 'the third try answers')
  t.equal(sim.count('purchases.get'), 6)
})

test('a read answered 4xx (but 429) is not tried again', async (t) => {
  const { sim, client, id } = await gateway(t)
  for (const status of [400, 404, 409, 499]) {
    sim.inject({ route: 'purchases.get', kind: 'status', status })
    const before = sim.count('purchases.get')
    await t.rejects(client.getPurchase(id), { code: status === 404 ? 'FST_QOREPAY_NOT_FOUND' : 'FST_QOREPAY_GATEWAY', gatewayStatus: status })
    t.equal(sim.count('purchases.get') - before, 1, `HTTP ${status}: one try`)
  }
})

test('Retry-After: read on a 429 only, waited for up to two seconds, a longer one is the error', async (t) => {
  const { sim, client, id } = await gateway(t, 1)
  // On a 503 a Retry-After is no promise: the backoff decides, and the read is tried again at once.
  sim.inject({ route: 'purchases.get', kind: 'status', status: 503, retryAfter: 60 })
  let startedAt = performance.now()
  t.match(await client.getPurchase(id), { id })
  t.ok(performance.now() - startedAt < 1500, 'a 503\'s Retry-After is not waited for')

  // Exactly the longest wait: waited for, then tried again.
  sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: 2 })
  startedAt = performance.now()
  t.match(await client.getPurchase(id), { id })
  t.ok(performance.now() - startedAt >= 1990, 'waited the two seconds asked')

  sim.inject({ route: 'purchases.get', kind: 'status', status: 429, retryAfter: '2.001' })
  const before = sim.count('purchases.get')
  await t.rejects(client.getPurchase(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 429 })
  t.equal(sim.count('purchases.get') - before, 1, 'a millisecond over: not waited for, not tried again')

  // No hint at all: the backoff's few milliseconds.
  sim.inject({ route: 'purchases.get', kind: 'status', status: 429 })
  startedAt = performance.now()
  t.match(await client.getPurchase(id), { id })
  t.ok(performance.now() - startedAt < 1500)
})

test('a write is never tried again once answered, whatever the answer', async (t) => {
  const { sim, client, id } = await gateway(t)
  for (const status of [429, 500, 503]) {
    sim.inject({ route: 'purchases.cancel', kind: 'status', status, retryAfter: 0 })
    const before = sim.count('purchases.cancel')
    await t.rejects(client.cancel(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: status })
    t.equal(sim.count('purchases.cancel') - before, 1, `HTTP ${status}: one try`)
  }
})

test('an error answer whose entries are no words is still the gateway refusing, not unreachable', async (t) => {
  const { sim, client, id } = await gateway(t)
  sim.inject({ route: 'purchases.cancel', kind: 'status', status: 400, body: { __all__: [null] } })
  await t.rejects(client.cancel(id), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 400, gatewayMessage: 'error', sent: true })
})

test('the debug line of each try: its operation, what came back, how long, and the purchase when known', async (t) => {
  const { sim, client, lines, id } = await gateway(t, 1)
  sim.inject({ route: 'purchases.get', kind: 'status', status: 503 })
  await client.getPurchase(id)
  await client.publicKey()
  sim.inject({ route: 'purchases.cancel', kind: 'reset' })
  // The socket closed under the request: undici says UND_ERR_SOCKET, or ECONNRESET when the reset wins the race.
  await t.rejects(client.cancel(id), { code: 'FST_QOREPAY_UNAVAILABLE', gatewayCode: /^(UND_ERR_SOCKET|ECONNRESET)$/ })
  const reset = lines[3]?.error as string
  t.strictSame(lines.map(({ durationMs, ...line }) => line), [
    { operation: 'purchases.get', statusCode: 503, purchaseId: id, msg: `qorepay: gateway purchases.get for purchase ${id}: HTTP 503 in ${lines[0].durationMs} ms` },
    { operation: 'purchases.get', statusCode: 200, purchaseId: id, msg: `qorepay: gateway purchases.get for purchase ${id}: HTTP 200 in ${lines[1].durationMs} ms` },
    { operation: 'public_key', statusCode: 200, purchaseId: undefined, msg: `qorepay: gateway public_key: HTTP 200 in ${lines[2].durationMs} ms` },
    { operation: 'purchases.cancel', error: reset, purchaseId: id, msg: `qorepay: gateway purchases.cancel for purchase ${id}: ${reset} in ${lines[3].durationMs} ms` }
  ])
  for (const line of lines) t.ok(Number.isInteger(line.durationMs) && line.durationMs >= 0 && line.durationMs < 1000, `${line.durationMs} ms`)
})

test('a purchase create is logged with the id its answer names, and only a string id counts', async (t) => {
  const { sim, client, lines } = await gateway(t)
  const made = await client.createPurchase(CREATE)
  t.equal(lines.at(-1)?.purchaseId, made.id)
  t.equal(lines.at(-1)?.msg, `qorepay: gateway purchases.create for purchase ${made.id}: HTTP 201 in ${lines.at(-1)?.durationMs as number} ms`)
  sim.inject({ route: 'purchases.create', kind: 'status', status: 500, body: { id: 42 } })
  await t.rejects(client.createPurchase(CREATE), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 500 })
  t.equal(lines.at(-1)?.purchaseId, undefined, 'a number is no purchase id')
  sim.inject({ route: 'purchases.create', kind: 'status', status: 500, body: 'null' })
  await t.rejects(client.createPurchase(CREATE), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 500 })
  t.equal(lines.at(-1)?.purchaseId, undefined)
})
