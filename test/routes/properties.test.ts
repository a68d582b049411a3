import { connect, isIP } from 'node:net'
import { test } from 'tap'
import fc from 'fast-check'
import { Pool } from 'undici'
import { CARD, passAcs, startShop, unescapeHtml, type Shop } from '../helpers/shop.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { sessionKey, type ThreeDSSession } from '../../lib/three-ds/session.js'

/*
 * Property-based and hostile-input tests over real HTTP against one shop
 * (simulator + host + plugin on 127.0.0.1). Every property throws on the
 * first counterexample, so fast-check shrinks it and prints its seed.
 */

const PREFIX = '/qorepay'
const BODY_LIMIT = 64 * 1024
const SUCCESS = 'https://shop.example/paid?from=qorepay'
const FAILURE = 'https://shop.example/failed'

// ---------------------------------------------------------------- vocabulary

/** Put into every field: markup, script, template and header-injection attempts. */
const PAYLOADS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  '</form><script>document.forms[0].submit()</script>',
  '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<!--', '-->', ']]>', '<![CDATA[x]]>',
  'javascript:alert(1)', 'data:text/html,<script>alert(1)</script>',
  '{{constructor.constructor("alert(1)")()}}', '$' + '{7*7}', '#{7*7}',
  "' OR '1'='1", '"; DROP TABLE purchases; --',
  '\r\nSet-Cookie: x=1', '%0d%0aLocation:%20https://evil.example', '\nLocation: https://evil.example',
  '../../../etc/passwd', '..\\..\\windows\\win.ini',
  '&lt;script&gt;', '&#x3C;script&#x3E;', '&amp;amp;', '&quot;', '&#39;',
  '\u003cscript\u003e', '\\u003cscript\\u003e', '\u0000', '\u2028\u2029'
]

/** Unicode tricks for the cardholder name: each one is outside the Latin-letters rule. */
const TRICKS = [
  '\u202e', '\u202d', '\u200d', '\u200c', '\u200b', '\u2060', '\ufeff', // bidi override, zero-width joiner and friends
  '\u0301', '\u0308', '\u0336', // combining marks
  '\u0000', '\n', '\r\n', '\t', '\u000b', '\u2028', '\u00a0', '\u3000', // NUL, newlines, odd spaces
  '\u0430', '\u043e', '\u0435', '\u0440', '\u0441', // Cyrillic look-alikes of a o e p c
  '\u0391', '\u039f', // Greek Alpha, Omicron
  '\uff21', '\u212a', '\u212b', '\u0131', '\u0130', '\u017f', '\u00df', '\ufb01', '\u01c5', // full width A, Kelvin K, Angstrom, dotless i, ...
  '\ud83d\ude00', '\ud800', '\udfff', '\ufffd', '\u{e0041}' // emoji, lone surrogates, replacement, tag char
]

const REQUIRED = ['cardholder_name', 'card_number', 'expires', 'cvc'] as const
const OPTIONAL = ['remember_card', 'remote_ip', 'user_agent', 'accept_header', 'language', 'java_enabled', 'javascript_enabled',
  'color_depth', 'utc_offset', 'screen_width', 'screen_height', 'order'] as const
const FIELDS: readonly string[] = [...REQUIRED, ...OPTIONAL]
const INTEGERS: Record<string, [number, number]> = {
  color_depth: [0, 255],
  utc_offset: [-32768, 32767],
  screen_width: [0, Number.MAX_SAFE_INTEGER],
  screen_height: [0, Number.MAX_SAFE_INTEGER]
}
const STRING_LIMITS: Record<string, number> = { cardholder_name: 30, card_number: 19, remember_card: 16, user_agent: 2048, accept_header: 2048, language: 8 }

