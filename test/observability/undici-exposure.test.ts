import { test } from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { CARD, startShop } from '../helpers/shop.js'

const warnings = (logs: string[]): string[] =>
  logs.map((line) => JSON.parse(line)).filter((l) => l.level === 40 && /diagnostics channel/.test(l.msg)).map((l) => l.msg)

test('a subscriber on an undici channel that sees card data is named once, at registration or at the next payment', async (t) => {
  const seen: unknown[] = []
  const onCreate = (message: unknown): void => { seen.push(message) }
  subscribe('undici:request:create', onCreate)
  t.teardown(() => unsubscribe('undici:request:create', onCreate))
  const shop = await startShop(t)

  t.same(warnings(shop.logs).length, 1, 'at registration')
  t.match(warnings(shop.logs)[0], /^qorepay: diagnostics channel undici:request:create has a subscriber; it receives the card data/)
  // What the warning is about: the request on that channel carries the card JSON.
  t.equal((await shop.post('/qorepay/payments', CARD)).statusCode, 200)
  t.ok(seen.some((m) => String((m as { request: { body?: unknown } }).request.body).includes(CARD.card_number)), 'the subscriber saw the card number')
  t.equal(warnings(shop.logs).length, 1, 'not again for the same channel')

  const onChunk = (): void => {}
  subscribe('undici:request:bodyChunkSent', onChunk)
  t.teardown(() => unsubscribe('undici:request:bodyChunkSent', onChunk))
  await shop.post('/qorepay/payments', CARD)
  await shop.post('/qorepay/payments', CARD)
  t.equal(warnings(shop.logs).length, 2)
  t.match(warnings(shop.logs)[1], /^qorepay: diagnostics channel undici:request:bodyChunkSent has a subscriber/)
  for (const line of shop.logs) t.notMatch(line, CARD.card_number, 'the warning itself holds no card data')
})

test('no warning when nobody listens on undici', async (t) => {
  const shop = await startShop(t)
  await shop.post('/qorepay/payments', CARD)
  t.same(warnings(shop.logs), [])
})
