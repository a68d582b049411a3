import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { QorePayClient } from '../../lib/gateway/client.js'
import { createSimulator, type Simulator } from '../../lib/simulator/index.js'
import { CompanyKey, checkSignature, decodeSignature, parseRsaKey, webhookKeys, REFETCH_INTERVAL_MS } from '../../lib/webhook/signature.js'
import { CREDENTIALS } from '../helpers/shop.js'

function keyPair (): { privateKey: KeyObject, pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }) as string }
}

const A = keyPair()
const B = keyPair()
const BODY = Buffer.from('{"id":"p-1","event_type":"purchase.paid","note":"ünïcode"}')

function signed (body: Buffer, key: KeyObject): string {
  return sign('sha256', body, key).toString('base64')
}

test('parseRsaKey takes RSA public keys in PEM (SPKI or PKCS#1) only', async (t) => {
  t.ok(parseRsaKey(A.pem))
  const pkcs1 = parseRsaKey(A.pem)!.key.export({ type: 'pkcs1', format: 'pem' }) as string
  t.match(pkcs1, /BEGIN RSA PUBLIC KEY/)
  t.ok(parseRsaKey(pkcs1))
  t.equal(parseRsaKey('not a key'), undefined)
  t.equal(parseRsaKey(42), undefined)
  t.equal(parseRsaKey(undefined), undefined)
  // createPublicKey would take these too: the PEM's text only, not its bytes or an options object.
  t.equal(parseRsaKey(Buffer.from(A.pem)), undefined)
  t.equal(parseRsaKey({ key: A.pem }), undefined)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' })
  t.equal(parseRsaKey(ec), undefined)
})

test('webhookKeys names the option, and the index when there are several', async (t) => {
  t.equal(webhookKeys([]).length, 0)
  t.equal(webhookKeys([A.pem, B.pem]).length, 2)
  t.throws(() => webhookKeys(['x']), { code: 'FST_QOREPAY_CONFIG', message: 'Invalid qorepay option webhookPublicKey: expected an RSA public key in PEM format' })
  t.throws(() => webhookKeys([A.pem, 'x']), { message: /webhookPublicKey\[1\]/ })
})

test('decodeSignature: canonical base64 only', async (t) => {
  t.equal(decodeSignature(undefined), 'missing')
  t.equal(decodeSignature(''), 'missing')
  t.equal(decodeSignature(['a', 'b']), 'malformed')
  t.equal(decodeSignature(['YWJjZA==']), 'malformed', 'an array, even of one canonical value (it would pass the test as text)')
  t.equal(decodeSignature('abc'), 'malformed', 'unpadded')
  t.equal(decodeSignature('ab=c'), 'malformed')
  t.equal(decodeSignature('YWJj ZA=='), 'malformed', 'no spaces')
  t.equal(decodeSignature('YWJjZA==\n'), 'malformed')
  t.same(decodeSignature('YWJjZA=='), Buffer.from('abcd'))
  t.same(decodeSignature('YWJjZGU='), Buffer.from('abcde'))
  t.same(decodeSignature('YWJj'), Buffer.from('abc'))
})

test('checkSignature verifies the exact bytes against each key', async (t) => {
  const keys = webhookKeys([A.pem, B.pem])
  t.equal(checkSignature(BODY, signed(BODY, A.privateKey), keys), undefined)
  t.equal(checkSignature(BODY, signed(BODY, B.privateKey), keys), undefined)
  t.equal(checkSignature(BODY, signed(BODY, B.privateKey), keys.slice(0, 1)), 'mismatch')
  const reserialised = Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 1))
  t.equal(checkSignature(reserialised, signed(BODY, A.privateKey), keys), 'mismatch', 'the same JSON in other bytes')
  t.equal(checkSignature(BODY, 'AAAA', keys), 'mismatch')
  t.equal(checkSignature(BODY, undefined, keys), 'missing')
  t.equal(checkSignature(BODY, [signed(BODY, A.privateKey)], keys), 'malformed', 'a good signature in an array is not read as one')
})

interface Gateway { sim: Simulator, fetches: () => number, serve (pem: string, count?: number): void, client: QorePayClient }

