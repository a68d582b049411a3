import { BROWSER_HEADERS, PREFIX, THREE_DS_CARD, cardBody } from '../config.js'
import type { BenchEnv, Scenario } from './types.js'

let missing = 0

/**
 * One 3DS payment per loop of each connection: POST /payments with a 3DS card
 * (create purchase + card post, answered 3DS_required with a token), then the
 * ACS's post of MD and an approving PaRes to the TermUrl (callback to the
 * gateway, answered 303). The payer's visit to the bank is skipped: the bench
 * posts what the bank would.
 */
export const threeDS: Scenario = {
  name: 'threeds',
  title: '3DS: POST /payments (3DS_required) + TermUrl completion (callback, 303)',
  requestsPerFlow: 2,
  expect: [200, 303],
  async beforeRound () { missing = 0 },
  check: () => missing > 0 ? `${missing} flows restarted: the gateway's MD/PaRes had not reached the bench in time` : undefined,
  load: (_target, env: BenchEnv) => ({
    requests: [{
      method: 'POST',
      path: `${PREFIX}/payments`,
      headers: BROWSER_HEADERS,
      body: cardBody(THREE_DS_CARD),
      onResponse (status, body, context) {
        if (status !== 200) return
        const answer = JSON.parse(body) as { purchase_id: string, redirect_url: string }
        context.id = answer.purchase_id
        context.path = `${new URL(answer.redirect_url).pathname}/return`
      }
    }, {
      method: 'POST',
      setupRequest (req, context) {
        const id = context.id as string | undefined
        const issued = id === undefined ? undefined : env.gateway.issued(id)
        if (issued === undefined) {
          missing++
          // Falsy: autocannon starts this connection's loop again with a new payment.
          return null
        }
        return {
          ...req,
          path: context.path as string,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ MD: issued.md, PaRes: issued.paRes }).toString()
        }
      }
    }]
  })
}
