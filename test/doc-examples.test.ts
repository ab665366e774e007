/**
 * The `@example` sections of the doc comments (what an editor shows on hover
 * and the API reference prints) compile against the library's sources and
 * run, so they cannot drift from the API.
 *
 * Every `/** ... *\/` comment of index.ts and of the .ts files under src/,
 * gpu/ and laws/ is found through TypeScript 5.4's parser (so a string that
 * looks like a comment is not one). A comment's lines lose their leading
 * ` * `; a line starting with `@tag` (outside a ``` fence) starts a block tag,
 * and an `@example` section runs to the next tag or the end of the comment.
 * As typedoc reads it:
 *
 * - a section with a ``` fence is markdown: the text after `@example` is its
 *   title, prose is prose, and its ts, typescript or js fences are the code
 *   (several fences are one module; a fence in another language, or none
 *   tagged, is output and not checked, but an example needs one checked
 *   fence);
 * - a section without a fence is code as a whole, from the text after
 *   `@example` on, less a leading `<caption>...</caption>`.
 *
 * Each example is a module of its own, written as a user's code is: the
 * package's exports are in scope through a generated first line,
 * `import { ...every value export, type ...every type-only export } from 'adjoint'`
 * (for laws/, also those of 'adjoint/laws'), less the names the example
 * declares at its top level itself. All examples are type-checked in one run
 * of TypeScript 7 with the repository's compiler options (the machinery of
 * test/readme-blocks.test.ts, test/lib/checked-modules.ts), and a line ending
 * in `// does not compile: "text"` must fail with that text, as in the README.
 *
 * An example that declares what it takes from its surroundings
 * (`declare const x: Tensor<[B, 784]>`) is a sketch: type-checked, not run.
 * Every other example is a complete program and runs, all of them in one tsx
 * process on the CPU backend, one after another; one that throws (or leaves
 * a rejected promise) fails, named by its file and the line it threw from.
 *
 * The checker is checked on a planted source file: of its examples, exactly
 * the wrong ones are reported, each at its line.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import ts from 'typescript-5.4'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CheckedModule,
  EXPECTED_ERROR,
  entryUrls,
  type Failure,
  format,
  moduleFolder,
  prepare,
  root,
  runEnvironment,
  runFile,
  runnable,
  type SourceLine,
  spawnCollect,
  typeCheck,
} from './lib/checked-modules.ts'

const CHECKED_LANGUAGES = new Set(['ts', 'typescript', 'js'])

/** One `@example` section, as it stands in its source file. */
interface DocExample {
  readonly file: string
  /** The line of the `@example` tag (1-based). */
  readonly line: number
  readonly language: 'ts' | 'js'
  /** The example's code, each line at its line of the source file. */
  readonly code: readonly SourceLine[]
}

/** The doc comments (`/** ... *\/`) of a source text, each with the line it starts on. */
function docComments(file: string, text: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const starts = new Map<number, number>()
  // Every comment is in the trivia before some token: leading from the first line break on, trailing before it.
  const visit = (node: ts.Node): void => {
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return
    for (const ranges of [ts.getLeadingCommentRanges(text, node.pos), ts.getTrailingCommentRanges(text, node.pos)])
      for (const r of ranges ?? []) if (text.startsWith('/**', r.pos) && r.end - r.pos > 4) starts.set(r.pos, r.end)
    for (const child of node.getChildren(source)) visit(child)
  }
  visit(source)
  return [...starts]
    .sort((a, b) => a[0] - b[0])
    .map(([pos, end]) => ({
      text: text.slice(pos, end),
      line: source.getLineAndCharacterOfPosition(pos).line + 1,
    }))
}

/** A comment's lines without `/**`, `*\/` and each line's leading ` * `. */
function commentLines(comment: { text: string; line: number }): SourceLine[] {
  return comment.text
    .slice(3, -2)
    .split('\n')
    .map((raw, k) => ({
      text: (k === 0 ? raw.replace(/^ /, '') : raw.replace(/^\s*\* ?/, '')).trimEnd(),
      line: comment.line + k,
    }))
}

const FENCE = /^ {0,3}(`{3,})\s*([^\s`]*)/

