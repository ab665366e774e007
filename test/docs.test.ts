/**
 * Every name a user can reach from the package's entries has a doc comment,
 * the text an editor shows on hover.
 *
 * The entries are `index.ts` (the library and the WebGPU backend) and
 * `laws/index.ts`; a namespace (`nn`, `ops`, `onnx`, ...) counts as a name,
 * and so does each of its members (`nn.dense`, `ops.matmul`). The TypeScript
 * 5.4 compiler API (TypeScript 7 has none) lists the exports through the type
 * checker and reads the JSDoc of the declaration each one resolves to:
 *
 * - a re-export: the original declaration's comment;
 * - an overloaded function, or a value and a type of one name: a comment on
 *   any of its declarations;
 * - a namespace (`export * as nn from './nn/index.ts'`): the module file's
 *   header comment, or a comment on the export itself;
 * - a file's header does not document the names its first statement
 *   re-exports (`export { a, b } from ...` right after it).
 *
 * A failure lists the undocumented names, path by path, with where each is
 * declared. A planted package checks the check: it must find exactly the
 * undocumented names planted there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript-5.4'
import { describe, expect, it } from 'vitest'
import { repositoryCompilerOptions } from '../scripts/docs-usage.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const entries = { '': join(root, 'index.ts'), 'laws/': join(root, 'laws/index.ts') }

/**
 * Names still without a comment. Each should get one; the list may only
 * shrink, so a new export without a comment fails the test.
 */
const KNOWN_UNDOCUMENTED: readonly string[] = []

/** Whether a JSDoc block (`/** ... *\/`) precedes the first statement of a file. */
function hasHeaderComment(file: ts.SourceFile): boolean {
  const ranges = ts.getLeadingCommentRanges(file.text, 0) ?? []
  return ranges.some((r) => file.text.startsWith('/**', r.pos) && file.text.slice(r.pos + 3, r.end - 2).trim() !== '')
}

function documented(symbol: ts.Symbol, checker: ts.TypeChecker): boolean {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim()
  if (text !== '') return true
  if (symbol.getJsDocTags(checker).some((tag) => ts.displayPartsToString(tag.text).trim() !== '')) return true
  // The symbol of a module (a namespace re-export): its file's header comment.
  return (symbol.declarations ?? []).some((d) => ts.isSourceFile(d) && hasHeaderComment(d))
}

/**
 * Whether the export statement itself carries a comment (`/** ... *\/ export * as lax from ...`). The
 * comment before a file's first statement is its header, which says nothing of the names that statement
 * re-exports, so it does not count.
 */
function exportStatementDocumented(alias: ts.Symbol): boolean {
  return (alias.declarations ?? []).some((d) => {
    const statement: ts.Node = ts.isNamespaceExport(d) ? d.parent : ts.isExportSpecifier(d) ? d.parent.parent : d
    if (statement === statement.getSourceFile().statements[0]) return false
    return ts.getJSDocCommentsAndTags(statement).length > 0
  })
}

interface ExportReport {
  readonly names: readonly string[]
  readonly undocumented: readonly string[]
  /** Where each undocumented name is declared. */
  readonly where: ReadonlyMap<string, string>
}

/** The exports of the entry files (prefix → path), namespaces opened one level down, and which lack a comment. */
function collectExports(entryFiles: Readonly<Record<string, string>>): ExportReport {
  const program = ts.createProgram({
    rootNames: Object.values(entryFiles),
    options: repositoryCompilerOptions(ts, root),
  })
  const checker = program.getTypeChecker()
  const names: string[] = []
  const undocumented: string[] = []
  const where = new Map<string, string>()
  const visit = (moduleSymbol: ts.Symbol, prefix: string, depth: number): void => {
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      if (exported.name === 'default') continue
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      const path = prefix + exported.name
      names.push(path)
      if (!documented(target, checker) && !documented(exported, checker) && !exportStatementDocumented(exported)) {
        undocumented.push(path)
        where.set(path, location(target))
      }
      const isNamespace = (target.declarations ?? []).some(ts.isSourceFile)
      if (isNamespace && depth < 2) visit(target, `${path}.`, depth + 1)
    }
  }
  for (const [prefix, file] of Object.entries(entryFiles)) {
    const source = program.getSourceFile(file)
    if (source === undefined) throw new Error(`the entry ${relative(root, file)} was not found`)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    if (moduleSymbol === undefined) throw new Error(`the entry ${relative(root, file)} is not a module`)
    visit(moduleSymbol, prefix, 1)
  }
  return { names, undocumented, where }
}

