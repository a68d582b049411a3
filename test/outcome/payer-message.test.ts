import { test } from 'tap'
import { payerMessage } from '../../lib/outcome/payer-message.js'

test('the payer reads the plugin\'s fixed text per code, a general one for any other code', async (t) => {
  t.equal(payerMessage('insufficient_funds'), 'The card has insufficient funds.')
  t.equal(payerMessage('do_not_honour'), 'Your bank declined the payment.')
  t.equal(payerMessage('expired_card'), 'The card has expired.')
  t.equal(payerMessage('incorrect_cvc'), 'The security code (CVC) is incorrect.')
  t.equal(payerMessage('3ds_failed'), '3-D Secure authentication did not succeed.')
  t.equal(payerMessage('3ds_failed'), payerMessage('3ds_authentication_failed'))
  for (const code of ['some_new_code', 'payment_failed', '__proto__', 'constructor', '']) {
    t.equal(payerMessage(code), 'The payment was declined.', code)
  }
})
