/**
 * The shape of the house: imports flow one way through the stages of the
 * pipeline, the backends use src/ only through its stages' public modules,
 * and no source file grows past what can be read in one sitting. Import
 * cycles are Biome's to find (`noImportCycles`, in the lint step of the test
 * command); this file checks the direction, which a cycle checker cannot.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The layers of src/, lowest first. A module may import (as a value) from
 * its own layer or a lower one. Type-only imports carry nothing at load time
 * and are not constrained.
 */
const layers: readonly (readonly string[])[] = [
  ['src/dtype.ts', 'src/shape', 'src/tensor.ts', 'src/tree.ts'], // values, shapes, pytrees
  ['src/ir'], // the IR as data
  ['src/core'], // tracing: bind, the trace stack, the rule registry, staging, interpretation
  ['src/primitives'], // the elementary primitives' rules (and the reference kernels' index arithmetic)
  ['src/ad', 'src/batch'], // the transforms: jvp, linearize, transpose, tie; vmap
  ['src/passes'], // IR → IR rewrites
  ['src/control'], // control flow, whose rules are built from the transforms
  ['src/rules.ts'], // the exhaustive rule table, registered with the core
  ['src/cpu', 'src/ops.ts', 'src/ops', 'src/random.ts', 'src/transforms.ts', 'src/jit.ts'], // the public API of the spine
  ['src/nn', 'src/energy', 'src/optim', 'src/train', 'src/io', 'src/plot', 'src/recurrent', 'src/onnx'], // what is built on it
  ['src/index.ts'],
]

/** The modules of src/ that a backend (gpu/) and the laws may use. */
const publicModules = [
  'src/index.ts',
  'src/core/index.ts',
  'src/ir/index.ts',
  'src/shape/index.ts',
  'src/cpu/index.ts',
  'src/passes/index.ts',
  'src/tensor.ts',
  'src/dtype.ts',
]

const MAX_LINES = 800

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

const IMPORT =
  /^(?:import|export)\s+(type\s+)?(\{[^}]*\}|\*(?:\s+as\s+\w+)?|[\w$]+(?:\s*,\s*\{[^}]*\})?)?\s*(?:from\s+)?'([^']+)'/gm

interface Edge {
  readonly from: string
  readonly to: string
  /** Types only: nothing of the module is loaded. */
  readonly typeOnly: boolean
}

/** The imports of one file: relative specifiers, resolved against the repository root. */
function imports(path: string, text: string): Edge[] {
  const edges: Edge[] = []
  for (const [, typeKeyword, names, specifier] of text.matchAll(IMPORT)) {
    if (!specifier.startsWith('.')) continue
    const items = names?.startsWith('{')
      ? names
          .slice(1, -1)
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : []
    const typeOnly = typeKeyword !== undefined || (items.length > 0 && items.every((s) => s.startsWith('type ')))
    edges.push({ from: path, to: normalize(join(dirname(path), specifier)), typeOnly })
  }
  return edges
}

const layerOf = (path: string): number =>
  layers.findIndex((layer) => layer.some((entry) => path === entry || path.startsWith(`${entry}/`)))

/**
 * Every edge that breaks a rule, as a sentence naming both ends. Inside src/
 * only value imports are ordered (a type may be named anywhere); from
 * outside, every import of src/ goes through a public module.
 */
function violations(edges: readonly Edge[]): string[] {
  const found: string[] = []
  for (const { from, to, typeOnly } of edges) {
    const fromSrc = from.startsWith('src/')
    if (fromSrc && !to.startsWith('src/')) found.push(`${from} imports ${to}: src/ imports nothing outside src/`)
    else if (fromSrc) {
      if (typeOnly) continue
      const [a, b] = [layerOf(from), layerOf(to)]
      if (a < 0 || b < 0) found.push(`${from} imports ${to}: ${a < 0 ? from : to} is in no layer of the table`)
      else if (b > a) found.push(`${from} (layer ${a}) imports ${to} (layer ${b}): imports flow down the layers`)
    } else if (to.startsWith('src/') && !publicModules.includes(to))
      found.push(`${from} imports ${to}: outside src/, use the stages' public modules (${publicModules.join(', ')})`)
  }
  return found
}

