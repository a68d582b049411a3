import { test } from 'tap'
import { CARD, startShop } from '../helpers/shop.js'
import { payerMessage } from '../../lib/outcome/payer-message.js'

/** What an accepted body ends in at the simulator: executed, or the bank's failure code (a 402). */
type Answer = 'executed' | 'invalid_card_number' | 'incorrect_cvc'

// One case per rule of the gateway's card table and its boundaries: [name, body change, false or the answer once accepted]
const CASES: Array<[string, Record<string, unknown>, false | Answer]> = [
  ['cardholder_name missing', { cardholder_name: undefined }, false],
  ['cardholder_name empty', { cardholder_name: '' }, false],
  ['cardholder_name 30 chars', { cardholder_name: 'A'.repeat(30) }, 'executed'],
  ['cardholder_name 31 chars', { cardholder_name: 'A'.repeat(31) }, false],
  ['cardholder_name space, apostrophe, dot, dash', { cardholder_name: "J. O'Neil-Smith" }, 'executed'],
  ['cardholder_name digits', { cardholder_name: 'John 2' }, false],
  ['cardholder_name non-Latin', { cardholder_name: 'Jöhn' }, false],
  ['cardholder_name look-alike Cyrillic', { cardholder_name: 'Jоhn' }, false],
  ['cardholder_name markup', { cardholder_name: '<b>John</b>' }, false],
  ['cardholder_name not a string', { cardholder_name: 42 }, false],
  ['card_number missing', { card_number: undefined }, false],
  // Valid here, unknown to the bank: the gateway's own failure, not a 400.
  ['card_number 19 digits', { card_number: '4444333322221111000' }, 'invalid_card_number'],
  ['card_number 20 digits', { card_number: '44443333222211110000' }, false],
  ['card_number with spaces', { card_number: '4444 3333 2222 1111' }, false],
  ['card_number as a number', { card_number: 4444333322221111 }, false],
  ['card_number letters', { card_number: '4444abcd22221111' }, false],
  ['expires missing', { expires: undefined }, false],
  ['expires MM/YY', { expires: '01/39' }, 'executed'],
  ['expires month 00', { expires: '00/39' }, false],
  ['expires month 13', { expires: '13/39' }, false],
  ['expires MM/YYYY', { expires: '01/2039' }, false],
  ['expires without slash', { expires: '0139' }, false],
  ['cvc missing', { cvc: undefined }, false],
  ['cvc 4 digits', { cvc: '1234' }, 'incorrect_cvc'],
  ['cvc 2 digits', { cvc: '12' }, false],
  ['cvc 5 digits', { cvc: '12345' }, false],
  ['cvc letters', { cvc: '12a' }, false],
  ['remember_card on', { remember_card: 'on' }, 'executed'],
  ['remote_ip IPv4', { remote_ip: '8.8.8.8' }, 'executed'],
  ['remote_ip IPv6', { remote_ip: '2001:db8::1' }, 'executed'],
  ['remote_ip not an IP', { remote_ip: '8.8.8' }, false],
  ['remote_ip hostname', { remote_ip: 'localhost' }, false],
  ['user_agent 2048', { user_agent: 'a'.repeat(2048) }, 'executed'],
  ['user_agent 2049', { user_agent: 'a'.repeat(2049) }, false],
  ['accept_header 2049', { accept_header: 'a'.repeat(2049) }, false],
  ['language 8', { language: 'en-US-x1' }, 'executed'],
  ['language 9', { language: 'en-US-x12' }, false],
  ['java_enabled boolean', { java_enabled: true }, 'executed'],
  ['java_enabled string', { java_enabled: 'false' }, false],
  ['javascript_enabled number', { javascript_enabled: 1 }, false],
  ['color_depth 0', { color_depth: 0 }, 'executed'],
  ['color_depth 255', { color_depth: 255 }, 'executed'],
  ['color_depth 256', { color_depth: 256 }, false],
  ['color_depth -1', { color_depth: -1 }, false],
  ['color_depth fraction', { color_depth: 24.5 }, false],
  ['color_depth string', { color_depth: '24' }, false],
  ['utc_offset -32768', { utc_offset: -32768 }, 'executed'],
  ['utc_offset 32767', { utc_offset: 32767 }, 'executed'],
  ['utc_offset 32768', { utc_offset: 32768 }, false],
  ['utc_offset -32769', { utc_offset: -32769 }, false],
  ['screen_width 0', { screen_width: 0 }, 'executed'],
  ['screen_width -1', { screen_width: -1 }, false],
  ['screen_height huge', { screen_height: 2 ** 53 }, false],
  ['order string', { order: 'sku-1' }, 'executed'],
  ['order object', { order: { sku: 'a', qty: 2 } }, 'executed'],
  ['order nested object', { order: { sku: { deep: 1 } } }, false],
  ['order string 256', { order: 'o'.repeat(256) }, 'executed'],
  ['order string 257', { order: 'o'.repeat(257) }, false],
  ['order value 256', { order: { note: 'o'.repeat(256) } }, 'executed'],
  ['order value 257', { order: { note: 'o'.repeat(257) } }, false],
  ['remember_card 16', { remember_card: 'o'.repeat(16) }, 'executed'],
  ['remember_card 17', { remember_card: 'o'.repeat(17) }, false],
  ['a price from the payer', { price: 1 }, false],
  ['an amount from the payer', { amount: 1 }, false]
]