/** The `@example` sections of a source text, and what is wrong with any of them. */
function examplesOf(file: string, text: string): { examples: DocExample[]; problems: Failure[] } {
  const examples: DocExample[] = []
  const problems: Failure[] = []
  for (const comment of docComments(file, text)) {
    const sections: { line: number; body: SourceLine[] }[] = []
    let inExample = false
    let fence = ''
    for (const l of commentLines(comment)) {
      const tag = fence === '' ? /^\s*@(\w+)(.*)$/.exec(l.text) : null
      if (tag !== null) {
        inExample = tag[1] === 'example'
        if (inExample) sections.push({ line: l.line, body: [{ text: tag[2].replace(/^ /, ''), line: l.line }] })
        continue
      }
      const f = FENCE.exec(l.text)
      if (f !== null && fence === '') fence = f[1]
      else if (fence !== '' && l.text.trim().startsWith(fence) && l.text.trim().replace(/`/g, '') === '') fence = ''
      if (inExample) sections[sections.length - 1].body.push(l)
    }
    for (const section of sections) {
      const found = exampleCode(file, section.line, section.body)
      if (typeof found === 'string') problems.push({ file, line: section.line, message: found })
      else examples.push(found)
    }
  }
  return { examples, problems }
}

/** The code of one `@example` section (its lines, the tag's own line first), or what is wrong with it. */
function exampleCode(file: string, line: number, body: readonly SourceLine[]): DocExample | string {
  if (!body.some((l) => FENCE.test(l.text))) {
    const code = [...body]
    while (code.length > 0 && code[0].text.trim() === '') code.shift()
    if (code.length === 0) return 'the example is empty'
    const caption = /^\s*<caption>.*?<\/caption>\s*/.exec(code[0].text)
    if (caption !== null) code[0] = { ...code[0], text: code[0].text.slice(caption[0].length) }
    while (code.length > 0 && code[code.length - 1].text.trim() === '') code.pop()
    if (code.every((l) => l.text.trim() === '')) return 'the example is empty'
    return { file, line, language: 'ts', code }
  }
  // Markdown: the tag's line is the title; the checked fences are the code.
  const code: SourceLine[] = []
  const languages = new Set<string>()
  for (let i = 1; i < body.length; i++) {
    const open = FENCE.exec(body[i].text)
    if (open === null) continue
    let close = i + 1
    while (close < body.length && !new RegExp(`^ {0,3}${open[1]}\`*\\s*$`).test(body[close].text)) close++
    if (close === body.length) return `the fence opened at line ${body[i].line} is never closed`
    const info = open[2].toLowerCase()
    if (CHECKED_LANGUAGES.has(info)) {
      languages.add(info === 'js' ? 'js' : 'ts')
      code.push(...body.slice(i + 1, close))
    }
    i = close
  }
  if (languages.size === 0) return 'the example has fences, but none is ts, typescript or js: nothing to check'
  if (languages.size > 1) return 'the example mixes js and ts fences'
  return { file, line, language: languages.has('js') ? 'js' : 'ts', code }
}

/** A name an entry exports; `type` when it is only a type. */
interface Export {
  readonly name: string
  readonly type: boolean
}

const hasModifier = (node: ts.Node, kind: ts.SyntaxKind): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind)

function bindingNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text]
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(e.name)))
}

/** The names a statement declares in its scope, and whether only as types. */
function declared(statement: ts.Statement): Export[] {
  if (ts.isVariableStatement(statement))
    return statement.declarationList.declarations.flatMap((d) =>
      bindingNames(d.name).map((name) => ({ name, type: false })),
    )
  if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement))
    return [{ name: statement.name.text, type: true }]
  if (
    (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) &&
    statement.name !== undefined
  )
    return [{ name: statement.name.text, type: false }]
  if (ts.isModuleDeclaration(statement) && ts.isIdentifier(statement.name))
    return [{ name: statement.name.text, type: false }]
  if (ts.isImportEqualsDeclaration(statement)) return [{ name: statement.name.text, type: statement.isTypeOnly }]
  if (ts.isImportDeclaration(statement) && statement.importClause !== undefined) {
    const clause = statement.importClause
    const names: Export[] = clause.name === undefined ? [] : [{ name: clause.name.text, type: clause.isTypeOnly }]
    const bindings = clause.namedBindings
    if (bindings !== undefined && ts.isNamespaceImport(bindings))
      names.push({ name: bindings.name.text, type: clause.isTypeOnly })
    else if (bindings !== undefined)
      for (const e of bindings.elements) names.push({ name: e.name.text, type: clause.isTypeOnly || e.isTypeOnly })
    return names
  }
  return []
}

