import type { Result } from 'autocannon'
import type { Kind } from './targets.js'

/** One measured round of one server. */
export interface Round {
  rps: number
  p50: number
  p99: number
  /** Server process CPU time per request, microseconds. */
  cpuPerRequest: number
  /** Gateway CPU time per request, microseconds: the gateway's share of this machine. */
  gatewayCpuPerRequest: number
  /** Calls the gateway answered per request (reconciliation lookups included). */
  gatewayCallsPerRequest: number
  /** Store (Redis, Map) operations per request; `undefined` for the hand-written server, which does not count its Maps. */
  storeOpsPerRequest: number | undefined
  /** Answers with a status the scenario does not expect, plus connection errors and timeouts. */
  failures: number
  requests: number
}

export interface ServerSummary {
  /** Median over rounds of requests/s. */
  rps: number
  /** Median over rounds, milliseconds. */
  p50: number
  p99: number
  cpu_us_per_request: number
  gateway_cpu_us_per_request: number
  gateway_calls_per_request: number
  store_ops_per_request?: number
  failures: number
  rounds: number[]
}

export interface ScenarioSummary {
  title: string
  plugin?: ServerSummary
  otel?: ServerSummary
  floor?: ServerSummary
  handwritten?: ServerSummary
  ratio_floor?: number
  ratio_handwritten?: number
  /** plugin CPU per request / floor CPU per request: the plugin's own cost, undiluted by the simulator. */
  cpu_ratio_floor?: number
  /** with the OpenTelemetry instrumentation / without it, requests/s and CPU per request. */
  ratio_otel?: number
  cpu_ratio_otel?: number
  warnings?: string[]
}

export interface Counted { cpuMicros: number, gatewayMicros: number, gatewayCalls: number, storeOps: number | undefined }

