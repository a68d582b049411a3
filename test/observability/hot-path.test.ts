import { test } from 'tap'
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel'
import { CARD, startShop } from '../helpers/shop.js'
import { paymentChannel } from '../../lib/observability/payment.js'
import { gatewayChannel } from '../../lib/observability/gateway.js'
import { outcomeChannel } from '../../lib/observability/outcome.js'
import type { StepChannel } from '../../lib/observability/publish.js'
import type { Tap } from '../helpers/tap.js'

const STEPS: Record<string, StepChannel<object>> = { payment: paymentChannel, gateway: gatewayChannel, outcome: outcomeChannel }

/**
 * Counts, per channel, the `hasSubscribers` checks made and the messages
 * published on its five sub-channels (`publish`, and `runStores` which
 * publishes `start`). Channels swap their prototype when subscribed, so the
 * real methods are looked up at each call.
 */
function spy (t: Tap): { checks: Record<string, number>, published: Record<string, number> } {
  const checks: Record<string, number> = {}
  const published: Record<string, number> = {}
  for (const [name, ch] of Object.entries(STEPS)) {
    checks[name] = 0
    published[name] = 0
    const real = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(ch), 'hasSubscribers')!.get!
    Object.defineProperty(ch, 'hasSubscribers', { configurable: true, get () { checks[name]++; return real.call(ch) } })
    t.teardown(() => { delete (ch as { hasSubscribers?: boolean }).hasSubscribers })
    for (const event of ['start', 'end', 'asyncStart', 'asyncEnd', 'error']) {
      const sub = channel(`tracing:qorepay:${name}:${event}`) as unknown as Record<string, (...args: unknown[]) => unknown>
      for (const method of ['publish', 'runStores']) {
        sub[method] = (...args: unknown[]) => {
          published[name]++
          return Object.getPrototypeOf(sub)[method].apply(sub, args)
        }
      }
      t.teardown(() => { delete sub.publish; delete sub.runStores })
    }
  }
  return { checks, published }
}

test('with no subscriber, each step costs one hasSubscribers check and publishes nothing', async (t) => {
  const shop = await startShop(t)
  const { checks, published } = spy(t)
  const pay = () => shop.post('/qorepay/payments', CARD)

  t.equal((await pay()).body.status, 'executed')
  t.same(published, { payment: 0, gateway: 0, outcome: 0 })
  // One payment: one step, two gateway requests (create, card post), one outcome report.
  t.same(checks, { payment: 1, gateway: 2, outcome: 1 })

  // A subscriber on one sub-channel is enough to publish every event of the step.
  const onStart = (): void => {}
  subscribe('tracing:qorepay:payment:start', onStart)
  t.equal((await pay()).body.status, 'executed')
  t.ok(published.payment > 0, 'published while subscribed')
  unsubscribe('tracing:qorepay:payment:start', onStart)

  const before = { ...published }
  t.equal((await pay()).body.status, 'executed')
  t.same(published, before, 'nothing once unsubscribed again')
})
