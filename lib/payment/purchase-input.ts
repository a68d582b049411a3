import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/**
 * What the host's `purchase(request)` returns: everything the purchase is
 * created with except what the plugin owns (brand, redirects). Extra purchase
 * fields of the platform (`skip_capture`, `due`, `notes`, ...) pass through:
 * JSON Schema lets any other property be, at every level.
 */
export const PurchaseInputSchema = Type.Object({
  client: Type.Object({ email: Type.String({ minLength: 3 }) }),
  purchase: Type.Object({
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    products: Type.Array(Type.Object({
      name: Type.String({ minLength: 1 }),
      price: Type.Integer({ minimum: 0 }),
      quantity: Type.Optional(Type.Number({ exclusiveMinimum: 0 }))
    }), { minItems: 1 })
  }),
  reference: Type.Optional(Type.String()),
  skip_capture: Type.Optional(Type.Boolean()),
  success_callback: Type.Optional(Type.String()),
  // Which software created the purchase, as the platform records it; default `fastify-qorepay/<version>`.
  creator_agent: Type.Optional(Type.String())
})

export interface PurchaseInput extends Static<typeof PurchaseInputSchema> {}

/** The one check of a host's purchase input, for `purchase(request)` and `payWithSavedCard`. */
export const purchaseInputCheck = TypeCompiler.Compile(PurchaseInputSchema)

/**
 * What `createPurchase` sends to `POST /purchases/`: the host's input, the
 * brand, and where the payer and the platform come back to. A type only:
 * nothing is checked against it (the gateway's answer is).
 */
export const PurchaseCreateSchema = Type.Composite([PurchaseInputSchema, Type.Object({
  brand_id: Type.String({ minLength: 1 }),
  success_redirect: Type.Optional(Type.String()),
  failure_redirect: Type.Optional(Type.String()),
  success_callback: Type.Optional(Type.String()),
  force_recurring: Type.Optional(Type.Boolean())
})], { additionalProperties: true })
export interface PurchaseCreate extends Static<typeof PurchaseCreateSchema> {}
