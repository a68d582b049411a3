import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Pool } from 'undici'
import { FAILURE_REDIRECT, PREFIX, PURCHASE, SUCCESS_REDIRECT, type ServerConfig } from '../config.js'
import type { BenchServer } from './types.js'
import { deleteKeys } from './round-store.js'

interface Session { purchaseId: string, method: string, url: string, paReq: string, md: string, callbackUrl: string }

const SCRIPT = 'document.forms[0].submit()'
const CSP = `default-src 'none'; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; form-action *`

/**
 * The floor: the same gateway calls the plugin makes, over one shared undici
 * Pool, and nothing else (no validation, hooks, retries, timeouts, dedup or
 * tracking). Whatever the plugin costs above this is its own. Its only state
 * is the 3DS session the flow cannot do without: set on 3DS_required, read by
 * the page, taken by the TermUrl; in a Map, or on Redis (SET PX, GET, GETDEL
 * over one shared connection) when the plugin runs on RedisStore.
 */
export async function build (cfg: ServerConfig): Promise<BenchServer> {
  const gateway = new URL(cfg.baseUrl)
  const pool = new Pool(gateway.origin, { connections: 128 })
  const apiAuth = `Bearer ${cfg.apiKey}`
  const s2sAuth = `Bearer ${cfg.s2sToken}`
  // The same purchase the plugin creates, success_callback included, so the gateway does the same work for every server.
  const createBody = JSON.stringify({
    ...PURCHASE,
    brand_id: cfg.brandId,
    success_redirect: SUCCESS_REDIRECT,
    failure_redirect: FAILURE_REDIRECT,
    success_callback: `${cfg.publicUrl}${PREFIX}/callback`
  })
  const webhookKey = createPublicKey(cfg.webhookPublicKey)
  const keyAnswer = await pool.request({ method: 'GET', path: `${gateway.pathname}public_key/`, headers: { authorization: apiAuth } })
  const companyKey = createPublicKey(await keyAnswer.body.json() as string)
  const sessions = sessionStore(cfg)

  const app: FastifyInstance = Fastify({ logger: false })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  app.post(`${PREFIX}/payments`, async (request, reply) => {
    const card = request.body as Record<string, unknown>
    const created = await pool.request({
      method: 'POST',
      path: `${gateway.pathname}purchases/`,
      headers: { authorization: apiAuth, 'content-type': 'application/json' },
      body: createBody
    })
    const purchase = await created.body.json() as { id: string, direct_post_url: string }
    const direct = new URL(purchase.direct_post_url)
    const posted = await pool.request({
      method: 'POST',
      path: `${direct.pathname}?s2s=true`,
      headers: { authorization: s2sAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...card, remote_ip: request.ip, user_agent: request.headers['user-agent'], accept_header: request.headers.accept })
    })
    const result = await posted.body.json() as Record<string, string>
    if (result.status === '3DS_required') {
      const token = randomBytes(16).toString('base64url')
      await sessions.set(token, { purchaseId: purchase.id, method: result.Method, url: result.URL, paReq: result.PaReq, md: result.MD, callbackUrl: result.callback_url })
      return { status: result.status, purchase_id: purchase.id, redirect_url: `${cfg.publicUrl}${PREFIX}/3ds/${token}` }
    }
    if (result.status === 'error') {
      reply.code(402)
      return { status: 'error', purchase_id: purchase.id, message: result.message }
    }
    return { status: result.status, purchase_id: purchase.id }
  })

  app.get(`${PREFIX}/3ds/:token`, async (request, reply) => {
    const session = await sessions.get((request.params as { token: string }).token)
    if (session === undefined) return reply.code(404).send()
    reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', CSP)
    return page(session, `${cfg.publicUrl}${request.url}/return`)
  })

  app.post(`${PREFIX}/3ds/:token/return`, async (request, reply) => {
    const token = (request.params as { token: string }).token
    const session = await sessions.take(token)
    if (session === undefined) return reply.code(404).send()
    const fields = request.body as { MD: string, PaRes: string }
    const callback = new URL(session.callbackUrl)
    const answered = await pool.request({
      method: 'POST',
      path: callback.pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ MD: fields.MD, PaRes: fields.PaRes }).toString()
    })
    const result = await answered.body.json() as { status: string }
    const target = result.status === 'executed' || result.status === 'authorized' ? SUCCESS_REDIRECT : FAILURE_REDIRECT
    return reply.redirect(`${target}?purchase_id=${session.purchaseId}`, 303)
  })

  // Webhook and success callback: verify and read the event; no dedup, no store.
  app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
    for (const [path, key] of [['webhook', webhookKey], ['callback', companyKey]] as const) {
      scope.post(`${PREFIX}/${path}`, async (request, reply) => {
        const raw = request.body as Buffer
        const signature = request.headers['x-signature']
        if (typeof signature !== 'string' || !verify('sha256', raw, key, Buffer.from(signature, 'base64'))) {
          return reply.code(401).send()
        }
        const event = JSON.parse(raw.toString()) as { event_type: string }
        return { received: event.event_type }
      })
    }
  })

  return {
    app,
    // Nothing to forget: the floor keeps no dedup marks.
    reset () {},
    storeOps: () => sessions.ops,
    async close () {
      await app.close()
      await pool.close()
      await sessions.close()
    }
  }
}

interface Sessions {
  ops: number
  set (token: string, session: Session): Promise<void>
  get (token: string): Promise<Session | undefined>
  take (token: string): Promise<Session | undefined>
  close (): Promise<void>
}

const SESSION_TTL_MS = 1800_000

function sessionStore (cfg: ServerConfig): Sessions {
  if (cfg.store === 'memory') {
    const map = new Map<string, Session>()
    return {
      ops: 0,
      async set (token, session) { this.ops++; map.set(token, session) },
      async get (token) { this.ops++; return map.get(token) },
      async take (token) {
        this.ops++
        const session = map.get(token)
        map.delete(token)
        return session
      },
      async close () {}
    }
  }
  const redis = new Redis({ host: '127.0.0.1', port: 6379 })
  const prefix = `${cfg.redisPrefix}floor:`
  const parse = (json: string | null): Session | undefined => json === null ? undefined : JSON.parse(json) as Session
  return {
    ops: 0,
    async set (token, session) {
      this.ops++
      await redis.set(prefix + token, JSON.stringify(session), 'PX', SESSION_TTL_MS)
    },
    async get (token) { this.ops++; return parse(await redis.get(prefix + token)) },
    async take (token) { this.ops++; return parse(await redis.getdel(prefix + token)) },
    async close () {
      await deleteKeys(redis, `${prefix}*`)
      await redis.quit()
    }
  }
}

function escape (value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function page (s: Session, termUrl: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>3-D Secure</title></head><body>
<form method="${escape(s.method)}" action="${escape(s.url)}"><input type="hidden" name="PaReq" value="${escape(s.paReq)}"><input type="hidden" name="MD" value="${escape(s.md)}"><input type="hidden" name="TermUrl" value="${escape(termUrl)}"><noscript><button>Continue</button></noscript></form>
<script>${SCRIPT}</script></body></html>`
}
