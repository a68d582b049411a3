import type { FastifyRequest } from 'fastify'
import { withoutSessionToken } from '../three-ds/session.js'

const CARD_FIELDS = new Set(['card_number', 'cvc', 'expires'])

/**
 * Route-level log serializers for the plugin's routes: a host hook that logs
 * `{ body }` gets the payment body without card number, CVC and expiry, and
 * the 3DS token (a bearer credential for the session) never reaches a URL in
 * the request log.
 */
export const redactingSerializers = {
  body (body: unknown): unknown {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return body
    return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, CARD_FIELDS.has(key) ? '[redacted]' : value]))
  },
  url: withoutToken,
  req (request: FastifyRequest) {
    return {
      method: request.method,
      url: withoutToken(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort
    }
  }
}

function withoutToken (url: unknown): unknown {
  return typeof url === 'string' ? withoutSessionToken(url) : url
}
