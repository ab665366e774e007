// The test command: type-check everything (type tests included), run every
// suite, and end with one summary line: "tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'

// The law suites draw 100 cases per law here unless ADJOINT_LAW_RUNS says otherwise.
const env = { ...process.env, ADJOINT_LAW_RUNS: process.env.ADJOINT_LAW_RUNS ?? '100' }
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env }).status ?? 1

if (run('npx', ['tsc', '--noEmit']) !== 0) {
  console.log('type check failed')
  console.log('tests: 0 passed, 1 failed')
  process.exit(1)
}
const report = 'node_modules/.cache/adjoint-test-results.json'
rmSync(report, { force: true })
const status = run('npx', ['vitest', 'run', '--typecheck', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)])
let summary
try {
  const r = JSON.parse(readFileSync(report, 'utf8'))
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`
} catch {
  summary = 'tests: 0 passed, 1 failed (no report from vitest)'
}
console.log(summary)
process.exit(status)
