import { stepChannel, traced } from './publish.js'

/** What a gateway call does, named after the gateway's API. */
export type GatewayOperation =
  | 'purchases.create' | 'purchases.get' | 'purchases.capture' | 'purchases.release' | 'purchases.cancel'
  | 'purchases.refund' | 'purchases.charge' | 'purchases.delete_recurring_token' | 'public_key'
  | 'direct_post' | 'callback'

/** `qorepay:gateway`, one per HTTP request to the gateway (a retry is a request of its own). */
export interface GatewayContext {
  operation: GatewayOperation
  method: string
  /** `scheme://host:port` only: paths hold purchase ids and callback tokens. */
  origin: string
  /** 1 for the first try. */
  attempt: number
  statusCode?: number
}

export const gatewayChannel = stepChannel<GatewayContext>('qorepay:gateway')

/** Traces one HTTP request to the gateway; only the answer's status code is published. */
export function traceGatewayCall<T extends { statusCode: number }> (makeContext: () => GatewayContext, send: () => Promise<T>): Promise<T> {
  return traced(gatewayChannel, makeContext, send, (answer, context) => {
    context.statusCode = answer.statusCode
    return answer.statusCode
  })
}
