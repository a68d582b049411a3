/** First six and last four digits, the most of a card number that may be shown. */
export function maskPan (cardNumber: string): string {
  if (cardNumber.length < 13) return '*'.repeat(cardNumber.length)
  return `${cardNumber.slice(0, 6)}${'*'.repeat(cardNumber.length - 10)}${cardNumber.slice(-4)}`
}
