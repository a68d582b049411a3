// What the README's samples assume without writing it: the shop's own app,
// options and order book. Only test/plugin/readme.test.ts compiles this file
// (tsconfig.json leaves it out, so no other test sees these globals).
import type { FastifyInstance } from 'fastify'
import type qorepayPlugin from 'fastify-qorepay'
import type { QorePayOptions, SessionStore } from 'fastify-qorepay'

interface Order {
  id: string
  email: string
  lines: Array<{ name: string, price: number, qty: number }>
}

declare global {
  const app: FastifyInstance
  const qorepay: typeof qorepayPlugin
  const Fastify: typeof import('fastify').default
  /** The shop's options, as in "Usage". */
  const options: QorePayOptions
  const store: SessionStore
  const purchaseId: string
  const id: string
  const order: Order
  const products: Array<{ name: string, price: number }>
  const customer: { email: string, recurringToken: string }
  /** The shop's order book. */
  const orders: {
    find (order: unknown): Promise<Order>
    markPaid (reference: string | undefined, purchaseId: string): Promise<void>
    markAuthorized (reference: string | undefined, purchaseId: string): Promise<void>
    markFailed (reference: string | undefined, code: string): Promise<void>
    markRefunded (purchaseId: string, amount: number): Promise<void>
    markCaptured (purchaseId: string, amount: number): Promise<void>
  }
  /** "Writing your own store": a store of the reader's, its connections and clean-up. */
  class MyStore implements SessionStore {
    constructor (options: { connection: unknown, prefix: string })
    get (key: string): Promise<unknown>
    set (key: string, value: unknown, ttlMs: number): Promise<void>
    claim (key: string, value: unknown, ttlMs: number): Promise<boolean>
    take (key: string): Promise<unknown>
    delete (key: string): Promise<void>
  }
  const a: unknown
  const b: unknown
  function deleteEverythingUnder (prefix: string): Promise<void>
}
