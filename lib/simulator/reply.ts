import type { GatewayError } from '../wire/api-error.js'

/** An answer the simulator's handlers compute before faults decide whether it is sent. */
export interface Reply {
  status: number
  headers: Record<string, string>
  body: string
}

export function jsonReply (status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) }
}

/** The platform's whole-request error: `{"__all__":[{"message","code"}]}`. */
export function platformError (status: number, message: string, code: string): Reply {
  return jsonReply(status, { __all__: [{ message, code }] })
}

/** The platform's per-field 400. */
export function fieldErrors (errors: GatewayError): Reply {
  return jsonReply(400, errors)
}

export function htmlReply (status: number, body: string): Reply {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The bank page needs no script; its forms may post anywhere (the TermUrl).
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'"
    },
    body
  }
}
