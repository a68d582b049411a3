import createError from '@fastify/error'

/** FST_QOREPAY_GATEWAY, _AUTH, _NOT_FOUND, _UNAVAILABLE and _TIMEOUT: one class with `sent`, `gatewayStatus`, `gatewayCode`. */
export { QorePayGatewayError } from './gateway/gateway-error.js'
export type { GatewayErrorCode, GatewayErrorDetails, GatewayErrorKind } from './gateway/gateway-error.js'

/**
 * One taxonomy for every failure the plugin reports. Each code carries the
 * HTTP status the plugin's routes answer with; messages never hold card data.
 * A declined card, a failed 3-D Secure and an undecided outcome are answers,
 * not errors: 402 `{"status":"error"}`, a 303 to `failureRedirect`, and 202
 * `{"status":"pending"}` (README, "Errors").
 */
export const QorePayConfigError = createError('FST_QOREPAY_CONFIG', 'Invalid qorepay option %s', 500, TypeError)
/** `purchase(request)` returned details the gateway would refuse: the detail goes to the host's log, the payer gets this fixed text. */
export const QorePayPurchaseError = createError('FST_QOREPAY_PURCHASE', 'This payment could not be prepared; the shop has been told', 500)
export const QorePayValidationError = createError('FST_QOREPAY_VALIDATION', '%s', 400)
export const QorePaySignatureError = createError('FST_QOREPAY_SIGNATURE', 'Invalid signature: %s', 401)
export const QorePayStoreError = createError('FST_QOREPAY_STORE_UNAVAILABLE', 'The session store is unavailable: %s', 503)
export const QorePayIdempotencyConflictError = createError('FST_QOREPAY_IDEMPOTENCY_CONFLICT', '%s', 409)
export const QorePayIdempotencyMismatchError = createError('FST_QOREPAY_IDEMPOTENCY_MISMATCH', '%s', 422)
