import { test } from 'tap'
import { maskCardText, maskMessages } from '../../lib/gateway/card-text.js'

const SENT = { card_number: '4444333322221111', cvc: '123', expires: '12/39' }

test('maskCardText: every 12 to 19 digit run, grouped or not, and nothing shorter, longer or inside a longer run', async (t) => {
  t.equal(maskCardText('card 4444333322221111 declined'), 'card 444433******1111 declined')
  t.equal(maskCardText('card 4444 3333 2222 1111.'), 'card 444433******1111.', 'grouped by spaces')
  t.equal(maskCardText('card 4444-3333-2222-1111'), 'card 444433******1111', 'grouped by dashes')
  t.equal(maskCardText('12345678901 is short'), '12345678901 is short', '11 digits: no card number')
  t.equal(maskCardText('n123456789012x'), 'n************x', '12 digits: masked whole (too short to show any)')
  t.equal(maskCardText('1234567890123456789'), '123456*********6789', '19 digits')
  t.equal(maskCardText('12345678901234567890'), '12345678901234567890', '20 digits: an id, not a card number')
  t.equal(maskCardText('4444  3333 2222 111'), '4444  3333 2222 111', 'two spaces break a run: 4 and 11 digits')
  t.equal(maskCardText('ref 4444333322221111 and 5555444433332222'), 'ref 444433******1111 and 555544******2222', 'every run')
})

test('maskCardText: the sent CVC and expiry wherever they stand alone, every time', async (t) => {
  t.equal(maskCardText('cvc 123 for 12/39, again 123 and 12/39', SENT), 'cvc *** for **/**, again *** and **/**')
  t.equal(maskCardText('order 91234 and 1234', SENT), 'order 91234 and 1234', 'the CVC inside a longer number stays')
  t.equal(maskCardText('cvc 123', { ...SENT, cvc: '1234' }), 'cvc 123', 'another CVC is not this one')
  t.equal(maskCardText('cvc 1234', { ...SENT, cvc: '1234' }), 'cvc ****', 'four stars for four digits')
  t.equal(maskCardText('cvc 123 for 12/39'), 'cvc 123 for 12/39', 'no card sent: only card numbers are masked')
})

test('maskMessages: every message string at any depth, nothing else', async (t) => {
  const answer = {
    id: '4444333322221111',
    message: 'card 4444333322221111 cvc 123',
    attempts: [{ error: { code: 'x', message: 'expired 12/39' } }, 'plain 4444333322221111'],
    nested: { deeper: { message: 123, note: 'cvc 123' } }
  }
  t.strictSame(maskMessages(answer, SENT), {
    id: '4444333322221111',
    message: 'card 444433******1111 cvc ***',
    attempts: [{ error: { code: 'x', message: 'expired **/**' } }, 'plain 4444333322221111'],
    nested: { deeper: { message: 123, note: 'cvc 123' } }
  })
  t.equal(maskMessages(null, SENT), null)
  t.equal(maskMessages('4444333322221111', SENT), '4444333322221111')
  const parsed = maskMessages(JSON.parse('{"__proto__": {"message": "4444333322221111"}}')) as Record<string, unknown>
  t.strictSame(Object.keys(parsed), ['__proto__'], 'a parsed __proto__ stays a plain key')
  t.equal(Object.getPrototypeOf(parsed), Object.prototype)
})