// ---------------------------------------------------------------- the card table, as an oracle

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
/** Lengths in characters (code points), as JSON Schema and the platform count them. */
function isString (value: unknown, max: number, min = 0): value is string {
  return typeof value === 'string' && [...value].length >= min && [...value].length <= max
}
function isInteger (value: unknown, [min, max]: [number, number]): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}
function isOrder (value: unknown): boolean {
  if (isString(value, 256) || (typeof value === 'number' && Number.isInteger(value))) return true
  if (!isPlainObject(value)) return false
  const entries = Object.entries(value)
  return entries.length <= 32 && entries.every(([key, v]) =>
    isString(key, 64) && (isString(v, 256) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean'))
}

/**
 * What the gateway's card table (gateway-s2s-card.md) and the design say a
 * `POST /payments` body may be, written independently of lib/payment/card-fields.ts.
 */
function validBody (value: unknown): boolean {
  if (!isPlainObject(value)) return false
  const b = value
  if (Object.keys(b).some((key) => !FIELDS.includes(key))) return false
  if (!(isString(b.cardholder_name, 30, 1) && /^[A-Za-z '.-]+$/.test(b.cardholder_name))) return false
  if (!(isString(b.card_number, 19, 1) && /^[0-9]+$/.test(b.card_number))) return false
  if (!(typeof b.expires === 'string' && /^(0[1-9]|1[0-2])\/[0-9]{2}$/.test(b.expires))) return false
  if (!(typeof b.cvc === 'string' && /^[0-9]{3,4}$/.test(b.cvc))) return false
  const optional: Record<string, (v: unknown) => boolean> = {
    remember_card: (v) => isString(v, 16),
    remote_ip: (v) => typeof v === 'string' && isIP(v) !== 0,
    user_agent: (v) => isString(v, 2048),
    accept_header: (v) => isString(v, 2048),
    language: (v) => isString(v, 8, 1),
    java_enabled: (v) => typeof v === 'boolean',
    javascript_enabled: (v) => typeof v === 'boolean',
    order: isOrder,
    ...Object.fromEntries(Object.entries(INTEGERS).map(([name, range]) => [name, (v: unknown) => isInteger(v, range)]))
  }
  return Object.entries(optional).every(([name, check]) => !(name in b) || check(b[name]))
}

/** The simulator's bank: the platform's card without 3DS, CVC 123 and an expiry not before this month execute; other numbers fail. */
function executes (body: Record<string, unknown>): boolean {
  const [month, year] = String(body.expires).split('/').map(Number)
  const now = new Date()
  return body.card_number === TEST_CARDS.noThreeDS && body.cvc === TEST_CARDS.cvc &&
    (2000 + year) * 12 + month >= now.getUTCFullYear() * 12 + now.getUTCMonth() + 1
}

/** What secure-json-parse refuses: an own `__proto__`, or a `constructor` holding a `prototype`. */
function poisoned (root: unknown): boolean {
  const stack = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value !== 'object' || value === null) continue
    if (Object.hasOwn(value, '__proto__')) return true
    const ctor = (value as Record<string, unknown>).constructor
    if (Object.hasOwn(value, 'constructor') && typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return true
    stack.push(...Object.values(value))
  }
  return false
}

// ---------------------------------------------------------------- generators

const digit = fc.constantFrom(...'0123456789')
const digits = (min: number, max: number) => fc.string({ unit: digit, minLength: min, maxLength: max })
/**
 * Distinctive card numbers (16-19 digits starting with 9): any of them in a log line is a leak.
 * The gateway fails them (as the platform's sandbox fails unknown numbers), so the card that executes is mixed in.
 */
const cardNumber = fc.oneof({ weight: 3, arbitrary: digits(15, 18).map((d) => `9${d}`) }, { weight: 1, arbitrary: fc.constant<string>(TEST_CARDS.noThreeDS) })
const two = (n: number) => String(n).padStart(2, '0')
const expires = fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 99 })).map(([m, y]) => `${two(m)}/${two(y)}`)
const cvc = fc.oneof(fc.constant(TEST_CARDS.cvc), fc.stringMatching(/^[0-9]{3,4}$/))
const name = fc.stringMatching(/^[A-Za-z '.-]{1,30}$/)
const anyText = (maxLength: number) => fc.oneof(
  fc.string({ maxLength }),
  fc.string({ unit: 'binary', maxLength }),
  fc.constantFrom(...PAYLOADS)
)
const orderKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', minLength: 60, maxLength: 70 }),
  fc.constantFrom(...PAYLOADS, 'constructor', 'toString', 'a\nb', '\r', '\u2028', '\u2029')
).filter((key) => key !== '__proto__')
const orderValue = fc.oneof(fc.string({ maxLength: 40 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean())

const optionalFields = fc.record({
  remember_card: fc.constantFrom('on', 'off', '', '1'),
  remote_ip: fc.oneof(fc.ipV4(), fc.ipV6()),
  user_agent: anyText(300),
  accept_header: anyText(100),
  language: fc.string({ minLength: 1, maxLength: 8 }),
  java_enabled: fc.boolean(),
  javascript_enabled: fc.boolean(),
  color_depth: fc.integer({ min: 0, max: 255 }),
  utc_offset: fc.integer({ min: -32768, max: 32767 }),
  screen_width: fc.nat(),
  screen_height: fc.nat(),
  order: fc.oneof(fc.string({ maxLength: 60 }), fc.integer(), fc.dictionary(orderKey, orderValue, { maxKeys: 6 }))
}, { requiredKeys: [] })

/** A body the card table accepts. */
const validCard = fc.tuple(fc.record({ cardholder_name: name, card_number: cardNumber, expires, cvc }), optionalFields)
  .map(([card, extra]) => ({ ...card, ...extra }) as Record<string, unknown>)

/** Values of the wrong JSON type for a field, or the right type at and past its limits. */
const anyJson = fc.jsonValue({ maxDepth: 3 })
const deep = (depth: number, leaf: string, open: string, close: string) => open.repeat(depth) + leaf + close.repeat(depth)
const boundaryNumbers = fc.oneof(
  fc.constantFrom(-1, 0, -0, 1, 255, 256, 0.5, -0.5, 254.999, 1e-7, 32767, 32768, -32768, -32769,
    2 ** 31, -(2 ** 31), 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, Number.MIN_VALUE, Number.EPSILON),
  fc.integer({ min: -70000, max: 70000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true })
)
/** Raw JSON number texts a JSON.stringify never writes. */
const numberTexts = fc.constantFrom('1e400', '-1e400', '1E2', '255.0', '2.55e2', '-0', '0.0', '1e-400', '00', '01', '+1', '.5', '0x10', 'NaN', 'Infinity', '-Infinity', '1_000')
const nanStrings = fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e3', '0x1F', ' 12', '12 ', '', '24', 'null', 'true', '[]', '{}', '0b1', '١٢', '１２')

const unicodeName = fc.tuple(name, fc.nat(), fc.array(fc.constantFrom(...TRICKS), { minLength: 1, maxLength: 3 }))
  .map(([n, at, tricks]) => {
    const i = at % (n.length + 1)
    return n.slice(0, i) + tricks.join('') + n.slice(i)
  })

interface PayCase { kind: string, text: string, cards: string[] }

function asCase (kind: string, body: unknown, cards: string[]): PayCase {
  return { kind, text: JSON.stringify(body), cards }
}
function cardsOf (body: Record<string, unknown>): string[] {
  return typeof body.card_number === 'string' && /^9\d{15,18}$/.test(body.card_number) ? [body.card_number] : []
}
const field = fc.constantFrom(...FIELDS)

/** Replaces one field's value in the JSON text, so raw number texts get through. */
function withRaw (body: Record<string, unknown>, key: string, raw: string): string {
  const rest = JSON.stringify({ ...body, [key]: undefined })
  return rest === '{}' ? `{${JSON.stringify(key)}:${raw}}` : `{${JSON.stringify(key)}:${raw},${rest.slice(1)}`
}

const payCases: fc.Arbitrary<PayCase> = fc.oneof(
  // A valid body as is.
  { weight: 3, arbitrary: validCard.map((b) => asCase('valid', b, cardsOf(b))) },
  // One required field dropped.
  { weight: 1, arbitrary: fc.tuple(validCard, fc.constantFrom(...REQUIRED)).map(([b, k]) => { const { [k]: _gone, ...rest } = b; return asCase('missing', rest, cardsOf(b)) }) },
  // One field of the wrong JSON type (or, by chance, of the right one: the oracle decides).
  { weight: 3, arbitrary: fc.tuple(validCard, field, anyJson).map(([b, k, v]) => asCase('wrong type', { ...b, [k]: v }, cardsOf(b))) },
  // Strings at, just past and far past each limit.
  {
    weight: 2,
    arbitrary: fc.tuple(validCard, fc.constantFrom(...Object.keys(STRING_LIMITS), 'order'), fc.integer({ min: -1, max: 2 }), fc.constantFrom('a', '9', '\u00e9', '\ud83d\ude00', '<'))
      .map(([b, k, delta, unit]) => {
        const limit = STRING_LIMITS[k] ?? 256
        return asCase('limit', { ...b, [k]: unit.repeat(Math.max(1, Math.ceil((limit + delta) / unit.length))) }, cardsOf(b))
      })
  },
  // Unicode tricks in the cardholder name.
  { weight: 3, arbitrary: fc.tuple(validCard, unicodeName).map(([b, n]) => asCase('unicode name', { ...b, cardholder_name: n }, cardsOf(b))) },
  // Script and markup in every field, alone or around a valid value.
  {
    weight: 3,
    arbitrary: fc.tuple(validCard, field, fc.constantFrom(...PAYLOADS), fc.constantFrom('alone', 'before', 'after'))
      .map(([b, k, p, where]) => {
        const base = typeof b[k] === 'string' ? b[k] as string : ''
        return asCase('markup', { ...b, [k]: where === 'alone' ? p : where === 'before' ? p + base : base + p }, cardsOf(b))
      })
  },
  // Keys that are not in the table: prices, prototype names.
  {
    weight: 2,
    arbitrary: fc.tuple(validCard, fc.oneof(fc.constantFrom('price', 'amount', 'currency', 'products', 'purchase', 'brand_id', 'success_redirect',
      'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'Card_Number', 'card_number '), fc.string({ maxLength: 20 })), anyJson)
      .map(([b, k, v]) => asCase('unknown key', { ...b, [k]: v }, cardsOf(b)))
  },
  // Prototype pollution in the raw text: at the top, inside order, deeper.
  {
    weight: 2,
    arbitrary: fc.tuple(validCard, fc.constantFrom(
      '"__proto__":{"polluted":"yes"}', '"__proto__":{"isAdmin":true,"price":0}', '"constructor":{"prototype":{"polluted":"yes"}}',
      '"order":{"__proto__":{"polluted":"yes"}}', '"order":{"constructor":{"prototype":{"polluted":"yes"}}}', '"__proto__":null', '"__pr\\u006fto__":{"polluted":"yes"}'
    )).map(([b, raw]) => ({ kind: 'prototype', text: `{${raw},${JSON.stringify(b).slice(1)}`, cards: cardsOf(b) }))
  },
  // Deep nesting in order (under a plain key and under keys a pattern's dot cannot see).
  {
    weight: 2,
    arbitrary: fc.tuple(validCard, fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[]', '{"a":}', '{"\\n":}', '{"\\u2028":}', '{"\\r":}'), fc.constantFrom('a', '\\n', '\\r', '\\u2028', '\\u2029'))
      .map(([b, depth, shape, key]) => {
        const [open, close] = shape === '[]' ? ['[', ']'] : [shape.slice(0, -1), '}']
        return { kind: 'deep order', text: `{"order":{"${key}":${deep(depth, '1', open, close)}},${JSON.stringify(b).slice(1)}`, cards: cardsOf(b) }
      })
  },
  // Numbers at the integer fields' boundaries, as values and as raw texts.
  { weight: 2, arbitrary: fc.tuple(validCard, fc.constantFrom(...Object.keys(INTEGERS), 'order'), boundaryNumbers).map(([b, k, v]) => asCase('number', { ...b, [k]: v }, cardsOf(b))) },
  { weight: 2, arbitrary: fc.tuple(validCard, fc.constantFrom(...Object.keys(INTEGERS), 'order'), numberTexts).map(([b, k, raw]) => ({ kind: 'number text', text: withRaw(b, k, raw), cards: cardsOf(b) })) },
  { weight: 1, arbitrary: fc.tuple(validCard, fc.constantFrom(...Object.keys(INTEGERS), 'java_enabled', 'cvc', 'card_number'), nanStrings).map(([b, k, v]) => asCase('nan string', { ...b, [k]: v }, cardsOf(b))) },
  // Duplicate keys: the last one wins in JSON.parse.
  { weight: 1, arbitrary: fc.tuple(validCard, field, anyJson).map(([b, k, v]) => ({ kind: 'duplicate key', text: `${JSON.stringify(b).slice(0, -1)},${JSON.stringify(k)}:${JSON.stringify(v)}}`, cards: cardsOf(b) })) },
  // Whole bodies that are any JSON value, or the card inside an array.
  { weight: 1, arbitrary: fc.jsonValue().map((v) => asCase('random json', v, [])) },
  { weight: 1, arbitrary: validCard.map((b) => asCase('array', [b], cardsOf(b))) },
  // Near and over the body limit.
  {
    weight: 1,
    arbitrary: fc.tuple(validCard, fc.constantFrom('order', 'user_agent', 'padding'), fc.integer({ min: BODY_LIMIT - 600, max: BODY_LIMIT + 600 }))
      .map(([b, k, size]) => {
        const shell = JSON.stringify({ ...b, [k]: '' })
        return asCase('huge', { ...b, [k]: 'x'.repeat(Math.max(0, size - Buffer.byteLength(shell))) }, cardsOf(b))
      })
  }
)

// ---------------------------------------------------------------- plumbing

class PropertyFailure extends Error {}
function check (condition: boolean, message: string): asserts condition {
  if (!condition) throw new PropertyFailure(message)
}

interface Answer { statusCode: number, headers: Record<string, string | string[] | undefined>, text: string }

/** Only printable ASCII, no tag: whatever the payer sent, our JSON answers carry none of it (`<=` of a rule is fine). */
function plainAnswer (text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text) && !/<[A-Za-z!/?]/.test(text)
}

/** One raw HTTP/1.1 exchange on its own socket, for bytes no HTTP client would send. */
async function rawExchange (port: number, bytes: Buffer): Promise<{ statusCode: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1')
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text)
      if (status === null) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 100))}`))
      else resolve({ statusCode: Number(status[1]), text })
    }
    socket.setTimeout(5000, () => socket.destroy())
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => { /* a reset after the answer: the answer is what counts */ })
    socket.on('close', finish)
    socket.write(bytes)
  })
}

interface Run { name: string, cases: number }

test('hostile and generated input over real HTTP', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const shop = await startShop(t, { plugin: { store } })
  const port = Number(new URL(shop.url).port)
  const pool = new Pool(shop.url, { connections: 2, keepAliveTimeout: 30_000 })
  t.teardown(() => pool.close())
  const runs: Run[] = []
  const seenCards = new Set<string>()
  const pollutionCheck = () => Object.keys(Object.prototype).length === 0 && ({} as Record<string, unknown>).polluted === undefined

  async function send (method: 'GET' | 'POST', path: string, body?: string | Buffer, headers: Record<string, string | string[]> = {}): Promise<Answer> {
    const res = await pool.request({ method, path, body, headers })
    return { statusCode: res.statusCode, headers: res.headers, text: await res.body.text() }
  }

  const expiredPage = normalise(await send('GET', `${PREFIX}/3ds/${'A'.repeat(43)}`))
  function normalise (res: Answer): string {
    const nonce = /'nonce-([^']+)'/.exec(String(res.headers['content-security-policy']))?.[1] ?? 'none'
    return res.text.replaceAll(nonce, 'NONCE')
  }

  await t.test('POST /payments: generated bodies', async (t) => {
    const counts: Record<string, number> = {}
    const numRuns = 1200
    await fc.assert(fc.asyncProperty(payCases, async (c) => {
      counts[c.kind] = (counts[c.kind] ?? 0) + 1
      for (const card of c.cards) seenCards.add(card)
      const creates = shop.sim.count('purchases.create')
      const posts = shop.sim.count('direct_post')
      const res = await send('POST', `${PREFIX}/payments`, c.text, { 'content-type': 'application/json' })

      let parsed: unknown
      let parses = true
      try { parsed = JSON.parse(c.text) } catch { parses = false }
      const expected = Buffer.byteLength(c.text) > BODY_LIMIT
        ? 413
        : !parses || poisoned(parsed) || !validBody(parsed) ? 400 : executes(parsed as Record<string, unknown>) ? 200 : 402

      check(res.statusCode < 500, `${c.kind}: ${res.statusCode} ${res.text}`)
      check(res.statusCode === expected, `${c.kind}: expected ${expected}, got ${res.statusCode} ${res.text}`)
      const called = shop.sim.count('purchases.create') - creates
      check(called === (expected >= 400 && expected !== 402 ? 0 : 1), `${c.kind}: ${called} purchase creates for a ${res.statusCode}`)
      check(shop.sim.count('direct_post') - posts === called, `${c.kind}: one card post per purchase`)
      check(plainAnswer(res.text), `${c.kind}: the answer carries input: ${res.text.slice(0, 200)}`)
      for (const card of c.cards) check(!res.text.includes(card), `${c.kind}: the answer echoes the card number`)
      const sentCvc = isPlainObject(parsed) ? parsed.cvc : undefined
      if (typeof sentCvc === 'string' && sentCvc.length >= 3) check(!res.text.includes(JSON.stringify(sentCvc)), `${c.kind}: the answer echoes the CVC`)
      check(!/"(card_number|cvc|expires|cardholder_name)"\s*:/.test(res.text), `${c.kind}: the answer holds card fields`)
      check(pollutionCheck(), `${c.kind}: Object.prototype polluted`)
    }), { numRuns })
    t.comment(`payments: ${numRuns} bodies, ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`)
    runs.push({ name: 'payments bodies', cases: numRuns })
  })

  await t.test('POST /payments: content types and raw bytes', async (t) => {
    const contentType = fc.oneof(
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
        'APPLICATION/JSON', 'application/json;', 'application/jsonx', 'application/json-patch+json', 'application/problem+json', 'text/json',
        'text/plain', 'text/html', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded',
        'application/octet-stream', '*/*', 'application/*', 'application/json, text/plain', 'json', '', ';', ' application/json'),
      fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/+-.;= *"\t'), maxLength: 40 })
    )
    const valid = JSON.stringify({ ...CARD, card_number: '9000000000000000000' })
    const { cardholder_name: _name, ...card } = CARD
    const withoutName = JSON.stringify({ ...card, card_number: '9000000000000000000' })
    seenCards.add('9000000000000000000')
    const rawBody = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom([0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0xbc], [0xff, 0xfe, 0x7b, 0x00], [0xef, 0xbb, 0xbf, 0x7b, 0x7d], [0xed, 0xa0, 0x80])
        .map((bytes) => Buffer.concat([Buffer.from('{"cardholder_name":"'), Buffer.from(bytes), Buffer.from(`",${withoutName.slice(1)}`)])),
      fc.nat({ max: valid.length - 1 }).map((n) => Buffer.from(valid.slice(0, n))),
      fc.integer({ min: 1, max: 40_000 }).map((n) => Buffer.from(deep(n, '', '[', ']'))),
      fc.integer({ min: 1, max: 12_000 }).map((n) => Buffer.from(deep(n, '1', '{"a":', '}'))),
      fc.integer({ min: 1, max: 70_000 }).map((n) => Buffer.from('['.repeat(n))),
      fc.constant(Buffer.alloc(0)),
      fc.constantFrom('cardholder_name=John&card_number=9&cvc=12', 'a=1&a=2&__proto__[x]=1', '%ZZ=%', 'null', '"string"', '1e400', 'true')
        .map((s) => Buffer.from(s))
    )
    const numRuns = 500
    await fc.assert(fc.asyncProperty(contentType, rawBody, async (type, body) => {
      const creates = shop.sim.count('purchases.create')
      const res = await send('POST', `${PREFIX}/payments`, body, type === '' ? {} : { 'content-type': type })
      check(res.statusCode >= 400 && res.statusCode < 500, `${type}: ${res.statusCode} ${res.text.slice(0, 200)}`)
      check(shop.sim.count('purchases.create') === creates, `${type}: the gateway was called`)
      check(plainAnswer(res.text), `${type}: the answer carries input: ${res.text.slice(0, 200)}`)
      check(pollutionCheck(), 'Object.prototype polluted')
    }), { numRuns })
    runs.push({ name: 'payments content types and raw bytes', cases: numRuns })
  })

  await t.test('POST /payments: Idempotency-Key of any shape', async (t) => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 300 })
    const key = fc.oneof(
      printable,
      fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 80 }), // spaces and latin1, as undici sends them
      fc.constantFrom('', ' ', 'a b', '\t', 'x'.repeat(255), 'x'.repeat(256), 'é', '\u00ff'.repeat(10))
    )
    const body = fc.oneof(validCard.map((b) => asCase('valid', b, cardsOf(b))), payCases)
    const sendTwice = fc.constantFrom('once', 'same', 'other')
    const numRuns = 400
    await fc.assert(fc.asyncProperty(key, body, sendTwice, async (k, c, twice) => {
      for (const card of c.cards) seenCards.add(card)
      const creates = shop.sim.count('purchases.create')
      const headers = { 'content-type': 'application/json', 'idempotency-key': k }
      const first = await send('POST', `${PREFIX}/payments`, c.text, headers)
      check(first.statusCode < 500, `key ${JSON.stringify(k)}: ${first.statusCode} ${first.text}`)
      check(first.statusCode !== 202, `key ${JSON.stringify(k)}: 202 pending without any fault: ${first.text}`)
      // The server sees the value without its surrounding spaces and tabs (HTTP's optional whitespace).
      const keyOk = /^[\x21-\x7e]{1,255}$/.test(k.replace(/^[ \t]+|[ \t]+$/g, ''))
      if (!keyOk) check(first.statusCode === 400 || first.statusCode === 413, `bad key ${JSON.stringify(k)} answered ${first.statusCode}`)
      if (first.statusCode >= 400 && first.statusCode !== 402) check(shop.sim.count('purchases.create') === creates, 'a refused request reached the gateway')
      for (const res of [first]) {
        check(plainAnswer(res.text), `the answer carries input: ${res.text.slice(0, 200)}`)
        if (k.length >= 12) check(!res.text.includes(k) && !Object.values(res.headers).some((v) => String(v).includes(k)), 'the key is reflected')
      }
      if (twice === 'once' || !keyOk || ![200, 402].includes(first.statusCode)) return
      const afterFirst = shop.sim.count('purchases.create')
      const second = await send('POST', `${PREFIX}/payments`, twice === 'same' ? c.text : JSON.stringify({ ...CARD, order: 'another body' }), headers)
      check(shop.sim.count('purchases.create') === afterFirst, 'a second purchase under the same key')
      if (twice === 'same') check(second.statusCode === first.statusCode && second.text === first.text && second.headers['idempotent-replayed'] === 'true', `replay: ${second.statusCode} ${second.text}`)
      else check(second.statusCode === 422, `another body under the same key: ${second.statusCode} ${second.text}`)
    }), { numRuns })

    // Bytes no client library sends: CR, LF, NUL and UTF-8 inside the header, repeated headers.
    const hostile = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '\r', '\n', '\r\n', '\u0000', '\u007f', ' ', ':', '\u00e9', '\u202e', '\ud83d\ude00', 'X-Injected: 1', 'Set-Cookie: a=b'), minLength: 1, maxLength: 12 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 20 })
    )
    const rawRuns = 150
    const valid = JSON.stringify({ ...CARD, card_number: '9111111111111111111' })
    seenCards.add('9111111111111111111')
    await fc.assert(fc.asyncProperty(hostile, fc.boolean(), async (k, repeat) => {
      const creates = shop.sim.count('purchases.create')
      const head = `POST ${PREFIX}/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(valid)}\r\n` +
        `Idempotency-Key: ${k}\r\n${repeat ? `Idempotency-Key: ${k}\r\n` : ''}\r\n`
      const res = await rawExchange(port, Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(valid)]))
      check(res.statusCode < 500, `raw key ${JSON.stringify(k)}: ${res.statusCode}`)
      // 409/422: the key already served another request of this run, which is processing too.
      check([200, 400, 402, 409, 422].includes(res.statusCode), `raw key ${JSON.stringify(k)}: ${res.statusCode} ${res.text.slice(0, 300)}`)
      if (res.statusCode === 400) check(shop.sim.count('purchases.create') === creates, 'a refused request reached the gateway')
      const answer = res.text.slice(res.text.indexOf('\r\n\r\n') + 4)
      check(plainAnswer(answer), `the answer carries input: ${answer.slice(0, 200)}`)
      const distinctive = k.replaceAll('\r', '').replaceAll('\n', '').replaceAll('\u0000', '')
      if (distinctive.length >= 12) check(!res.text.includes(distinctive), 'the key is reflected')
    }), { numRuns: rawRuns })
    runs.push({ name: 'Idempotency-Key', cases: numRuns + rawRuns })
  })

  await t.test('GET /3ds/:token and the TermUrl: tokens and form bodies of any shape', async (t) => {
    const base64url = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
    const pathChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))
    /** [what the path carries, whether it is one encoded segment]. */
    const token = fc.oneof(
      fc.string({ unit: base64url, minLength: 43, maxLength: 43 }).map((s) => [s, true] as const),
      fc.string({ unit: base64url, minLength: 0, maxLength: 100 }).map((s) => [s, s.length > 0] as const),
      fc.string({ unit: 'binary', maxLength: 60 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))).map((s) => [s, s.length > 0] as const),
      fc.constantFrom(...PAYLOADS).map((s) => [encodeURIComponent(s), true] as const),
      fc.string({ unit: pathChar, maxLength: 60 }).map((s) => [s, false] as const),
      fc.constantFrom('..', '.', '%2e%2e', '%2e%2e%2f%2e%2e', '..%2f..%2fetc%2fpasswd', '..%5c..', '%00', '%', '%Z', '%C0%AF', '%FF%FE', '%E2%80%AE', '%0d%0aLocation:%20x',
        '..;', 'a%2fb', '%252e', 'a?b=c', 'a#b', '//evil.example', '\\evil.example', '~', '3ds', 'return').map((s) => [s, false] as const),
      fc.integer({ min: 44, max: 20_000 }).map((n) => ['A'.repeat(n), true] as const)
    )
    const formValue = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...PAYLOADS),
      fc.integer({ min: 1000, max: 70_000 }).map((n) => 'P'.repeat(n)))
    const formName = fc.oneof(fc.constantFrom('MD', 'PaRes', 'md', 'pares', 'TermUrl', 'PaReq', '__proto__', 'constructor', 'MD[]', 'PaRes[0]', 'purchase_id', 'redirect'), fc.string({ maxLength: 10 }))
    const formBody = fc.oneof(
      fc.array(fc.tuple(formName, formValue), { maxLength: 6 }).map((pairs) => new URLSearchParams(pairs).toString()),
      fc.string({ unit: 'binary-ascii', maxLength: 300 }),
      fc.constantFrom('MD=%ZZ&PaRes=%', 'MD&PaRes', '&&&&', '=', 'MD=a&MD=b&PaRes=c&PaRes=d', '__proto__[polluted]=yes&constructor[prototype][polluted]=yes')
    )
    const contentType = fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/x-www-form-urlencoded') },
      { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded; charset=utf-8', 'application/json', 'text/plain', '', 'multipart/form-data; boundary=x') }
    )
    /** A real 3DS session, made with a card post, sometimes with the ACS's genuine answer. */
    const real = fc.oneof({ weight: 9, arbitrary: fc.constant('none' as const) }, { weight: 1, arbitrary: fc.constantFrom('junk' as const, 'approve' as const, 'fail' as const, 'approve+junk' as const) })

    let routerAnswers = 0
    let realSessions = 0
    const numRuns = 600
    await fc.assert(fc.asyncProperty(token, formBody, contentType, real, async ([path, oneSegment], form, type, realMode) => {
      let segment = path
      let purchaseId: string | undefined
      let genuine: string | undefined
      if (realMode !== 'none') {
        const card = { ...CARD, card_number: TEST_CARDS.threeDSPost }
        const started = await send('POST', `${PREFIX}/payments`, JSON.stringify(card), { 'content-type': 'application/json' })
        const answer = JSON.parse(started.text) as { purchase_id: string, redirect_url: string }
        purchaseId = answer.purchase_id
        segment = answer.redirect_url.split('/').at(-1) as string
        if (realMode !== 'junk') genuine = (await passAcs(shop as Shop, answer.redirect_url, realMode === 'fail' ? 'fail' : 'approve')).body
        realSessions++
      }
      const callbacks = shop.sim.count('callback')

      // The page: the expired page for any unknown token, or the router's own 4xx.
      const page = await send('GET', `${PREFIX}/3ds/${segment}`)
      check(page.statusCode < 500, `GET ${segment.slice(0, 80)}: ${page.statusCode}`)
      if (purchaseId !== undefined) {
        check(page.statusCode === 200 && page.text.includes('<form'), 'a real session shows its form')
      } else if (page.statusCode === 404 && String(page.headers['content-type']).startsWith('text/html')) {
        check(normalise(page) === expiredPage, `GET ${segment.slice(0, 80)}: not the expired page`)
      } else {
        // Not routed to us (a slash, bad percent-encoding, longer than the router's maxParamLength, over the header limit).
        check(!oneSegment || page.statusCode === 414 || page.statusCode === 431 || /%|\.\./.test(segment), `GET ${segment.slice(0, 80)}: ${page.statusCode} ${page.text.slice(0, 120)}`)
        check(page.statusCode >= 400 && !page.text.includes('<form') && !String(page.headers['content-type']).includes('html'), `GET ${segment.slice(0, 80)}: ${page.statusCode}`)
        routerAnswers++
      }

      // The TermUrl.
      const body = genuine === undefined ? form : realMode === 'approve+junk' ? `${genuine}&${form}` : genuine
      const res = await send('POST', `${PREFIX}/3ds/${segment}/return`, body, type === '' ? {} : { 'content-type': type })
      check(res.statusCode < 500, `POST ${segment.slice(0, 80)}: ${res.statusCode} ${res.text.slice(0, 200)}`)
      const location = res.headers.location
      if (res.statusCode === 303) {
        const allowed = purchaseId === undefined
          ? [FAILURE]
          : [`${FAILURE}?purchase_id=${purchaseId}&status=error`, `${SUCCESS}&purchase_id=${purchaseId}&status=executed`]
        check(allowed.includes(String(location)), `POST ${segment.slice(0, 80)}: Location ${String(location)}`)
        if (realMode === 'approve' || realMode === 'fail') check(location === allowed[realMode === 'approve' ? 1 : 0], `genuine ${realMode}: ${String(location)}`)
      } else {
        check(location === undefined && res.statusCode >= 400 && !res.text.includes('<form'), `POST ${segment.slice(0, 80)}: ${res.statusCode} ${String(location)}`)
        check(purchaseId === undefined || [400, 413, 415].includes(res.statusCode), `a real session answered ${res.statusCode}`)
      }
      check(shop.sim.count('callback') - callbacks === (purchaseId !== undefined && res.statusCode === 303 ? 1 : 0), `callbacks for ${purchaseId ?? 'an unknown token'}`)

      if (purchaseId !== undefined && res.statusCode === 303) {
        // Completed once: the same TermUrl again answers the first post's redirect, with no callback.
        const again = await send('POST', `${PREFIX}/3ds/${segment}/return`, body, { 'content-type': 'application/x-www-form-urlencoded' })
        check(again.statusCode === 303 && again.headers.location === location, `second TermUrl post: ${again.statusCode} ${String(again.headers.location)}`)
        check(shop.sim.count('callback') - callbacks === 1, 'a used TermUrl called the gateway again')
      } else if (purchaseId !== undefined) {
        await store.delete(sessionKey(segment))
      }
      check(pollutionCheck(), 'Object.prototype polluted')
    }), { numRuns })
    t.comment(`3DS routes: ${numRuns} cases (a GET and a POST each), ${realSessions} with a real session, ${routerAnswers} answered by Fastify's router before our routes`)
    runs.push({ name: '3DS page and TermUrl tokens/forms', cases: numRuns })
  })

  await t.test('the 3DS page: every generated PaReq and MD comes back exactly, escaped', async (t) => {
    const value = fc.oneof(
      fc.string({ unit: fc.constantFrom('<', '>', '&', '"', "'", '/', '=', '`', ' ', '\n', 'a', ';', '#', '\u0000', '\u00a0', '\u202e'), maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => s.replace(/[\ud800-\udfff]/g, '')),
      fc.array(fc.constantFrom(...PAYLOADS), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
      fc.constant('')
    )
    const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom('PaReq', 'MD', 'TermUrl', 'x'), value), value), { maxLength: 3 })
    const tokenBytes = fc.uint8Array({ minLength: 32, maxLength: 32 })
    const numRuns = 500
    await fc.assert(fc.asyncProperty(value, value, fc.constantFrom('POST' as const, 'GET' as const), query, tokenBytes, async (paReq, md, method, params, bytes) => {
      const token = Buffer.from(bytes).toString('base64url')
      const acs = new URL(`${shop.sim.origin}/acs/`)
      for (const [k, v] of params) acs.searchParams.append(k, v)
      const session: ThreeDSSession = {
        purchaseId: 'b5b0a2a4-0000-4000-8000-000000000000',
        callbackUrl: `${shop.sim.origin}/s2s/callback/none/`,
        acsUrl: acs.href,
        method,
        paReq,
        md,
        expiresAt: Date.now() + 60_000
      }
      await store.set(sessionKey(token), session, 60_000)
      const res = await send('GET', `${PREFIX}/3ds/${token}`)
      await store.delete(sessionKey(token))
      check(res.statusCode === 200, `page ${res.statusCode}`)
      check(res.headers['cache-control'] === 'no-store', 'no-store')

      const html = res.text
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=_-]+)'/.exec(String(res.headers['content-security-policy']))?.[1]
      check(nonce !== undefined, 'a CSP with a script nonce')
      const scripts = [...html.matchAll(/<script\b([^>]*)>/gi)]
      check(scripts.length === 1, `${scripts.length} script tags`)
      check(scripts[0][1] === ` nonce="${nonce}"`, `the script's nonce ${scripts[0][1]} is not the CSP's`)
      check((html.match(/<form\b/gi) ?? []).length === 1 && (html.match(/<\/form>/gi) ?? []).length === 1, 'one form')
      check(!/<(img|svg|iframe|a|base|meta http-equiv)\b/i.test(html), 'injected markup')

      const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/.exec(html) as RegExpExecArray
      const attr = (source: string, attrName: string) => unescapeHtml(new RegExp(`\\s${attrName}="([^"<>]*)"`).exec(source)?.[1] ?? '\u0000missing')
      const inputs = [...form[2].matchAll(/<input\b([^>]*)>/g)].map((m) => [attr(m[1], 'name'), attr(m[1], 'value')])
      const termUrl = `${shop.url}${PREFIX}/3ds/${token}/return`
      const expectedAction = new URL(acs.href)
      const expected: string[][] = []
      if (method === 'GET') {
        expected.push(...[...expectedAction.searchParams].map(([k, v]) => [k, v]))
        expectedAction.search = ''
      }
      expected.push(['PaReq', paReq], ['MD', md], ['TermUrl', termUrl])
      check(JSON.stringify(inputs) === JSON.stringify(expected), `inputs ${JSON.stringify(inputs).slice(0, 300)} != ${JSON.stringify(expected).slice(0, 300)}`)
      check(attr(form[1], 'action') === expectedAction.href, 'the action')
      check(attr(form[1], 'method') === method.toLowerCase(), 'the method')
    }), { numRuns })
    runs.push({ name: '3DS page escaping', cases: numRuns })
  })

  await t.test('POST /webhook: any body, any X-Signature: 401 and no hook', async (t) => {
    await shop.sim.idle()
    const signed = shop.sim.deliveries.filter((d) => d.kind === 'success_callback').slice(0, 20)
    t.ok(signed.length > 0, 'genuine deliveries (signed by the company key) to replay')
    const hooks = () => Object.values(shop.events).reduce((n, list) => n + list.length, 0)
    const before = hooks()
    const requests = shop.sim.requests.length
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      fc.record({ id: fc.uuid(), event_type: fc.constantFrom('purchase.paid', 'purchase.payment_failure', 'purchase.hold', 'payment.refunded'), status: fc.constantFrom('paid', 'error', 'hold'), brand_id: fc.constant('brand-test'), type: fc.constantFrom('purchase', 'payment') })
        .map((v) => Buffer.from(JSON.stringify(v))),
      fc.constantFrom(...signed).map((d) => Buffer.from(d.body)),
      fc.tuple(fc.constantFrom(...signed), fc.nat()).map(([d, at]) => {
        const bytes = Buffer.from(d.body)
        bytes[at % bytes.length] ^= 1
        return bytes
      }),
      fc.integer({ min: 1, max: 30_000 }).map((n) => Buffer.from(deep(n, '', '[', ']')))
    )
    const b64 = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b).toString('base64'))
    const signature = fc.oneof(
      fc.constant(undefined),
      b64,
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 400 }),
      fc.constantFrom(...signed).map((d) => d.signature),
      fc.tuple(fc.constantFrom(...signed), fc.nat()).map(([d, at]) => {
        const bytes = Buffer.from(d.signature, 'base64')
        bytes[at % bytes.length] ^= 0x80
        return bytes.toString('base64')
      }),
      fc.array(b64, { minLength: 2, maxLength: 3 }),
      fc.constantFrom('', '=', '====', 'sha256=abc', 'Bearer x', '%00')
    )
    const contentType = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data')
    const numRuns = 500
    await fc.assert(fc.asyncProperty(body, signature, contentType, async (raw, sig, type) => {
      const headers: Record<string, string | string[]> = {}
      if (sig !== undefined) headers['x-signature'] = sig
      if (type !== undefined) headers['content-type'] = type
      const res = await send('POST', `${PREFIX}/webhook`, raw, headers)
      check(res.statusCode === 401, `webhook: ${res.statusCode} ${res.text.slice(0, 200)}`)
      check(JSON.parse(res.text).code === 'FST_QOREPAY_SIGNATURE', res.text)
      check(plainAnswer(res.text), 'the answer carries input')
      check(hooks() === before, 'a hook fired')
    }), { numRuns })
    t.equal(shop.sim.requests.length, requests, 'no gateway call')
    runs.push({ name: 'webhook', cases: numRuns })
  })

  await shop.sim.idle()
  // No generated card number anywhere in the captured log: any 16+ digit run is checked against them.
  const runsOfDigits = new Set(shop.logs.join('\n').match(/\d{16,}/g) ?? [])
  const leaked = [...seenCards].filter((card) => [...runsOfDigits].some((r) => r.includes(card)))
  t.same(leaked, [], `none of ${seenCards.size} generated card numbers in ${shop.logs.length} log lines`)
  t.notOk(shop.logs.some((line) => /"card_number"\s*:|"cvc"\s*:/.test(line)), 'no card field in any log line')
  const errors = shop.logs.filter((line) => /"level":(50|60)/.test(line))
  t.same(errors.map((line) => line.slice(0, 300)), [], 'no error-level log line')
  t.ok(pollutionCheck(), 'Object.prototype untouched')
  const total = runs.reduce((n, r) => n + r.cases, 0)
  t.comment(`generated cases: ${total} (${runs.map((r) => `${r.name} ${r.cases}`).join(', ')})`)
})

