/**
 * Every example, run as a user runs it (`node --import tsx examples/<name>.ts`)
 * in short mode (ADJOINT_EXAMPLE_SHORT=1, examples/lib/short.ts: the whole
 * program with tiny step counts and data sizes), so that none stops working
 * unnoticed. The examples are the files examples/*.ts that are not tests, so a
 * new one is run without being listed here. Each must exit with status 0
 * within EXAMPLE_TIMEOUT_MS and print something; where it announces files
 * ("wrote …") it must have written some, under its own temporary directory
 * (ADJOINT_EXAMPLE_OUT), which is removed afterwards. A few results that hold
 * even in short mode are checked as well.
 *
 * The examples run two at a time, on the backend each chooses (most choose
 * the CPU interpreter themselves; the others take the default backend, WebGPU
 * where an adapter exists), except those in ON_CPU, which run with
 * ADJOINT_BACKEND=cpu. ADJOINT_BACKEND set in the environment of the test run
 * is passed on to all of them instead. The time of each example is printed at
 * the end.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort()

const EXAMPLE_TIMEOUT_MS = 90_000
const CONCURRENT = 2
/**
 * Examples whose WebGPU programs take far longer to compile on a software
 * adapter (Mesa llvmpipe) than the short run takes on the CPU: 9 to 40 s
 * against 2 to 7 s.
 */
const ON_CPU = new Set(['autoencoder', 'char-lm', 'hopfield', 'mnist-cnn', 'mnist-mlp'])

/** Results an example prints that hold even after a few steps. */
const checks: Record<string, (stdout: string) => void> = {
  'char-lm': (out) => expect(out).toMatch(/later characters exactly 0/),
  'chain-rule': (out) =>
    expect(out).toMatch(/largest relative error of jvp and grad against 9t² \+ 2t: [0-9.]+e-(1[3-9]|[2-9]\d)/),
  'rtrl-vs-bptt': (out) => {
    // The last column of each row of the table: how far RTRL's gradient is from BPTT's.
    const rows = out.split('\n').filter((l) => /^ +\d+ +\d+ +\d+ /.test(l))
    expect(rows.length).toBeGreaterThan(0)
    for (const row of rows) expect(Number(row.trim().split(/ +/).at(-1))).toBeLessThan(1e-9)
  },
  'straight-through': (out) => {
    expect(out).toMatch(/plain autodiff +w1 0\.00e\+0 +b1 0\.00e\+0 +w2 0\.00e\+0 +w3 0\.00e\+0/)
    expect(out).toMatch(/largest change of a parameter in \d+ steps 0;/)
    const accuracy = Number(/straight-through +test accuracy +([\d.]+) %/.exec(out)?.[1])
    expect(accuracy).toBeGreaterThan(60)
  },
  tying: (out) => {
    // Computed and closed form, side by side, in each row of the table.
    const rows = out.split('\n').filter((l) => /^(∂F|sum of|grad\(E\))/.test(l))
    expect(rows.length).toBe(4)
    for (const row of rows) {
      const [computed, closed] = row.trim().split(/ +/).slice(-2).map(Number)
      expect(computed).toBeCloseTo(closed, 12)
    }
  },
  xor: (out) => expect(out).toMatch(/all four points classified correctly/),
}

/** At most `n` callers at a time. */
function pool(n: number) {
  let running = 0
  const waiting: (() => void)[] = []
  return async <T>(f: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await f()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}
const limit = pool(CONCURRENT)

interface Run {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly seconds: number
  readonly timedOut: boolean
}

function runExample(name: string, outDir: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const env: NodeJS.ProcessEnv = { ...process.env, ADJOINT_EXAMPLE_SHORT: '1', ADJOINT_EXAMPLE_OUT: outDir }
    if (env.ADJOINT_BACKEND === undefined && ON_CPU.has(name)) env.ADJOINT_BACKEND = 'cpu'
    const child = spawn(process.execPath, ['--import', 'tsx', join('examples', `${name}.ts`)], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, EXAMPLE_TIMEOUT_MS)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr, seconds: (performance.now() - started) / 1000, timedOut })
    })
  })
}

/** Paths of the files under `dir` (none if it does not exist), relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesUnder(join(dir, d.name), `${prefix}${d.name}/`) : d.isFile() ? [`${prefix}${d.name}`] : [],
  )
}

const scratch = mkdtempSync(join(tmpdir(), 'adjoint-examples-'))
const times = new Map<string, number>()
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
  if (times.size === 0) return
  const width = Math.max(...[...times.keys()].map((k) => k.length))
  const lines = [...times].sort((a, b) => b[1] - a[1]).map(([k, s]) => `  ${k.padEnd(width)} ${s.toFixed(1)} s`)
  const total = [...times.values()].reduce((a, b) => a + b, 0)
  console.log(
    `examples in short mode (${CONCURRENT} at a time), seconds each:\n${lines.join('\n')}\n  sum ${total.toFixed(1)} s`,
  )
})

describe('examples in short mode', () => {
  it('are found', () => {
    expect(examples.length).toBeGreaterThan(10)
    expect(examples).toContain('straight-through')
  })

  for (const name of examples)
    it.concurrent(
      name,
      async () => {
        const outDir = join(scratch, name)
        const run = await limit(() => runExample(name, outDir))
        times.set(name, run.seconds)
        const tail = (s: string) => s.split('\n').slice(-30).join('\n')
        const report = `examples/${name}.ts (${run.seconds.toFixed(1)} s): ${run.timedOut ? `killed after ${EXAMPLE_TIMEOUT_MS / 1000} s` : `exit status ${run.status}, signal ${run.signal}`}\n--- stdout (end)\n${tail(run.stdout)}\n--- stderr (end)\n${tail(run.stderr)}`
        expect(run.timedOut, report).toBe(false)
        expect(run.status, report).toBe(0)
        expect(run.stdout.trim().length, report).toBeGreaterThan(0)
        if (/\bwrote\b/.test(run.stdout)) expect(filesUnder(outDir), report).not.toEqual([])
        checks[name]?.(run.stdout)
      },
      EXAMPLE_TIMEOUT_MS * Math.ceil(examples.length / CONCURRENT),
    )
})
