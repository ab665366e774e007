/**
 * The shape of the house: imports flow one way through the stages of the
 * pipeline, the backends use src/ only through its stages' public modules,
 * and no source file grows past what can be read in one sitting. Import
 * cycles are Biome's to find (`noImportCycles`, in the lint step of the test
 * command); this file checks the direction, which a cycle checker cannot.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
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
  ['src/cpu', 'src/ops.ts', 'src/random.ts', 'src/transforms.ts', 'src/jit.ts'], // the public API of the spine
  ['src/nn', 'src/optim', 'src/train', 'src/io', 'src/plot', 'src/recurrent'], // what is built on it
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

interface Edge {
  readonly from: string
  readonly to: string
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(join(root, path)).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

const IMPORT =
  /^(?:import|export)\s+(type\s+)?(\{[^}]*\}|\*(?:\s+as\s+\w+)?|[\w$]+(?:\s*,\s*\{[^}]*\})?)?\s*(?:from\s+)?'([^']+)'/gm

/** The value imports of one file: relative specifiers, resolved against the repository root. */
function valueImports(path: string, text: string): Edge[] {
  const edges: Edge[] = []
  for (const [, typeOnly, names, specifier] of text.matchAll(IMPORT)) {
    if (!specifier.startsWith('.') || typeOnly !== undefined) continue
    if (names?.startsWith('{')) {
      const items = names
        .slice(1, -1)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
      if (items.length > 0 && items.every((s) => s.startsWith('type '))) continue
    }
    edges.push({ from: path, to: normalize(join(dirname(path), specifier)) })
  }
  return edges
}

const layerOf = (path: string): number =>
  layers.findIndex((layer) => layer.some((entry) => path === entry || path.startsWith(`${entry}/`)))

/** Every edge that breaks a rule, as a sentence naming both ends. */
function violations(edges: readonly Edge[]): string[] {
  const found: string[] = []
  for (const { from, to } of edges) {
    const fromSrc = from.startsWith('src/')
    if (fromSrc && !to.startsWith('src/')) found.push(`${from} imports ${to}: src/ imports nothing outside src/`)
    else if (fromSrc) {
      const [a, b] = [layerOf(from), layerOf(to)]
      if (a < 0 || b < 0) found.push(`${from} imports ${to}: ${a < 0 ? from : to} is in no layer of the table`)
      else if (b > a) found.push(`${from} (layer ${a}) imports ${to} (layer ${b}): imports flow down the layers`)
    } else if (to.startsWith('src/') && !publicModules.includes(to))
      found.push(`${from} imports ${to}: outside src/, use the stages' public modules (${publicModules.join(', ')})`)
  }
  return found
}

const files = ['src', 'gpu', 'laws'].flatMap(sourceFiles)
const edges = files.flatMap((path) => valueImports(path, readFileSync(join(root, path), 'utf8')))

describe('architecture', () => {
  it('imports flow down the layers of src/, and gpu/ and laws/ use only its public modules', () => {
    expect(edges.length).toBeGreaterThan(100)
    expect(violations(edges)).toEqual([])
  })

  it('the check sees a wrong-way import, an import of a backend, and a reach into src/ internals', () => {
    const planted: Edge[] = [
      { from: 'src/ir/program.ts', to: 'src/core/trace.ts' },
      { from: 'src/core/trace.ts', to: 'src/rules.ts' },
      { from: 'src/ops.ts', to: 'gpu/index.ts' },
      { from: 'gpu/lower/index.ts', to: 'src/primitives/ndarray.ts' },
    ]
    expect(violations(planted)).toHaveLength(planted.length)
    expect(violations([{ from: 'src/ad/jvp.ts', to: 'src/core/trace.ts' }])).toEqual([])
  })

  it('type-only imports are not value imports', () => {
    const text = [
      "import type { Program } from '../ir/program.ts'",
      "import { type Aval, type Tensor } from '../tensor.ts'",
      "import { ruleOf } from './registry.ts'",
      "export { stage } from './staging.ts'",
    ].join('\n')
    expect(valueImports('src/core/x.ts', text).map((e) => e.to)).toEqual([
      'src/core/registry.ts',
      'src/core/staging.ts',
    ])
  })

  it(`no source file (library, tests, examples, benchmarks) is longer than ${MAX_LINES} lines`, () => {
    const long = [...files, ...['test', 'examples', 'bench'].flatMap(sourceFiles)]
      .map((path) => ({ path, lines: readFileSync(join(root, path), 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${relative('.', f.path)}: ${f.lines} lines`)
    expect(long).toEqual([])
  })
})
