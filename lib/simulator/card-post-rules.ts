import { isIP } from 'node:net'
import type { GatewayErrorItem } from '../wire/api-error.js'

/**
 * The S2S card post's field rules, from the gateway's seed table
 * (gateway-s2s-card.md). Violations become the platform's per-field 400.
 */

export interface PostedCard {
  cardholderName: string
  cardNumber: string
  expires: string
  cvc: string
  remoteIp: string
  rememberCard: string | undefined
}

export type CardCheck =
  | { ok: true, card: PostedCard }
  | { ok: false, errors: Record<string, GatewayErrorItem[]> }

type Rule = (value: unknown) => string | undefined

const matches = (pattern: RegExp, message: string): Rule =>
  (value) => typeof value === 'string' && pattern.test(value) ? undefined : message
// Characters as the platform and JSON Schema count them: code points, so an emoji is one, not two UTF-16 units.
const maxText = (max: number): Rule =>
  (value) => typeof value === 'string' && [...value].length <= max ? undefined : `Must be a string of at most ${max} characters.`
const bool: Rule = (value) => typeof value === 'boolean' ? undefined : 'Must be a boolean.'
const integer = (min: number, max: number): Rule =>
  (value) => Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
    ? undefined
    : `Must be an integer from ${min} to ${max}.`

const required: Record<string, Rule> = {
  cardholder_name: matches(/^[A-Za-z .'-]{1,30}$/, 'Latin letters, space, apostrophe, dot and dash only, at most 30 characters.'),
  card_number: matches(/^\d{1,19}$/, 'Digits only, at most 19.'),
  expires: matches(/^(0[1-9]|1[0-2])\/\d{2}$/, "Must be a valid 'MM/YY' date."),
  cvc: matches(/^\d{3,4}$/, 'Must be 3 or 4 digits.'),
  remote_ip: (value) => typeof value === 'string' && isIP(value) !== 0 ? undefined : 'Must be an IPv4 or IPv6 address.'
}

const optional: Record<string, Rule> = {
  remember_card: maxText(Infinity),
  user_agent: maxText(2048),
  accept_header: maxText(2048),
  language: maxText(8),
  java_enabled: bool,
  javascript_enabled: bool,
  color_depth: integer(0, 255),
  utc_offset: integer(-32768, 32767),
  screen_width: integer(0, Number.MAX_SAFE_INTEGER),
  screen_height: integer(0, Number.MAX_SAFE_INTEGER)
}

export function checkCard (body: Record<string, unknown>): CardCheck {
  const errors: Record<string, GatewayErrorItem[]> = {}
  for (const [field, rule] of Object.entries(required)) {
    if (body[field] === undefined || body[field] === null || body[field] === '') {
      errors[field] = [{ message: 'This field is required.', code: 'required' }]
      continue
    }
    const message = rule(body[field])
    if (message) errors[field] = [{ message, code: 'invalid' }]
  }
  for (const [field, rule] of Object.entries(optional)) {
    if (body[field] === undefined) continue
    const message = rule(body[field])
    if (message) errors[field] = [{ message, code: 'invalid' }]
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors }
  return {
    ok: true,
    card: {
      cardholderName: body.cardholder_name as string,
      cardNumber: body.card_number as string,
      expires: body.expires as string,
      cvc: body.cvc as string,
      remoteIp: body.remote_ip as string,
      rememberCard: body.remember_card as string | undefined
    }
  }
}
