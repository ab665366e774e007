/**
 * The API reference that `npm run docs` builds (scripts/docs.mjs: typedoc,
 * the pipeline's stages as categories, a page per example). It is built once,
 * into a temporary folder, as `npm run docs` builds it, and the checks read
 * the HTML a reader opens:
 *
 * - the build ends without a typedoc warning or error, in particular none
 *   about a type that a signature names but the package does not export
 *   (beyond those scripts/docs-not-exported.mjs lists);
 * - there are pages for `jit`, `scan`, `grad`, `nn.dense` (inside `nn`),
 *   `optim.adam` and the `adjoint/laws` entry;
 * - the `adjoint` module page shows the stages in the pipeline's order, none
 *   empty, with `jit` under "Compilation and backends";
 * - the examples that `jit`'s page (and `scan`'s, `nn.dense`'s, `optim.adam`'s)
 *   lists are pages that exist, and each such example (or a helper it imports)
 *   calls the name, by a plain text search independent of the index.
 *
 * The example-usage index and the stage table's check are tested on planted
 * inputs: a name counts where an example's code resolves to it, directly or
 * through a helper, not where an example only mentions the word or defines a
 * name of its own; an export in no stage is reported.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript-5.4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exampleUsage } from '../scripts/docs-usage.mjs'
import { helperFiles, STAGES, stageProblems } from '../scripts/docs.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The build's folder, and its exit code and output (set once, before the checks of the reference). */
let out = ''
let build = { code: 0, output: '' }

const page = (path: string): string => {
  const file = join(out, path)
  if (!existsSync(file)) throw new Error(`no page ${path} in the reference\n${build.output}`)
  return readFileSync(file, 'utf8')
}

/** The sections of a module page: each title and the names listed under it, with their links. */
function sections(html: string): { title: string; names: { name: string; href: string }[] }[] {
  return html
    .split('<details class="tsd-panel-group')
    .slice(1)
    .map((chunk) => {
      const body = chunk.slice(0, chunk.indexOf('</details>'))
      const title = /data-key="section-([^"]*)"/.exec(body)?.[1] ?? ''
      const names = [...body.matchAll(/<span class="tsd-member-summary-name">.*?<a href="([^"#]+)"[^>]*>([^<]+)<\/a>/g)]
      return { title, names: names.map((m) => ({ name: m[2], href: m[1] })) }
    })
}