test('regressions the properties found, pinned', async (t) => {
  const shop = await startShop(t)
  const card = { ...CARD, card_number: TEST_CARDS.noThreeDS }
  const pay = (body: unknown) => shop.post(`${PREFIX}/payments`, body)

  // A line break in an order key hid its value from the record's rule (patternProperties '^(.*)$'), and keys had no limit.
  for (const [key, shown] of [['a\nb', 'a\\nb'], ['\r', '\\r'], ['\u2028', '\\u2028'], ['\u2029', '\\u2029']]) {
    const res = await pay({ ...card, order: { [key]: { deep: [[[1]]] } } })
    t.equal(res.statusCode, 400, `order key ${shown} with a nested value`) // a raw U+2028 in a name would break the TAP stream
  }
  t.equal((await pay({ ...card, order: { ['k'.repeat(65)]: 1 } })).statusCode, 400, 'an order key of 65 characters')
  t.equal((await pay({ ...card, order: { ['k'.repeat(64)]: 1, 'a\nb': 'x' } })).statusCode, 200, 'keys within the rules still pass')

  // Validation messages named the payer's own order keys.
  const named = await pay({ ...card, order: { '<script>alert(1)</script>': {} } })
  t.equal(named.statusCode, 400)
  t.notMatch(named.text, /script|alert/, 'the key is not reflected')
  t.match(named.body.message, /^body\/order must be /)

  // JSON's 1e400 is Infinity, which passed as an integer and as a number.
  for (const raw of ['1e400', '-1e400', '{"a":1e400}']) {
    const res = await shop.post(`${PREFIX}/payments`, `{"order":${raw},${JSON.stringify(card).slice(1)}`, { 'content-type': 'application/json' })
    t.equal(res.statusCode, 400, `order ${raw}`)
  }

  // Emoji count as one character on both sides: what the plugin accepts, the gateway accepts (it answered 202 pending).
  const emoji = await pay({ ...card, user_agent: '\ud83d\ude00'.repeat(2048), language: '\ud83d\ude00'.repeat(8), remember_card: '\ud83d\ude00'.repeat(16) })
  t.same(emoji.body, { status: 'executed', purchase_id: emoji.body.purchase_id })
  t.equal(shop.sim.count('purchases.get'), 0, 'answered, not looked up')
  t.equal(shop.sim.count('purchases.create'), 2, 'only the two valid bodies reached the gateway')
})
