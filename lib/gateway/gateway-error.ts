import createError from '@fastify/error'

/** What went wrong with a gateway call, each with its code and the status the plugin answers. */
const KINDS = {
  auth: { code: 'FST_QOREPAY_AUTH', statusCode: 502, says: 'QorePay rejected the credentials' },
  gateway: { code: 'FST_QOREPAY_GATEWAY', statusCode: 502, says: 'QorePay answered an error' },
  notFound: { code: 'FST_QOREPAY_NOT_FOUND', statusCode: 404, says: 'QorePay has no such purchase' },
  unavailable: { code: 'FST_QOREPAY_UNAVAILABLE', statusCode: 502, says: 'QorePay is unreachable' },
  timeout: { code: 'FST_QOREPAY_TIMEOUT', statusCode: 504, says: 'QorePay did not answer in time' }
} as const

export type GatewayErrorKind = keyof typeof KINDS
export type GatewayErrorCode = typeof KINDS[GatewayErrorKind]['code']

export interface GatewayErrorDetails {
  kind: GatewayErrorKind
  /** Why, in the plugin's own words (an HTTP status, a network code): safe to answer, never the gateway's free text. */
  detail: string
  /** The gateway's own text about it, card data masked: for hooks and logs, never for the payer. */
  gatewayMessage?: string
  /** Whether the request may have reached the gateway (false only when that is proven not so). */
  sent: boolean
  /** The HTTP status the gateway answered, when it answered. */
  gatewayStatus?: number
  /** The gateway's error code (`authentication_failed`, ...) or the network error's (`ECONNRESET`, ...). */
  gatewayCode?: string
}

// The @fastify/error base gives Fastify's error handler what it reads (code, statusCode, message);
// the subclass sets the code of each kind and the fields a caller decides on.
// Typed wide (string, number) so that each kind can narrow them.
const baseCode: string = KINDS.gateway.code
const baseStatus: number = KINDS.gateway.statusCode
const FastifyGatewayError = createError(baseCode, '%s', baseStatus)

/** Every failure of a gateway call: one class, its `code` says which. */
export class QorePayGatewayError extends FastifyGatewayError {
  declare readonly code: GatewayErrorCode
  declare readonly statusCode: 404 | 502 | 504
  readonly sent: boolean
  readonly gatewayStatus?: number
  readonly gatewayCode?: string
  /** The gateway's own words, card data masked; the message (which a payer may see) never holds them. */
  readonly gatewayMessage?: string

  constructor (details: GatewayErrorDetails) {
    const kind = KINDS[details.kind]
    super(`${kind.says}: ${details.detail}`)
    this.code = kind.code
    this.statusCode = kind.statusCode
    this.sent = details.sent
    this.gatewayStatus = details.gatewayStatus
    this.gatewayCode = details.gatewayCode
    this.gatewayMessage = details.gatewayMessage
  }
}