const files = ['src', 'gpu', 'laws'].flatMap(sourceFiles)
const edges = files.flatMap((path) => imports(path, readFileSync(join(root, path), 'utf8')))

describe('architecture', () => {
  it('value imports flow down the layers of src/, and gpu/ and laws/ use only its public modules', () => {
    expect(edges.length).toBeGreaterThan(100)
    expect(violations(edges)).toEqual([])
  })

  it('the check sees a wrong-way import, an import of a backend, and a reach into src/ internals', () => {
    const planted: Edge[] = [
      { from: 'src/ir/program.ts', to: 'src/core/trace.ts', typeOnly: false },
      { from: 'src/core/trace.ts', to: 'src/rules.ts', typeOnly: false },
      { from: 'src/ops.ts', to: 'gpu/index.ts', typeOnly: true },
      { from: 'gpu/lower/index.ts', to: 'src/primitives/ndarray.ts', typeOnly: false },
      { from: 'gpu/kernel.ts', to: 'src/core/primitive.ts', typeOnly: true },
    ]
    expect(violations(planted)).toHaveLength(planted.length)
    const fine: Edge[] = [
      { from: 'src/ad/jvp.ts', to: 'src/core/trace.ts', typeOnly: false },
      { from: 'src/core/primitive.ts', to: 'src/ir/program.ts', typeOnly: true },
    ]
    expect(violations(fine)).toEqual([])
  })

  it('type-only imports are told from value imports', () => {
    const text = [
      "import type { Program } from '../ir/program.ts'",
      "import { type Aval, type Tensor } from '../tensor.ts'",
      "import { ruleOf } from './registry.ts'",
      "export { stage } from './staging.ts'",
    ].join('\n')
    expect(imports('src/core/x.ts', text).map((e) => [e.to, e.typeOnly])).toEqual([
      ['src/ir/program.ts', true],
      ['src/tensor.ts', true],
      ['src/core/registry.ts', false],
      ['src/core/staging.ts', false],
    ])
  })

  it('the cycle check (Biome, with the settings of biome.jsonc) flags a value cycle and not a type-only one', () => {
    const dir = join(root, 'test', `cycle-fixture-${process.pid}`)
    mkdirSync(dir, { recursive: true })
    try {
      const file = (name: string, text: string) => writeFileSync(join(dir, name), `${text}\n`)
      file('a.ts', "import { b } from './b.ts'\nexport const a = (): number => b() + 1")
      file('b.ts', "import { a } from './a.ts'\nexport const b = (): number => a() - 1")
      file('c.ts', "import type { D } from './d.ts'\nexport const c = (d: D): number => d.n")
      file('d.ts', "import { c } from './c.ts'\nexport interface D {\n  n: number\n}\nexport const d = c({ n: 1 })")
      const lint = spawnSync('npx', ['biome', 'lint', '--only=suspicious/noImportCycles', relative(root, dir)], {
        cwd: root,
        encoding: 'utf8',
      })
      const flagged = [...`${lint.stdout}${lint.stderr}`.matchAll(/cycle-fixture-\d+\/(\w)\.ts:\d+:\d+ lint/g)]
      expect(flagged.map((m) => m[1]).sort()).toEqual(['a', 'b'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it(`no source file (library, tests, examples, benchmarks) is longer than ${MAX_LINES} lines`, () => {
    const long = [...files, ...['test', 'examples', 'bench'].flatMap(sourceFiles)]
      .map((path) => ({ path, lines: readFileSync(join(root, path), 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${relative('.', f.path)}: ${f.lines} lines`)
    expect(long).toEqual([])
  })
})
