import { Type, type Static } from '@sinclair/typebox'

const loose = { additionalProperties: true }

export const GatewayErrorItem = Type.Object({ message: Type.String(), code: Type.String() }, loose)
export type GatewayErrorItem = Static<typeof GatewayErrorItem>

/**
 * The platform's 4xx body: `{"__all__": [{message, code}]}` for the request as
 * a whole, or per-field arrays, nested for nested objects
 * (`{"client": {"email": [...]}}`).
 */
export const GatewayError = Type.Recursive((Self) =>
  Type.Record(Type.String(), Type.Union([Type.Array(GatewayErrorItem), Self])))
export type GatewayError = Static<typeof GatewayError>
