/**
 * The code blocks of README.md and docs/*.md compile against the library's
 * sources, and the short ones run, so the documentation cannot drift from the
 * API.
 *
 * Every block fenced ```ts, ```typescript or ```js is a module of its own.
 * Its imports of 'adjoint' and 'adjoint/laws' mean what they mean to a user:
 * here they resolve to the sources, index.ts and laws/index.ts. All blocks are
 * type-checked in one run of TypeScript 7 with the repository's compiler
 * options (tsconfig.json), and a failure names the markdown file, the line and
 * the compiler's message. Untagged blocks (printed output, diagrams) and sh
 * blocks are not checked.
 *
 * HTML comments on the lines right above a fence (no blank line between them
 * and the fence) say more. An unknown one there is an error, and so is a
 * marker anywhere else, so a misspelled or misplaced marker cannot switch a
 * check off:
 *
 *   <!-- run -->                 the block also runs (tsx, in a child process,
 *                                ADJOINT_BACKEND=cpu) and must exit with 0;
 *                                for short, self-contained blocks.
 *   <!-- continues -->           the block goes on from the previous checked
 *                                block of the same file: the two (or more) are
 *                                checked, and run, as one module.
 *   <!-- assume: <code> -->      TypeScript put before the block, for the names
 *                                a sketch takes from its surroundings: `declare`
 *                                statements for a block that is only checked,
 *                                small real values for one that runs. It may
 *                                span several lines; an error in it is reported
 *                                at its line of the comment.
 *   <!-- no-check: <reason> -->  the block is not checked; the reason is required.
 *
 * A line of a block that ends in `// does not compile` must not compile, and
 * with `// does not compile: "text"` the compiler's message there must contain
 * that text; a run leaves the line out, so it must be a statement of its own.
 *
 * The modules are written to a temporary folder under node_modules/.cache, so
 * that they resolve the installed packages (the type packages, fast-check) as
 * a user's would, and removed afterwards.
 *
 * The checker is checked on a planted markdown file: of its blocks, exactly
 * the wrong ones must be reported, each at its own line.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CheckedModule,
  EXPECTED_ERROR,
  type Failure,
  format,
  moduleFolder,
  prepare,
  root,
  runEach,
  type SourceLine,
  typeCheck,
} from './lib/checked-modules.ts'

const CHECKED_LANGUAGES = new Set(['ts', 'typescript', 'js'])

/** One fenced block as it stands in its markdown file. */
interface Block {
  readonly file: string
  /** The line of the opening fence (1-based). */
  readonly line: number
  readonly language: 'ts' | 'js'
  /** The block's lines, each with its markdown line. */
  readonly code: readonly SourceLine[]
  /** The lines of an `assume` marker. */
  readonly assumed: readonly SourceLine[]
  readonly run: boolean
  readonly continues: boolean
  /** The reason given by `no-check`; undefined when the block is checked. */
  readonly noCheck: string | undefined
}

/** A module to check: one block, or a block with the blocks it continues; located at the last one. */
interface Unit extends CheckedModule {
  /** The block the unit is named after (the last one). */
  readonly block: Block
}

/** The HTML comments that end on the lines right above `index`, with the line each starts on. */
function markersAbove(lines: readonly string[], index: number): { text: string; line: number }[] {
  const markers: { text: string; line: number }[] = []
  let end = index - 1
  while (end >= 0 && lines[end].trimEnd().endsWith('-->')) {
    let start = end
    while (start >= 0 && !lines[start].includes('<!--')) start--
    if (start < 0) break
    const text = lines.slice(start, end + 1).join('\n')
    const open = text.lastIndexOf('<!--')
    markers.unshift({ text: text.slice(open + 4, text.lastIndexOf('-->')), line: start + 1 })
    end = start - 1
  }
  return markers
}

