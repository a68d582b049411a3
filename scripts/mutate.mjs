#!/usr/bin/env node
// Mutation tests of the money path (StrykerJS 9, tap runner): `npm run mutate` runs
// every folder below, one after the other; `npm run mutate -- outcome webhook` only those;
// `npm run mutate -- outcome --only lib/outcome/mapping.ts` some of a folder's files.
// Each folder mutates its lib/ files and runs only the test files that exercise them,
// so one folder takes minutes on a small machine. Incremental: a folder's results are kept
// in reports/mutation/<folder>/incremental.json, and a re-run tests only the mutants whose
// code or covering tests changed. Reports: reports/mutation/<folder>/index.html and .json.
// Not part of `npm test` (too slow). Run it niced on a shared machine:
//   nice -n 19 npm run mutate -- outcome
import { Stryker } from '@stryker-mutator/core'

/** lib/<folder>: its mutated files, and the test files that exercise them. */
const FOLDERS = {
  outcome: {
    mutate: ['lib/outcome/**/*.ts'],
    tests: ['test/outcome/*.test.ts', 'test/gateway/answers.test.ts', 'test/routes/payments.test.ts']
  },
  webhook: {
    mutate: ['lib/webhook/**/*.ts'],
    tests: ['test/webhook/*.test.ts']
  },
  payment: {
    mutate: ['lib/payment/**/*.ts'],
    // term-url: settle.ts also runs the 3DS callback. openapi: the answers' documented schemas; otel: the payment span;
    // answers: purchases the card cannot be posted to; reconcile: what a payment tracks.
    tests: ['test/payment/*.test.ts', 'test/routes/payments.test.ts', 'test/three-ds/term-url.test.ts', 'test/routes/openapi.test.ts',
      'test/observability/otel.test.ts', 'test/gateway/answers.test.ts', 'test/reconcile/reconcile.test.ts']
  },
  'three-ds': {
    mutate: ['lib/three-ds/**/*.ts'],
    tests: ['test/three-ds/*.test.ts']
  },
  gateway: {
    mutate: ['lib/gateway/**/*.ts'],
    // otel: what each gateway call tells its span.
    tests: ['test/gateway/*.test.ts', 'test/payment/faults.test.ts', 'test/payment/card-data.test.ts', 'test/observability/otel.test.ts']
  },
  stores: {
    // conformance.ts is the suite other stores run (fastify-qorepay/testing), not code of a store.
    mutate: ['lib/stores/**/*.ts', '!lib/stores/conformance.ts'],
    tests: ['test/stores/memory.test.ts', 'test/stores/time-heap.test.ts', 'test/stores/redis.test.ts', 'test/stores/postgres.test.ts', 'test/stores/session-store.test.ts', 'test/stores/store-timeout.test.ts']
  }
}

// `--only <glob>` (repeatable) narrows a folder's mutated files, e.g. to one file while working on its tests.
const args = process.argv.slice(2)
const only = args.flatMap((arg, i) => args[i - 1] === '--only' ? [arg] : [])
const asked = args.filter((arg, i) => arg !== '--only' && args[i - 1] !== '--only')
const unknown = asked.filter((name) => !(name in FOLDERS))
if (unknown.length > 0) {
  console.error(`mutate: unknown folder ${unknown.join(', ')}; one of ${Object.keys(FOLDERS).join(', ')}`)
  process.exit(2)
}

const scores = []
for (const name of asked.length > 0 ? asked : Object.keys(FOLDERS)) {
  const { tests } = FOLDERS[name]
  const mutate = only.length > 0 ? only : FOLDERS[name].mutate
  const dir = `reports/mutation/${name}`
  const results = await new Stryker({
    testRunner: 'tap',
    tap: {
      testFiles: tests,
      // The test files are TypeScript run by node itself: tsx compiles them (and the mutated lib/) on load.
      nodeArgs: ['--import', 'tsx', '-r', '{{hookFile}}', '{{testFile}}']
    },
    // Per test file: a mutant runs only the files that reached it.
    coverageAnalysis: 'perTest',
    mutate,
    // Two cores shared: one test process at a time by default (MUTATE_CONCURRENCY=2 on an otherwise idle machine), with room for slow tests.
    concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 1),
    timeoutMS: 30_000,
    incremental: true,
    incrementalFile: `${dir}/incremental.json`,
    reporters: ['clear-text', 'progress', 'html', 'json'],
    htmlReporter: { fileName: `${dir}/index.html` },
    jsonReporter: { fileName: `${dir}/mutation.json` },
    clearTextReporter: { allowColor: false, reportTests: false, reportMutants: true, reportScoreTable: true },
    tempDirName: '.stryker-tmp',
    // Only what the tests need is copied into the sandbox.
    ignorePatterns: ['/dist', '/coverage', '/.tap', '/reports', '/bench', '/test-e2e', '/examples', '/docs'],
    cleanTempDir: true,
    thresholds: { high: 90, low: 80, break: null }
  }).runMutationTest()
  // Stryker's score: killed and timed out over those plus survived and not covered (errors and ignored apart).
  const counted = results.filter((m) => ['Killed', 'Timeout', 'Survived', 'NoCoverage'].includes(m.status))
  const killed = counted.filter((m) => m.status === 'Killed' || m.status === 'Timeout').length
  const uncovered = counted.filter((m) => m.status === 'NoCoverage').length
  scores.push({ folder: `lib/${name}`, mutants: counted.length, killed, survived: counted.length - killed - uncovered, noCoverage: uncovered, score: counted.length === 0 ? 100 : Math.round(killed / counted.length * 10_000) / 100 })
}
console.table(scores)
