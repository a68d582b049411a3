import { test } from 'tap'
import { QorePayConfigError } from '../../lib/errors.js'

test('errors carry codes', async (t) => {
  const err = new QorePayConfigError('apiKey')
  t.equal(err.code, 'FST_QOREPAY_CONFIG')
  t.match(err.message, /apiKey/)
})
