/**
 * What every bench server and scenario shares: credentials the simulator is
 * started with, the shop's purchase, the card bodies the payer's page sends.
 */
export const CREDENTIALS = {
  apiKey: 'bench-api-key',
  s2sToken: 'bench-s2s-token',
  brandId: '409eb80e-3782-4b1d-afa8-b779759266a5'
}

/** All three servers answer under the plugin's default prefix, so scenarios use one set of paths. */
export const PREFIX = '/qorepay'
export const SUCCESS_REDIRECT = 'https://shop.example/paid'
export const FAILURE_REDIRECT = 'https://shop.example/failed'

/** What the shop charges; the same in every server. */
export const PURCHASE = {
  client: { email: 'payer@example.com' },
  purchase: { currency: 'NGN', products: [{ name: 'Dog food Max', quantity: 1, price: 9000 }] },
  reference: 'order-42'
}

/** Everything a bench server needs to reach the simulator; passed to the child as JSON. */
export interface ServerConfig {
  baseUrl: string
  apiKey: string
  s2sToken: string
  brandId: string
  /** Origin the payer's browser reaches the server on (redirect_url, TermUrl). */
  publicUrl: string
  webhookPublicKey: string
  /** Where the server keeps 3DS sessions and marks: in process, or on the shared Redis at 127.0.0.1:6379. */
  store: 'memory' | 'redis'
  /** This run's own key prefix on Redis; every key the server writes starts with it, and is deleted at close. */
  redisPrefix: string
}

const nextYear = (new Date().getFullYear() + 3) % 100

/** What the payment page posts: card plus the browser fields a page can read. */
export function cardBody (cardNumber: string): string {
  return JSON.stringify({
    cardholder_name: 'John Doe',
    card_number: cardNumber,
    expires: `12/${String(nextYear).padStart(2, '0')}`,
    cvc: '123',
    language: 'en-US',
    java_enabled: false,
    javascript_enabled: true,
    color_depth: 24,
    utc_offset: 0,
    screen_width: 1920,
    screen_height: 1080
  })
}

export const NO_3DS_CARD = '4444333322221111'
export const THREE_DS_CARD = '5555555555554444'

/** Headers a browser's fetch() sends with the card post. */
export const BROWSER_HEADERS = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  accept: 'application/json',
  'accept-language': 'en-US,en;q=0.9'
}
