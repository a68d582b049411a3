import { channel } from 'node:diagnostics_channel'
import type { FastifyBaseLogger } from 'fastify'

/**
 * undici's diagnostics channels that hand a subscriber what the plugin sends
 * or receives: every `undici:request:*` message carries the request, whose
 * `body` is the card JSON of a card post; `sendHeaders` carries the
 * Authorization header (API key, S2S token); `bodyChunkReceived` carries the
 * gateway's answers (PaReq, MD, callback URLs). Node's own fetch publishes on
 * the same names.
 */
export const EXPOSING_CHANNELS = [
  'undici:request:create',
  'undici:request:bodyChunkSent',
  'undici:request:bodySent',
  'undici:request:headers',
  'undici:request:bodyChunkReceived',
  'undici:request:trailers',
  'undici:request:error',
  'undici:client:sendHeaders'
] as const

/**
 * Warns, once per channel, when an undici channel that sees card data has a
 * subscriber (an APM agent, an HTTP client instrumentation). `check()` is
 * called at registration and before each payment: a few boolean reads,
 * none once every channel has been named.
 */
export class UndiciExposure {
  #unwarned = EXPOSING_CHANNELS.map((name) => channel(name))
  readonly #log: FastifyBaseLogger

  constructor (log: FastifyBaseLogger) {
    this.#log = log
    this.check()
  }

  check (): void {
    if (!this.#unwarned.some((c) => c.hasSubscribers)) return
    const found = this.#unwarned.filter((c) => c.hasSubscribers)
    this.#unwarned = this.#unwarned.filter((c) => !found.includes(c))
    const names = found.map((c) => String(c.name))
    this.#log.warn({ channels: names },
      `qorepay: diagnostics channel ${names.join(', ')} has a subscriber; it receives the card data and credentials the plugin sends to the gateway. Keep request bodies and headers out of what it records (README, "Observability")`)
  }
}