/**
 * What a module exports, read from the syntax and following `export *`. Under the repository's
 * verbatimModuleSyntax a re-exported type must say `type`, so an export without it is a value.
 */
function exportsOf(file: string): Export[] {
  const text = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const local = new Map<string, boolean>()
  for (const s of source.statements)
    for (const d of declared(s)) local.set(d.name, (local.get(d.name) ?? true) && d.type)
  const found: Export[] = []
  for (const s of source.statements) {
    if (ts.isExportDeclaration(s)) {
      const from =
        s.moduleSpecifier !== undefined && ts.isStringLiteral(s.moduleSpecifier)
          ? join(dirname(file), s.moduleSpecifier.text)
          : undefined
      if (s.exportClause === undefined && from !== undefined)
        found.push(...exportsOf(from).map((e) => ({ name: e.name, type: e.type || s.isTypeOnly })))
      else if (s.exportClause !== undefined && ts.isNamespaceExport(s.exportClause))
        found.push({ name: s.exportClause.name.text, type: s.isTypeOnly })
      else if (s.exportClause !== undefined)
        for (const e of s.exportClause.elements) {
          const own = (e.propertyName ?? e.name).text
          const type = s.isTypeOnly || e.isTypeOnly || (from === undefined && local.get(own) === true)
          found.push({ name: e.name.text, type })
        }
    } else if (hasModifier(s, ts.SyntaxKind.ExportKeyword) && !hasModifier(s, ts.SyntaxKind.DefaultKeyword))
      found.push(...declared(s))
  }
  const byName = new Map<string, boolean>()
  for (const e of found) byName.set(e.name, (byName.get(e.name) ?? true) && e.type)
  return [...byName].map(([name, type]) => ({ name, type }))
}

/** The exports of 'adjoint' and 'adjoint/laws'. */
const entryExports = (): Record<'adjoint' | 'adjoint/laws', Export[]> => ({
  adjoint: exportsOf(join(root, 'index.ts')),
  'adjoint/laws': exportsOf(join(root, 'laws/index.ts')),
})

/** An import of `names` from `entry`, on one line, as a module in `language` may write it. */
function importLine(entry: string, names: readonly Export[], language: 'ts' | 'js'): string {
  const listed = names
    .filter((e) => language === 'ts' || !e.type)
    .map((e) => (e.type ? `type ${e.name}` : e.name))
    .join(', ')
  return `import { ${listed} } from '${entry}'`
}

/**
 * An example as a module: the package's exports imported on its first line(s), which stand for the
 * `@example` line; run unless a top-level statement is a `declare`.
 */
function moduleOf(example: DocExample, index: number, exports: ReturnType<typeof entryExports>): CheckedModule {
  const text = example.code.map((l) => l.text).join('\n')
  const kind = example.language === 'js' ? ts.ScriptKind.JS : ts.ScriptKind.TS
  const source = ts.createSourceFile('example.ts', text, ts.ScriptTarget.Latest, false, kind)
  const own = new Set(source.statements.flatMap((s) => declared(s).map((d) => d.name)))
  const sketch = source.statements.some((s) => hasModifier(s, ts.SyntaxKind.DeclareKeyword))
  const laws = example.file.startsWith('laws/') ? exports['adjoint/laws'].filter((e) => !own.has(e.name)) : []
  const fromLaws = new Set(laws.map((e) => e.name))
  const main = exports.adjoint.filter((e) => !own.has(e.name) && !fromLaws.has(e.name))
  const header = [
    ...(laws.length > 0 ? [importLine('adjoint/laws', laws, example.language)] : []),
    importLine('adjoint', main, example.language),
  ].map((t) => ({ text: t, line: example.line }))
  const lines = [...header, ...example.code]
  const expected = new Map<number, string>()
  lines.forEach((l, k) => {
    const m = k < header.length ? null : EXPECTED_ERROR.exec(l.text)
    if (m !== null) expected.set(k + 1, m[1] ?? '')
  })
  const id = `x${index}_${example.file.replace(/[^\w]+/g, '_')}_${example.line}`
  return { id, file: example.file, line: example.line, language: example.language, lines, expected, run: !sketch }
}

const REPORT = '@@doc-example '

/** What the run of all examples found: the failures, and the names each entry exports at run time. */
interface RunResult {
  readonly failures: Failure[]
  readonly runtimeExports: Record<string, string[]>
}

