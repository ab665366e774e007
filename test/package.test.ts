/**
 * The package as another project gets it. A copy of what package.json's
 * `files` names is built and packed (`npm pack`, as a release would be), then:
 *
 * - the tarball holds the build, its declaration and source maps, the sources
 *   every map points to, LICENSE and README, and nothing else;
 * - publint (strict) finds nothing, and Are the Types Wrong finds only what
 *   an ESM-only package is (CommonJS resolutions see ESM);
 * - it is unpacked into a fresh project with only its required dependencies
 *   (fp-ts, io-ts) and fast-check, and none of the optional ones (webgpu,
 *   onnxruntime-node). There TypeScript 7 and TypeScript 5.4 (the oldest
 *   supported) type-check code that uses `adjoint` and `adjoint/laws` with
 *   `skipLibCheck: false` and `strict`: each entry alone with a `lib` without
 *   DOM and no `types` (NodeNext), and both in a browser app's settings
 *   (Bundler, DOM, the WebGPU and Node types), where the declarations' own
 *   stand-ins for WebGPU objects merge with the real ones. Lines that must
 *   not compile (wrong shapes) are `@ts-expect-error`, so the shape checks
 *   are live there too;
 * - a compiler older than 5.4 gets no types at all (checked by moving the
 *   bound to 5.5, which TypeScript 5.4 then falls under);
 * - the compiled program trains a small network with jit, in Node, with
 *   fast-check removed: the main entry loads neither it nor the optional
 *   packages, and the default backend falls back with its one-line notice.
 */
import { execFile, spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = fileURLToPath(new URL('..', import.meta.url))
const TSC = join(repo, 'node_modules/typescript/bin/tsc')
const TSC_5_4 = join(repo, 'node_modules/typescript-5.4/bin/tsc')
const ATTW = join(repo, 'node_modules/@arethetypeswrong/cli/dist/index.js')
const execFileAsync = promisify(execFile)

interface Packed {
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: readonly { readonly path: string }[]
}

let work = ''
let tarball = ''
let packed: Packed
let consumer = ''

function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', output: `${r.stdout}${r.stderr}` }
}

/** Runs a command that must succeed; its output on failure. */
function succeed(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}) {
  const r = run(command, args, cwd, env)
  if (r.status !== 0) throw new Error(`${[command, ...args].join(' ')} failed (${r.status}):\n${r.output}`)
  return r
}

// ---------------------------------------------------------------- the consumer

const MAIN = `import { grad, jit, nn, ops, optim, random, tensor, type Tensor } from 'adjoint'

declare const console: { log(...values: unknown[]): void }

const net = nn.sequential(nn.dense(2, 4), nn.tanh, nn.dense(4, 1))
type P = nn.ParamsOf<typeof net>
const x: Tensor<[4, 2]> = tensor([
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
])
const y: Tensor<[4, 1]> = tensor([[0], [1], [1], [0]])
const loss = (p: P) => nn.sigmoidCrossEntropy(net.apply(p, x), y)
const opt = optim.momentum({ lr: 0.5, momentum: 0.9 })
const step = jit((p: P, s: optim.FirstOrderState) => {
  const [next, state] = opt.update(grad(loss)(p), s, p) as [P, optim.FirstOrderState]
  return [next, state, loss(p)] as const
})
let params = net.init(random.key(0))
let state = opt.init(params)
const losses: number[] = []
for (let i = 0; i < 60; i++) {
  const [next, s, l] = await step(params, state)
  losses.push((await l.data())[0])
  params = next
  state = s
}
console.log(JSON.stringify({ first: losses[0], last: losses[losses.length - 1] }))

// @ts-expect-error a [4, 3] input where the network takes [B, 2]
export const wrongInput = () => net.apply(params, ops.zeros([4, 3]))
// @ts-expect-error inner dimensions 2 and 3 differ
export const wrongMatmul = () => ops.matmul(x, ops.zeros([3, 1]))
`

