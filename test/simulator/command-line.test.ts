import { verify } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { runCommandLine, USAGE, type Output, type Running } from '../../lib/simulator/command-line.js'
import { createSimulator } from '../../lib/simulator/index.js'
import { loadOrCreateKeys } from '../../lib/simulator/key-files.js'
import { creds, payOnce, printedPem, startReceiver } from '../helpers/simulator.js'

interface Teardown { teardown (fn: () => unknown): void }

function keyDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'qorepay-sim-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs the command line in this process: its result and what it prints (also later); a started simulator is closed at teardown. */
async function command (t: Teardown, argv: string[], env: Record<string, string> = {}) {
  const printed: { stdout: string, stderr: string, result?: number | Running } = { stdout: '', stderr: '' }
  const out: Output = { log: (text) => { printed.stdout += text + '\n' }, error: (text) => { printed.stderr += text + '\n' } }
  const result = await runCommandLine(argv, env, out)
  if (typeof result !== 'number') t.teardown(() => result.sim.close())
  return Object.assign(printed, { result })
}

test('--help, a wrong flag, a wrong webhook URL', async (t) => {
  const help = await command(t, ['--help'])
  t.equal(help.result, 0)
  t.equal(help.stdout, USAGE + '\n')
  for (const flag of ['--port', '--host', '--keys', '--webhook', '-h,', 'SIM_PORT', 'SIM_HOST', 'SIM_KEYS', 'SIM_WEBHOOK_URL', 'QOREPAY_API_KEY']) t.match(USAGE, flag)
  t.equal((await command(t, ['-h'])).result, 0)

  for (const argv of [['--prot', '1'], ['--port'], ['extra']]) {
    const wrong = await command(t, argv)
    t.equal(wrong.result, 2, argv.join(' '))
    t.match(wrong.stderr, /^qorepay-simulator: .+\n\nUsage: qorepay-simulator/)
    t.equal(wrong.stdout, '', 'nothing started')
  }
  for (const [argv, env] of [[['--webhook', 'ftp://x/'], {}], [[], { SIM_WEBHOOK_URL: 'not a url' }]] as const) {
    const wrong = await command(t, [...argv], env)
    t.equal(wrong.result, 2)
    t.match(wrong.stderr, 'qorepay-simulator: the webhook must be an absolute http(s) URL')
  }
})

test('defaults, and a port in use', async (t) => {
  // The default port 4010, held here (or by someone else): it says why it cannot start.
  const blocker = createServer()
  await new Promise<void>((resolve) => {
    blocker.once('error', () => resolve())
    blocker.listen(4010, '127.0.0.1', resolve)
  })
  t.teardown(() => { blocker.close() })
  const busy = await command(t, [])
  t.equal(busy.result, 1)
  t.match(busy.stdout, 'Starting the QorePay simulator on 127.0.0.1:4010\n')
  t.match(busy.stdout, 'api key:   demo-api-key')
  t.match(busy.stdout, 's2s token: demo-s2s-token')
  t.match(busy.stdout, 'brand id:  409eb80e-3782-4b1d-afa8-b779759266a5')
  t.match(busy.stderr, /^simulator failed to start: .*EADDRINUSE/)
})

test('flags win over the environment; --keys with keys made before', async (t) => {
  const dir = keyDir(t)
  loadOrCreateKeys(dir)
  const webhookPem = readFileSync(join(dir, 'webhook-public.pem'), 'utf8')
  const companyPem = readFileSync(join(dir, 'company-public.pem'), 'utf8')
  const hooks = await startReceiver(t)
  const env = { SIM_PORT: '1', SIM_HOST: '::1', SIM_KEYS: '/nonexistent/never', SIM_WEBHOOK_URL: 'http://127.0.0.1:1/never', QOREPAY_API_KEY: 'k2', QOREPAY_S2S_TOKEN: 's2', QOREPAY_BRAND_ID: 'b2' }
  const run = await command(t, ['--port', '0', '--host', '127.0.0.1', '--keys', dir, '--webhook', hooks.url], env)
  const { sim } = run.result as Running
  t.match(sim.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/$/)
  t.match(run.stdout, `QorePay simulator listening: ${sim.baseUrl}\n`)
  t.match(run.stdout, `keys:      ${dir} (the same as before)`)
  t.match(run.stdout, `webhook:   ${hooks.url}`)
  t.equal(printedPem(run.stdout, 'Webhook public key'), webhookPem)
  t.equal(printedPem(run.stdout, 'Company public key'), companyPem)
  t.same(await payOnce(sim.baseUrl, { apiKey: 'k2', s2sToken: 's2', brandId: 'b2' }), { status: 'executed' })
  await sim.idle()
  t.equal(hooks.received.length, 1, 'the --webhook target, not the environment\'s')
  const [hook] = hooks.received
  t.ok(verify('sha256', Buffer.from(hook.body), webhookPem, Buffer.from(String(hook.headers['x-signature']), 'base64')), 'the kept key signs')

  await (run.result as Running).stop('SIGINT')
  t.match(run.stdout, 'SIGINT: closing\nclosed\n')
  t.equal(run.stderr, '')
})

test('key files: made once, then read back', async (t) => {
  const dir = join(keyDir(t), 'nested', 'keys')
  const first = loadOrCreateKeys(dir)
  t.same(first.created, [join(dir, 'webhook-key.pem'), join(dir, 'company-key.pem')])
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is its owner\'s')
  for (const name of ['webhook-key.pem', 'company-key.pem']) t.equal(statSync(join(dir, name)).mode & 0o777, 0o600, `${name}: its owner's`)
  const again = loadOrCreateKeys(dir)
  t.same(again, { webhookKey: first.webhookKey, companyKey: first.companyKey, created: [] })
  t.not(first.webhookKey, first.companyKey)
  const sim = await createSimulator({ ...creds, ...again })
  t.teardown(() => sim.close())
  t.equal(sim.webhookPublicKey, readFileSync(join(dir, 'webhook-public.pem'), 'utf8'))
  t.equal(sim.companyPublicKey, readFileSync(join(dir, 'company-public.pem'), 'utf8'))

  // One file there, the other not: only the missing one is made.
  const half = keyDir(t)
  writeFileSync(join(half, 'webhook-key.pem'), first.webhookKey)
  const mixed = loadOrCreateKeys(half)
  t.equal(mixed.webhookKey, first.webhookKey)
  t.same(mixed.created, [join(half, 'company-key.pem')])
})

test('key files that cannot be used stop the start, and are never overwritten', async (t) => {
  const garbage = keyDir(t)
  writeFileSync(join(garbage, 'webhook-key.pem'), 'not a key')
  const bad = await command(t, ['--port', '0', '--keys', garbage])
  t.equal(bad.result, 1)
  t.match(bad.stderr, 'simulator failed to start: createSimulator: webhookKey must be an RSA private key in PEM format')
  t.equal(readFileSync(join(garbage, 'webhook-key.pem'), 'utf8'), 'not a key')

  const unreadable = keyDir(t)
  mkdirSync(join(unreadable, 'webhook-key.pem'))
  const dirInstead = await command(t, ['--port', '0'], { SIM_KEYS: unreadable })
  t.equal(dirInstead.result, 1)
  t.match(dirInstead.stderr, /^simulator failed to start: .*EISDIR/)
})
