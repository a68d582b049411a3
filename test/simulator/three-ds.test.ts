import { test } from 'tap'
import { TEST_CARDS, type Purchase } from '../../lib/simulator/index.js'
import { acsForms, call, createPurchase, postCard, startReceiver, startSim, type Answer } from '../helpers/simulator.js'

test('3-D Secure round trip', async (t) => {
  const sim = await startSim(t)
  const term = await startReceiver(t, '/qorepay/3ds/token-1/return')
  const hooks = await startReceiver(t)
  sim.addWebhook({ url: hooks.url })

  /** Card post, then the ACS page as a browser gets it (the gateway's Method). */
  async function challenge (card: string, extra: Record<string, unknown> = {}, purchase: Record<string, unknown> = {}) {
    const p = await createPurchase(sim, purchase)
    const tds = (await postCard(sim, p, { card_number: card, ...extra })).json
    const page = tds.Method === 'POST'
      ? await call(sim, 'POST', tds.URL, { token: null, form: { PaReq: tds.PaReq, MD: tds.MD, TermUrl: term.url } })
      : await call(sim, 'GET', `${tds.URL}?${new URLSearchParams({ PaReq: tds.PaReq, TermUrl: term.url })}`, { token: null })
    return { p, tds, page, forms: acsForms(page.text) }
  }

  /** The browser submits a bank form to the TermUrl; the shop forwards MD and PaRes to callback_url. */
  async function answer (form: { action: string, MD: string, PaRes: string }, callbackUrl: string): Promise<Answer> {
    const before = term.received.length
    await call(sim, 'POST', form.action, { token: null, form: { MD: form.MD, PaRes: form.PaRes } })
    const got = new URLSearchParams(term.received[before].body)
    t.equal(term.received[before].headers['content-type'], 'application/x-www-form-urlencoded')
    return call(sim, 'POST', callbackUrl, { token: null, form: { MD: got.get('MD') as string, PaRes: got.get('PaRes') as string } })
  }

  await t.test('POST card: bank page, Approve, callback executes', async (t) => {
    const { p, tds, page, forms } = await challenge(TEST_CARDS.threeDSPost)
    t.equal(page.status, 200)
    t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    t.equal(page.headers['cache-control'], 'no-store')
    t.match(page.headers['content-security-policy'], "default-src 'none'")
    t.match(page.text, '>Approve</button>')
    t.match(page.text, '>Fail</button>')
    t.match(page.text, '90.00 NGN')
    t.notOk(page.text.includes(tds.PaReq), 'raw PaReq never in the page')
    t.match(page.text, `&lt;PaReq id=&quot;${p.id}&quot; nonce=&#39;`)
    t.match(page.text, '&amp;v=1.0.2')
    t.same(Object.keys(forms), ['approve', 'fail'])
    t.equal(forms.approve.action, term.url)
    t.equal(forms.approve.MD, tds.MD)
    t.not(forms.approve.PaRes, forms.fail.PaRes)
    t.equal(sim.count('acs'), 1)

    const res = await answer(forms.approve, tds.callback_url)
    t.equal(res.status, 200)
    t.same(res.json, { status: 'executed' })
    const paid = sim.purchases.get(p.id) as Purchase
    t.equal(paid.status, 'paid')
    t.match(paid.transaction_data.attempts, [{ successful: true, extra: { masked_pan: '555555******4444', card_brand: 'mastercard' } }])
    t.same(paid.status_history.map((h) => h.status), ['created', 'pending_execute', 'paid'])
  })

  await t.test('GET card: bank page by query, empty MD, callback with or without MD', async (t) => {
    const { p, tds, page, forms } = await challenge(TEST_CARDS.threeDSGet)
    t.equal(page.status, 200)
    t.equal(forms.approve.MD, '')
    await call(sim, 'POST', forms.approve.action, { token: null, form: { MD: '', PaRes: forms.approve.PaRes } })
    const noMD = await call(sim, 'POST', tds.callback_url, { token: null, form: { PaRes: forms.approve.PaRes } })
    t.same(noMD.json, { status: 'executed' })
    const emptyMD = await call(sim, 'POST', tds.callback_url, { token: null, form: { MD: '', PaRes: forms.approve.PaRes } })
    t.same(emptyMD.json, { status: 'executed' })
    t.equal(sim.purchases.get(p.id)?.status, 'paid')
  })

  await t.test('Fail: 3ds_failed', async (t) => {
    const { p, tds, forms } = await challenge(TEST_CARDS.threeDSPost)
    const res = await answer(forms.fail, tds.callback_url)
    t.equal(res.status, 400)
    t.match(res.json, { status: 'error', code: '3ds_failed', message: String })
    t.equal(sim.purchases.get(p.id)?.status, 'error')
    t.match(sim.purchases.get(p.id)?.transaction_data.attempts, [{ successful: false, error: { code: '3ds_failed' } }])
  })

  await t.test('wrong CVC on a 3DS card fails at the callback', async (t) => {
    const { p, tds, forms } = await challenge(TEST_CARDS.threeDSGet, { cvc: '321' })
    t.equal(tds.status, '3DS_required')
    const res = await answer(forms.approve, tds.callback_url)
    t.equal(res.status, 400)
    t.match(res.json, { status: 'error', code: 'incorrect_cvc' })
    t.equal(sim.purchases.get(p.id)?.status, 'error')
  })

  await t.test('skip_capture: authorized, hold', async (t) => {
    const { p, tds, forms } = await challenge(TEST_CARDS.threeDSPost, {}, { skip_capture: true })
    const res = await answer(forms.approve, tds.callback_url)
    t.same(res.json, { status: 'authorized' })
    t.equal(sim.purchases.get(p.id)?.status, 'hold')
  })

  await t.test('the callback is idempotent', async (t) => {
    const { p, tds, forms } = await challenge(TEST_CARDS.threeDSPost)
    const first = await answer(forms.approve, tds.callback_url)
    const calls = sim.count('callback')
    await sim.idle()
    const events = hooks.received.length
    const again = await call(sim, 'POST', tds.callback_url, { token: null, form: { MD: tds.MD, PaRes: forms.approve.PaRes } })
    t.equal(again.status, first.status)
    t.same(again.json, first.json)
    const failAfterwards = await call(sim, 'POST', tds.callback_url, { token: null, form: { MD: tds.MD, PaRes: forms.fail.PaRes } })
    t.same(failAfterwards.json, { status: 'executed' }, 'the decided outcome stands')
    await sim.idle()
    t.equal(hooks.received.length, events, 'no second event')
    const paid = sim.purchases.get(p.id) as Purchase
    t.equal(paid.status_history.filter((h) => h.status === 'paid').length, 1, 'paid once')
    t.equal(paid.transaction_data.attempts.length, 1)
    t.equal(sim.count('callback'), calls + 2)
  })

  await t.test('the callback refuses what the ACS did not issue', async (t) => {
    const { p, tds, forms } = await challenge(TEST_CARDS.threeDSPost)
    const other = await challenge(TEST_CARDS.threeDSPost)
    const [payload, mac] = forms.approve.PaRes.split('.')
    const forged = Buffer.from(JSON.stringify({ p: p.id, r: 'approve' }) + ' ').toString('base64')
    const cases: Array<[string, Record<string, string>, string]> = [
      ['no PaRes', { MD: tds.MD }, 'invalid_pares'],
      ['not a PaRes', { MD: tds.MD, PaRes: 'approved' }, 'invalid_pares'],
      ['forged payload', { MD: tds.MD, PaRes: `${forged}.${mac}` }, 'invalid_pares'],
      ['forged mac', { MD: tds.MD, PaRes: `${payload}.${mac.slice(1)}A` }, 'invalid_pares'],
      ['short mac', { MD: tds.MD, PaRes: `${payload}.AAAA` }, 'invalid_pares'],
      ['another purchase', { MD: tds.MD, PaRes: other.forms.approve.PaRes }, 'invalid_pares'],
      ['wrong MD', { MD: other.tds.MD, PaRes: forms.approve.PaRes }, 'invalid_md'],
      ['no MD', { PaRes: forms.approve.PaRes }, 'invalid_md']
    ]
    for (const [name, form, code] of cases) {
      const res = await call(sim, 'POST', tds.callback_url, { token: null, form })
      t.equal(res.status, 400, name)
      t.match(res.json, { status: 'error', code }, name)
    }
    t.equal(sim.purchases.get(p.id)?.status, 'pending_execute', 'nothing decided')

    const unknown = await call(sim, 'POST', '/s2s/callback/nope/', { token: null, form: forms.approve })
    t.equal(unknown.status, 404)
    const direct = await createPurchase(sim)
    await postCard(sim, direct)
    const noStep = await call(sim, 'POST', `/s2s/callback/${direct.id}/`, { token: null, form: forms.approve })
    t.match(noStep.json, { status: 'error', code: 'no_3ds_pending' })
  })

  await t.test('the bank page escapes the TermUrl and refuses bad input', async (t) => {
    const { tds } = await challenge(TEST_CARDS.threeDSPost)
    const evil = `${term.url}?q="><script>alert('x')</script>&b=1`
    const page = await call(sim, 'POST', '/acs/', { token: null, form: { PaReq: tds.PaReq, MD: '"><b>', TermUrl: evil } })
    t.equal(page.status, 200)
    t.notMatch(page.text, '<script>')
    t.notMatch(page.text, '<b>')
    t.equal(acsForms(page.text).approve.action, evil, 'the TermUrl survives escaping intact')
    t.equal(acsForms(page.text).approve.MD, '"><b>', 'MD is echoed as given')
    const noMD = await call(sim, 'POST', '/acs/', { token: null, form: { PaReq: tds.PaReq, TermUrl: term.url } })
    t.equal(acsForms(noMD.text).approve.MD, '')

    const [, id] = /id="([^"]+)"/.exec(tds.PaReq) as RegExpExecArray
    const bad: Array<[string, Record<string, string>, RegExp]> = [
      ['no PaReq', { MD: tds.MD, TermUrl: term.url }, /PaReq and TermUrl are required/],
      ['no TermUrl', { PaReq: tds.PaReq, MD: tds.MD }, /PaReq and TermUrl are required/],
      ['TermUrl not http', { PaReq: tds.PaReq, TermUrl: 'javascript:alert(1)' }, /TermUrl must be/],
      ['TermUrl not a URL', { PaReq: tds.PaReq, TermUrl: 'http://' }, /TermUrl must be/],
      ['garbage PaReq', { PaReq: 'x', TermUrl: term.url }, /Unknown PaReq/],
      ['PaReq of no purchase', { PaReq: '<PaReq id="nope" nonce=\'00\'>', TermUrl: term.url }, /Unknown PaReq/],
      ['altered PaReq', { PaReq: tds.PaReq.replace(/nonce='[0-9a-f]+'/, "nonce='00'"), TermUrl: term.url }, /Unknown PaReq/],
      ['PaReq id only', { PaReq: `<PaReq id="${id}" nonce='00'>`, TermUrl: term.url }, /Unknown PaReq/]
    ]
    for (const [name, form, message] of bad) {
      const res = await call(sim, 'POST', '/acs/', { token: null, form })
      t.equal(res.status, 400, name)
      t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
      t.match(res.text, message, name)
    }
    const get = await call(sim, 'GET', '/acs/', { token: null })
    t.equal(get.status, 400)
  })

  await t.test('completeThreeDS: the bank decides without a callback', async (t) => {
    const approved = await challenge(TEST_CARDS.threeDSPost)
    await sim.idle()
    const before = hooks.received.length
    await sim.completeThreeDS(approved.p.id, 'approve')
    t.equal(sim.purchases.get(approved.p.id)?.status, 'paid')
    await sim.idle()
    t.equal(hooks.received.length, before + 1)
    t.equal(JSON.parse(hooks.received[before].body).event_type, 'purchase.paid')
    await sim.completeThreeDS(approved.p.id, 'fail')
    t.equal(sim.purchases.get(approved.p.id)?.status, 'paid', 'a second decision changes nothing')
    const late = await answer(approved.forms.approve, approved.tds.callback_url)
    t.same(late.json, { status: 'executed' }, 'a late callback sees the decided outcome')
    await sim.idle()
    t.equal(hooks.received.length, before + 1, 'and raises nothing')

    const failed = await challenge(TEST_CARDS.threeDSGet)
    await sim.completeThreeDS(failed.p.id, 'fail')
    t.equal(sim.purchases.get(failed.p.id)?.status, 'error')

    await t.rejects(sim.completeThreeDS('nope', 'approve'), /no 3-D Secure step/)
    const plain = await createPurchase(sim)
    await t.rejects(sim.completeThreeDS(plain.id, 'approve'), /no 3-D Secure step/)
  })
})
