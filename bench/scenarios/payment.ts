import { BROWSER_HEADERS, NO_3DS_CARD, PREFIX, cardBody } from '../config.js'
import type { Scenario } from './types.js'

/** POST /payments with a card that needs no 3DS: create purchase + card post, answered `executed`. */
export const payment: Scenario = {
  name: 'payment',
  title: 'POST /payments, no 3DS (create purchase + card post)',
  requestsPerFlow: 1,
  expect: [200],
  load: () => ({
    requests: [{
      method: 'POST',
      path: `${PREFIX}/payments`,
      headers: BROWSER_HEADERS,
      body: cardBody(NO_3DS_CARD)
    }]
  })
}
