/* global document, location, navigator, screen, fetch, FormData */
// The checkout form's only script, served from the shop's own origin so that
// the page's CSP can stay `script-src 'self'` without nonces or inline code.

const form = document.getElementById('pay')
const message = document.getElementById('message')
const button = form.querySelector('button')

// The gateway caps `language` at 8 characters; 'zh-Hant-TW' becomes 'zh'.
function browserLanguage () {
  const tag = navigator.language || 'en-US'
  return tag.length <= 8 ? tag : tag.split('-')[0]
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  button.disabled = true
  message.textContent = 'Processing…'
  const fields = new FormData(form)
  const body = {
    order: fields.get('order'),
    cardholder_name: fields.get('cardholder_name').trim(),
    // Payers type spaces and dashes; the gateway takes digits only.
    card_number: fields.get('card_number').replace(/[\s-]/g, ''),
    expires: fields.get('expires').replace(/\s/g, ''),
    cvc: fields.get('cvc').trim(),
    // The gateway saves the card only for the literal "on".
    remember_card: fields.get('remember_card') === 'on' ? 'on' : undefined,
    // What the issuer's 3-D Secure risk check looks at, taken from this browser.
    screen_width: screen.width,
    screen_height: screen.height,
    color_depth: screen.colorDepth,
    // Minutes, with the sign of getTimezoneOffset() (UTC minus local time, so
    // UTC+01:00 is -60): the convention of EMV 3-D Secure 2's browserTZ.
    utc_offset: new Date().getTimezoneOffset(),
    language: browserLanguage(),
    java_enabled: false,
    javascript_enabled: true
  }
  try {
    const response = await fetch(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body)
    })
    const answer = await response.json()
    if (answer.status === '3DS_required') {
      location.assign(answer.redirect_url)
      return
    }
    if (answer.purchase_id) {
      // The page shows what the server recorded for this purchase, not this status.
      const page = answer.status === 'error' ? '/failure' : '/success'
      location.assign(page + '?purchase_id=' + encodeURIComponent(answer.purchase_id))
      return
    }
    message.textContent = answer.message || 'The payment could not be started.'
  } catch {
    message.textContent = 'The shop could not be reached. Please try again.'
  }
  button.disabled = false
})
