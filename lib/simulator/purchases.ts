import { randomUUID } from 'node:crypto'
import type { GatewayError, GatewayErrorItem } from '../wire/api-error.js'
import type { Payment, Product, Purchase, PurchaseStatus } from '../wire/purchase.js'
import { isWebUrl } from '../wire/web-url.js'

/**
 * Purchases as the platform builds them: validation of `POST /purchases/`,
 * the Purchase and Payment objects, and the status bookkeeping.
 */

const required = (): GatewayErrorItem[] => [{ message: 'This field is required.', code: 'required' }]
const invalid = (message: string): GatewayErrorItem[] => [{ message, code: 'invalid' }]

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
/** Minor-unit amounts: non-negative safe integers. */
export const isAmount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

export interface SimPurchaseRequest {
  client: Record<string, unknown>
  purchase: Record<string, unknown>
  products: Product[]
  success_redirect: string | null
  failure_redirect: string | null
  success_callback: string | null
  reference: string | null
  skip_capture: boolean
  force_recurring: boolean
  creator_agent: string | null
  /** Client fields the payer must fill on the hosted page: such a purchase gets no direct post. */
  request_client_details: string[]
}

function productError (product: unknown, index: number): string | undefined {
  const where = `Product ${index + 1}`
  if (!isObject(product)) return `${where}: must be an object.`
  if (typeof product.name !== 'string' || product.name === '') return `${where}: name is required.`
  if (!isAmount(product.price)) return `${where}: price must be a non-negative integer (minor units).`
  if (product.quantity !== undefined && !(typeof product.quantity === 'number' && product.quantity > 0)) {
    return `${where}: quantity must be a positive number.`
  }
  return undefined
}

/** Validates a `POST /purchases/` body; field errors nest like the platform's (`{"client":{"email":[...]}}`). */
export function checkPurchaseBody (body: unknown, brandId: string): { ok: true, input: SimPurchaseRequest } | { ok: false, errors: GatewayError } {
  if (!isObject(body)) return { ok: false, errors: { __all__: invalid('Invalid data. Expected a dictionary.') } }
  const errors: GatewayError = {}

  if (body.brand_id === undefined) errors.brand_id = required()
  else if (body.brand_id !== brandId) errors.brand_id = invalid('Brand not found.')

  const client = body.client
  if (!isObject(client)) errors.client = required()
  else if (typeof client.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(client.email)) {
    errors.client = { email: client.email === undefined ? required() : invalid('Enter a valid email address.') }
  }

  const purchase = body.purchase
  if (!isObject(purchase)) errors.purchase = required()
  else {
    const nested: GatewayError = {}
    if (typeof purchase.currency !== 'string' || !/^[A-Z]{3}$/.test(purchase.currency)) {
      nested.currency = invalid('A three-letter currency code (ISO 4217) is required.')
    }
    if (!Array.isArray(purchase.products) || purchase.products.length === 0) {
      nested.products = invalid('At least one product is required.')
    } else {
      const messages = purchase.products.map(productError).filter((m) => m !== undefined)
      if (messages.length > 0) nested.products = messages.map((message) => ({ message, code: 'invalid' }))
    }
    if (Object.keys(nested).length > 0) errors.purchase = nested
  }

  for (const field of ['success_redirect', 'failure_redirect', 'success_callback']) {
    if (body[field] != null && !isWebUrl(body[field])) errors[field] = invalid('Enter a valid URL.')
  }
  if (body.reference != null && typeof body.reference !== 'string') errors.reference = invalid('Not a valid string.')
  for (const field of ['skip_capture', 'force_recurring']) {
    if (body[field] !== undefined && typeof body[field] !== 'boolean') errors[field] = invalid('Must be a valid boolean.')
  }
  if (body.creator_agent != null && typeof body.creator_agent !== 'string') errors.creator_agent = invalid('Not a valid string.')
  const details = body.request_client_details ?? []
  if (!Array.isArray(details) || !details.every((field) => typeof field === 'string')) errors.request_client_details = invalid('Expected a list of items.')

  if (Object.keys(errors).length > 0) return { ok: false, errors }
  const about = purchase as Record<string, unknown>
  return {
    ok: true,
    input: {
      client: client as Record<string, unknown>,
      purchase: about,
      products: (about.products as Product[]).map((p) => ({ ...p, quantity: p.quantity ?? 1 })),
      success_redirect: (body.success_redirect ?? null) as string | null,
      failure_redirect: (body.failure_redirect ?? null) as string | null,
      success_callback: (body.success_callback ?? null) as string | null,
      reference: (body.reference ?? null) as string | null,
      skip_capture: body.skip_capture === true,
      force_recurring: body.force_recurring === true,
      creator_agent: (body.creator_agent ?? null) as string | null,
      request_client_details: details as string[]
    }
  }
}

