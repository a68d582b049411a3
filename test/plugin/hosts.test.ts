import { test } from 'tap'
import Fastify from 'fastify'
import formbody from '@fastify/formbody'
import { request } from 'undici'
import qorepay from '../../lib/index.js'
import { createSimulator } from '../../lib/simulator/index.js'
import { CARD, CREDENTIALS, PURCHASE, freePort, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

test('a host that registered @fastify/formbody and its own JSON parser keeps them, and payments still work', async (t) => {
  const shop = await startShop(t, {
    plugin: { prefix: '/pay/qp' },
    host: async (app) => {
      await app.register(formbody)
      app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        done(null, { hostParsed: true, ...JSON.parse(body as string) })
      })
      app.post('/host/form', async (req) => req.body)
      app.post('/host/json', async (req) => req.body)
    }
  })
  const form = await shop.post('/host/form', 'a=1')
  t.same(form.body, { a: '1' })
  const json = await shop.post('/host/json', { b: 2 })
  t.same(json.body, { hostParsed: true, b: 2 }, "the host's parser is untouched")

  const res = await shop.post('/pay/qp/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost })
  t.equal(res.body.status, '3DS_required')
  t.match(res.body.redirect_url, `${shop.url}/pay/qp/3ds/`)
  const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
  t.match(termUrl, `${shop.url}/pay/qp/3ds/`)
  const back = await postTermUrl(termUrl, body)
  t.match(back.location, /^https:\/\/shop\.example\/paid/)
  t.equal((await shop.post('/qorepay/payments', CARD)).statusCode, 404, 'nothing under the default prefix')
})

test('two brands in one server under two prefixes, each with its own decorator', async (t) => {
  const simA = await createSimulator({ ...CREDENTIALS })
  const simB = await createSimulator({ ...CREDENTIALS, brandId: 'brand-b' })
  t.teardown(() => Promise.all([simA.close(), simB.close()]))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const app = Fastify()
  t.teardown(() => app.close())
  const executed: string[] = []
  const common = { ...CREDENTIALS, publicUrl: url, successRedirect: 'https://shop.example/ok', failureRedirect: 'https://shop.example/ko', purchase: async () => PURCHASE }
  await app.register(qorepay, { ...common, baseUrl: simA.baseUrl, prefix: '/brand-a', onExecuted: async () => { executed.push('a') } })
  await app.register(qorepay, { ...common, brandId: 'brand-b', baseUrl: simB.baseUrl, prefix: '/brand-b', decorator: 'qorepayB', onExecuted: async () => { executed.push('b') } })
  await app.listen({ port, host: '127.0.0.1' })

  for (const brand of ['a', 'b']) {
    const res = await request(`${url}/brand-${brand}/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CARD) })
    t.equal(res.statusCode, 200)
    await res.body.dump()
  }
  t.same(executed, ['a', 'b'])
  t.equal(simA.count('direct_post'), 1)
  t.equal(simB.count('direct_post'), 1)
  const [id] = simB.purchases.keys()
  const purchase = await app.getDecorator<typeof app.qorepay>('qorepayB').getPurchase(id)
  t.equal(purchase.brand_id, 'brand-b')
  await t.rejects(app.qorepay.getPurchase(id), { code: 'FST_QOREPAY_NOT_FOUND', gatewayStatus: 404 })
})

test('the plugin also registers inside an encapsulated host scope', async (t) => {
  const sim = await createSimulator({ ...CREDENTIALS })
  t.teardown(() => sim.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(async (scope) => {
    await scope.register(qorepay, { ...CREDENTIALS, baseUrl: sim.baseUrl, publicUrl: 'http://127.0.0.1', successRedirect: 'https://s/ok', failureRedirect: 'https://s/ko', purchase: async () => PURCHASE })
    t.ok(scope.hasDecorator('qorepay'))
  })
  await app.ready()
  t.notOk(app.hasDecorator('qorepay'), 'the decorator stays in the scope that registered it')
})

test('payments take JSON only; unknown paths under the prefix do not echo the path', async (t) => {
  const shop = await startShop(t)
  const form = await shop.post('/qorepay/payments', new URLSearchParams(CARD).toString())
  t.equal(form.statusCode, 415, 'a cross-site form cannot post a payment')
  t.equal(shop.sim.count('purchases.create'), 0)
  const missing = await shop.get('/qorepay/3ds/abc/def/<script>')
  t.equal(missing.statusCode, 404)
  t.notMatch(missing.text, /abc|script/)
  const json = await shop.post('/qorepay/3ds/x/return', { MD: 'a' })
  t.equal(json.statusCode, 415, 'the TermUrl takes the form the bank posts')
})