/** The checked-language blocks of one markdown text, with their markers. */
function extractBlocks(file: string, markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  const attached = new Set<number>()
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i])
    if (open === null) continue
    const fence = open[1]
    const info = open[2].toLowerCase()
    let close = i + 1
    const closing = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`)
    while (close < lines.length && !closing.test(lines[close])) close++
    if (close === lines.length) throw new Error(`${file}:${i + 1}: the fence opened here is never closed`)
    const fenceLine = i + 1
    const code = lines.slice(i + 1, close).map((text, k) => ({ text, line: fenceLine + 1 + k }))
    i = close
    if (!CHECKED_LANGUAGES.has(info)) continue
    let run = false
    let continues = false
    let noCheck: string | undefined
    const assumed: SourceLine[] = []
    for (const marker of markersAbove(lines, fenceLine - 1)) {
      attached.add(marker.line)
      const m = /^\s*([\w-]+)\s*:?\s*([\s\S]*?)\s*$/.exec(marker.text)
      const keyword = m?.[1] ?? ''
      const rest = m?.[2] ?? ''
      if (keyword === 'run' && rest === '') run = true
      else if (keyword === 'continues' && rest === '') continues = true
      else if (keyword === 'no-check') {
        if (rest === '') throw new Error(`${file}:${marker.line}: no-check needs a reason: <!-- no-check: why -->`)
        noCheck = rest
      } else if (keyword === 'assume') {
        const start = marker.text.indexOf('assume') + 'assume'.length
        const body = marker.text.slice(start).replace(/^\s*:?/, '')
        // Line by line, each at its markdown line: the first follows the keyword on the marker's own line.
        body.split('\n').forEach((text, k) => {
          if (text.trim() !== '') assumed.push({ text, line: marker.line + k })
        })
      } else
        throw new Error(
          `${file}:${marker.line}: unknown marker <!--${marker.text}-->; expected run, continues, assume: ... or no-check: ...`,
        )
    }
    if (noCheck !== undefined && (run || continues || assumed.length > 0))
      throw new Error(`${file}:${fenceLine}: a no-check block cannot also be run, continue or assume`)
    blocks.push({
      file,
      line: fenceLine,
      language: info === 'js' ? 'js' : 'ts',
      code,
      assumed,
      run,
      continues,
      noCheck,
    })
  }
  // A marker away from a fence (a blank line between them) would silently check less.
  lines.forEach((text, k) => {
    if (/^\s*<!--\s*(run|continues|assume|no-check)\b/.test(text) && !attached.has(k + 1))
      throw new Error(`${file}:${k + 1}: a marker must be right above a ts, typescript or js fence`)
  })
  return blocks
}

/** The modules to check: each checked block, joined to the blocks it continues. */
function unitsOf(blocks: readonly Block[]): Unit[] {
  const units: Unit[] = []
  const chains = new Map<string, Block[]>()
  for (const block of blocks) {
    if (block.noCheck !== undefined) {
      chains.delete(block.file)
      continue
    }
    const previous = chains.get(block.file)
    if (block.continues && previous === undefined)
      throw new Error(`${block.file}:${block.line}: a continues block needs a checked block before it`)
    const chain = block.continues ? [...previous!, block] : [block]
    chains.set(block.file, chain)
    const lines: SourceLine[] = []
    const expected = new Map<number, string>()
    for (const part of chain) {
      lines.push(...part.assumed)
      for (const l of part.code) {
        const m = EXPECTED_ERROR.exec(l.text)
        if (m !== null) expected.set(lines.length + 1, m[1] ?? '')
        lines.push(l)
      }
    }
    if (chain.some((b) => b.language !== block.language))
      throw new Error(`${block.file}:${block.line}: a continues block is in another language than the block before it`)
    const id = `b${units.length}_${block.file.replace(/[^\w]+/g, '_')}_${block.line}`
    units.push({
      id,
      block,
      file: block.file,
      line: block.line,
      language: block.language,
      lines,
      expected,
      run: block.run,
    })
  }
  return units
}

/** README.md and every markdown file under docs/. */
function documentation(): string[] {
  const docs: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) docs.push(path)
    }
  }
  walk('docs')
  return ['README.md', ...docs.sort()]
}

const F = '```'
/** A markdown file with blocks right and wrong; `@` marks a line the checker must report (and is removed). */
const PLANTED_SOURCE = [
  '# Planted',
  '',
  '<!-- run -->',
  `${F}ts`,
  "import { ops, tensor } from 'adjoint'",
  'const a = tensor([[1, 2]])',
  'console.log(ops.matmul(a, tensor([[3], [4]])).toString())',
  'ops.matmul(a, a) // does not compile: "inner dimensions differ"',
  F,
  '',
  '<!-- continues -->',
  `${F}ts`,
  'const c: number = a.shape[1]',
  '@const d: string = a.shape[0]',
  '@ops.matmul(a, a) // does not compile: "a message the compiler does not give"',
  F,
  '',
  'Prose.',
  '',
  `${F}ts`,
  "import { ops, tensor } from 'adjoint'",
  '@const b = ops.matmul(tensor([[1, 2]]), tensor([[1, 2, 3]]))',
  F,
  '',
  `${F}typescript`,
  "@import { gard } from 'adjoint'",
  F,
  '',
  '<!-- assume:',
  'declare const e: { w: number }',
  '@declare const g: Strin',
  '-->',
  '<!-- run -->',
  `${F}ts`,
  "import { tensor } from 'adjoint'",
  'if ((await tensor([1, 2]).data())[0] === 1) throw new Error("planted failure")',
  '@tensor([1]) // does not compile',
  'export const f = typeof e',
  F,
  '',
  `${F}js`,
  "import { tensor } from 'adjoint'",
  '@tensor([1]).nonexistent()',
  F,
  '',
  '<!-- no-check: not TypeScript -->',
  `${F}ts`,
  'this is not TypeScript',
  F,
  '',
  `${F}sh`,
  'npm ci && npm test',
  F,
  '',
  F,
  '{ lambda a:f32[] . }',
  F,
].join('\n')
const PLANTED = PLANTED_SOURCE.split('\n')
  .map((l) => l.replace(/^@/, ''))
  .join('\n')
