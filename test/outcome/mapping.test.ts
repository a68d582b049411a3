import { test } from 'tap'
import { authorizationOf, toOutcomeEvent } from '../../lib/outcome/mapping.js'
import type { Purchase } from '../../lib/index.js'

// Unit cases for what the flow tests cannot tell apart (found by `npm run mutate -- outcome`).

const purchaseOf = (status: string, total: number): Purchase => ({ id: 'p-1', status, purchase: { total }, is_recurring_token: false }) as unknown as Purchase

test('preauthorized is told by the status, whatever the amount; hold by a non-zero amount', async (t) => {
  t.equal(authorizationOf(purchaseOf('preauthorized', 9000)), 'preauthorized')
  t.equal(authorizationOf(purchaseOf('hold', 9000)), 'hold')
  t.equal(authorizationOf(purchaseOf('created', 0)), 'preauthorized')
})

test('an event from an answer without a purchase has no purchase key, and an authorization of hold unless told', async (t) => {
  const executed = toOutcomeEvent({ status: 'executed' }, { purchaseId: 'p-1', source: 'direct' })
  t.strictSame(executed, { purchaseId: 'p-1', source: 'direct', eventId: 'p-1:executed', status: 'executed' })
  t.notOk('purchase' in executed)
  const authorized = toOutcomeEvent({ status: 'authorized' }, { purchaseId: 'p-1', source: '3ds' })
  t.strictSame(authorized, { purchaseId: 'p-1', source: '3ds', eventId: 'p-1:authorized', status: 'authorized', authorization: 'hold' })
  const checked = toOutcomeEvent({ status: 'authorized' }, { purchaseId: 'p-1', source: '3ds', authorization: 'preauthorized' })
  t.equal(checked.status === 'authorized' && checked.authorization, 'preauthorized')
})
