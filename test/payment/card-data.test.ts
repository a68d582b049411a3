import { test } from 'tap'
import { CARD, passAcs, postTermUrl, startShop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'

/** A MemoryStore that keeps a copy of everything written to it. */
class RecordingStore extends MemoryStore {
  written: string[] = []
  override async set (key: string, value: unknown, ttlMs: number) {
    this.written.push(key, JSON.stringify(value))
    return super.set(key, value, ttlMs)
  }

  override async claim (key: string, value: unknown, ttlMs: number) {
    this.written.push(key, JSON.stringify(value))
    return super.claim(key, value, ttlMs)
  }
}

test('no card number, CVC or expiry in any log line, store value, hook event or answer of a full run', async (t) => {
  const store = new RecordingStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, {
    plugin: { store },
    // A host that logs every body and URL it sees, as careless shops do.
    host: (app) => { app.addHook('preHandler', async (request) => { request.log.info({ body: request.body, url: request.url }, 'host saw') }) }
  })
  const answers: string[] = []
  const cards = [TEST_CARDS.noThreeDS, TEST_CARDS.declined, TEST_CARDS.threeDSPost, TEST_CARDS.threeDSGet]
  for (const cardNumber of cards) {
    const res = await shop.post('/qorepay/payments', { ...CARD, card_number: cardNumber, expires: '11/38' })
    answers.push(res.text)
    if (res.body.status === '3DS_required') {
      answers.push((await shop.get(new URL(res.body.redirect_url).pathname)).text)
      const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
      answers.push(JSON.stringify(await postTermUrl(termUrl, body)))
    }
  }
  // A validation failure and a gateway failure too.
  answers.push((await shop.post('/qorepay/payments', { ...CARD, cvc: '12345' })).text)
  shop.sim.inject({ route: 'direct_post', kind: 'status', status: 500 })
  answers.push((await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.noThreeDS, expires: '11/38' })).text)

  t.ok(shop.logs.length > 20, `${shop.logs.length} log lines at trace level`)
  t.ok(store.written.length > 8, `${store.written.length / 2} store writes`)
  const places: Array<[string, string[]]> = [
    ['log', shop.logs],
    ['store', store.written],
    ['hook event', Object.values(shop.events).flat().map((e) => JSON.stringify(e))],
    ['answer', answers]
  ]
  for (const [where, texts] of places) {
    for (const text of texts) {
      for (const card of cards) t.notOk(text.includes(card), `${where}: no card number`)
      if (!text.includes('11/38') && !/"(card_number|cvc|expires)":"\d/.test(text)) continue
      t.fail(`${where} holds card data: ${text.slice(0, 200)}`)
    }
  }
  t.ok(shop.events.executed.some((e) => e.maskedPan === '444433******1111'), 'a masked PAN may be shown')
  t.ok(shop.logs.some((l) => l.includes('"card_number":"[redacted]"')), "the host's body log went through our redaction")
  const tokens = answers.join('').match(/\/3ds\/[A-Za-z0-9_-]{43}/g) ?? []
  t.ok(tokens.length > 0)
  for (const token of tokens) t.notOk(shop.logs.some((l) => l.includes(token.slice(5))), 'no 3DS token in the request log')
})

test('gateway text that quotes the card: masked in hooks and logs, never in an answer', async (t) => {
  const shop = await startShop(t)
  const card = { ...CARD, card_number: TEST_CARDS.noThreeDS, cvc: '737', expires: '11/38' }
  const quoting = 'card 4444333322221111 (cvc 737, expires 11/38) refused; other card 5555-5555-5555-4444'
  const secrets = ['4444333322221111', '737', '11/38', '5555-5555-5555-4444', '5555555555554444']
  const answered: string[] = []

  await t.test('a decline: the payer reads our text for the code; onFailed gets the masked text', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: { status: 'error', code: 'do_not_honour', message: quoting } })
    const res = await shop.post('/qorepay/payments', card)
    answered.push(res.text)
    t.equal(res.statusCode, 402)
    t.same(res.body, { status: 'error', purchase_id: res.body.purchase_id, code: 'do_not_honour', message: 'Your bank declined the payment.' })
    t.same(shop.events.failed.at(-1)?.error, { code: 'do_not_honour', message: 'card 444433******1111 (cvc ***, expires **/**) refused; other card 555555******4444' })
  })

  await t.test('a decline whose "message" key is spelt with an escape: masked all the same', async (t) => {
    // The text never spells "message", which must not let the answer skip masking.
    const escaped = `{"status":"error","code":"do_not_honour","\\u006dessage":${JSON.stringify(quoting)}}`
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 200, body: escaped })
    const res = await shop.post('/qorepay/payments', card)
    answered.push(res.text)
    t.equal(res.statusCode, 402)
    t.same(shop.events.failed.at(-1)?.error, { code: 'do_not_honour', message: 'card 444433******1111 (cvc ***, expires **/**) refused; other card 555555******4444' })
  })

  await t.test('a refused card post (4xx, no status): a 502 with the code, the text in the log only', async (t) => {
    shop.sim.inject({ route: 'direct_post', kind: 'status', status: 400, body: { card_number: [{ message: quoting, code: 'invalid' }] } })
    const res = await shop.post('/qorepay/payments', card)
    answered.push(res.text)
    t.equal(res.statusCode, 502)
    t.same(res.body, { statusCode: 502, code: 'FST_QOREPAY_GATEWAY', error: 'Bad Gateway', message: 'QorePay answered an error: HTTP 400 invalid' })
    t.ok(shop.logs.some((line) => line.includes('card_number: card 444433******1111 (cvc ***, expires **/**) refused')), 'the masked text is logged')
  })

  await t.test('a client call the gateway refuses with text: the error holds it masked, its message does not', async (t) => {
    shop.sim.inject({ route: 'purchases.create', kind: 'status', status: 400, body: { __all__: [{ message: 'no card 4111 1111 1111 1111 here', code: 'purchase_invalid' }] } })
    const err = await shop.app.qorepay.createPurchase({ brand_id: 'brand-test', client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'x', price: 1 }] } }).catch((e: unknown) => e)
    t.match(err, { code: 'FST_QOREPAY_GATEWAY', message: 'QorePay answered an error: HTTP 400 purchase_invalid', gatewayCode: 'purchase_invalid', gatewayMessage: 'no card 411111******1111 here' })
  })

  for (const text of [...answered, ...shop.logs, ...Object.values(shop.events).flat().map((e) => JSON.stringify(e))]) {
    for (const secret of secrets) {
      if (text.includes(secret) && secret !== '737') t.fail(`card data in ${text.slice(0, 200)}`)
    }
    if (/(?<!\d)737(?!\d)/.test(text)) t.fail(`the CVC in ${text.slice(0, 200)}`)
  }
})
