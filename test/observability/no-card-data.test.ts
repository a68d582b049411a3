import { test } from 'tap'
import fc from 'fast-check'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { request } from 'undici'
import { CREDENTIALS, passAcs, postTermUrl, readForm, startShop } from '../helpers/shop.js'
import { startTelemetry } from '../helpers/otel.js'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { paymentChannel } from '../../lib/observability/payment.js'
import { gatewayChannel } from '../../lib/observability/gateway.js'
import { outcomeChannel } from '../../lib/observability/outcome.js'
import { reconcileChannel } from '../../lib/observability/reconcile.js'
import type { StepChannel } from '../../lib/observability/publish.js'

/*
 * Generated payments, each run to its end over real HTTP (card post, and
 * for 3DS cards the bank's page and the TermUrl, then the success
 * callback): nothing of the card, of the 3DS exchange or of the
 * credentials reaches a span, a span event, a metric attribute, or the
 * context any subscriber of the plugin's channels sees.
 */

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max })
const word = fc.tuple(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: 2, maxLength: 10 }))
  .map(([first, rest]) => first + rest)
const payment = fc.record({
  card_number: fc.oneof(fc.constantFrom(...Object.values(TEST_CARDS).filter((c) => c.length > 4)), digits(12, 19)),
  // Not 100-599: such a CVC equals an HTTP status the channels publish (statusCode 200), and the
  // value check below could not tell the two apart.
  cvc: fc.oneof(fc.constant(TEST_CARDS.cvc), digits(3, 4).filter((cvc) => !/^[1-5]\d\d$/.test(cvc))),
  // Months of every year from 2000 to 2099: some expired, most not.
  expires: fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 99 }))
    .map(([m, y]) => `${String(m).padStart(2, '0')}/${String(y).padStart(2, '0')}`),
  // Two words: a name with a space in it cannot turn up by accident in an id or a number.
  cardholder_name: fc.tuple(word, word).map(([a, b]) => `${a} ${b}`),
  approve: fc.boolean()
})

const STEPS: Array<StepChannel<object>> = [paymentChannel, gatewayChannel, outcomeChannel, reconcileChannel]
const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const

/** Everything a raw subscriber of the plugin's channels is handed, as text (errors with their message and code). */
function recordChannels (t: { teardown (fn: () => unknown): void }): string[] {
  const seen: string[] = []
  const serialise = (context: unknown): string => JSON.stringify(context, (_key, value: unknown) =>
    value instanceof Error ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack } : value)
  for (const ch of STEPS) {
    const handlers = Object.fromEntries(EVENTS.map((e) => [e, (context: object) => { seen.push(serialise(context)) }]))
    ch.subscribe(handlers as unknown as Parameters<typeof ch.subscribe>[0])
    t.teardown(() => ch.unsubscribe(handlers as unknown as Parameters<typeof ch.subscribe>[0]))
  }
  const onTracked = (message: unknown): void => { seen.push(serialise(message)) }
  subscribe('qorepay:tracked', onTracked)
  t.teardown(() => unsubscribe('qorepay:tracked', onTracked))
  return seen
}

test('no card field, 3DS token, PaReq/PaRes/MD or credential in any span, metric or channel context', async (t) => {
  const telemetry = startTelemetry(t)
  const contexts = recordChannels(t)
  const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
  let flows = 0

  await fc.assert(fc.asyncProperty(payment, async ({ approve, ...card }) => {
    telemetry.exporter.reset()
    contexts.length = 0
    const secrets = [card.card_number, card.expires, card.cardholder_name, CREDENTIALS.apiKey, CREDENTIALS.s2sToken]
    const res = await shop.post('/qorepay/payments', card)
    if (res.body?.status === '3DS_required') {
      const redirectUrl: string = res.body.redirect_url
      secrets.push(redirectUrl.split('/').at(-1)!)
      const page = readForm(await (await request(redirectUrl)).body.text())
      secrets.push(page.fields.PaReq, page.fields.MD, page.action)
      const { termUrl, body } = await passAcs(shop, redirectUrl, approve ? 'approve' : 'fail')
      secrets.push(new URLSearchParams(body).get('PaRes')!)
      await postTermUrl(termUrl, body)
      flows++
    }
    await shop.sim.idle()

    const texts: string[] = [...contexts]
    const values: unknown[] = []
    for (const span of telemetry.spans()) {
      texts.push(span.name, span.status.message ?? '', JSON.stringify(span.attributes), JSON.stringify(span.events), JSON.stringify(span.links))
      values.push(...Object.values(span.attributes), ...span.events.flatMap((e) => Object.values(e.attributes ?? {})))
    }
    for (const metric of (await telemetry.metrics()).values()) {
      for (const point of metric.dataPoints) {
        texts.push(JSON.stringify(point.attributes))
        values.push(...Object.values(point.attributes))
      }
    }
    for (const text of texts) {
      for (const secret of secrets.filter((s) => s !== undefined && s.length >= 4)) {
        if (text.includes(secret)) throw new Error(`published: ${JSON.stringify(secret)} in ${text}`)
      }
      // Any run of 12 or more digits could be a card number.
      // (a UUID's last group is 12 hex characters, digits only now and then: ids are taken out first)
      if (/\d{12,}/.test(text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ''))) throw new Error(`a long number in ${text}`)
      // (an error code such as incorrect_cvc names a field and may stand; a field with its value may not)
      if (/"(card_number|cvc|expires|cardholder_name|PaReq|PaRes|MD|TermUrl)"\s*:|authorization|bearer/i.test(text)) throw new Error(`a card or 3DS field in ${text}`)
    }
    // A 3-4 digit CVC may well be part of an id or a port: it must never be a value of its own.
    for (const value of [...values, ...contexts.flatMap((c) => Object.values(JSON.parse(c) as Record<string, unknown>))]) {
      if (String(value) === card.cvc) throw new Error(`the CVC as a value: ${String(value)}`)
    }
  }), {
    numRuns: 30,
    // One 3DS payment that passes every card rule in every run, so the 3DS flow is always among those checked.
    examples: [[{ card_number: TEST_CARDS.threeDSPost, cvc: TEST_CARDS.cvc, expires: '12/99', cardholder_name: 'Jane Doe', approve: true }]]
  })
  t.ok(telemetry.spans().length > 0, 'spans were made')
  t.ok(flows > 0, 'some runs went through 3-D Secure')
})
