/**
 * The test cards. The platform's sandbox knows three numbers and fails every
 * other one; the simulator keeps those three and adds cards of its own (3-D
 * Secure by GET, declines by code). CVC `123` passes; any other CVC fails
 * (`incorrect_cvc`): at once on a card without 3-D Secure, at the callback on
 * a 3-D Secure card. An expiry before the current month fails at once
 * (`expired_card`).
 */
export const TEST_CARDS = {
  /** The platform's: executes without 3-D Secure (authorized, status hold, with skip_capture). */
  noThreeDS: '4444333322221111',
  /** The platform's: 3-D Secure (here with Method POST and a non-empty MD). */
  threeDSPost: '5555555555554444',
  /** The platform's: fails (general_transaction_error). */
  fails: '1111111111111111',
  /** The simulator's own: 3-D Secure with Method GET and an empty MD. */
  threeDSGet: '4111111111111111',
  /** The simulator's own: declined, do_not_honour. */
  declined: '4000000000000002',
  /** The simulator's own: fails, insufficient_funds. */
  insufficientFunds: '4000000000009995',
  /** The CVC that passes. */
  cvc: '123'
} as const

/** Every card and what it does, the platform's first: what the CLI prints and the README lists. */
export const CARD_TABLE: ReadonlyArray<{ number: string, own: boolean, effect: string }> = [
  { number: TEST_CARDS.noThreeDS, own: false, effect: 'executes without 3-D Secure (authorized with skip_capture)' },
  { number: TEST_CARDS.threeDSPost, own: false, effect: '3-D Secure, Method POST' },
  { number: TEST_CARDS.fails, own: false, effect: 'fails: general_transaction_error' },
  { number: TEST_CARDS.threeDSGet, own: true, effect: '3-D Secure, Method GET, empty MD' },
  { number: TEST_CARDS.declined, own: true, effect: 'declined: do_not_honour' },
  { number: TEST_CARDS.insufficientFunds, own: true, effect: 'fails: insufficient_funds' }
]

export const FAILURES = {
  general_transaction_error: 'Transaction failed',
  invalid_card_number: 'Invalid card number',
  do_not_honour: 'Do not honour',
  insufficient_funds: 'Insufficient funds',
  incorrect_cvc: 'Incorrect CVC',
  expired_card: 'The card has expired',
  '3ds_failed': '3-D Secure authentication failed'
} as const
export type FailureCode = keyof typeof FAILURES

export type CardOutcome =
  | { kind: 'approved' }
  | { kind: 'failed', code: FailureCode }
  | { kind: 'threeDS', method: 'POST' | 'GET', cvcOk: boolean }

/** What the bank decides for a (validated) card at the direct post. `now` decides expiry. */
export function decideCard (cardNumber: string, expires: string, cvc: string, now: Date): CardOutcome {
  const [month, year] = expires.split('/').map(Number)
  const expiry = (2000 + year) * 12 + month
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth() + 1
  if (expiry < current) return { kind: 'failed', code: 'expired_card' }
  const cvcOk = cvc === TEST_CARDS.cvc
  switch (cardNumber) {
    case TEST_CARDS.noThreeDS: return cvcOk ? { kind: 'approved' } : { kind: 'failed', code: 'incorrect_cvc' }
    case TEST_CARDS.threeDSPost: return { kind: 'threeDS', method: 'POST', cvcOk }
    case TEST_CARDS.fails: return { kind: 'failed', code: 'general_transaction_error' }
    case TEST_CARDS.threeDSGet: return { kind: 'threeDS', method: 'GET', cvcOk }
    case TEST_CARDS.declined: return { kind: 'failed', code: 'do_not_honour' }
    case TEST_CARDS.insufficientFunds: return { kind: 'failed', code: 'insufficient_funds' }
  }
  // As on the platform's sandbox: a number it does not know fails.
  return { kind: 'failed', code: 'invalid_card_number' }
}

export function cardBrand (cardNumber: string): string {
  if (cardNumber.startsWith('4')) return 'visa'
  if (/^5[1-5]/.test(cardNumber)) return 'mastercard'
  return 'unknown'
}