const LAWS = `import { nn } from 'adjoint'
import { arb, laws } from 'adjoint/laws'

declare const console: { log(...values: unknown[]): void }

const reports = laws.layer(nn.dense(3, 4), { input: arb.f32([2, 3]) }, { laws: ['shape', 'adjoint'] }, { numRuns: 3 })
console.log(JSON.stringify(reports.map((r) => [r.law, r.ok])))

// @ts-expect-error an input of 5 features for a layer of 3
export const wrong = () => laws.layer(nn.dense(3, 4), { input: arb.f32([2, 5]) })
`

// adjoint/laws without the main entry.
const LAWS_ALONE = `import { arb, checkLayer } from 'adjoint/laws'

export const reports = () => checkLayer((_p: null, x: unknown) => x, { params: arb.seed().map(() => null), input: arb.f64([2, 3]) })
`

// With the platform's own types loaded, the declarations' stand-ins merge with them: the device is a full GPUDevice.
const PLATFORM = `import { io, webgpuBackend } from 'adjoint'

export async function upload(): Promise<number> {
  const device: GPUDevice = (await webgpuBackend()).context.device
  device.createBuffer({ size: 4, usage: 0x80 }).destroy()
  const blob: Blob = await io.paramsToBlob({})
  return blob.size
}
`

const compilerOptions = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  lib: ['ES2022'],
  types: [],
  strict: true,
  skipLibCheck: false,
  outDir: 'out',
}

function writeConsumer(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  writeFileSync(join(dir, 'main.ts'), MAIN)
  writeFileSync(join(dir, 'laws.ts'), LAWS)
  writeFileSync(join(dir, 'laws-alone.ts'), LAWS_ALONE)
  writeFileSync(join(dir, 'platform.ts'), PLATFORM)
  const config = (options: object, files: string[]) => JSON.stringify({ compilerOptions: options, files }, null, 2)
  const check = { ...compilerOptions, noEmit: true }
  writeFileSync(join(dir, 'tsconfig.json'), config(compilerOptions, ['main.ts', 'laws.ts']))
  // Each entry alone: its declarations must not lean on the other's.
  writeFileSync(join(dir, 'tsconfig.main.json'), config(check, ['main.ts']))
  writeFileSync(join(dir, 'tsconfig.laws.json'), config(check, ['laws-alone.ts']))
  // A browser app's settings, and the WebGPU and Node types: TypeScript 7's DOM library has WebGPU, 5.4's does not.
  const browser = { ...check, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'] }
  const files = ['main.ts', 'laws.ts', 'platform.ts']
  writeFileSync(join(dir, 'tsconfig.platform.json'), config({ ...browser, types: ['node'] }, files))
  writeFileSync(
    join(dir, 'tsconfig.platform-5.4.json'),
    config({ ...browser, types: ['@webgpu/types', 'node'] }, files),
  )
}

// ---------------------------------------------------------------- build and pack once

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'adjoint-package-'))
  const stage = join(work, 'stage')
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { files: string[] }
  mkdirSync(stage)
  const copied = [...pkg.files.filter((f) => f !== 'dist'), 'package.json', 'README.md', 'LICENSE']
  for (const f of [...copied, 'tsconfig.json', 'tsconfig.build.json'])
    cpSync(join(repo, f), join(stage, f), { recursive: true })
  symlinkSync(join(repo, 'node_modules'), join(stage, 'node_modules'), 'dir')
  // The build's type errors are the type check's business (npm test); it must emit.
  run(process.execPath, [TSC, '-p', 'tsconfig.build.json'], stage)
  if (!existsSync(join(stage, 'dist', 'index.js'))) throw new Error('the build emitted no dist/index.js')
  const pack = succeed('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage)
  packed = (JSON.parse(pack.stdout) as Packed[])[0]
  tarball = join(work, packed.filename)

  consumer = join(work, 'consumer')
  writeConsumer(consumer)
  succeed('tar', ['-xzf', tarball, '-C', join(consumer, 'node_modules')], work)
  renameSync(join(consumer, 'node_modules', 'package'), join(consumer, 'node_modules', 'adjoint'))
  mkdirSync(join(consumer, 'node_modules', '@types'))
  mkdirSync(join(consumer, 'node_modules', '@webgpu'))
  for (const dep of ['fp-ts', 'io-ts', 'fast-check', '@types/node', '@webgpu/types'])
    symlinkSync(join(repo, 'node_modules', dep), join(consumer, 'node_modules', dep), 'dir')
}, 120_000)

