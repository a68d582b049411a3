import { execFile } from 'node:child_process'
import { verify } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'tap'
import { request } from 'undici'
import { TEST_CARDS } from '../../lib/simulator/index.js'
import { cliReady, cliSource, payOnce, printedPem, runCli, startReceiver } from '../helpers/simulator.js'

test('qorepay-simulator as a process: prints how to reach it, serves, stops on a signal', async (t) => {
  const hooks = await startReceiver(t)
  const keys = join(mkdtempSync(join(tmpdir(), 'qorepay-sim-keys-')), 'new')
  t.teardown(() => rmSync(dirname(keys), { recursive: true, force: true }))
  const r = runCli({
    SIM_PORT: '0',
    SIM_HOST: '127.0.0.1',
    QOREPAY_API_KEY: 'cli-key',
    QOREPAY_S2S_TOKEN: 'cli-s2s',
    QOREPAY_BRAND_ID: 'cli-brand',
    SIM_WEBHOOK_URL: hooks.url,
    SIM_KEYS: keys
  })
  t.teardown(() => { r.child.kill('SIGKILL') })
  await cliReady(r)
  t.match(r.stdout, `keys:      ${keys} (made now)`)
  const webhookPem = readFileSync(join(keys, 'webhook-public.pem'), 'utf8')
  t.equal(printedPem(r.stdout, 'Webhook public key'), webhookPem, 'the printed webhook key is the one kept in SIM_KEYS')
  t.equal(printedPem(r.stdout, 'Company public key'), readFileSync(join(keys, 'company-public.pem'), 'utf8'))
  for (const name of ['webhook-key.pem', 'company-key.pem']) {
    t.equal(statSync(join(keys, name)).mode & 0o777, 0o600, `${name}: readable by its owner only`)
  }
  const baseUrl = /listening: (\S+)/.exec(r.stdout)?.[1] as string
  t.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/$/)
  for (const line of ['on 127.0.0.1:0\n', 'api key:   cli-key', 's2s token: cli-s2s', 'brand id:  cli-brand', `webhook:   ${hooks.url}`]) t.match(r.stdout, line)
  for (const card of Object.values(TEST_CARDS)) t.match(r.stdout, card)
  t.match(r.stdout, 'do_not_honour')

  t.same(await payOnce(baseUrl, { apiKey: 'cli-key', s2sToken: 'cli-s2s', brandId: 'cli-brand' }), { status: 'executed' })
  while (hooks.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const [hook] = hooks.received
  const webhookKey = printedPem(r.stdout, 'Webhook public key')
  t.ok(verify('sha256', Buffer.from(hook.body), webhookKey, Buffer.from(String(hook.headers['x-signature']), 'base64')), 'the printed webhook key verifies')

  const key = await request(`${baseUrl}public_key/`, { headers: { authorization: 'Bearer cli-key' } })
  t.equal(await key.body.json(), printedPem(r.stdout, 'Company public key'), 'the printed company key is the served one')

  // SIGINT (Ctrl-C) and SIGTERM share one handler; a signal ends it cleanly.
  r.child.kill('SIGTERM')
  t.equal(await r.exit, 0)
  t.match(r.stdout, 'SIGTERM: closing\nclosed\n')
  t.equal(r.stderr, '')
})

test('a wrong flag: usage on stderr, exit code 2', async (t) => {
  const wrong = runCli({}, ['--prot', '4010'])
  t.equal(await wrong.exit, 2)
  t.match(wrong.stderr, /^qorepay-simulator: Unknown option '--prot'/)
  t.match(wrong.stderr, 'Usage: qorepay-simulator')
  t.equal(wrong.stdout, '')
})

test('the package bin runs the built CLI', async (t) => {
  const root = new URL('../../', import.meta.url)
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { bin: Record<string, string> }
  t.same(Object.keys(pkg.bin), ['qorepay-simulator'])
  const bin = fileURLToPath(new URL(pkg.bin['qorepay-simulator'], root))
  t.equal(bin, fileURLToPath(new URL('dist/simulator/cli.js', root)), 'the build of lib/simulator/cli.ts')
  t.match(readFileSync(cliSource, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the source starts with the shebang the build keeps')
  t.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/)
  // As a user's shell runs it: no tap loader, no coverage of dist/.
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP)/.test(k))),
    _TAPJS_PROCESSINFO_COVERAGE_: '0'
  }
  const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { env })
  t.match(stdout, /^Usage: qorepay-simulator/)
})
