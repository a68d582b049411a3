import type { Result } from 'autocannon'
import type { Kind } from './targets.js'

/** One measured round of one server. */
export interface Round {
  rps: number
  p50: number
  p99: number
  /** Server process CPU time per request, microseconds. */
  cpuPerRequest: number
  /** Simulator CPU time per request, microseconds: the gateway's share of this machine. */
  simCpuPerRequest: number
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
  sim_cpu_us_per_request: number
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

export function toRound (result: Result, expect: number[], cpuMicros: number, simMicros: number): Round {
  let unexpected = 0
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    if (!expect.includes(Number(code))) unexpected += Number(count)
  }
  const requests = result.requests.total
  return {
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerRequest: requests > 0 ? cpuMicros / requests : 0,
    simCpuPerRequest: requests > 0 ? simMicros / requests : 0,
    failures: unexpected + result.errors + result.timeouts,
    requests
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function summarize (rounds: Round[]): ServerSummary {
  return {
    rps: Math.round(median(rounds.map((r) => r.rps))),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpu_us_per_request: Math.round(median(rounds.map((r) => r.cpuPerRequest))),
    sim_cpu_us_per_request: Math.round(median(rounds.map((r) => r.simCpuPerRequest))),
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
    rounds: rounds.map((r) => Math.round(r.rps))
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100

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
    '| server | req/s (median) | p50 ms | p99 ms | server CPU µs/req | simulator CPU µs/req | failed |',
    '|---|---:|---:|---:|---:|---:|---:|'
  ]
  for (const kind of ROWS) {
    const k = s[kind]
    if (k) lines.push(`| ${LABELS[kind]} | ${k.rps} | ${k.p50} | ${k.p99} | ${k.cpu_us_per_request} | ${k.sim_cpu_us_per_request} | ${k.failures} |`)
  }
  const notes: string[] = []
  if (s.ratio_floor !== undefined) notes.push(`plugin/floor **${s.ratio_floor.toFixed(2)}** (CPU per request ${s.cpu_ratio_floor?.toFixed(2)}x the floor's)`)
  if (s.ratio_handwritten !== undefined) notes.push(`plugin/hand-written **${s.ratio_handwritten.toFixed(2)}**`)
  if (s.ratio_otel !== undefined) notes.push(`with otel/without **${s.ratio_otel.toFixed(2)}** (CPU per request ${s.cpu_ratio_otel?.toFixed(2)}x)`)
  if (requestsPerFlow > 1) notes.push(`${requestsPerFlow} requests per payment`)
  lines.push('', notes.join('; '))
  // The simulator is one process: near one full core it, not the server, sets the pace.
  const simCores = Math.max(...ROWS.map((kind) => {
    const k = s[kind]
    return k === undefined ? 0 : k.rps * k.sim_cpu_us_per_request / 1e6
  }))
  if (simCores >= 0.85) {
    lines.push('', `note: the simulator used ${Math.round(simCores * 100)}% of a core, so it capped requests/s; server CPU per request is the plugin's own cost here.`)
  }
  for (const w of s.warnings ?? []) lines.push('', `warning: ${w}`)
  return lines.join('\n')
}