afterAll(() => {
  if (work !== '' && process.env.KEEP_PACKAGE === undefined) rmSync(work, { recursive: true, force: true })
})

// ---------------------------------------------------------------- the tarball

describe('the tarball', () => {
  it('holds the build with its maps, the sources they point to, the licence and the readme, and nothing else', () => {
    const files = new Set(packed.files.map((f) => f.path))
    for (const f of [
      'package.json',
      'LICENSE',
      'README.md',
      'dist/index.js',
      'dist/index.js.map',
      'dist/index.d.ts',
      'dist/index.d.ts.map',
      'dist/laws/index.js',
      'dist/laws/index.d.ts',
      'types/globals.d.ts',
      'types/typescript-too-old.d.ts',
      'index.ts',
      'src/index.ts',
    ])
      expect(files, f).toContain(f)
    const stray = [...files].filter(
      (f) => !/^(dist|types|src|gpu|laws)\/|^(index\.ts|package\.json|LICENSE|README\.md)$/.test(f),
    )
    expect(stray).toEqual([])
    expect([...files].filter((f) => /(^|\/)(test|examples|bench|node_modules)\/|\.test\.ts$/.test(f))).toEqual([])
    // Every map's sources are in the tarball.
    const maps = [...files].filter((f) => f.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(100)
    const unresolved: string[] = []
    const unpacked = join(consumer, 'node_modules', 'adjoint')
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(unpacked, m), 'utf8')) as { sources: string[] }
      for (const s of map.sources) {
        const target = posix.normalize(posix.join(posix.dirname(m), s))
        if (!files.has(target)) unresolved.push(`${m} → ${s}`)
      }
    }
    expect(unresolved).toEqual([])
    expect(readFileSync(join(unpacked, 'LICENSE'), 'utf8')).toMatch(
      /^MIT License\n\nCopyright \(c\) \d{4} the adjoint authors/,
    )
  })

  it('publint finds nothing, strict', async () => {
    const bytes = readFileSync(tarball)
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    const { messages, pkg } = await publint({ pack: { tarball: data }, level: 'suggestion', strict: true })
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([])
  })

  it('Are the Types Wrong finds only that CommonJS sees an ESM-only package', () => {
    const r = run(process.execPath, [ATTW, tarball, '--format', 'json'], work)
    const report = JSON.parse(r.stdout) as {
      analysis: {
        problems: { kind: string; entrypoint: string; resolutionKind: string }[]
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>
      }
    }
    const problems = report.analysis.problems.map((p) => `${p.entrypoint} ${p.resolutionKind}: ${p.kind}`)
    expect(problems.sort()).toEqual(['. node16-cjs: CJSResolvesToESM', './laws node16-cjs: CJSResolvesToESM'])
    // Every resolution finds the built declarations (node10 through typesVersions for the subpath).
    for (const [entry, expected] of [
      ['.', '/node_modules/adjoint/dist/index.d.ts'],
      ['./laws', '/node_modules/adjoint/dist/laws/index.d.ts'],
    ])
      for (const kind of ['node10', 'node16-cjs', 'node16-esm', 'bundler'])
        expect(report.analysis.entrypoints[entry].resolutions[kind].resolution?.fileName, `${entry} ${kind}`).toBe(
          expected,
        )
  })
})

// ---------------------------------------------------------------- a project that uses it

