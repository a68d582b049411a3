import { test } from 'tap'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import { request } from 'undici'
import qorepay from '../../lib/index.js'
import { CARD, CREDENTIALS, PURCHASE, freePort, passAcs, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

interface Operation {
  summary?: string
  tags?: string[]
  responses: Record<string, { description: string, content?: Record<string, { schema: any }> }>
}

test('a host with @fastify/swagger gets every route documented, POST /payments with its answers', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'shop', version: '1.0.0' } } })
  await app.register(qorepay, {
    ...CREDENTIALS,
    baseUrl: 'http://127.0.0.1:1/api/v1/',
    publicUrl: 'https://shop.example',
    successRedirect: 'https://shop.example/ok',
    failureRedirect: 'https://shop.example/ko',
    webhookPublicKey: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    purchase: async () => PURCHASE
  })
  await app.ready()
  // A path item holds its operations by method, beside a description, servers and parameters.
  const doc = app.swagger() as { paths: Record<string, Partial<Record<'get' | 'post', Operation>>> }

  const pay = doc.paths['/qorepay/payments'].post!
  t.equal(pay.summary?.startsWith('Pay by card'), true)
  t.same(pay.tags, ['qorepay'])
  const json = (code: string) => pay.responses[code].content!['application/json'].schema
  t.same(Object.keys(pay.responses).sort(), ['200', '202', '400', '402', '409', '413', '415', '422', '5XX'])

  const paid = json('200')
  t.same(paid.anyOf.map((s: any) => Object.keys(s.properties).sort()), [['purchase_id', 'status'], ['purchase_id', 'redirect_url', 'status']])
  t.same(paid.anyOf[0].properties.status.anyOf.map((s: any) => s.enum?.[0] ?? s.const), ['executed', 'authorized'])
  t.same(paid.anyOf[1].properties.status.enum ?? [paid.anyOf[1].properties.status.const], ['3DS_required'])
  const pending = json('202')
  t.same(pending.required, ['status', 'purchase_id'])
  t.same(pending.properties.status.enum ?? [pending.properties.status.const], ['pending'])
  const declined = json('402')
  t.same(declined.required, ['status', 'purchase_id', 'code', 'message'])
  t.same(declined.properties.status.enum ?? [declined.properties.status.const], ['error'])
  // What each answer means, as a shop's API docs show it.
  t.same([pay.responses['200'].description, pay.responses['202'].description, pay.responses['402'].description], ['Executed, authorized, or 3-D Secure needed', 'The outcome is not known yet; a webhook or reconciliation reports it later, once', 'Declined'])
  const purchaseId = 'The gateway\'s purchase id'
  t.same([paid.anyOf[0].properties.purchase_id.description, paid.anyOf[1].properties.purchase_id.description, pending.properties.purchase_id.description, declined.properties.purchase_id.description], [purchaseId, purchaseId, purchaseId, purchaseId])
  t.equal(paid.anyOf[1].properties.redirect_url.description, '<publicUrl><prefix>/3ds/<token>: send the payer there')
  t.equal(declined.properties.code.description, 'The gateway\'s error code, e.g. do_not_honour')
  t.equal(declined.properties.message.description, 'The plugin\'s fixed text for that code, never the gateway\'s')
  const invalid = json('400')
  t.same(Object.keys(invalid.properties).sort(), ['code', 'error', 'message', 'statusCode'])
  t.match(pay.responses['400'].description, /gateway was not called/)

  // The body as OpenAPI tools read it: remote_ip by standard formats, unknown fields refused.
  const body = (pay as any).requestBody.content['application/json'].schema
  t.same(body.properties.remote_ip.anyOf.map((s: any) => s.format), ['ipv4', 'ipv6'])
  t.equal(body.additionalProperties, false)

  for (const [path, method] of [['/qorepay/3ds/{token}', 'get'], ['/qorepay/3ds/{token}/return', 'post'], ['/qorepay/webhook', 'post'], ['/qorepay/callback', 'post']] as const) {
    const operation = doc.paths[path]?.[method]
    t.ok(operation?.summary, `${method} ${path} has a summary`)
    t.same(operation?.tags, ['qorepay'])
  }
  t.same(Object.keys(doc.paths['/qorepay/3ds/{token}'].get!.responses).sort(), ['200', '404', '5XX'])
  t.ok(doc.paths['/qorepay/3ds/{token}'].get!.responses['200'].content!['text/html'])
  t.same(Object.keys(doc.paths['/qorepay/3ds/{token}/return'].post!.responses).sort(), ['303', '400', '413', '415', '5XX'])
  t.same(Object.keys(doc.paths['/qorepay/webhook'].post!.responses).sort(), ['200', '400', '401', '413', '500', '502', '503'])
})

test('the answers go out through their response schemas unchanged; a smuggled field is still refused', async (t) => {
  const shop = await startShop(t)
  const paid = await shop.post('/qorepay/payments', CARD)
  t.same(paid.body, { status: 'executed', purchase_id: paid.body.purchase_id })
  const declined = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.declined })
  t.same(Object.keys(declined.body).sort(), ['code', 'message', 'purchase_id', 'status'])
  const smuggled = await shop.post('/qorepay/payments', { ...CARD, price: 1 })
  t.equal(smuggled.statusCode, 400)
  t.same(smuggled.body, { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message: 'body must NOT have additional properties' })
  const badIp = await shop.post('/qorepay/payments', { ...CARD, remote_ip: '8.8.8' })
  t.equal(badIp.statusCode, 400)
  t.match(badIp.body.message, /body\/remote_ip must match format "ipv4"/)
  const threeDS = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  const { termUrl, body } = await passAcs(shop, threeDS.body.redirect_url, 'approve')
  const back = await request(termUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  t.equal(back.statusCode, 303)
  t.equal(await back.body.text(), '', 'a redirect without a body')
  t.equal(shop.sim.count('direct_post'), 3)
})

test('a gateway failure goes out through the 5xx schema with its code', async (t) => {
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(qorepay, { ...CREDENTIALS, baseUrl: `http://127.0.0.1:${port}/api/v1/`, publicUrl: 'https://shop.example', successRedirect: 'https://shop.example/ok', failureRedirect: 'https://shop.example/ko', purchase: async () => PURCHASE })
  const res = await app.inject({ method: 'POST', url: '/qorepay/payments', payload: CARD })
  t.equal(res.statusCode, 502)
  t.same(res.json(), { statusCode: 502, code: 'FST_QOREPAY_UNAVAILABLE', error: 'Bad Gateway', message: 'QorePay is unreachable: ECONNREFUSED' })
})
