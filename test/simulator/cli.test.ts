import { spawn, type ChildProcess } from 'node:child_process'
import { verify } from 'node:crypto'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { request } from 'undici'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { cardBody, purchaseBody, startReceiver } from '../helpers/simulator.js'

const cli = fileURLToPath(new URL('../../lib/simulator/cli.ts', import.meta.url))

interface Run { child: ChildProcess, stdout: string, stderr: string, exit: Promise<number | null> }

/**
 * Starts the CLI with `env` as its only SIM_* / QOREPAY_* settings, under the same
 * TypeScript loader and coverage hooks as this test (tsx would transpile differently
 * and garble the merged coverage).
 */
function run (env: Record<string, string>): Run {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SIM|QOREPAY)_/.test(name)))
  const child = spawn(process.execPath, [...process.execArgv, cli], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const result: Run = { child, stdout: '', stderr: '', exit: new Promise((resolve) => child.on('exit', resolve)) }
  child.stdout?.on('data', (chunk: Buffer) => { result.stdout += chunk })
  child.stderr?.on('data', (chunk: Buffer) => { result.stderr += chunk })
  return result
}

async function ready (r: Run): Promise<void> {
  while (!r.stdout.includes('Ctrl-C stops it.')) {
    if (r.child.exitCode !== null) throw new Error(`CLI exited: ${r.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const pem = (text: string, after: string) => {
  const start = text.indexOf('-----BEGIN PUBLIC KEY-----', text.indexOf(after))
  return text.slice(start, text.indexOf('-----END PUBLIC KEY-----', start) + 24) + '\n'
}

test('npm run simulator: prints how to reach it, serves, stops on a signal', async (t) => {
  const hooks = await startReceiver(t)
  const r = run({
    SIM_PORT: '0',
    SIM_HOST: '127.0.0.1',
    QOREPAY_API_KEY: 'cli-key',
    QOREPAY_S2S_TOKEN: 'cli-s2s',
    QOREPAY_BRAND_ID: 'cli-brand',
    SIM_WEBHOOK_URL: hooks.url
  })
  t.teardown(() => { r.child.kill('SIGKILL') })
  await ready(r)
  const baseUrl = /listening: (\S+)/.exec(r.stdout)?.[1] as string
  t.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/$/)
  for (const line of ['on 127.0.0.1:0\n', 'api key:   cli-key', 's2s token: cli-s2s', 'brand id:  cli-brand', `webhook:   ${hooks.url}`]) t.match(r.stdout, line)
  for (const card of Object.values(TEST_CARDS)) t.match(r.stdout, card)
  t.match(r.stdout, 'do_not_honour')

  const created = await request(`${baseUrl}purchases/`, {
    method: 'POST',
    headers: { authorization: 'Bearer cli-key', 'content-type': 'application/json' },
    body: JSON.stringify(purchaseBody({ brand_id: 'cli-brand' }))
  })
  t.equal(created.statusCode, 201)
  const purchase = await created.body.json() as { direct_post_url: string }
  const paid = await request(`${purchase.direct_post_url}?s2s=true`, {
    method: 'POST',
    headers: { authorization: 'Bearer cli-s2s', 'content-type': 'application/json' },
    body: JSON.stringify(cardBody())
  })
  t.same(await paid.body.json(), { status: 'executed' })
  while (hooks.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const [hook] = hooks.received
  const webhookKey = pem(r.stdout, 'Webhook public key')
  t.ok(verify('sha256', Buffer.from(hook.body), webhookKey, Buffer.from(String(hook.headers['x-signature']), 'base64')), 'the printed webhook key verifies')

  const key = await request(`${baseUrl}public_key/`, { headers: { authorization: 'Bearer cli-key' } })
  t.equal(await key.body.json(), pem(r.stdout, 'Company public key'), 'the printed company key is the served one')

  // SIGINT (Ctrl-C) and SIGTERM share one handler; a signal ends it cleanly.
  r.child.kill('SIGTERM')
  t.equal(await r.exit, 0)
  t.match(r.stdout, 'SIGTERM: closing\nclosed\n')
  t.equal(r.stderr, '')
})

test('defaults, and a port in use', async (t) => {
  // The default port 4010, held here (or by someone else): the CLI says why it cannot start.
  const blocker = createServer()
  await new Promise<void>((resolve) => {
    blocker.once('error', () => resolve())
    blocker.listen(4010, '127.0.0.1', resolve)
  })
  t.teardown(() => { blocker.close() })
  const busy = run({})
  t.equal(await busy.exit, 1)
  t.match(busy.stdout, 'Starting the QorePay simulator on 127.0.0.1:4010\n')
  t.match(busy.stdout, 'api key:   demo-api-key')
  t.match(busy.stdout, 's2s token: demo-s2s-token')
  t.match(busy.stdout, 'brand id:  409eb80e-3782-4b1d-afa8-b779759266a5')
  t.match(busy.stderr, /simulator failed to start: .*EADDRINUSE/)
})