/**
 * Runs the modules marked run one after another in one tsx process (the library is loaded once); each
 * reports back whether it threw, or left a rejected promise, before the next starts.
 */
async function runTogether(units: readonly CheckedModule[], dir: string): Promise<RunResult> {
  const queue = units.filter((u) => u.run)
  for (const unit of queue) writeFileSync(join(dir, runFile(unit)), `${runnable(unit)}\n`)
  const runner = `
const report = (r) => process.stdout.write(${JSON.stringify(REPORT)} + JSON.stringify(r) + '\\n')
Error.stackTraceLimit = 40
const told = (e) => (e instanceof Error ? (e.stack ?? String(e)) : String(e))
let errors = []
process.on('unhandledRejection', (e) => errors.push('a promise it made was rejected: ' + told(e)))
process.on('uncaughtException', (e) => errors.push(told(e)))
const exports = {}
for (const [entry, url] of Object.entries(${JSON.stringify(entryUrls)})) exports[entry] = Object.keys(await import(url))
report({ exports })
for (const file of ${JSON.stringify(queue.map(runFile))}) {
  errors = []
  try {
    await import('./' + file)
  } catch (e) {
    errors.push(told(e))
  }
  await new Promise((settled) => setTimeout(settled, 0))
  report({ file, errors })
}
`
  writeFileSync(join(dir, 'run-examples.mjs'), runner)
  const { code, output } = await spawnCollect(
    process.execPath,
    ['--import', 'tsx', 'run-examples.mjs'],
    dir,
    runEnvironment(dir),
  )
  const reports = output
    .split('\n')
    .filter((l) => l.startsWith(REPORT))
    .map(
      (l) =>
        JSON.parse(l.slice(REPORT.length)) as { exports?: Record<string, string[]>; file?: string; errors?: string[] },
    )
  const rest = output
    .split('\n')
    .filter((l) => !l.startsWith(REPORT))
    .join('\n')
    .trim()
  const failures: Failure[] = []
  for (const unit of queue) {
    const result = reports.find((r) => r.file === runFile(unit))
    if (result === undefined) {
      const tail = rest.split('\n').slice(-15).join('\n')
      failures.push({ file: unit.file, line: unit.line, message: `the run ended (exit ${code}) before it:\n${tail}` })
      continue
    }
    // The example's own frames, by their line of the documentation; the innermost is the line it threw from.
    const frame = new RegExp(`(?:file://)?[^\\s()]*${runFile(unit).replace(/\./g, '\\.')}:(\\d+):\\d+`, 'g')
    for (const error of result.errors ?? []) {
      const at = [...error.matchAll(frame)].map((m) => unit.lines[Number(m[1]) - 1]?.line ?? unit.line)
      const lines = error
        .replace(frame, (_whole, line: string) => `${unit.file}:${unit.lines[Number(line) - 1]?.line ?? unit.line}`)
        .split('\n')
      // The message, the first frames, then the example's own frames (the lines of it that led there).
      const own = (l: string) => l.includes(`(${unit.file}:`) || l.includes(` ${unit.file}:`)
      const firstFrame = lines.findIndex((l) => /^\s+at /.test(l))
      const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame + 3)
      const later = lines.slice(head.length).filter(own)
      const shown = [...head, ...(later.length > 0 ? ['    ...', ...later] : [])].join('\n')
      failures.push({ file: unit.file, line: at[0] ?? unit.line, message: `throws: ${shown}` })
    }
  }
  return { failures, runtimeExports: reports.find((r) => r.exports !== undefined)?.exports ?? {} }
}

/** index.ts and every .ts file under src/, gpu/ and laws/, relative to the repository. */
function sources(): string[] {
  const found = ['index.ts']
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts')) found.push(path)
    }
  }
  for (const dir of ['src', 'gpu', 'laws']) walk(dir)
  return found.sort()
}

/** The `@example` tags of a text by a plain search: a comment line that is the tag. */
const tagCount = (text: string): number => text.match(/^\s*(?:\/\*\*|\*)\s*@example\b/gm)?.length ?? 0