/** The example pages a name's page lists under "Used in the examples". */
function usedIn(html: string): string[] {
  const at = html.indexOf('class="tsd-tag-usedIn"')
  if (at < 0) return []
  const block = html.slice(at, html.indexOf('</div>', at))
  return [...block.matchAll(/<a href="([^"#]+)"/g)].map((m) => m[1]).filter((href) => href.includes('documents/'))
}

describe('the API reference', () => {
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'adjoint-api-docs-'))
    build = await new Promise((done) => {
      execFile(
        process.execPath,
        [join(root, 'scripts/docs.mjs'), '--out', out],
        { cwd: root, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) =>
          done({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }),
      )
    })
  }, 240_000)

  afterAll(() => {
    if (out !== '') rmSync(out, { recursive: true, force: true })
  })

  it('builds without a warning or an error', () => {
    expect(build.output).not.toMatch(/is referenced by .* but not included in the documentation/)
    expect(build.output).not.toMatch(/\[(warning|error)\]/)
    expect(build.code, build.output).toBe(0)
    expect(build.output).toMatch(/API reference in .*: \d+ pages; \d+ names exported by adjoint and adjoint\/laws/)
  })

  it('has pages for jit, scan, grad, nn.dense inside nn, optim.adam and the law kit', () => {
    expect(page('functions/adjoint.jit.html')).toContain('<h1>Function jit</h1>')
    expect(page('functions/adjoint.scan.html')).toContain('<h1>Function scan</h1>')
    expect(page('functions/adjoint.grad.html')).toContain('<h1>Function grad</h1>')
    const dense = page('functions/adjoint.nn.dense.html')
    expect(dense).toContain('<h1>Function dense</h1>')
    expect(dense).toMatch(/<a href="[^"]*adjoint\.nn\.html">nn<\/a>/)
    expect(page('functions/adjoint.optim.adam.html')).toContain('<h1>Function adam</h1>')
    expect(page('modules/adjoint_laws.html')).toContain('<h1>Module adjoint/laws</h1>')
    expect(page('modules/adjoint.nn.html')).toContain('href="../functions/adjoint.nn.dense.html"')
  })

  it('groups adjoint by the stages of the pipeline, in order, none empty, jit under compilation', () => {
    const found = sections(page('modules/adjoint.html'))
    expect(found.map((s) => s.title)).toEqual(STAGES.map((s) => s.title))
    for (const section of found) expect(section.names.length, section.title).toBeGreaterThan(0)
    const compilation = found.find((s) => s.title === 'Compilation and backends')
    expect(compilation?.names).toContainEqual({ name: 'jit', href: '../functions/adjoint.jit.html' })
    const layers = found.find((s) => s.title === 'Layers and models')
    expect(layers?.names.map((n) => n.name)).toContain('nn')
    // The front page lists the stages too, and links jit.
    const front = page('index.html')
    for (const stage of STAGES) expect(front).toContain(stage.title)
    expect(front).toContain('href="functions/adjoint.jit.html"')
  })

  it('links each name to the examples that use it, and those examples do use it', () => {
    const cases = [
      { path: 'functions/adjoint.jit.html', call: /\bjit\(/ },
      { path: 'functions/adjoint.scan.html', call: /\bscan\(/ },
      { path: 'functions/adjoint.nn.dense.html', call: /\bnn\.dense\(/ },
      { path: 'functions/adjoint.optim.adam.html', call: /\boptim\.adam\(/ },
    ]
    for (const { path, call } of cases) {
      const links = usedIn(page(path))
      expect(links.length, `${path} lists no example`).toBeGreaterThan(0)
      for (const href of links) {
        const target = resolve(dirname(join(out, path)), href)
        expect(existsSync(target), `${path} links ${href}, which does not exist`).toBe(true)
        const name = /Examples\.(.+)\.html$/.exec(href)?.[1]
        const file = join(root, 'examples', `${name}.ts`)
        expect(existsSync(file), `${href} names no example`).toBe(true)
        const sources = [file, ...(helperFiles([file]).get(`examples/${name}.ts`) ?? []).map((h) => join(root, h))]
        const calls = sources.some((source) => call.test(readFileSync(source, 'utf8')))
        expect(calls, `${path} lists ${name}, whose code never matches ${call}`).toBe(true)
        expect(readFileSync(target, 'utf8')).toContain(`Source: examples/${name}.ts`)
      }
    }
    // Every example has its page, listed on the examples page.
    const list = page('documents/Examples.html')
    for (const name of ['first-program', 'mnist-mlp', 'custom-layer.test']) {
      expect(list).toContain(`href="Examples.${name}.html"`)
    }
  })
})

describe('the example-usage index (planted package)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'adjoint-usage-'))
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(folder, path)), { recursive: true })
    writeFileSync(join(folder, path), text)
  }
  write(
    'pkg/index.ts',
    'export function jit(f: () => number): () => number { return f }\n' +
      'export function scan(): number { return 0 }\n' +
      'export function grad(): number { return 1 }\n' +
      "export * as nn from './nn.ts'\n",
  )
  write('pkg/nn.ts', 'export function dense(n: number): number { return n }\n')
  write('examples/uses.ts', "import { jit, nn } from '../pkg/index.ts'\nexport const f = jit(() => nn.dense(1))\n")
  write(
    'examples/mentions.ts',
    '// jit, scan and grad are only words here\nconst jit = (x: number) => x\nexport const y = jit(1) + "scan grad".length\n',
  )
  write('examples/through.ts', "import { run } from './lib/helper.ts'\nexport const z = run()\n")
  write('examples/lib/helper.ts', "import { scan } from '../../pkg/index.ts'\nexport const run = () => scan()\n")
  afterAll(() => rmSync(folder, { recursive: true, force: true }))

  const examples = ['uses', 'mentions', 'through'].map((n) => join(folder, 'examples', `${n}.ts`))
  const program = ts.createProgram({
    rootNames: [join(folder, 'pkg/index.ts'), ...examples],
    options: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      allowImportingTsExtensions: true,
      noEmit: true,
      types: [],
    },
  })
  const usage = exampleUsage(ts, program, { '': join(folder, 'pkg/index.ts') }, examples, folder)

  it('finds a name an example calls, and a namespace member through the namespace', () => {
    expect(usage.get('jit')).toEqual([{ example: 'examples/uses.ts', via: [] }])
    expect(usage.get('nn.dense')).toEqual([{ example: 'examples/uses.ts', via: [] }])
    expect(usage.get('nn')).toEqual([{ example: 'examples/uses.ts', via: [] }])
  })

  it('finds a name used through a helper, and says which', () => {
    expect(usage.get('scan')).toEqual([{ example: 'examples/through.ts', via: ['examples/lib/helper.ts'] }])
  })

  it('does not count a mention, or a name of its own', () => {
    expect(usage.get('grad')).toBeUndefined()
    const mentioned = [...usage.values()].flat().filter((u) => u.example === 'examples/mentions.ts')
    expect(mentioned).toEqual([])
  })
})

describe('the stage table check (planted)', () => {
  it('reports an export in no stage and a stage naming what is not exported', () => {
    const stages = [{ title: 'A', about: '', names: ['jit', 'gone'] }]
    const problems = stageProblems(['jit', 'added'], stages)
    expect(problems.some((p) => p.includes('added') && p.includes('no stage'))).toBe(true)
    expect(problems.some((p) => p.includes('gone') && p.includes('does not export'))).toBe(true)
    expect(stageProblems(['jit'], [{ title: 'A', about: '', names: ['jit'] }])).toEqual([])
  })
})
