/**
 * An absolute http(s) URL: what the options' URLs must be, and every URL the
 * gateway hands over before the card, the payer or a callback goes there.
 */
export function isWebUrl (value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    const { protocol } = new URL(value)
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}
