/**
 * Where a CPU profile's time goes: self time by function and by file, as a
 * share of the samples that were not idle.
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [rows]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number } }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

const [file, rowsArg] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [rows]')
  process.exit(2)
}
const rows = Number(rowsArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const root = process.cwd() + '/'

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let busy = 0
let idle = 0
profile.samples.forEach((id, i) => {
  const micros = profile.timeDeltas[i] ?? 0
  const { functionName, url, lineNumber } = (nodes.get(id) as ProfileNode).callFrame
  if (functionName === '(idle)') {
    idle += micros
    return
  }
  busy += micros
  const where = url.replace('file://', '').replace(root, '')
  const fn = `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}` : ''}`
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros)
  const group = where.startsWith('node_modules/') ? where.split('/').slice(0, where.startsWith('node_modules/@') ? 3 : 2).join('/') : (where || functionName)
  byFile.set(group, (byFile.get(group) ?? 0) + micros)
})

function top (map: Map<string, number>): string {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)
    .map(([name, micros]) => `${(micros / busy * 100).toFixed(1).padStart(5)}%  ${name}`).join('\n')
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`)
console.log(`\nself time by function (share of busy)\n${top(byFunction)}`)
console.log(`\nself time by file or package\n${top(byFile)}`)
