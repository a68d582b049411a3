import { test } from 'tap'
import { request } from 'undici'
import { createSimulator, TEST_CARDS, type SimDelivery, type Simulator } from '../../lib/simulator/index.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import { CARD, CREDENTIALS, passAcs, postTermUrl, startShop, type Shop } from './shop.js'
import type { Tap } from './tap.js'

// The several-instances suite every durable store runs (test/stores/instances.test.ts on
// one Redis and one PostgreSQL, test/stores/redis-cluster.test.ts on a Redis Cluster),
// and the HTTP steps it shares with the Redis-only tests.

export const THREE_DS_CARD = { ...CARD, card_number: TEST_CARDS.threeDSPost }

/** The same URL path on another instance, as a load balancer would route it. */
export function on (shop: Shop, url: string): string {
  const { pathname, search } = new URL(url)
  return shop.url + pathname + search
}

/** `rounds` 3DS payments started on A, each TermUrl then posted to A and B at once: where each payer was sent. */
export async function racedTermUrls (a: Shop, b: Shop, rounds: number): Promise<Array<{ id: string, locations: Array<string | undefined> }>> {
  return await Promise.all(Array.from({ length: rounds }, async () => {
    const res = await a.post('/qorepay/payments', THREE_DS_CARD)
    const { termUrl, body } = await passAcs(a, res.body.redirect_url, 'approve')
    const answers = await Promise.all([postTermUrl(termUrl, body), postTermUrl(on(b, termUrl), body)])
    return { id: res.body.purchase_id as string, locations: answers.map((x) => x.location) }
  }))
}

export interface Answer { statusCode: number, body: any }

export async function postRaw (url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await request(url, { method: 'POST', headers, body })
  const text = await res.body.text()
  return { statusCode: res.statusCode, body: JSON.parse(text) }
}

/** Re-sends a signed delivery as the gateway would: again and again while the answer says "later". */
export async function redeliver (url: string, delivery: SimDelivery, attempts = 20): Promise<Answer[]> {
  const answers: Answer[] = []
  const headers = { 'content-type': 'application/json', 'x-signature': delivery.signature }
  for (let attempt = 0; attempt < attempts; attempt++) {
    const answer = await postRaw(url, delivery.body, headers)
    answers.push(answer)
    if (answer.statusCode !== 503) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return answers
}

/**
 * A durable store several instances share, as `durableSuite` needs it: `open` hands a new store on a connection of its own (as a newly started
 * instance would hold), on the same data as every other `open` of this run.
 */
export interface DurableBackend {
  name: string
  skip: false | string
  /** Sets up the shared data (a prefix, a schema), with its teardown on `t`; answers the opener. */
  setUp (t: Tap): Promise<() => Promise<SessionStore>>
}

/** The several-instances behaviour every durable store must show, on one backend. */
export function durableSuite (backend: DurableBackend): void {
  test(`several instances on ${backend.name}`, { skip: backend.skip }, async (t) => {
    async function shops (t: Tap, open: () => Promise<SessionStore>, sim: Simulator, count = 2): Promise<{ shops: Shop[], close: () => Promise<void> }> {
      const closers: Array<() => unknown> = []
      const list: Shop[] = []
      for (let i = 0; i < count; i++) list.push(await startShop({ teardown: (fn) => closers.push(fn) }, { sim, plugin: { store: await open() } }))
      let closed = false
      const close = async (): Promise<void> => {
        if (closed) return
        closed = true
        for (const fn of closers) await fn()
      }
      t.teardown(close)
      return { shops: list, close }
    }
    const executed = (list: Shop[], id: string): number => list.flatMap((s) => s.events.executed).filter((e) => e.purchaseId === id).length

    t.test('a 3DS payment started on A completes through the TermUrl on B', async (t) => {
      const open = await backend.setUp(t)
      const sim = await createSimulator({ ...CREDENTIALS })
      t.teardown(() => sim.close())
      const { shops: [a, b] } = await shops(t, open, sim)
      const res = await a.post('/qorepay/payments', THREE_DS_CARD)
      const id: string = res.body.purchase_id
      t.equal((await b.get(new URL(res.body.redirect_url).pathname)).statusCode, 200, 'B serves the page of A\'s session')
      const { termUrl, body } = await passAcs(a, res.body.redirect_url, 'approve')
      const back = await postTermUrl(on(b, termUrl), body)
      t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`)
      await sim.idle()
      t.equal(executed([a, b], id), 1, 'onExecuted once across both')
      t.same(await postTermUrl(termUrl, body), back, 'a repeated post on A: B\'s answer, not sent again')
      t.equal(sim.count('callback'), 1)
    })

    t.test('the same TermUrl on A and B at once, and identical webhooks to both: each fires once', async (t) => {
      const open = await backend.setUp(t)
      const sim = await createSimulator({ ...CREDENTIALS })
      t.teardown(() => sim.close())
      const { shops: [a, b] } = await shops(t, open, sim)
      const rounds = 5
      const results = await racedTermUrls(a, b, rounds)
      t.equal(sim.count('callback'), rounds, 'one gateway callback per purchase')
      await sim.idle()
      for (const { id, locations } of results) {
        t.same(locations, [`https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`], 'both posts: the one answer')
        t.equal(executed([a, b], id), 1, 'onExecuted once')
      }
      // Every signed delivery of the first purchase, ten copies each, to both at once.
      const [first] = results
      const deliveries = sim.deliveries.filter((d) => d.purchaseId === first.id && d.statusCode !== null)
      t.ok(deliveries.length > 0, 'the simulator delivered the success callback')
      await Promise.all(deliveries.flatMap((d) => Array.from({ length: 10 }, (_, i) =>
        redeliver(`${(i % 2 === 0 ? a : b).url}${new URL(d.url).pathname}`, d))))
      t.equal(executed([a, b], first.id), 1, 'still once after the duplicates')
    })

    t.test('both instances closed and two new ones started mid-3DS: the TermUrl completes, the outcome fires once', async (t) => {
      const open = await backend.setUp(t)
      const sim = await createSimulator({ ...CREDENTIALS })
      t.teardown(() => sim.close())
      const before = await shops(t, open, sim)
      const [a] = before.shops
      const res = await a.post('/qorepay/payments', THREE_DS_CARD)
      const id: string = res.body.purchase_id
      const { termUrl, body } = await passAcs(a, res.body.redirect_url, 'approve')
      await before.close()

      const after = await shops(t, open, sim)
      const [c, d] = after.shops
      t.equal((await c.get(new URL(res.body.redirect_url).pathname)).statusCode, 200, 'a new instance serves the page')
      const back = await postTermUrl(on(d, termUrl), body)
      t.equal(back.location, `https://shop.example/paid?from=qorepay&purchase_id=${id}&status=executed`, 'the payer\'s TermUrl post completes on a new instance')
      await sim.idle()
      t.equal(executed([...before.shops, c, d], id), 1, 'onExecuted once')
      t.equal(sim.count('callback'), 1)
    })
  })
}