export const nowSeconds = () => Math.floor(Date.now() / 1000)

export function newPurchase (input: SimPurchaseRequest, brandId: string, origin: string): Purchase {
  const id = randomUUID()
  const now = nowSeconds()
  const total = input.products.reduce((sum, p) => sum + Math.round(p.price * (p.quantity as number)), 0)
  return {
    id,
    type: 'purchase',
    status: 'created',
    status_history: [{ status: 'created', timestamp: now }],
    brand_id: brandId,
    client: { ...input.client } as Purchase['client'],
    purchase: { ...input.purchase, products: input.products, total } as Purchase['purchase'],
    payment: null,
    transaction_data: { payment_method: 'card', flow: 'direct_post', extra: {}, country: null, attempts: [] },
    reference: input.reference,
    skip_capture: input.skip_capture,
    force_recurring: input.force_recurring,
    // Set once a payment with remember_card (or force_recurring) succeeds; the id is then the token.
    is_recurring_token: false,
    recurring_token: null,
    creator_agent: input.creator_agent,
    is_test: true,
    success_redirect: input.success_redirect,
    failure_redirect: input.failure_redirect,
    success_callback: input.success_callback,
    // The platform offers the direct post only when it knows where to send the payer back,
    // and when nothing is left for the payer to fill on its hosted page.
    direct_post_url: input.success_redirect && input.failure_redirect && input.request_client_details.length === 0 ? `${origin}/p/${id}/` : null,
    // The simulator has no hosted checkout page.
    checkout_url: null,
    refundable_amount: 0,
    created_on: now,
    updated_on: now
  }
}

export function setStatus (purchase: Purchase, status: PurchaseStatus): void {
  const now = nowSeconds()
  purchase.status = status
  purchase.updated_on = now
  purchase.status_history.push({ status, timestamp: now })
}

/** Money received (`paid`) or reserved (`hold`, `paid: false`). */
export function recordPayment (purchase: Purchase, amount: number, paid: boolean): void {
  const now = nowSeconds()
  purchase.payment = {
    is_outgoing: false,
    payment_type: 'purchase',
    amount,
    currency: purchase.purchase.currency,
    net_amount: amount,
    fee_amount: 0,
    pending_amount: paid ? 0 : amount,
    pending_unfreeze_on: null,
    description: null,
    paid_on: paid ? now : null,
    remote_paid_on: paid ? now : null
  }
  purchase.refundable_amount = paid ? amount : 0
}

export function newRefund (purchase: Purchase, amount: number): Payment {
  const now = nowSeconds()
  return {
    id: randomUUID(),
    type: 'payment',
    is_outgoing: true,
    payment_type: 'refund',
    amount,
    currency: purchase.purchase.currency,
    net_amount: amount,
    fee_amount: 0,
    pending_amount: 0,
    pending_unfreeze_on: null,
    description: null,
    paid_on: now,
    remote_paid_on: now,
    related_to: { type: 'purchase', id: purchase.id },
    reference: purchase.reference,
    is_test: true,
    brand_id: purchase.brand_id,
    client: purchase.client,
    created_on: now,
    updated_on: now
  }
}
