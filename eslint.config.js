import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'reports/**', '.stryker-tmp/**', 'test-e2e/screenshots/**', 'bench/results.json']
  }),
  {
    // TypeBox's idiom: a schema and its Static<> type share one name; TypeScript itself checks real redeclarations.
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  }
]
