/**
 * `npm run docs:trace`: runs one 3-D Secure payment over real HTTP against the
 * simulator with `instrumentQorePay` on the OpenTelemetry SDK, and draws the
 * spans it exported as a timeline: docs/trace-3ds.svg (README, "Observability").
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { CARD, passAcs, postTermUrl, startShop } from '../test/helpers/shop.js'
import { startTelemetry } from '../test/helpers/otel.js'
import { TEST_CARDS } from '../lib/simulator/index.js'

const teardowns: Array<() => unknown> = []
const t = { teardown (fn: () => unknown) { teardowns.unshift(fn) } }
const telemetry = startTelemetry(t)
const shop = await startShop(t, { server: { serverFactory: telemetry.serverFactory } })
const expires = `12/${String((new Date().getUTCFullYear() + 2) % 100).padStart(2, '0')}`
const res = await shop.post('/qorepay/payments', { ...CARD, card_number: TEST_CARDS.threeDSPost, expires })
if (res.body?.status !== '3DS_required') throw new Error(`expected 3DS_required, got ${res.text}`)
const { termUrl, body } = await passAcs(shop, res.body.redirect_url, 'approve')
shop.sim.deliveryMode.outOfOrder = true
await postTermUrl(termUrl, body)
await shop.sim.idle()
const spans = telemetry.spans()
for (const fn of teardowns) await fn()

const out = fileURLToPath(new URL('./trace-3ds.svg', import.meta.url))
await writeFile(out, timeline(spans))
console.log(`${spans.length} spans drawn in ${out}`)

/** The spans in tree order (each trace from its root), one row each, on one time axis. */
function timeline (all: ReadableSpan[]): string {
  const ms = (span: ReadableSpan, which: 'startTime' | 'endTime') => span[which][0] * 1e3 + span[which][1] / 1e6
  const children = new Map<string | undefined, ReadableSpan[]>()
  for (const span of all) {
    const parent = span.parentSpanContext?.spanId
    children.set(parent, [...children.get(parent) ?? [], span])
  }
  const rows: Array<{ span: ReadableSpan, depth: number }> = []
  const walk = (span: ReadableSpan, depth: number) => {
    rows.push({ span, depth })
    for (const child of (children.get(span.spanContext().spanId) ?? []).sort((a, b) => ms(a, 'startTime') - ms(b, 'startTime'))) walk(child, depth + 1)
  }
  for (const root of (children.get(undefined) ?? []).sort((a, b) => ms(a, 'startTime') - ms(b, 'startTime'))) walk(root, 0)

  const t0 = Math.min(...all.map((s) => ms(s, 'startTime')))
  const t1 = Math.max(...all.map((s) => ms(s, 'endTime')))
  const labelWidth = 470
  const width = 1100
  const rowHeight = 26
  const top = 58
  const chart = width - labelWidth - 90
  const x = (time: number) => labelWidth + ((time - t0) / (t1 - t0)) * chart
  const height = top + rows.length * rowHeight + 40
  const colours: Record<number, string> = { [SpanKind.SERVER]: '#6b7280', [SpanKind.INTERNAL]: '#2563eb', [SpanKind.CLIENT]: '#059669' }
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    '<text x="16" y="26" font-size="15" font-weight="bold" fill="#111827">One 3-D Secure payment: the spans of fastify-qorepay/otel under the shop\'s request spans</text>',
    '<text x="16" y="46" fill="#6b7280">grey: the shop\'s HTTP server spans · blue: qorepay steps · green: gateway calls · red outline: error status</text>'
  ]
  const ticks = 5
  for (let i = 0; i <= ticks; i++) {
    const time = t0 + ((t1 - t0) * i) / ticks
    parts.push(`<line x1="${x(time)}" y1="${top - 6}" x2="${x(time)}" y2="${height - 30}" stroke="#e5e7eb"/>`,
      `<text x="${x(time)}" y="${height - 14}" text-anchor="middle" fill="#6b7280">${Math.round(time - t0)} ms</text>`)
  }
  rows.forEach(({ span, depth }, i) => {
    const y = top + i * rowHeight
    const start = x(ms(span, 'startTime'))
    const end = Math.max(x(ms(span, 'endTime')), start + 2)
    const detail = describe(span)
    parts.push(
      `<text x="${16 + depth * 18}" y="${y + 17}" fill="#111827">${escape(span.name)}${detail === '' ? '' : `<tspan fill="#6b7280"> ${escape(detail)}</tspan>`}</text>`,
      `<rect x="${start}" y="${y + 5}" width="${end - start}" height="${rowHeight - 10}" rx="3" fill="${colours[span.kind]}"${span.status.code === SpanStatusCode.ERROR ? ' stroke="#dc2626" stroke-width="2"' : ''}/>`,
      `<text x="${end + 6}" y="${y + 17}" fill="#374151">${(ms(span, 'endTime') - ms(span, 'startTime')).toFixed(1)} ms</text>`
    )
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

/** The one or two attributes that tell a span's story. */
function describe (span: ReadableSpan): string {
  const a = span.attributes
  if (a['qorepay.gateway.operation'] !== undefined) return `${String(a['http.request.method'])} ${String(a['http.response.status_code'] ?? a['error.type'])}`
  if (a['qorepay.outcome.result'] !== undefined) return `${String(a['qorepay.source'])}: ${String(a['qorepay.outcome.result'])}`
  if (a['qorepay.payment.status'] !== undefined) return String(a['qorepay.payment.status'])
  return ''
}