/** The company key as the simulator's GET /public_key/ serves it, with our own PEMs injected. */
async function gateway (t: { teardown (fn: () => unknown): void }): Promise<Gateway> {
  const sim = await createSimulator({ ...CREDENTIALS })
  const client = new QorePayClient({ baseUrl: sim.baseUrl, apiKey: CREDENTIALS.apiKey, s2sToken: CREDENTIALS.s2sToken, timeouts: { connect: 1000, headers: 1000, body: 1000 }, retries: 0 })
  t.teardown(async () => { await client.close(); await sim.close() })
  return {
    sim,
    client,
    fetches: () => sim.count('public_key'),
    // toJSON: sent JSON-encoded, as the real endpoint answers.
    serve: (pem, count = Infinity) => { sim.clearFaults(); sim.inject({ route: 'public_key', kind: 'status', status: 200, count, body: { toJSON: () => pem } }) }
  }
}

test('CompanyKey: fetched lazily, once, shared by concurrent first uses', async (t) => {
  const gw = await gateway(t)
  gw.serve(A.pem)
  const key = new CompanyKey(() => gw.client.publicKey())
  t.equal(await key.check(BODY, undefined), 'missing')
  t.equal(gw.fetches(), 0, 'no fetch for a request without a signature')
  const good = signed(BODY, A.privateKey)
  const answers = await Promise.all(Array.from({ length: 5 }, () => key.check(BODY, good)))
  t.same(answers, [undefined, undefined, undefined, undefined, undefined])
  t.equal(gw.fetches(), 1)
  t.equal(await key.check(BODY, good), undefined)
  t.equal(gw.fetches(), 1, 'cached')
})

test('CompanyKey: a rotation is fetched once, by concurrent failures together, then rate-limited', async (t) => {
  const gw = await gateway(t)
  gw.serve(A.pem)
  const key = new CompanyKey(() => gw.client.publicKey(), 100)
  t.equal(await key.check(BODY, signed(BODY, A.privateKey)), undefined)
  gw.serve(B.pem)
  const rotated = signed(BODY, B.privateKey)
  const answers = await Promise.all(Array.from({ length: 5 }, () => key.check(BODY, rotated)))
  t.same(answers, [undefined, undefined, undefined, undefined, undefined])
  t.equal(gw.fetches(), 2, 'one refetch for five failures in flight together')

  const forged = signed(BODY, A.privateKey)
  t.equal(await key.check(BODY, forged), 'mismatch')
  t.equal(gw.fetches(), 2, 'within the interval: no refetch')
  await sleep(120)
  t.equal(await key.check(BODY, forged), 'mismatch')
  t.equal(gw.fetches(), 3, 'after the interval: one refetch, still the same key')
  t.equal(await key.check(BODY, rotated), undefined)
  t.equal(REFETCH_INTERVAL_MS, 10_000)
})

test('CompanyKey: a failed fetch is remembered for the interval, then fetched again; its error reaches the caller', async (t) => {
  const gw = await gateway(t)
  const key = new CompanyKey(() => gw.client.publicKey(), 100)
  const forged = signed(BODY, A.privateKey)
  // A JSON string (what the wire schema admits) that is no PEM.
  gw.sim.inject({ route: 'public_key', kind: 'status', status: 200, body: '"no"', count: 1 })
  await t.rejects(key.check(BODY, forged), { code: 'FST_QOREPAY_GATEWAY', message: /did not answer an RSA public key/, sent: true, gatewayStatus: 200 })
  t.equal(gw.fetches(), 1)
  const again = await Promise.allSettled(Array.from({ length: 20 }, () => key.check(BODY, forged)))
  t.same(new Set(again.map((a) => a.status === 'rejected' ? (a.reason as Error).message : a.value)), new Set(['QorePay answered an error: GET public_key/ did not answer an RSA public key in PEM format']))
  t.equal(gw.fetches(), 1, 'within the interval: the same failure, no fetch')

  await sleep(120)
  gw.sim.inject({ route: 'public_key', kind: 'status', status: 503, count: 1 })
  await t.rejects(key.check(BODY, forged), { code: 'FST_QOREPAY_GATEWAY', gatewayStatus: 503 })
  t.equal(gw.fetches(), 2, 'after the interval: one fetch')

  await sleep(120)
  // Now the simulator's own company key: a signature by another key is a mismatch after one refetch, then none within the interval.
  t.equal(await key.check(BODY, forged), 'mismatch')
  t.equal(gw.fetches(), 4)
  t.equal(await key.check(BODY, forged), 'mismatch')
  t.equal(gw.fetches(), 4)
  t.ok(parseRsaKey(gw.sim.companyPublicKey))
})
