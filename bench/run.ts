/**
 * `npm run bench`: the plugin against the floor (same gateway calls, nothing
 * else) and against a hand-written integration, on the simulator with zero
 * latency, all on 127.0.0.1. Env: BENCH_DURATION (seconds per round),
 * BENCH_ROUNDS (measured rounds per server, >= 1), BENCH_WARMUP (seconds),
 * BENCH_SCENARIOS / BENCH_SERVERS (comma lists, to run a part),
 * BENCH_MEMORY=0 (skip the memory part), BENCH_PROFILE=<kind>|sim (CPU profile of
 * that server or the simulator during the measured rounds, into BENCH_PROFILE_DIR), BENCH_OUT (results file).
 */
import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { CREDENTIALS } from './config.js'
import { measureMemory, type MemoryReport } from './memory.js'
import { ratios, summarize, table, toRound, type Round, type ScenarioSummary } from './report.js'
import { payment } from './scenarios/payment.js'
import { threeDS } from './scenarios/three-ds.js'
import { threeDSPage } from './scenarios/three-ds-page.js'
import { webhook } from './scenarios/webhook.js'
import type { BenchEnv, Scenario } from './scenarios/types.js'
import { startSimulator } from './sim-process.js'
import { KINDS, startTarget, type Kind, type Target } from './targets.js'

const CONNECTIONS = 50

function envNumber (name: string, fallback: number): number {
  const value = Number(process.env[name])
  return process.env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : fallback
}
function envList<T extends string> (name: string, all: T[]): T[] {
  const wanted = process.env[name]?.split(',').map((s) => s.trim()).filter(Boolean)
  return wanted === undefined || wanted.length === 0 ? all : all.filter((x) => wanted.includes(x))
}

// 4 scenarios x 4 servers x (warm-up + 3 rounds) of these, plus set-up and memory: about 5 minutes on 2 cores.
const duration = envNumber('BENCH_DURATION', 3)
const roundsPerServer = Math.floor(envNumber('BENCH_ROUNDS', 3))
const warmup = envNumber('BENCH_WARMUP', Math.min(duration, 2))
const scenarios = envList<string>('BENCH_SCENARIOS', ['payment', 'threeds', 'threeds_page', 'webhook'])
  .map((name) => [payment, threeDS, threeDSPage, webhook].find((s) => s.name === name) as Scenario)
const kinds = envList<Kind>('BENCH_SERVERS', KINDS)
const profileKind = process.env.BENCH_PROFILE as Kind | 'sim' | undefined
const profileDir = process.env.BENCH_PROFILE_DIR ?? join(tmpdir(), 'qorepay-bench-profiles')

const started = Date.now()
const log = (msg: string): void => { console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}`) }

const sim = await startSimulator()
const webhookKeys = generateKeyPairSync('rsa', { modulusLength: 2048 })
const env: BenchEnv = {
  sim,
  webhookPrivateKey: webhookKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  duration
}
const serverConfig = {
  ...CREDENTIALS,
  baseUrl: sim.baseUrl,
  webhookPublicKey: webhookKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string
}
log(`simulator at ${sim.origin}; ${duration}s rounds x ${roundsPerServer}, ${warmup}s warm-up, ${CONNECTIONS} connections, servers: ${kinds.join(', ')}`)

/** One autocannon run; `callbacksFailed`: success callbacks the server did not accept (the gateway would retry them). */
async function round (scenario: Scenario, target: Target, seconds: number): Promise<Round & { callbacksFailed: number }> {
  await scenario.beforeRound?.(target, env)
  const simBefore = (await sim.trim()).micros
  const before = (await target.ask('cpu')).micros as number
  const result = await autocannon({
    url: target.origin,
    connections: CONNECTIONS,
    duration: seconds,
    ...scenario.load(target, env)
  })
  const after = (await target.ask('cpu')).micros as number
  // Let answers and success callbacks still in flight land before the next server starts.
  await sleep(200)
  const trimmed = await sim.trim()
  return { ...toRound(result, scenario.expect, after - before, trimmed.micros - simBefore), callbacksFailed: trimmed.failed }
}

const summaries: Record<string, ScenarioSummary> = {}
const tables: string[] = []

for (const scenario of scenarios) {
  log(`${scenario.name}: setting up`)
  await scenario.setup?.(env)
  const targets: Target[] = []
  for (const kind of kinds) {
    targets.push(await startTarget(kind, serverConfig))
  }
  for (const target of targets) {
    await scenario.prepare?.(target, env)
    await round(scenario, target, warmup)
  }
  const rounds = new Map<Kind, Round[]>(kinds.map((k) => [k, []]))
  const warnings = new Set<string>()
  const profiled = profileKind === 'sim' ? sim : targets.find((t) => t.kind === profileKind)
  const profileFile = join(profileDir, `${scenario.name}-${profileKind}.cpuprofile`)
  if (profiled !== undefined) await ('ask' in profiled ? profiled.ask('profile') : profiled.profile())
  for (let i = 0; i < roundsPerServer; i++) {
    // A B C D A B C D: drift on the machine (other work, thermal) hits every server alike.
    for (const target of targets) {
      const r = await round(scenario, target, duration)
      rounds.get(target.kind)?.push(r)
      const warning = scenario.check?.()
      if (warning !== undefined) warnings.add(`${target.kind}: ${warning}`)
      if (r.callbacksFailed > 0) warnings.add(`${target.kind}: did not accept some success callbacks`)
      log(`${scenario.name} round ${i + 1} ${target.kind}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, CPU µs/req server ${Math.round(r.cpuPerRequest)} sim ${Math.round(r.simCpuPerRequest)}${r.failures > 0 ? `, ${r.failures} failed` : ''}`)
    }
  }
  if (profiled !== undefined) {
    await ('ask' in profiled ? profiled.ask('profile', { file: profileFile }) : profiled.profile(profileFile))
    log(`${scenario.name}: CPU profile of the measured rounds (${profileKind}) in ${profileFile}`)
  }
  await Promise.all(targets.map((t) => t.close()))

  const summary: ScenarioSummary = { title: scenario.title }
  for (const [kind, rs] of rounds) summary[kind] = summarize(rs)
  for (const kind of kinds) {
    const failures = summary[kind]?.failures ?? 0
    if (failures > 0) warnings.add(`${kind}: ${failures} requests failed (unexpected status, error or timeout); its figures are not comparable`)
  }
  ratios(summary)
  if (warnings.size > 0) summary.warnings = [...warnings]
  summaries[scenario.name] = summary
  const text = table(scenario.name, summary, scenario.requestsPerFlow)
  tables.push(text)
  console.log(`\n${text}\n`)
}

let memory: MemoryReport | undefined
if (process.env.BENCH_MEMORY !== '0') {
  memory = await measureMemory(env, serverConfig, log)
}
await sim.close()

const results = {
  ...summaries,
  ...(memory === undefined ? {} : { memory }),
  meta: {
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    duration_s: duration,
    rounds: roundsPerServer,
    warmup_s: warmup,
    connections: CONNECTIONS,
    total_s: Math.round((Date.now() - started) / 1000),
    date: new Date().toISOString()
  }
}
const out = process.env.BENCH_OUT ?? fileURLToPath(new URL('./results.json', import.meta.url))
await writeFile(out, JSON.stringify(results, null, 2) + '\n')
console.log(tables.join('\n\n'))
log(`wrote ${out}`)
