import { createVerify, randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { FAILURE_REDIRECT, PREFIX, PURCHASE, SUCCESS_REDIRECT, type ServerConfig } from '../config.js'
import type { BenchServer } from './types.js'

interface Session { purchaseId: string, method: string, url: string, paReq: string, md: string, callbackUrl: string }

/**
 * The baseline a shop writes by hand after the third-party S2S examples:
 * global fetch with JSON.stringify / res.json(), sessions and processed
 * webhooks in Maps, the PEM handed to createVerify on every webhook.
 */
export async function build (cfg: ServerConfig): Promise<BenchServer> {
  const sessions = new Map<string, Session>()
  let processed = new Set<string>()

  const keyRes = await fetch(`${cfg.baseUrl}public_key/`, { headers: { Authorization: `Bearer ${cfg.apiKey}` } })
  const companyPublicKey = await keyRes.json() as string

  const app: FastifyInstance = Fastify({ logger: false })
  await app.register(formbody)

  app.post(`${PREFIX}/payments`, async (request, reply) => {
    const card = request.body as Record<string, unknown>
    const purchaseRes = await fetch(`${cfg.baseUrl}purchases/`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${cfg.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        brand_id: cfg.brandId,
        ...PURCHASE,
        success_redirect: SUCCESS_REDIRECT,
        failure_redirect: FAILURE_REDIRECT,
        success_callback: `${cfg.publicUrl}${PREFIX}/callback`
      })
    })
    const purchase = await purchaseRes.json() as { id: string, direct_post_url: string }
    const paymentRes = await fetch(`${purchase.direct_post_url}?s2s=true`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${cfg.s2sToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        ...card,
        remote_ip: request.ip,
        user_agent: request.headers['user-agent'],
        accept_header: request.headers.accept
      })
    })
    const payment = await paymentRes.json() as Record<string, string>
    if (payment.status === '3DS_required') {
      const token = randomUUID()
      sessions.set(token, { purchaseId: purchase.id, method: payment.Method, url: payment.URL, paReq: payment.PaReq, md: payment.MD, callbackUrl: payment.callback_url })
      return { status: payment.status, purchase_id: purchase.id, redirect_url: `${cfg.publicUrl}${PREFIX}/3ds/${token}` }
    }
    if (payment.status === 'error') {
      return reply.code(402).send({ status: 'error', purchase_id: purchase.id, message: payment.message })
    }
    return { status: payment.status, purchase_id: purchase.id }
  })

  app.get(`${PREFIX}/3ds/:token`, async (request, reply) => {
    const { token } = request.params as { token: string }
    const s = sessions.get(token)
    if (!s) return reply.code(404).send('Not found')
    const termUrl = `${cfg.publicUrl}${PREFIX}/3ds/${token}/return`
    reply.header('Content-Type', 'text/html').header('Cache-Control', 'no-store')
    return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>Redirecting to your bank</title></head>
<body>
<form id="form" method="${esc(s.method)}" action="${esc(s.url)}">
<input type="hidden" name="PaReq" value="${esc(s.paReq)}" />
<input type="hidden" name="MD" value="${esc(s.md)}" />
<input type="hidden" name="TermUrl" value="${esc(termUrl)}" />
</form>
<script>window.onload = function () { document.getElementById('form').submit() }</script>
</body>
</html>`
  })

  app.post(`${PREFIX}/3ds/:token/return`, async (request, reply) => {
    const { token } = request.params as { token: string }
    const s = sessions.get(token)
    if (!s) return reply.code(404).send('Not found')
    sessions.delete(token)
    const { MD, PaRes } = request.body as { MD: string, PaRes: string }
    const res = await fetch(s.callbackUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ MD, PaRes }).toString()
    })
    const result = await res.json() as { status: string }
    if (result.status === 'executed' || result.status === 'authorized') {
      return reply.redirect(`${SUCCESS_REDIRECT}?purchase_id=${s.purchaseId}`, 303)
    }
    return reply.redirect(`${FAILURE_REDIRECT}?purchase_id=${s.purchaseId}`, 303)
  })

  app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })
    const receiver = (publicKey: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      const raw = request.body as string
      const signature = request.headers['x-signature'] as string
      const ok = createVerify('RSA-SHA256').update(raw).verify(publicKey, signature, 'base64')
      if (!ok) return reply.code(401).send({ error: 'bad signature' })
      const event = JSON.parse(raw) as { id: string, event_type: string }
      const key = `${event.id}:${event.event_type}`
      if (processed.has(key)) return { ok: true }
      processed.add(key)
      return { ok: true }
    }
    scope.post(`${PREFIX}/webhook`, receiver(cfg.webhookPublicKey))
    scope.post(`${PREFIX}/callback`, receiver(companyPublicKey))
  })

  return {
    app,
    reset () { processed = new Set() },
    storeOps: () => undefined,
    async close () { await app.close() }
  }
}

function esc (value: string): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}