const F = '```'
/** A source file whose doc comments hold examples right and wrong. */
const PLANTED = [
  '/**',
  ' * Unfenced and correct; a local `shape` shadows the export of that name.',
  ' *',
  ' * @example',
  ' * const shape = [3] as const',
  ' * const x = ops.add(ops.zeros(shape), tensor([1, 2, 3]))',
  ' * console.log(ops.sum(x).toString())',
  ' * @param x the tensor',
  ' * @returns its sum',
  ' */',
  'export const sum = (x: number): number => x',
  '',
  '/**',
  ' * A wrong shape, fenced, under a title.',
  ' *',
  ' * @example Matrix products',
  ` * ${F}ts`,
  ' * const a = tensor([[1, 2]])',
  ' * const b = ops.matmul(a, a)',
  ` * ${F}`,
  ' * Prose after the fence is not code.',
  ' */',
  'export const product = 2 /**',
  ' * @example gard((x: Tensor<[]>) => x)',
  ' */',
  "export const s = '/** @example this is not code */'",
  '',
  '/**',
  ' * A sketch, with a declared input, is checked but not run.',
  ' * @example',
  ' * declare const x: Tensor<[2, 3]>',
  ' * const y = ops.matmul(x, ops.transpose(x))',
  ' * ops.matmul(x, x) // does not compile: "inner dimensions differ"',
  ' */',
  'export const sketch = 3',
  '',
  '/**',
  ' * Compiles, but throws when it runs.',
  ' *',
  ' * @example',
  ' * const data = await tensor([1, 2]).data()',
  " * if (data[0] === 1) throw new Error('planted failure')",
  ' */',
  '/**',
  ' * @example',
  ` * ${F}ts`,
  ' * tensor([1]).nonexistent()',
  ` * ${F}`,
  ` * ${F}`,
  ' * output, not code',
  ` * ${F}`,
  ' */',
  '/** @example <caption>One line</caption> ops.sum(tensor([1, 2])) */',
  '/**',
  ' * @example',
  ` * ${F}sh`,
  ' * npm test',
  ` * ${F}`,
  ' */',
].join('\n')
/** A planted file under laws/: its examples have the exports of 'adjoint/laws' in scope as well. */
const PLANTED_LAWS = [
  '/**',
  ' * @example',
  " * const checks = primitiveLaws('exp')",
  ' * console.log(checks.length > 0, ops.sum(tensor([1, 2])).toString())',
  ' */',
  'export const l = 1',
].join('\n')
const PLANTED_FILES = new Set(['planted.ts', 'laws/planted.ts'])
const isPlanted = (f: { readonly file: string }): boolean => PLANTED_FILES.has(f.file)
const plantedLine = (part: string): number => PLANTED.split('\n').findIndex((l) => l.includes(part)) + 1