describe('in a project of its own', () => {
  it('type-checks with TypeScript 7 and 5.4, skipLibCheck off: no DOM and no types, or a browser app with them', async () => {
    // TypeScript 7 also emits the program the next tests run. The compilers run side by side.
    const checks = [
      ...['tsconfig.json', 'tsconfig.main.json', 'tsconfig.laws.json', 'tsconfig.platform.json'].map((c) => [TSC, c]),
      ...['tsconfig.main.json', 'tsconfig.laws.json', 'tsconfig.platform-5.4.json'].map((c) => [TSC_5_4, c]),
    ]
    const outputs = await Promise.all(
      checks.map(([tsc, config]) =>
        execFileAsync(process.execPath, [tsc, '-p', config], { cwd: consumer, encoding: 'utf8' }).then(
          (r) => `${r.stdout}${r.stderr}`,
          (e: { stdout?: string; stderr?: string; message: string }) => `${e.stdout ?? ''}${e.stderr ?? e.message}`,
        ),
      ),
    )
    expect(
      Object.fromEntries(checks.map(([tsc, config], k) => [`${tsc === TSC ? 7 : 5.4} ${config}`, outputs[k]])),
    ).toEqual(Object.fromEntries(checks.map(([tsc, config]) => [`${tsc === TSC ? 7 : 5.4} ${config}`, ''])))
    expect(existsSync(join(consumer, 'out', 'main.js'))).toBe(true)
  })

  it('a compiler older than the bound gets no types, so nothing compiles silently unchecked', () => {
    const manifest = join(consumer, 'node_modules', 'adjoint', 'package.json')
    const original = readFileSync(manifest, 'utf8')
    const pkg = JSON.parse(original) as { exports: Record<string, Record<string, string>> }
    expect(pkg.exports['.']['types@<5.4']).toBe('./types/typescript-too-old.d.ts')
    expect(Object.keys(pkg.exports['.'])[0]).toBe('types@<5.4')
    try {
      writeFileSync(manifest, original.replaceAll('<5.4', '<5.5'))
      const old = run(process.execPath, [TSC_5_4, '-p', 'tsconfig.json', '--noEmit'], consumer)
      expect(old.status).not.toBe(0)
      expect(old.stdout).toMatch(/main\.ts\(1,\d+\): error TS2305: Module '"adjoint"' has no exported member 'grad'/)
      // TypeScript 7 is not below 5.5: the same package still type-checks.
      expect(run(process.execPath, [TSC, '-p', 'tsconfig.json', '--noEmit'], consumer).output).toBe('')
    } finally {
      writeFileSync(manifest, original)
    }
  })

  it('trains a network with jit in Node without fast-check, webgpu or onnxruntime-node installed', () => {
    const link = join(consumer, 'node_modules', 'fast-check')
    rmSync(link)
    try {
      const r = run(process.execPath, ['out/main.js'], consumer, { ADJOINT_BACKEND: '' })
      expect(r.status, r.output).toBe(0)
      const { first, last } = JSON.parse(r.stdout) as { first: number; last: number }
      expect(first).toBeGreaterThan(0.5)
      expect(last).toBeLessThan(first / 10)
      // The notice: both optional backends could not load, and why; then the interpreter.
      expect(r.stderr).toMatch(/^adjoint: webgpu unavailable \(.*Cannot find package 'webgpu'.*\); /)
      expect(r.stderr).toMatch(/onnxruntime unavailable \(.*Cannot find package 'onnxruntime-node'.*\); using cpu\n$/)
    } finally {
      symlinkSync(join(repo, 'node_modules', 'fast-check'), link, 'dir')
    }
  })

  it('adjoint/laws runs the law bundle on a typed layer', () => {
    const r = succeed(process.execPath, ['out/laws.js'], consumer, { ADJOINT_BACKEND: 'cpu' })
    expect(JSON.parse(r.stdout)).toEqual([
      ['shape', true],
      ['adjoint', true],
    ])
  })

  it('require() loads it where Node can require ES modules', () => {
    const features = process.features as { require_module?: boolean }
    if (features.require_module !== true) return
    writeFileSync(
      join(consumer, 'require.cjs'),
      "const a = require('adjoint'); console.log(typeof a.jit, typeof a.nn.dense)\n",
    )
    expect(succeed(process.execPath, ['require.cjs'], consumer).stdout).toBe('function function\n')
  })
})
