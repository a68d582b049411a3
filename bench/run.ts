/**
 * `npm run bench`: the plugin against the floor (same gateway calls, nothing
 * else) and against a hand-written integration, all on 127.0.0.1, for each
 * gateway (the stub, so the server is the limit; the simulator with zero
 * latency, the realistic mix) and each store (MemoryStore; RedisStore on the
 * shared Redis, own key prefix, keys deleted at the end). Env: BENCH_QUICK=1
 * (short rounds and memory counts, for development), BENCH_GATEWAYS / BENCH_STORES (comma lists), BENCH_DURATION (seconds per round),
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
import { ratios, readmeTable, summarize, table, toRound, type Round, type ScenarioSummary } from './report.js'
import { payment } from './scenarios/payment.js'
import { threeDS } from './scenarios/three-ds.js'
import { threeDSPage } from './scenarios/three-ds-page.js'
import { webhook } from './scenarios/webhook.js'
import type { BenchEnv, Scenario } from './scenarios/types.js'
import { startGateway, type GatewayName } from './gateway-process.js'
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

// 4 scenarios x (4 + 2 servers on the stub x (warm-up + 3 rounds), 3 + 2 on the simulator x (warm-up + 1)), set-up and memory: about 6 minutes on 2 cores.
const quick = process.env.BENCH_QUICK === '1'
const duration = envNumber('BENCH_DURATION', quick ? 1 : 2)
const roundsPerServer = Math.floor(envNumber('BENCH_ROUNDS', quick ? 1 : 3))
const warmup = envNumber('BENCH_WARMUP', quick ? 0.5 : 1)
if (quick) {
  process.env.BENCH_SESSIONS ??= '10000'
  process.env.BENCH_MEMORY_REQUESTS ??= '20000'
}
const gateways = envList<GatewayName>('BENCH_GATEWAYS', ['stub', 'simulator'])
const stores = envList<'memory' | 'redis'>('BENCH_STORES', ['memory', 'redis'])
// The simulator runs are the realistic mix: one round (the 6-minute budget), no otel (its cost shows against the stub).
const simRounds = Math.max(1, roundsPerServer - 2)
const scenarios = envList<string>('BENCH_SCENARIOS', ['payment', 'threeds', 'threeds_page', 'webhook'])
  .map((name) => [payment, threeDS, threeDSPage, webhook].find((s) => s.name === name) as Scenario)
const kinds = envList<Kind>('BENCH_SERVERS', KINDS)
const profileKind = process.env.BENCH_PROFILE as Kind | 'sim' | 'stub' | undefined
const profileDir = process.env.BENCH_PROFILE_DIR ?? join(tmpdir(), 'qorepay-bench-profiles')

const started = Date.now()
const log = (msg: string): void => { console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}`) }

const webhookKeys = generateKeyPairSync('rsa', { modulusLength: 2048 })
const webhookPublicKey = webhookKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string
const sim = await startGateway('simulator', webhookPublicKey)
const stub = await startGateway('stub', webhookPublicKey)
const env: BenchEnv = {
  sim,
  gateway: stub,
  webhookPrivateKey: webhookKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  duration
}
// Every key this run writes on the shared Redis starts with this, and is deleted when its server closes.
const redisPrefix = `qorepay-bench:${process.pid}:${Date.now()}:`
log(`stub at ${stub.origin}, simulator at ${sim.origin}; ${duration}s rounds x ${roundsPerServer} (simulator x ${simRounds}), ${warmup}s warm-up, ${CONNECTIONS} connections`)

/** One autocannon run; `callbacksFailed`: success callbacks the server did not accept (the gateway would retry them). */
async function round (scenario: Scenario, target: Target, seconds: number): Promise<Round & { callbacksFailed: number }> {
  await scenario.beforeRound?.(target, env)
  const gatewayBefore = await env.gateway.trim()
  const before = await target.ask('cpu')
  const result = await autocannon({
    url: target.origin,
    connections: CONNECTIONS,
    duration: seconds,
    ...scenario.load(target, env)
  })
  const after = await target.ask('cpu')
  // Let answers and success callbacks still in flight land before the next server starts.
  await sleep(200)
  const trimmed = await env.gateway.trim()
  const storeOps = after.storeOps === undefined ? undefined : after.storeOps - (before.storeOps as number)
  return {
    ...toRound(result, scenario.expect, {
      cpuMicros: (after.micros as number) - (before.micros as number),
      gatewayMicros: trimmed.micros - gatewayBefore.micros,
      gatewayCalls: trimmed.requests,
      storeOps
    }),
    callbacksFailed: trimmed.failed
  }
}

type StoreResults = Record<string, ScenarioSummary>
const results: Partial<Record<GatewayName, Partial<Record<'memory' | 'redis', StoreResults>>>> = {}
const tables: string[] = []

