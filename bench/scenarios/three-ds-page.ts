import { Pool } from 'undici'
import { BROWSER_HEADERS, PREFIX, THREE_DS_CARD, cardBody } from '../config.js'
import type { Target } from '../targets.js'
import type { Scenario } from './types.js'

/** Sessions created per server before its rounds; the page is not single-use, so requests cycle through them. */
const SESSIONS = 200
const paths = new Map<Target, string[]>()
let next = 0

/** GET /3ds/:token: the auto-submitting page to the bank, for pending sessions created beforehand. */
export const threeDSPage: Scenario = {
  name: 'threeds_page',
  title: 'GET /3ds/:token (redirect page of a pending session)',
  requestsPerFlow: 1,
  expect: [200],
  async prepare (target) {
    paths.set(target, await createSessions(target, SESSIONS))
  },
  async beforeRound () { next = 0 },
  load (target) {
    const mine = paths.get(target) as string[]
    return {
      requests: [{
        method: 'GET',
        headers: { accept: 'text/html', 'user-agent': BROWSER_HEADERS['user-agent'] },
        setupRequest: (req) => ({ ...req, path: mine[next++ % mine.length] })
      }]
    }
  }
}

/** Pending 3DS sessions made the way a payer makes them: POST /payments with a 3DS card. */
export async function createSessions (target: Target, count: number): Promise<string[]> {
  const pool = new Pool(target.origin, { connections: 50 })
  const out: string[] = []
  const body = cardBody(THREE_DS_CARD)
  let started = 0
  async function worker (): Promise<void> {
    while (started < count) {
      started++
      const res = await pool.request({ method: 'POST', path: `${PREFIX}/payments`, headers: BROWSER_HEADERS, body })
      const answer = await res.body.json() as { status: string, redirect_url: string }
      if (answer.status !== '3DS_required') throw new Error(`${target.kind}: expected 3DS_required, got ${JSON.stringify(answer)}`)
      out.push(new URL(answer.redirect_url).pathname)
    }
  }
  await Promise.all(Array.from({ length: 50 }, worker))
  await pool.close()
  return out
}
