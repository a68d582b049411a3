import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

// The README's TypeScript samples, type-checked as a shop's own code would be: strict, against
// the built package (dist/*.d.ts, reached by the package's own name as a shop imports it).
const root = fileURLToPath(new URL('../../', import.meta.url))
const README = `${root}README.md`
const PRELUDE = fileURLToPath(new URL('readme-prelude.d.ts', import.meta.url))

interface Sample { /** README.md line of the sample's first line of code. */ line: number, code: string }

/** Every ```ts block, indented ones (inside a list) included, with the list's indent taken off. */
function samples (markdown: string): Sample[] {
  const lines = markdown.split('\n')
  const found: Sample[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```ts\s*$/.exec(lines[i])
    if (open === null) continue
    const start = i + 1
    while (i + 1 < lines.length && !/^ *```\s*$/.test(lines[i + 1])) i++
    found.push({ line: start + 1, code: lines.slice(start, i + 1).map((l) => l.slice(open[1].length)).join('\n') })
    i++
  }
  return found
}

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true
}

/**
 * Type-checks the samples in one program, each in a file of its own (a module:
 * samples share no names), as if it lay in the package's root: so
 * `fastify-qorepay` resolves to the built package and `fastify` to node_modules.
 * Answers each sample's errors as `README.md:<line>: <message>`.
 */
function check (list: Sample[]): string[][] {
  const files = new Map(list.map((s) => [`${root}readme-sample-${s.line}.ts`, `${s.code}\nexport {}\n`]))
  const host = ts.createCompilerHost(OPTIONS)
  const { getSourceFile, fileExists, readFile } = host
  host.getSourceFile = (name, language, ...rest) => {
    const text = files.get(name)
    return text === undefined ? getSourceFile.call(host, name, language, ...rest) : ts.createSourceFile(name, text, language)
  }
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name)
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name)
  const program = ts.createProgram([...files.keys(), PRELUDE], OPTIONS, host)
  const errors = ts.getPreEmitDiagnostics(program)
  return [...files.keys(), PRELUDE].map((name, index) => errors
    .filter((d) => d.file?.fileName === name || (index === list.length && d.file === undefined))
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
      if (d.file === undefined || d.start === undefined) return message
      const { line } = d.file.getLineAndCharacterOfPosition(d.start)
      return index === list.length ? `${name}:${line + 1}: ${message}` : `README.md:${list[index].line + line}: ${message}`
    }))
}

test('every TypeScript sample in the README compiles with --strict against the built package', async (t) => {
  const readme = readFileSync(README, 'utf8')
  const list = samples(readme)
  t.equal(list.length, readme.match(/^ *```ts\s*$/gm)?.length, 'every ```ts block is found')
  t.ok(list.length >= 14, `${list.length} samples`)
  const results = check(list)
  list.forEach((sample, index) => t.same(results[index], [], `README.md:${sample.line}`))
  t.same(results[list.length], [], 'the prelude itself')
})

test('the check fails on a sample that does not compile', async (t) => {
  const [errors] = check([
    { line: 10, code: "import qorepay from 'fastify-qorepay'\n\nawait app.register(qorepay, { ...options, onExcuted: async () => {} })" }
  ])
  t.equal(errors.length, 1)
  t.match(errors[0], /^README\.md:12: .*'onExcuted' does not exist/s, 'the line in README.md and the reason')
  const [wrongType] = check([{ line: 1, code: 'await app.qorepay.capture(purchaseId, \'4000\')' }])
  t.match(wrongType, [/^README\.md:1: Argument of type 'string' is not assignable to parameter of type 'number'/])
})