describe('the @example sections of the doc comments', () => {
  let dir = ''
  const documented: DocExample[] = []
  const problems: Failure[] = []
  let planted: { examples: DocExample[]; problems: Failure[] } = { examples: [], problems: [] }
  let units: CheckedModule[] = []
  let typeFailures: Failure[] = []
  let run: RunResult = { failures: [], runtimeExports: {} }
  let exports = { adjoint: [] as Export[], 'adjoint/laws': [] as Export[] }
  const files = new Map<string, string>()
  beforeAll(async () => {
    for (const file of sources()) {
      const text = readFileSync(join(root, file), 'utf8')
      if (text.includes('@example')) files.set(file, text)
    }
    for (const [file, text] of files) {
      const found = examplesOf(file, text)
      documented.push(...found.examples)
      problems.push(...found.problems)
    }
    planted = examplesOf('planted.ts', PLANTED)
    const plantedLaws = examplesOf('laws/planted.ts', PLANTED_LAWS).examples
    exports = entryExports()
    units = [...documented, ...planted.examples, ...plantedLaws].map((e, k) => moduleOf(e, k, exports))
    dir = moduleFolder('doc-examples-')
    prepare(units, dir)
    ;[typeFailures, run] = await Promise.all([typeCheck(units, dir), runTogether(units, dir)])
  }, 120_000)
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  it('finds every @example tag of the sources, and each has code to check', () => {
    const found = problems.map(format)
    expect(found, found.join('\n\n')).toEqual([])
    for (const [file, text] of files)
      expect(documented.filter((e) => e.file === file).length, file).toBe(tagCount(text))
    expect(documented.length).toBeGreaterThanOrEqual(23)
  })

  it('every example type-checks', () => {
    const found = typeFailures.filter((f) => !isPlanted(f)).map(format)
    expect(found, found.join('\n\n')).toEqual([])
  })

  it('every example that is a complete program runs', () => {
    const found = run.failures.filter((f) => !isPlanted(f)).map(format)
    expect(found, found.join('\n\n')).toEqual([])
    const ran = units.filter((u) => u.run && !isPlanted(u))
    expect(ran.length, 'the examples that run').toBeGreaterThanOrEqual(20)
  })

  it('the generated imports name exactly the values each entry exports at run time', () => {
    for (const entry of ['adjoint', 'adjoint/laws'] as const) {
      const values = exports[entry].filter((e) => !e.type).map((e) => e.name)
      const atRunTime = (run.runtimeExports[entry] ?? []).filter((n) => n !== 'default')
      expect(values.sort(), entry).toEqual(atRunTime.sort())
      expect(exports[entry].some((e) => e.type)).toBe(true)
    }
  })

  it('on a planted source, reports exactly the wrong examples, each at its line', () => {
    const tagLines = PLANTED.split('\n').flatMap((l, k) => (tagCount(l) > 0 ? [k + 1] : []))
    expect(tagLines).toHaveLength(8)
    const examined = [...planted.examples.map((e) => e.line), ...planted.problems.map((p) => p.line)]
    expect(examined.sort((a, b) => a - b)).toEqual(tagLines)
    const laws = [...typeFailures, ...run.failures].filter((f) => f.file === 'laws/planted.ts').map(format)
    expect(laws, 'an example under laws/ has the exports of adjoint/laws in scope').toEqual([])
    expect(units.filter((u) => u.file === 'laws/planted.ts' && u.run)).toHaveLength(1)
    const report = (failures: Failure[]) =>
      failures.filter((f) => f.file === 'planted.ts').map((f) => [f.line, f.message] as const)
    const types = [...report(planted.problems), ...report(typeFailures)].sort((a, b) => a[0] - b[0])
    const expectedTypes: [number, RegExp][] = [
      [plantedLine('ops.matmul(a, a)'), /inner dimensions differ/],
      [plantedLine('@example gard'), /TS2304: Cannot find name 'gard'/],
      [plantedLine('nonexistent()'), /TS2339: Property 'nonexistent' does not exist/],
      [plantedLine(`${F}sh`) - 1, /none is ts, typescript or js/],
    ]
    expect(
      types.map(([line, message]) => [line, expectedTypes.some(([l, m]) => l === line && m.test(message))]),
      types.map(([line, message]) => `planted.ts:${line}: ${message}`).join('\n\n'),
    ).toEqual(expectedTypes.map(([line]) => [line, true]))
    const runs = report(run.failures).sort((a, b) => a[0] - b[0])
    const expectedRuns: [number, RegExp][] = [
      [plantedLine('ops.matmul(a, a)'), /matmul/],
      [plantedLine('@example gard'), /gard is not defined/],
      [plantedLine('planted failure'), /Error: planted failure/],
      [plantedLine('nonexistent()'), /nonexistent is not a function/],
    ]
    expect(
      runs.map(([line, message]) => [line, expectedRuns.some(([l, m]) => l === line && m.test(message))]),
      runs.map(([line, message]) => `planted.ts:${line}: ${message}`).join('\n\n'),
    ).toEqual(expectedRuns.map(([line]) => [line, true]))
  })

  it('reads the comments as typedoc does: tags end a section, fences and captions are not code', () => {
    const one = (comment: string) => examplesOf('c.ts', `${comment}\nexport const c = 1\n`)
    const code = (comment: string) => one(comment).examples.map((e) => e.code.map((l) => `${l.line}:${l.text}`))
    expect(code('/**\n * @example\n * f(1)\n *   g(2)\n * @see h\n */')).toEqual([['3:f(1)', '4:  g(2)']])
    expect(code(`/**\n * @example Title\n * ${F}ts\n * @x\n * ${F}\n * after\n */`)).toEqual([['4:@x']])
    expect(code('/** @example <caption>T</caption> f(1) */')).toEqual([['1:f(1)']])
    expect(code('/** @example a */\n/** @example b */')).toEqual([['1:a'], ['2:b']])
    expect(code("const s = '/** @example a */'")).toEqual([])
    expect(one(`/**\n * @example\n * ${F}ts\n * f(1)\n */`).problems.map(format)).toEqual([
      'c.ts:2: the fence opened at line 3 is never closed',
    ])
    expect(one('/**\n * @example\n * @param x\n */').problems.map(format)).toEqual(['c.ts:2: the example is empty'])
  })
})
