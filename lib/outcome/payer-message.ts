/**
 * What a payer reads about a declined payment: the plugin's own words per
 * gateway error code. The gateway's free text may quote what was sent, so it
 * goes to hooks and logs only, never to the payer.
 */
const PAYER_MESSAGES: Record<string, string> = {
  do_not_honour: 'Your bank declined the payment.',
  insufficient_funds: 'The card has insufficient funds.',
  expired_card: 'The card has expired.',
  incorrect_cvc: 'The security code (CVC) is incorrect.',
  '3ds_failed': '3-D Secure authentication did not succeed.',
  '3ds_authentication_failed': '3-D Secure authentication did not succeed.'
}

const DEFAULT_MESSAGE = 'The payment was declined.'

export function payerMessage (code: string): string {
  return Object.hasOwn(PAYER_MESSAGES, code) ? PAYER_MESSAGES[code] : DEFAULT_MESSAGE
}
