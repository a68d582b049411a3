/**
 * The simulator's test cards and what each one does. Any other card number
 * behaves like `noThreeDS`. CVC `123` passes; any other CVC fails
 * (`incorrect_cvc`): at once on a card without 3-D Secure, at the callback
 * on a 3-D Secure card. An expiry before the current month fails at once
 * (`expired_card`).
 */
export const TEST_CARDS = {
  /** Executes without 3-D Secure (authorized, status hold, with skip_capture). */
  noThreeDS: '4444333322221111',
  /** 3-D Secure with Method POST and a non-empty MD. */
  threeDSPost: '5555555555554444',
  /** 3-D Secure with Method GET and an empty MD. */
  threeDSGet: '4111111111111111',
  /** Declined: do_not_honour. */
  declined: '4000000000000002',
  /** Fails: insufficient_funds. */
  insufficientFunds: '4000000000009995',
  /** The CVC that passes. */
  cvc: '123'
} as const

export const FAILURES = {
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
    case TEST_CARDS.declined: return { kind: 'failed', code: 'do_not_honour' }
    case TEST_CARDS.insufficientFunds: return { kind: 'failed', code: 'insufficient_funds' }
    case TEST_CARDS.threeDSPost: return { kind: 'threeDS', method: 'POST', cvcOk }
    case TEST_CARDS.threeDSGet: return { kind: 'threeDS', method: 'GET', cvcOk }
  }
  return cvcOk ? { kind: 'approved' } : { kind: 'failed', code: 'incorrect_cvc' }
}

export function cardBrand (cardNumber: string): string {
  if (cardNumber.startsWith('4')) return 'visa'
  if (/^5[1-5]/.test(cardNumber)) return 'mastercard'
  return 'unknown'
}
