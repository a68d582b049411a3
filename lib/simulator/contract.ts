import type { Purchase } from '../wire/purchase.js'
import type { FailureCode } from './test-cards.js'

/** An error code the simulated bank answers (`do_not_honour`, `insufficient_funds`, ...). */
export type SimFailureCode = FailureCode

/** The simulator's public types: what tests and users program against. */

export type SimRoute = 'purchases.create' | 'purchases.get' | 'purchases.capture' | 'purchases.release'
  | 'purchases.cancel' | 'purchases.refund' | 'purchases.charge' | 'purchases.delete_recurring_token'
  | 'public_key' | 'direct_post' | 'callback' | 'acs'

/**
 * A fault for the next `count` requests of a route (default 1, `Infinity` allowed).
 * Faults queue per route in the order injected.
 */
export type SimFault =
  /**
   * Answer `status` (default body: the platform error shape; a string body is sent as is, as HTML;
   * any other as JSON); the request is not processed unless `process: true`.
   */
  | { route: SimRoute | '*', kind: 'status', status: number, count?: number, retryAfter?: number | string, body?: unknown, process?: boolean }
  /** Delay, then answer normally. */
  | { route: SimRoute | '*', kind: 'latency', ms: number, count?: number }
  /** Never answer (the socket stays open until the client gives up or `close()`); processed only if `process: true`. */
  | { route: SimRoute | '*', kind: 'hang', count?: number, process?: boolean }
  /** Process the request fully (state changes), then destroy the socket without answering. */
  | { route: SimRoute | '*', kind: 'reset', count?: number }

export interface SimulatorOptions {
  apiKey: string
  s2sToken: string
  brandId: string
  /** Default 0: a random free port. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** Added to every answer, default 0. */
  latencyMs?: number
  /** Deliveries per event until a 2xx, default 8 (1 try + 7 retries), as on the platform. */
  webhookAttempts?: number
  /**
   * Milliseconds that stand for one minute of the platform's retry schedule (try n at
   * `3^(n-1) - 1` minutes after the first), default 1: the 8th try 2.186 s after the first.
   */
  webhookRetryScale?: number
  /** Start with a slow acquirer (see `Simulator.slowAcquirer`); default false. */
  slowAcquirer?: boolean
  /** RSA private key (PEM) that signs webhooks added without their own key; default a fresh one. */
  webhookKey?: string
  /** RSA private key (PEM) that signs success callbacks, served by GET /public_key/; default a fresh one. */
  companyKey?: string
}

export interface SimRequest {
  route: SimRoute | 'unknown'
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  body: string
  at: number
}

export interface SimDelivery {
  kind: 'webhook' | 'success_callback'
  url: string
  eventType: string
  purchaseId: string
  attempt: number
  /** `null` when no HTTP answer came (connection refused, reset, timeout). */
  statusCode: number | null
  body: string
  signature: string
}

export interface DeliveryMode {
  /** Deliver every event twice, concurrently. */
  duplicate: boolean
  /** Hold the events of each purchase and deliver them newest first (on `idle()` or when switched off). */
  outOfOrder: boolean
}

export interface Simulator {
  /** 'http://127.0.0.1:<port>/api/v1/' */
  readonly baseUrl: string
  /** 'http://127.0.0.1:<port>' */
  readonly origin: string
  /** PEM (SPKI) of the key that signs webhooks added without their own key. */
  readonly webhookPublicKey: string
  /** PEM served JSON-encoded by GET /public_key/; signs success_callback. */
  readonly companyPublicKey: string
  /** Every request received, in order, recorded before any fault applies. */
  readonly requests: SimRequest[]
  readonly purchases: Map<string, Purchase>
  /** Every delivery attempt of webhooks and success callbacks. */
  readonly deliveries: SimDelivery[]
  count (route: SimRoute): number
  inject (fault: SimFault): void
  clearFaults (): void
  addWebhook (opts: { url: string, events?: string[], newKey?: boolean }): { id: string, publicKey: string }
  removeWebhook (id: string): void
  rotateWebhookKey (): string
  rotateCompanyKey (): string
  deliveryMode: DeliveryMode
  /**
   * A slow acquirer: capture, release, refund and charge answer the Purchase in
   * `pending_capture` / `pending_release` / `pending_refund` / `pending_charge`
   * (with its `purchase.pending_*` event) until `completePending` finishes them.
   */
  slowAcquirer: boolean
  /** Charges with a saved card are declined with this code (400 `purchase_charge_error`, the purchase in `error`); `undefined` approves them. */
  declineCharges: SimFailureCode | undefined
  /** Finishes what the slow acquirer holds: `approve` (default) as the fast path would, `fail` back to where it was (a charge: declined, `do_not_honour`). */
  completePending (purchaseId: string, result?: 'approve' | 'fail'): void
  emit (purchaseId: string, eventType: string): Promise<void>
  completeThreeDS (purchaseId: string, result: 'approve' | 'fail'): Promise<void>
  idle (): Promise<void>
  close (): Promise<void>
}