/** `file:line` of a symbol's first declaration, for the failure message. */
function location(symbol: ts.Symbol): string {
  const declaration = symbol.declarations?.[0]
  if (declaration === undefined) return '?'
  const file = declaration.getSourceFile()
  const { line } = file.getLineAndCharacterOfPosition(declaration.getStart(file))
  return `${relative(root, file.fileName)}:${line + 1}`
}

/** A small package with a planted undocumented export of each kind the check must catch or accept. */
const planted: Readonly<Record<string, string>> = {
  'index.ts': [
    "export * from './a.ts'",
    "export * as ns from './ns.ts'",
    "export * as bare from './bare.ts'",
    "export { shown as renamed, hidden as hiddenAlias } from './a.ts'",
    "export * from './reexport.ts'",
  ].join('\n'),
  'reexport.ts': [
    '/** A header, not the doc of what follows. */',
    '',
    "export { hidden as viaHeader } from './a.ts'",
  ].join('\n'),
  'a.ts': [
    '/** Documented. */',
    'export const shown = 1',
    'export const hidden = 2',
    '/** The first signature. */',
    'export function overloaded(x: number): number',
    'export function overloaded(x: string): string',
    'export function overloaded(x: unknown): unknown { return x }',
    'export function bareOverload(x: number): number',
    'export function bareOverload(x: string): string',
    '/** The implementation. */',
    'export function bareOverload(x: unknown): unknown { return x }',
    'export interface Options { readonly size: number }',
    '/** A class. */',
    'export class Box {}',
    'export type Alias = number',
  ].join('\n'),
  // A header directly before the first declaration is that declaration's comment too, as an editor shows it.
  'ns.ts': ['/**', ' * A namespace, by its header.', ' */', 'export const first = 1', 'export const member = 1'].join(
    '\n',
  ),
  'bare.ts': ["import { shown } from './a.ts'", 'export const inner = shown'].join('\n'),
}

describe('the check itself, on a planted package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adjoint-docs-'))
  try {
    for (const [name, text] of Object.entries(planted)) writeFileSync(join(dir, name), text)
    const report = collectExports({ '': join(dir, 'index.ts') })
    it('lists exactly the undocumented names, through re-exports, overloads and namespaces', () => {
      expect([...report.undocumented].sort()).toEqual(
        ['Alias', 'Options', 'bare', 'bare.inner', 'hidden', 'hiddenAlias', 'ns.member', 'viaHeader'].sort(),
      )
      expect(report.names).toContain('renamed')
      expect(report.names).toContain('ns.first')
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

describe('doc comments', () => {
  const report = collectExports(entries)

  it('finds the exports of both entries, namespaces and their members', () => {
    for (const name of ['grad', 'jit', 'nn', 'nn.dense', 'ops.matmul', 'onnx.exportFunction', 'laws/laws']) {
      expect(report.names).toContain(name)
    }
    expect(report.names.length).toBeGreaterThan(300)
  })

  it('every exported name has one', () => {
    const missing = report.undocumented.filter((name) => !KNOWN_UNDOCUMENTED.includes(name))
    const listing = missing.map((name) => `${name}  (${report.where.get(name)})`).join('\n')
    expect(missing, `${missing.length} undocumented exports:\n${listing}`).toEqual([])
  })

  it('the allowlist holds only names that still lack one', () => {
    const stale = KNOWN_UNDOCUMENTED.filter((name) => !report.undocumented.includes(name))
    expect(stale, `documented now, remove from KNOWN_UNDOCUMENTED:\n${stale.join('\n')}`).toEqual([])
  })
})
