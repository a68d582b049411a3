import { maskPan } from '../wire/pan.js'

/** The card fields a card post sent, which the gateway's free text may quote back. */
export interface SentCard { card_number: string, cvc: string, expires: string }

// 12 to 19 digits, maybe grouped by spaces or dashes: any card number, not only the one we sent.
const DIGIT_RUN = /(?<!\d)\d(?:[ -]?\d){11,18}(?!\d)/g

/**
 * The gateway's free text with card data masked: the card number we sent
 * and any 12-19 digit run as a masked PAN, the CVC and the expiry as stars.
 * Gateway messages may quote the request; what the plugin keeps of them
 * (errors, hook events, logs) goes through here first.
 */
export function maskCardText (text: string, card?: SentCard): string {
  let masked = text.replace(DIGIT_RUN, (run) => maskPan(run.replace(/[ -]/g, '')))
  if (card !== undefined) {
    masked = masked.replaceAll(card.expires, '**/**')
    masked = masked.replace(new RegExp(`(?<!\\d)${card.cvc}(?!\\d)`, 'g'), '*'.repeat(card.cvc.length))
  }
  return masked
}

/**
 * An answer with every `message` string masked (at any depth: error lists,
 * attempts' errors). Only messages: ids and other fields are the gateway's
 * own values, which a digit-run rule would corrupt.
 */
export function maskMessages (value: unknown, card?: SentCard): unknown {
  if (Array.isArray(value)) return value.map((item) => maskMessages(item, card))
  if (typeof value !== 'object' || value === null) return value
  // fromEntries defines each key, so a parsed "__proto__" stays a plain key.
  return Object.fromEntries(Object.entries(value).map(([key, item]) =>
    [key, key === 'message' && typeof item === 'string' ? maskCardText(item, card) : maskMessages(item, card)]))
}