// Scenario webhook bodies are signed once, up front, for the whole run.
for (const scenario of scenarios) await scenario.setup?.(env)

for (const gatewayName of gateways) {
  const gateway = gatewayName === 'stub' ? stub : sim
  env.gateway = gateway
  for (const store of stores) {
    // Against the stub every server; on Redis the plugin and the floor (the hand-written server keeps Maps); otel only against the stub.
    const wanted = KINDS.filter((k) => kinds.includes(k) &&
      (store === 'memory' || k === 'plugin' || k === 'floor') &&
      (gatewayName === 'stub' || k !== 'otel'))
    const rounds = gatewayName === 'stub' ? roundsPerServer : simRounds
    const config = { ...CREDENTIALS, baseUrl: gateway.baseUrl, webhookPublicKey, store, redisPrefix: `${redisPrefix}${gatewayName}:` }
    log(`${gatewayName} / ${store}: starting ${wanted.join(', ')}`)
    const targets: Target[] = []
    for (const kind of wanted) targets.push(await startTarget(kind, config))
    const summaries: StoreResults = {}
    for (const scenario of scenarios) {
      for (const target of targets) {
        await scenario.prepare?.(target, env)
        await round(scenario, target, warmup)
      }
      const byKind = new Map<Kind, Round[]>(wanted.map((k) => [k, []]))
      const warnings = new Set<string>()
      const profiled = profileKind === gatewayName || (profileKind === 'sim' && gatewayName === 'simulator') ? gateway : targets.find((t) => t.kind === profileKind)
      const profileFile = join(profileDir, `${gatewayName}-${store}-${scenario.name}-${profileKind}.cpuprofile`)
      if (profiled !== undefined) await ('ask' in profiled ? profiled.ask('profile') : profiled.profile())
      for (let i = 0; i < rounds; i++) {
        // A B C D A B C D: drift on the machine (other work, thermal) hits every server alike.
        for (const target of targets) {
          const r = await round(scenario, target, duration)
          byKind.get(target.kind)?.push(r)
          const warning = scenario.check?.()
          if (warning !== undefined) warnings.add(`${target.kind}: ${warning}`)
          if (r.callbacksFailed > 0) warnings.add(`${target.kind}: did not accept some success callbacks`)
          log(`${gatewayName}/${store} ${scenario.name} round ${i + 1} ${target.kind}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, CPU µs/req ${Math.round(r.cpuPerRequest)}, store ops/req ${r.storeOpsPerRequest?.toFixed(2) ?? '-'}, gateway calls/req ${r.gatewayCallsPerRequest.toFixed(2)}${r.failures > 0 ? `, ${r.failures} failed` : ''}`)
        }
      }
      if (profiled !== undefined) {
        await ('ask' in profiled ? profiled.ask('profile', { file: profileFile }) : profiled.profile(profileFile))
        log(`${scenario.name}: CPU profile of the measured rounds (${profileKind}) in ${profileFile}`)
      }
      const summary: ScenarioSummary = { title: scenario.title }
      for (const [kind, rs] of byKind) summary[kind] = summarize(rs)
      for (const kind of wanted) {
        const failures = summary[kind]?.failures ?? 0
        if (failures > 0) warnings.add(`${kind}: ${failures} requests failed (unexpected status, error or timeout); its figures are not comparable`)
      }
      ratios(summary)
      if (warnings.size > 0) summary.warnings = [...warnings]
      summaries[scenario.name] = summary
      const text = table(`${gatewayName} / ${store} / ${scenario.name}`, summary, scenario.requestsPerFlow)
      tables.push(text)
      console.log(`\n${text}\n`)
    }
    await Promise.all(targets.map((t) => t.close()))
    results[gatewayName] = { ...results[gatewayName], [store]: summaries }
  }
}

let memory: MemoryReport | undefined
if (process.env.BENCH_MEMORY !== '0') {
  env.gateway = stub
  memory = await measureMemory(env, { ...CREDENTIALS, baseUrl: stub.baseUrl, webhookPublicKey, store: 'memory', redisPrefix }, log)
}
await sim.close()
await stub.close()

const out = process.env.BENCH_OUT ?? fileURLToPath(new URL('./results.json', import.meta.url))
const meta = {
  node: process.version,
  cpus: (await import('node:os')).cpus().length,
  cpu_model: (await import('node:os')).cpus()[0]?.model,
  quick,
  duration_s: duration,
  rounds: roundsPerServer,
  simulator_rounds: simRounds,
  warmup_s: warmup,
  connections: CONNECTIONS,
  total_s: Math.round((Date.now() - started) / 1000),
  date: new Date().toISOString()
}
await writeFile(out, JSON.stringify({ ...results, ...(memory === undefined ? {} : { memory }), meta }, null, 2) + '\n')
console.log(tables.join('\n\n'))
console.log(`\n${readmeTable(results, meta)}\n`)
log(`wrote ${out}`)
