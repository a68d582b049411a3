import { test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
// The built package, as a user's process loads it: no tap loader, no coverage hooks (as test/plugin/package.test.ts).
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP)/.test(k))),
  _TAPJS_PROCESSINFO_COVERAGE_: '0'
}

// A resolve hook that refuses @opentelemetry/*: an import of it anywhere fails the child.
const REFUSE_OTEL = 'data:text/javascript,' + encodeURIComponent(`
  export async function resolve (specifier, context, next) {
    if (specifier.startsWith('@opentelemetry/')) throw new Error('loaded ' + specifier)
    return next(specifier, context)
  }`)
const WITH_HOOK = `import { register } from 'node:module'; register(${JSON.stringify(REFUSE_OTEL)});`

test('the main entry, the stores and the simulator never load @opentelemetry/api', async (t) => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `${WITH_HOOK}
    const { default: qorepay } = await import('fastify-qorepay')
    await import('fastify-qorepay/simulator')
    await import('fastify-qorepay/redis')
    console.log(typeof qorepay)`], { env })
  t.equal(stdout.trim(), 'function')
})

test('fastify-qorepay/otel does load it (the check above can fail)', async (t) => {
  const failed = await run(process.execPath, ['--input-type=module', '-e', `${WITH_HOOK}
    await import('fastify-qorepay/otel')`], { env }).then(() => undefined, (err: { stderr: string }) => err)
  t.match(failed?.stderr, /loaded @opentelemetry\/api/)
})

test('fastify-qorepay/otel loads with import and with require', async (t) => {
  const imported = await run(process.execPath, ['--input-type=module', '-e', `
    import { instrumentQorePay } from 'fastify-qorepay/otel'
    const i = instrumentQorePay()
    i.disable()
    i.disable()
    console.log(typeof instrumentQorePay)`], { env })
  t.equal(imported.stdout.trim(), 'function')
  const required = await run(process.execPath, ['-e', `
    const { instrumentQorePay } = require('fastify-qorepay/otel')
    instrumentQorePay().disable()
    console.log(typeof instrumentQorePay)`], { env })
  t.equal(required.stdout.trim(), 'function')
})
