// The test command: type-check everything (type tests included), lint and
// check the formatting, run every suite (the GPU suites on the default
// adapter: Mesa llvmpipe here), run the GPU suites once more on SwiftShader's
// Vulkan adapter when it is installed (lower limits, core mode), and end
// with one summary line:
// "tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'

// The law suites draw 100 cases per law here unless ADJOINT_LAW_RUNS says otherwise.
const baseEnv = { ...process.env, ADJOINT_LAW_RUNS: process.env.ADJOINT_LAW_RUNS ?? '100' }
const run = (cmd, args, env = baseEnv) => spawnSync(cmd, args, { stdio: 'inherit', env }).status ?? 1

// TypeScript 7 by its path: the TypeScript 5.4 that the package test uses also provides a `tsc` command.
// The playground's page code has its own settings (the DOM's types).
if (
  run('node', ['node_modules/typescript/bin/tsc', '--noEmit']) !== 0 ||
  run('node', ['node_modules/typescript/bin/tsc', '-p', 'playground/tsconfig.json']) !== 0
) {
  console.log('type check failed')
  console.log('tests: 0 passed, 1 failed')
  process.exit(1)
}
// Formatting and lint (Biome, biome.jsonc): import cycles, floating promises and the rest, warnings included.
if (run('npx', ['biome', 'ci', '--error-on-warnings', '.']) !== 0) {
  console.log('lint or formatting failed (`npm run format` fixes the formatting)')
  console.log('tests: 0 passed, 1 failed')
  process.exit(1)
}

const totals = { passed: 0, failed: 0, skipped: 0 }
function vitest(name, args, env) {
  const report = `node_modules/.cache/adjoint-test-${name}.json`
  rmSync(report, { force: true })
  const status = run(
    'npx',
    ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args],
    env,
  )
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'))
    totals.passed += r.numPassedTests
    totals.failed += r.numFailedTests
    totals.skipped += r.numPendingTests + r.numTodoTests
  } catch {
    totals.failed += 1
    console.log(`${name}: no report from vitest`)
  }
  return status
}

let status = vitest('all', ['--typecheck', ...process.argv.slice(2)], baseEnv)
const icd = '/usr/lib/chromium/vk_swiftshader_icd.json'
if (process.argv.length === 2 && existsSync(icd)) {
  console.log('\nThe GPU suites again, on SwiftShader (Vulkan, core mode):')
  const env = {
    ...baseEnv,
    VK_ICD_FILENAMES: icd,
    LD_LIBRARY_PATH: `/usr/lib/chromium:${process.env.LD_LIBRARY_PATH ?? ''}`,
    ADJOINT_WEBGPU_BACKEND: 'vulkan',
  }
  status = vitest('swiftshader', ['test/gpu'], env) || status
}
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(status)