export function toRound (result: Result, expect: number[], counted: Counted): Round {
  let unexpected = 0
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    if (!expect.includes(Number(code))) unexpected += Number(count)
  }
  const requests = result.requests.total
  const per = (n: number) => requests > 0 ? n / requests : 0
  const { cpuMicros, gatewayMicros, gatewayCalls, storeOps } = counted
  return {
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerRequest: per(cpuMicros),
    gatewayCpuPerRequest: per(gatewayMicros),
    gatewayCallsPerRequest: per(gatewayCalls),
    storeOpsPerRequest: storeOps === undefined ? undefined : per(storeOps),
    failures: unexpected + result.errors + result.timeouts,
    requests
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const round2 = (n: number) => Math.round(n * 100) / 100

export function summarize (rounds: Round[]): ServerSummary {
  return {
    rps: Math.round(median(rounds.map((r) => r.rps))),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpu_us_per_request: Math.round(median(rounds.map((r) => r.cpuPerRequest))),
    gateway_cpu_us_per_request: Math.round(median(rounds.map((r) => r.gatewayCpuPerRequest))),
    gateway_calls_per_request: round2(median(rounds.map((r) => r.gatewayCallsPerRequest))),
    ...(rounds[0]?.storeOpsPerRequest === undefined ? {} : { store_ops_per_request: round2(median(rounds.map((r) => r.storeOpsPerRequest ?? 0))) }),
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
    rounds: rounds.map((r) => Math.round(r.rps))
  }
}

export function ratios (summary: ScenarioSummary): void {
  const { plugin, floor, handwritten } = summary
  if (plugin && floor) {
    summary.ratio_floor = round2(plugin.rps / floor.rps)
    summary.cpu_ratio_floor = round2(plugin.cpu_us_per_request / floor.cpu_us_per_request)
  }
  if (plugin && handwritten) summary.ratio_handwritten = round2(plugin.rps / handwritten.rps)
  if (plugin && summary.otel) {
    summary.ratio_otel = round2(summary.otel.rps / plugin.rps)
    summary.cpu_ratio_otel = round2(summary.otel.cpu_us_per_request / plugin.cpu_us_per_request)
  }
}

const LABELS: Record<Kind, string> = { plugin: 'plugin', otel: 'plugin + otel', floor: 'floor', handwritten: 'hand-written' }
const ROWS = ['plugin', 'otel', 'floor', 'handwritten'] as const

/** A markdown table, printable as is and pasted into the README. */
export function table (name: string, s: ScenarioSummary, requestsPerFlow: number): string {
  const lines = [
    `### ${name}: ${s.title}`,
    '',
    '| server | req/s (median) | p50 ms | p99 ms | server CPU µs/req | store ops/req | gateway calls/req | gateway CPU µs/req | failed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const kind of ROWS) {
    const k = s[kind]
    if (k) lines.push(`| ${LABELS[kind]} | ${k.rps} | ${k.p50} | ${k.p99} | ${k.cpu_us_per_request} | ${k.store_ops_per_request ?? '-'} | ${k.gateway_calls_per_request} | ${k.gateway_cpu_us_per_request} | ${k.failures} |`)
  }
  const notes: string[] = []
  if (s.ratio_floor !== undefined) notes.push(`plugin/floor **${s.ratio_floor.toFixed(2)}** (CPU per request ${s.cpu_ratio_floor?.toFixed(2)}x the floor's)`)
  if (s.ratio_handwritten !== undefined) notes.push(`plugin/hand-written **${s.ratio_handwritten.toFixed(2)}**`)
  if (s.ratio_otel !== undefined) notes.push(`with otel/without **${s.ratio_otel.toFixed(2)}** (CPU per request ${s.cpu_ratio_otel?.toFixed(2)}x)`)
  if (requestsPerFlow > 1) notes.push(`${requestsPerFlow} requests per payment`)
  lines.push('', notes.join('; '))
  // The gateway is one process: near one full core it, not the server, sets the pace.
  const simCores = Math.max(...ROWS.map((kind) => {
    const k = s[kind]
    return k === undefined ? 0 : k.rps * k.gateway_cpu_us_per_request / 1e6
  }))
  if (simCores >= 0.85) {
    lines.push('', `note: the gateway used ${Math.round(simCores * 100)}% of a core, so it capped requests/s; server CPU per request is the plugin's own cost here.`)
  }
  for (const w of s.warnings ?? []) lines.push('', `warning: ${w}`)
  return lines.join('\n')
}

/** The README's Performance table: one row per gateway, store and scenario, plugin against floor and hand-written. */
export function readmeTable (results: Partial<Record<string, Partial<Record<string, Record<string, ScenarioSummary>>>>>, meta: { date: string, cpus: number, cpu_model?: string, node: string, total_s: number }): string {
  const lines = [
    `Run of ${meta.date.slice(0, 10)} on ${meta.cpus} cores (${meta.cpu_model ?? 'unknown CPU'}), Node ${meta.node}, ${meta.total_s} s in all:`,
    '',
    '| gateway / store | scenario | plugin req/s | floor | hand-written | plugin/floor | CPU plugin/floor | plugin/hand-written | server CPU µs/req (plugin / floor) | store ops/req (plugin / floor) | gateway calls/req |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  const fix = (n: number | undefined) => n === undefined ? '-' : n.toFixed(2)
  for (const [gateway, byStore] of Object.entries(results)) {
    for (const [store, byScenario] of Object.entries(byStore ?? {})) {
      for (const [name, s] of Object.entries(byScenario ?? {})) {
        const { plugin, floor, handwritten } = s
        lines.push(`| ${gateway} / ${store} | ${name} | ${plugin?.rps ?? '-'} | ${floor?.rps ?? '-'} | ${handwritten?.rps ?? '-'} | ${fix(s.ratio_floor)} | ${fix(s.cpu_ratio_floor)} | ${fix(s.ratio_handwritten)} | ${plugin?.cpu_us_per_request ?? '-'} / ${floor?.cpu_us_per_request ?? '-'} | ${plugin?.store_ops_per_request ?? '-'} / ${floor?.store_ops_per_request ?? '-'} | ${plugin?.gateway_calls_per_request ?? '-'} |`)
      }
    }
  }
  return lines.join('\n')
}
