import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { GatewayErrorItem } from './api-error.js'

/**
 * The QorePay platform's wire shapes, as its public SDKs and docs describe
 * them. Shared by the simulator (which produces them) and the plugin (which
 * reads them). Objects allow additional properties: the platform adds fields
 * over time and a client must not break on them.
 */

const loose = { additionalProperties: true }
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

/** Every purchase status the platform documents. */
export const PurchaseStatus = Type.Union([
  Type.Literal('created'), Type.Literal('sent'), Type.Literal('viewed'), Type.Literal('error'),
  Type.Literal('cancelled'), Type.Literal('overdue'), Type.Literal('expired'), Type.Literal('blocked'),
  Type.Literal('hold'), Type.Literal('released'), Type.Literal('pending_release'), Type.Literal('pending_capture'),
  Type.Literal('preauthorized'), Type.Literal('paid'), Type.Literal('pending_execute'), Type.Literal('pending_charge'),
  Type.Literal('cleared'), Type.Literal('settled'), Type.Literal('chargeback'), Type.Literal('pending_refund'),
  Type.Literal('refunded')
])
export type PurchaseStatus = Static<typeof PurchaseStatus>

export const Product = Type.Object({
  name: Type.String(),
  /** Minor currency units. */
  price: Type.Integer({ minimum: 0 }),
  quantity: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  discount: Type.Optional(Type.Integer()),
  tax_percent: Type.Optional(Type.Number()),
  category: Type.Optional(Type.String())
}, loose)
export type Product = Static<typeof Product>

export const Client = Type.Object({
  email: Type.String(),
  full_name: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String())
}, loose)
export type Client = Static<typeof Client>

export const PurchaseDetails = Type.Object({
  currency: Type.String({ minLength: 3, maxLength: 3 }),
  products: Type.Array(Product, { minItems: 1 }),
  /** Sum of price x quantity, minor units; computed by the platform. */
  total: Type.Integer(),
  language: Type.Optional(Type.String()),
  notes: Type.Optional(Nullable(Type.String()))
}, loose)
export type PurchaseDetails = Static<typeof PurchaseDetails>

/** `purchase.payment`: the money movement once a purchase is paid or on hold. */
export const PaymentSummary = Type.Object({
  is_outgoing: Type.Boolean(),
  payment_type: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  net_amount: Type.Integer(),
  fee_amount: Type.Integer(),
  pending_amount: Type.Integer(),
  pending_unfreeze_on: Nullable(Type.Integer()),
  description: Nullable(Type.String()),
  paid_on: Nullable(Type.Integer()),
  remote_paid_on: Nullable(Type.Integer())
}, loose)
export type PaymentSummary = Static<typeof PaymentSummary>

/** One card payment attempt; card data only as a masked PAN (first 6, last 4). */
export const TransactionAttempt = Type.Object({
  type: Type.String(),
  successful: Type.Boolean(),
  payment_method: Type.String(),
  flow: Type.String(),
  extra: Type.Object({
    masked_pan: Type.Optional(Type.String()),
    card_brand: Type.Optional(Type.String())
  }, loose),
  country: Nullable(Type.String()),
  client_ip: Nullable(Type.String()),
  processing_time: Nullable(Type.Integer()),
  error: Nullable(GatewayErrorItem)
}, loose)
export type TransactionAttempt = Static<typeof TransactionAttempt>

export const TransactionData = Type.Object({
  payment_method: Type.String(),
  flow: Type.String(),
  extra: Type.Object({}, loose),
  country: Nullable(Type.String()),
  attempts: Type.Array(TransactionAttempt)
}, loose)
export type TransactionData = Static<typeof TransactionData>

export const StatusHistoryEntry = Type.Object({ status: Type.String(), timestamp: Type.Integer() }, loose)

export const Purchase = Type.Object({
  id: Type.String(),
  type: Type.Literal('purchase'),
  status: PurchaseStatus,
  status_history: Type.Array(StatusHistoryEntry),
  brand_id: Type.String(),
  client: Client,
  purchase: PurchaseDetails,
  payment: Nullable(PaymentSummary),
  transaction_data: TransactionData,
  reference: Nullable(Type.String()),
  skip_capture: Type.Boolean(),
  is_test: Type.Boolean(),
  success_redirect: Nullable(Type.String()),
  failure_redirect: Nullable(Type.String()),
  success_callback: Nullable(Type.String()),
  /** Set only when both redirects are set (and S2S is enabled, no request_client_details); the S2S card post goes to `${direct_post_url}?s2s=true`. */
  direct_post_url: Nullable(Type.String()),
  checkout_url: Nullable(Type.String()),
  refundable_amount: Type.Integer(),
  /** Created to save the card: its payment makes it a recurring token. */
  force_recurring: Type.Optional(Type.Boolean()),
  /** This purchase's id is a recurring token (paid with `remember_card: "on"` or `force_recurring`), until deleted. */
  is_recurring_token: Type.Optional(Type.Boolean()),
  /** The token a purchase paid by `charge/` was paid with. */
  recurring_token: Type.Optional(Nullable(Type.String())),
  /** The integrating software, as it sent it (`fastify-qorepay/<version>`). */
  creator_agent: Type.Optional(Nullable(Type.String())),
  /** Unix seconds. */
  created_on: Type.Integer(),
  updated_on: Type.Integer()
}, loose)
// Interfaces over the schemas' types: an editor shows the name, not the expansion.
export interface Purchase extends Static<typeof Purchase> {}

/** A money movement (a refund, say): the purchase's payment summary plus its own identity. */
export const Payment = Type.Composite([PaymentSummary, Type.Object({
  id: Type.String(),
  type: Type.Literal('payment'),
  related_to: Nullable(Type.Object({ type: Type.String(), id: Type.String() }, loose)),
  reference: Nullable(Type.String()),
  is_test: Type.Boolean(),
  brand_id: Type.String(),
  client: Nullable(Client),
  created_on: Type.Integer(),
  updated_on: Type.Integer()
})], loose)
export interface Payment extends Static<typeof Payment> {}

/** `transaction_data.attempts[].type`, as the platform names them. */
export const AttemptType = Type.Union([
  Type.Literal('execute'), Type.Literal('authorize'), Type.Literal('release'), Type.Literal('capture'),
  Type.Literal('recurring_execute'), Type.Literal('delete_recurring_token'), Type.Literal('refund')
])
export type AttemptType = Static<typeof AttemptType>

/** `POST /purchases/{id}/charge/`: pays the purchase with the card saved under a recurring token (a purchase id). */
export const ChargeRequest = Type.Object({ recurring_token: Type.String() }, loose)
export type ChargeRequest = Static<typeof ChargeRequest>

/**
 * `POST /purchases/{id}/refund/`: the refund's Payment, or, while a slow acquirer
 * works, the Purchase in `pending_refund`; `type` tells which.
 */
export const RefundAnswer = Type.Union([Payment, Purchase])
export type RefundAnswer = Payment | Purchase