/** Every string of a JSON value, keys included: where echoed card data would be. */
function strings (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([key, inner]) => [key, ...strings(inner)])
}

/**
 * Whether `secret` (a card number or CVC, any length) is in a JSON answer as a run of
 * digits of its own: in a string, not inside a longer number, so a CVC "400" would
 * not be found in `statusCode: 400` nor "123" in "1234".
 */
function showsCardData (answer: string, secret: string): boolean {
  const run = new RegExp(`(?<![0-9])${secret.replace(/[^0-9A-Za-z]/g, '\\$&')}(?![0-9])`)
  return strings(JSON.parse(answer)).some((text) => run.test(text))
}

test('the card data check finds a 3-digit CVC echoed anywhere in an answer, and nothing else', async (t) => {
  t.ok(showsCardData(JSON.stringify({ message: 'body/cvc 123 must match pattern' }), '123'))
  t.ok(showsCardData(JSON.stringify({ card: { cvc: '123' } }), '123'))
  t.ok(showsCardData(JSON.stringify({ [CARD.card_number]: true }), CARD.card_number), 'in a key')
  t.notOk(showsCardData(JSON.stringify({ statusCode: 123, message: 'cvc must be 3 digits' }), '123'), 'a number value is not echoed text')
  t.notOk(showsCardData(JSON.stringify({ message: 'more than 1234 characters' }), '123'), 'inside a longer number')
})

test('every rule of the card table is enforced before any gateway call', async (t) => {
  const shop = await startShop(t)
  let accepted = 0
  for (const [name, change, answer] of CASES) {
    const body: Record<string, unknown> = { ...CARD, ...change }
    for (const key of Object.keys(change)) if (change[key] === undefined) delete body[key]
    const before = shop.sim.count('purchases.create')
    const res = await shop.post('/qorepay/payments', body)
    if (answer === 'executed') {
      accepted++
      t.equal(res.statusCode, 200, `${name}: accepted`)
      t.same(res.body, { status: 'executed', purchase_id: res.body.purchase_id }, `${name}: executed`)
      continue
    }
    if (answer !== false) {
      accepted++
      t.equal(res.statusCode, 402, `${name}: accepted, then failed at the bank`)
      t.same(res.body, { status: 'error', purchase_id: res.body.purchase_id, code: answer, message: payerMessage(answer) }, `${name}: the bank's answer`)
      continue
    }
    t.equal(res.statusCode, 400, `${name}: rejected`)
    t.equal(res.body.code, 'FST_ERR_VALIDATION', name)
    t.equal(shop.sim.count('purchases.create'), before, `${name}: no gateway call`)
    const secrets = [CARD.card_number, CARD.cvc, change.card_number, change.cvc, change.expires].filter((v) => typeof v === 'string' && v !== '')
    for (const secret of secrets) {
      t.notOk(showsCardData(res.text, String(secret)), `${name}: ${String(secret).length} card characters not in the answer`)
    }
  }
  t.equal(accepted, CASES.filter(([, , answer]) => answer !== false).length)
  t.ok(accepted > 10)
})

test('bodies that are not JSON objects are 4xx without a gateway call', async (t) => {
  const shop = await startShop(t)
  const cases: Array<[string, string, number]> = [
    ['text/plain', 'hello', 415],
    ['application/json', '{"cardholder_name":', 400],
    ['application/json', '[]', 400],
    ['application/json', 'null', 400],
    ['application/json', JSON.stringify({ ...CARD, order: 'x'.repeat(70_000) }), 413],
    // JSON's 1e400 parses to Infinity: no integer.
    ['application/json', JSON.stringify(CARD).replace(/}$/, ',"color_depth":1e400}'), 400]
  ]
  for (const [type, body, status] of cases) {
    const res = await shop.post('/qorepay/payments', body as never, { 'content-type': type })
    t.equal(res.statusCode, status, `${type} ${body.slice(0, 20)}`)
    if (body.includes('1e400')) t.equal(res.body.message, 'body/color_depth must be integer')
  }
  t.equal(shop.sim.count('purchases.create'), 0)
})