const PLANTED_LINES = PLANTED_SOURCE.split('\n').flatMap((l, k) => (l.startsWith('@') ? [k + 1] : []))
const PLANTED_THROWING_BLOCK = PLANTED_SOURCE.split('\n').indexOf('<!-- run -->', 10) + 2

describe('the code blocks of README.md and docs/*.md', () => {
  let dir = ''
  let documented: Block[] = []
  let typeFailures: Failure[] = []
  let runFailures: Failure[] = []
  beforeAll(async () => {
    // Inside the repository, so that the blocks resolve node_modules (the type packages, fast-check) as a user's would.
    dir = moduleFolder('readme-blocks-')
    documented = documentation().flatMap((file) => extractBlocks(file, readFileSync(join(root, file), 'utf8')))
    const units = unitsOf([...documented, ...extractBlocks('planted.md', PLANTED)])
    prepare(units, dir)
    const [types, runs] = await Promise.all([typeCheck(units, dir), runEach(units, dir)])
    typeFailures = types
    runFailures = runs
  }, 120_000)
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  it('every ts, typescript and js block type-checks', () => {
    const found = typeFailures.filter((f) => f.file !== 'planted.md').map(format)
    expect(found, found.join('\n\n')).toEqual([])
    expect(documented.filter((b) => b.noCheck === undefined).length).toBeGreaterThan(5)
  })

  it('every block marked run runs', () => {
    const found = runFailures.filter((f) => f.file !== 'planted.md').map(format)
    expect(found, found.join('\n\n')).toEqual([])
    expect(documented.some((b) => b.file === 'README.md' && b.run)).toBe(true)
  })

  it('the checker reports exactly the planted errors, each at its line', () => {
    const planted = typeFailures.filter((f) => f.file === 'planted.md')
    expect(planted.map((f) => f.line)).toEqual(PLANTED_LINES)
    const kinds = [
      /TS2322: Type 'number' is not assignable to type 'string'/,
      /does not compile, but not with "a message the compiler does not give"/,
      /matmul: inner dimensions differ/,
      /TS2305: .*'gard'/,
      /TS2552: Cannot find name 'Strin'/,
      /marked "does not compile", but compiles/,
      /TS2339: Property 'nonexistent' does not exist/,
    ]
    expect(
      planted.map((f, k) => kinds[k]?.test(f.message)),
      planted.map(format).join('\n\n'),
    ).toEqual(kinds.map(() => true))
    expect(
      runFailures.filter((f) => f.file === 'planted.md').map((f) => [f.line, /planted failure/.test(f.message)]),
    ).toEqual([[PLANTED_THROWING_BLOCK, true]])
  })

  it('refuses a misspelled marker, a no-check without a reason, a continues with nothing before it and a stray marker', () => {
    expect(() => extractBlocks('m.md', `<!-- runn -->\n${F}ts\n1\n${F}`)).toThrow(
      /m\.md:1: unknown marker <!-- runn -->/,
    )
    expect(() => extractBlocks('m.md', `<!-- no-check -->\n${F}ts\n1\n${F}`)).toThrow(/needs a reason/)
    expect(() => unitsOf(extractBlocks('m.md', `<!-- continues -->\n${F}ts\n1\n${F}`))).toThrow(/m\.md:2/)
    expect(() => extractBlocks('m.md', `<!-- run -->\n\n${F}ts\n1\n${F}`)).toThrow(
      /m\.md:1: a marker must be right above/,
    )
  })
})
