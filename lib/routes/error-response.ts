import { Type } from '@sinclair/typebox'

/**
 * Fastify's error answer, as every route documents it for its 4xx and 5xx:
 * `code` is `FST_QOREPAY_*` (or Fastify's own, `FST_ERR_*`); never card data.
 * `code` is optional because a host's `purchase(request)` may throw an error without one.
 */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Optional(Type.String()),
  error: Type.String(),
  message: Type.String()
}, { description: 'An error with its code' })

/** The tag every route of the plugin carries in an OpenAPI document. */
export const TAGS = ['qorepay']

/** The same error schema under a description of when it is answered. */
export function errorResponse (description: string) {
  return Type.Object(ErrorResponse.properties, { description })
}
