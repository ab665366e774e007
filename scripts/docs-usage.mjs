// Which exported names each example uses, read off a TypeScript program (the
// compiler API of TypeScript 5.x: TypeScript 7 has none).
//
// A name is used by an example when an identifier in the example (outside its
// import declarations) resolves, through any chain of re-exports, to the same
// symbol as the export: `nn.dense(...)` uses `nn` and `nn.dense`, a
// `Tensor<[3]>` annotation uses `Tensor`, and a deeper import
// (`'../src/io/text.ts'`) counts for the name the package exports it under
// (`io.CharVocabulary`). Helpers under examples/ that an example imports
// count for it too, recorded with the helper they come through.

import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/**
 * The export paths of each entry module, by the symbol they resolve to:
 * `prefix + name` for a name (`jit`, `laws/checkLayer`), `prefix + ns.name`
 * for a member of an exported namespace (`nn.dense`), and one level further
 * for a namespace inside it (`energy.dbn.generate`).
 */
export function exportPaths(ts, checker, program, entries) {
  const paths = new Map()
  const add = (symbol, path) => {
    const list = paths.get(symbol)
    if (list === undefined) paths.set(symbol, [path])
    else if (!list.includes(path)) list.push(path)
  }
  const visit = (moduleSymbol, prefix, depth) => {
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      if (exported.name === 'default') continue
      const target = resolveAlias(ts, checker, exported)
      const path = prefix + exported.name
      add(target, path)
      if (depth < 3 && (target.declarations ?? []).some(ts.isSourceFile)) visit(target, `${path}.`, depth + 1)
    }
  }
  for (const [prefix, file] of Object.entries(entries)) {
    const source = program.getSourceFile(file)
    if (source === undefined) throw new Error(`the entry ${file} is not in the program`)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    if (moduleSymbol === undefined) throw new Error(`the entry ${file} is not a module`)
    visit(moduleSymbol, prefix, 1)
  }
  return paths
}

function resolveAlias(ts, checker, symbol) {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
}

/** The export paths that the identifiers of one file resolve to (import declarations left out). */
function namesUsedIn(ts, checker, file, paths) {
  const used = new Set()
  const visit = (node) => {
    if (ts.isImportDeclaration(node) || ts.isImportEqualsDeclaration(node)) return
    if (ts.isIdentifier(node)) {
      const symbol = checker.getSymbolAtLocation(node)
      if (symbol !== undefined) {
        for (const path of paths.get(resolveAlias(ts, checker, symbol)) ?? []) used.add(path)
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return used
}

/** The files under `folder` that `file` imports, directly or through each other. */
function localImports(ts, program, file, folder) {
  const found = new Set()
  const pending = [file]
  while (pending.length > 0) {
    const current = pending.pop()
    for (const statement of current.statements) {
      const specifier =
        (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier
      if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue
      const target = program.getSourceFile(resolve(dirname(current.fileName), specifier.text))
      if (target === undefined || !target.fileName.startsWith(folder + sep) || found.has(target)) continue
      found.add(target)
      pending.push(target)
    }
  }
  return [...found]
}

/**
 * For each export path an example uses: the examples, in the order given, each
 * with the helpers (paths relative to `root`) it uses the name through; an
 * empty `via` means the example's own code names it.
 *
 * @param ts the TypeScript module the program was made with
 * @param program a program holding the entries and the examples
 * @param entries export-path prefix → entry file (`{ '': 'index.ts', 'laws/': 'laws/index.ts' }`, absolute)
 * @param examples the example files (absolute)
 * @param root the folder the returned file names are relative to
 */
export function exampleUsage(ts, program, entries, examples, root) {
  const checker = program.getTypeChecker()
  const paths = exportPaths(ts, checker, program, entries)
  const usage = new Map()
  const cache = new Map()
  const namesOf = (file) => {
    let names = cache.get(file)
    if (names === undefined) cache.set(file, (names = namesUsedIn(ts, checker, file, paths)))
    return names
  }
  for (const fileName of examples) {
    const file = program.getSourceFile(fileName)
    if (file === undefined) throw new Error(`the example ${fileName} is not in the program`)
    const byName = new Map()
    for (const name of namesOf(file)) byName.set(name, [])
    for (const helper of localImports(ts, program, file, dirname(file.fileName))) {
      for (const name of namesOf(helper)) {
        const via = byName.get(name)
        if (via === undefined) byName.set(name, [relative(root, helper.fileName)])
        else if (via.length > 0) via.push(relative(root, helper.fileName))
      }
    }
    for (const [name, via] of byName) {
      const list = usage.get(name) ?? []
      list.push({ example: relative(root, file.fileName), via })
      usage.set(name, list)
    }
  }
  return usage
}

/**
 * The repository's compiler options (its tsconfig.json) as the TypeScript `tsModule` reads them: options that
 * version does not know are dropped, and nothing is emitted.
 */
export function repositoryCompilerOptions(tsModule, root) {
  const configPath = join(root, 'tsconfig.json')
  const raw = tsModule.parseConfigFileTextToJson(configPath, readFileSync(configPath, 'utf8'))
  if (raw.error) throw new Error(tsModule.flattenDiagnosticMessageText(raw.error.messageText, '\n'))
  const options = { ...raw.config.compilerOptions }
  for (const error of tsModule.convertCompilerOptionsFromJson(options, root).errors) {
    const unknown = /^Unknown compiler option '([^']+)'/.exec(
      tsModule.flattenDiagnosticMessageText(error.messageText, '\n'),
    )
    if (unknown !== null) delete options[unknown[1]]
  }
  const { options: parsed, errors } = tsModule.convertCompilerOptionsFromJson(options, root)
  if (errors.length > 0)
    throw new Error(errors.map((e) => tsModule.flattenDiagnosticMessageText(e.messageText, '\n')).join('\n'))
  return { ...parsed, noEmit: true }
}
