import { test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
// The built package, as a user's process loads it: no tap loader, no coverage hooks.
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP)/.test(k))),
  // tap re-injects its loader into children: keep their coverage of dist/ out of the report.
  _TAPJS_PROCESSINFO_COVERAGE_: '0'
}

const CHECK = `
  const kinds = [typeof qorepay, typeof MemoryStore, typeof createSimulator, typeof RedisStore, typeof testSessionStore]
  if (kinds.join() !== 'function,function,function,function,function') throw new Error('missing export: ' + kinds)
  if (new MemoryStore().close() !== undefined) throw new Error('MemoryStore')
  console.log('ok')
`

test('the built package loads with import', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    import qorepay, { MemoryStore } from 'fastify-qorepay'
    import { createSimulator } from 'fastify-qorepay/simulator'
    import { RedisStore } from 'fastify-qorepay/redis'
    import { testSessionStore } from 'fastify-qorepay/testing'
    ${CHECK}`], { env })
  t.equal(stdout.trim(), 'ok')
})

test('the built package loads with require', async (t) => {
  const { stdout, stderr } = await run(process.execPath, ['-e', `
    const { default: qorepay, qorepay: named, MemoryStore } = require('fastify-qorepay')
    if (qorepay !== named) throw new Error('default and named export differ')
    const { createSimulator } = require('fastify-qorepay/simulator')
    const { RedisStore } = require('fastify-qorepay/redis')
    const { testSessionStore } = require('fastify-qorepay/testing')
    ${CHECK}`], { env })
  t.equal(stdout.trim(), 'ok')
  t.notMatch(stderr, /ExperimentalWarning/)
})

test('types ship with the package', async (t) => {
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { exports: Record<string, { types?: string }> }
  for (const [path, entry] of Object.entries(pkg.exports)) {
    if (typeof entry === 'object') t.match(entry.types, /^\.\/dist\/.*\.d\.ts$/, path)
  }
})
