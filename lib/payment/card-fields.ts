import { Type, type Static } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'

const OrderValue = Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()])

/**
 * The body of `POST {prefix}/payments`: the card and browser fields of the
 * gateway's S2S table with its rules, plus the host's own `order` value.
 * Unknown fields are rejected, so a price can never ride along.
 */
export const PaymentBodySchema = Type.Object({
  cardholder_name: Type.String({ minLength: 1, maxLength: 30, pattern: "^[A-Za-z '.-]+$" }),
  card_number: Type.String({ minLength: 1, maxLength: 19, pattern: '^[0-9]+$' }),
  expires: Type.String({ pattern: '^(0[1-9]|1[0-2])/[0-9]{2}$' }),
  cvc: Type.String({ pattern: '^[0-9]{3,4}$' }),
  remember_card: Type.Optional(Type.String({ maxLength: 16 })),
  // Standard formats, so OpenAPI tools read the rule too; the plugin's Ajv defines both.
  remote_ip: Type.Optional(Type.Union([Type.String({ format: 'ipv4' }), Type.String({ format: 'ipv6' })])),
  user_agent: Type.Optional(Type.String({ maxLength: 2048 })),
  accept_header: Type.Optional(Type.String({ maxLength: 2048 })),
  language: Type.Optional(Type.String({ minLength: 1, maxLength: 8 })),
  java_enabled: Type.Optional(Type.Boolean()),
  javascript_enabled: Type.Optional(Type.Boolean()),
  color_depth: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  utc_offset: Type.Optional(Type.Integer({ minimum: -32768, maximum: 32767 })),
  screen_width: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  screen_height: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  order: Type.Optional(Type.Union([
    Type.String({ maxLength: 256 }),
    Type.Integer(),
    // TypeBox writes a Record as patternProperties '^(.*)$', which neither limits the key nor sees a key holding a
    // line break (`.`): additionalProperties and propertyNames hold every key to the rules.
    Type.Record(Type.String(), OrderValue, { maxProperties: 32, additionalProperties: OrderValue, propertyNames: { maxLength: 64 } })
  ]))
}, { additionalProperties: false })

/** The JSON body of `POST {prefix}/payments`, as `purchase(request)` sees it in `request.body`. */
export interface PaymentBody extends Static<typeof PaymentBodySchema> {}

/** The fields of the body that are card data: never logged, stored, or let to decide an Idempotency-Key answer. */
export const CARD_DATA_FIELDS = ['card_number', 'cvc', 'expires', 'cardholder_name'] as const

/** What is posted to `direct_post_url?s2s=true`: every field filled. */
export type CardPost = Required<Omit<PaymentBody, 'order' | 'remember_card'>> & Pick<PaymentBody, 'remember_card'>

const DEFAULT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.96 Safari/537.36'

/**
 * Fills the browser fields the payer's client did not send: first from the
 * request itself (the IP as Fastify's `trustProxy` sees it), then the
 * gateway's documented defaults.
 */
export function toCardPost (body: PaymentBody, request: FastifyRequest): CardPost {
  const headers = request.headers
  // Field by field, not `{ order, ...card }`: an object rest is V8's slow path, on every payment.
  const post: CardPost = {
    cardholder_name: body.cardholder_name,
    card_number: body.card_number,
    expires: body.expires,
    cvc: body.cvc,
    remote_ip: body.remote_ip ?? request.ip,
    user_agent: body.user_agent ?? headers['user-agent']?.slice(0, 2048) ?? DEFAULT_USER_AGENT,
    accept_header: body.accept_header ?? headers.accept?.slice(0, 2048) ?? 'text/html',
    language: body.language ?? firstLanguage(headers['accept-language']),
    java_enabled: body.java_enabled ?? false,
    javascript_enabled: body.javascript_enabled ?? true,
    color_depth: body.color_depth ?? 24,
    utc_offset: body.utc_offset ?? 0,
    screen_width: body.screen_width ?? 1920,
    screen_height: body.screen_height ?? 1080,
    // Absent stays absent: the card post is JSON, which leaves undefined out.
    remember_card: body.remember_card
  }
  return post
}

function firstLanguage (header = ''): string {
  const tag = header.split(',')[0].split(';')[0].trim()
  return /^[A-Za-z]{1,3}(-[A-Za-z0-9]{1,4})?$/.test(tag) ? tag : 'en-US'
}
