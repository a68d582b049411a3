import { test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startSim, creds } from '../helpers/simulator.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
// npm and the shop's scripts as a user runs them: no tap loader or coverage hooks, no npm run-script context of ours.
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP|npm_lifecycle_|npm_package_)/.test(k))),
  _TAPJS_PROCESSINFO_COVERAGE_: '0'
}

/** A shop's script: one card payment through the installed package, its answer printed as JSON. */
const payment = (imports: string) => `${imports}
const app = Fastify()
let executed
await app.register(qorepay, {
  apiKey: ${JSON.stringify(creds.apiKey)}, s2sToken: ${JSON.stringify(creds.s2sToken)}, brandId: ${JSON.stringify(creds.brandId)},
  baseUrl: process.env.SIM_BASE_URL,
  publicUrl: 'http://127.0.0.1',
  successRedirect: 'https://shop.example/ok',
  failureRedirect: 'https://shop.example/ko',
  purchase: async () => ({ client: { email: 'a@b.c' }, purchase: { currency: 'NGN', products: [{ name: 'Dog food', price: 9000 }] } }),
  onExecuted: async (event) => { executed = event.purchaseId }
})
const url = await app.listen({ port: 0, host: '127.0.0.1' })
const res = await fetch(url + '/qorepay/payments', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ cardholder_name: 'John Doe', card_number: '4444333322221111', expires: '12/39', cvc: '123' })
})
console.log(JSON.stringify({ statusCode: res.status, body: await res.json(), executed, sameExport: qorepay === fastifyQorepay }))
await app.close()
`

test('the packed package installs in a project with only fastify, and pays with import and with require', async (t) => {
  const sim = await startSim(t)
  const dir = await mkdtemp(join(tmpdir(), 'qorepay-install-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  // dist/ is what `npm test` built first (pretest); packing runs no script of ours, so it packs exactly that.
  const packed = JSON.parse((await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, env })).stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = packed[0].files.map((f) => f.path)
  t.ok(files.includes('LICENSE') && files.includes('README.md') && files.includes('package.json'), 'LICENSE, README and package.json ship')
  t.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), 'the build ships')
  t.same(files.filter((f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(f)), [], 'nothing else: no sources, tests or docs')
  t.same(files.filter((f) => f.endsWith('.map')), [], 'no source maps pointing at sources that do not ship')

  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'a-shop', private: true }))
  // From npm's cache when it holds everything (after npm ci), else from the registry; nothing else is reached.
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${packed[0].filename}`, 'fastify@5'], { cwd: dir, env, timeout: 90_000 })
  t.notMatch(install.stderr, /fastify-qorepay.*(prepare|install|postinstall)/, 'no script of ours runs in the shop')
  const installed = JSON.parse(await readFile(join(dir, 'node_modules/fastify-qorepay/package.json'), 'utf8')) as Record<string, any>
  t.equal(installed.peerDependencies.fastify, '5.x', 'fastify is the shop\'s, a peer')
  t.equal(installed.scripts.prepare, undefined, 'no prepare script')
  t.match(installed.repository, { url: /github\.com\/fastify-qorepay\/fastify-qorepay/ })
  t.match(installed.homepage, /^https:\/\/github\.com\/fastify-qorepay\/fastify-qorepay/)
  t.match(installed.bugs, { url: /^https:\/\/github\.com\/fastify-qorepay\/fastify-qorepay\/issues/ })
  const readme = await readFile(join(dir, 'node_modules/fastify-qorepay/README.md'), 'utf8')
  const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1])
  t.ok(images.length > 0, 'the README has images')
  t.same(images.filter((src) => !src.startsWith('https://raw.githubusercontent.com/fastify-qorepay/fastify-qorepay/')), [], 'every image resolves on the registry\'s page')

  await writeFile(join(dir, 'pay.mjs'), payment("import Fastify from 'fastify'\nimport qorepay, { fastifyQorepay } from 'fastify-qorepay'"))
  // A CommonJS shop: require() of the package, the same steps inside an async function.
  await writeFile(join(dir, 'pay.cjs'), `const Fastify = require('fastify')
const { default: qorepay, fastifyQorepay } = require('fastify-qorepay')
;(async () => {
${payment('')}
})().catch((err) => { console.error(err); process.exitCode = 1 })
`)
  for (const script of ['pay.mjs', 'pay.cjs']) {
    const { stdout, stderr } = await run(process.execPath, [script], { cwd: dir, env: { ...env, SIM_BASE_URL: sim.baseUrl }, timeout: 30_000 })
    const answer = JSON.parse(stdout) as { statusCode: number, body: { status: string, purchase_id: string }, executed: string, sameExport: boolean }
    t.equal(answer.statusCode, 200, script)
    t.equal(answer.body.status, 'executed', `${script}: 4444333322221111 is executed`)
    t.equal(answer.executed, answer.body.purchase_id, `${script}: onExecuted told the shop`)
    t.equal(sim.purchases.get(answer.body.purchase_id)?.status, 'paid', `${script}: the simulator has it paid`)
    t.equal(answer.sameExport, true, `${script}: the named export fastifyQorepay is the default`)
    t.equal(stderr, '', `${script}: no warning`)
  }
})
