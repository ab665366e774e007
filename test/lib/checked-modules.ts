/**
 * Code taken from the documentation (markdown blocks, `@example` sections of
 * doc comments), checked as a user's modules would be: type-checked against
 * the library's sources in one run of TypeScript 7, and run with tsx on the
 * CPU backend. Each module keeps, line by line, where its text came from, so
 * that a failure names the documentation's file and line.
 *
 * The modules are written to a temporary folder under node_modules/.cache,
 * where they resolve the installed packages (the type packages, fast-check)
 * as a user's would; their imports of 'adjoint' and 'adjoint/laws' mean the
 * sources, index.ts and laws/index.ts.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const TSC = join(root, 'node_modules/typescript/bin/tsc')

/** One line of a module, with the line of the documentation it stands for (1-based). */
export interface SourceLine {
  readonly text: string
  readonly line: number
}

/** A module to check, and where in the documentation it comes from. */
export interface CheckedModule {
  /** A name unique among the modules of one check, usable in a file name. */
  readonly id: string
  /** The documentation file a failure is reported in. */
  readonly file: string
  /** The line a failure of the module as a whole is reported at. */
  readonly line: number
  readonly language: 'ts' | 'js'
  /** The module's lines, each mapped to its line of the documentation. */
  readonly lines: readonly SourceLine[]
  /** Lines (1-based, in `lines`) that must not compile, with a text the compiler's message must contain ('' for any). */
  readonly expected: ReadonlyMap<number, string>
  readonly run: boolean
}

/** A failed check, located in the documentation. */
export interface Failure {
  readonly file: string
  readonly line: number
  readonly message: string
}

export const format = (f: Failure): string => `${f.file}:${f.line}: ${f.message}`

/** A line that must not compile: `// does not compile`, optionally with `: "part of the message"`. */
export const EXPECTED_ERROR = /\/\/\s*does not compile\b(?::\s*"([^"]*)")?/

/** A fresh folder for the modules, inside the repository so that they resolve its node_modules. */
export function moduleFolder(prefix: string): string {
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true })
  return mkdtempSync(join(root, 'node_modules/.cache', prefix))
}

/** The compiler options of tsconfig.json, less what concerns emitting. */
function compilerOptions(): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>
  }
  const { outDir: _outDir, rootDir: _rootDir, declaration: _declaration, ...options } = config.compilerOptions
  return { ...options, noEmit: true, allowJs: true, checkJs: true }
}

/** The file a module is checked from, in the folder `prepare` fills. */
export const checkedFile = (unit: CheckedModule): string => `${unit.id}.${unit.language}`

/**
 * Writes every module and two compiler configurations: tsconfig.json, for the check, maps 'adjoint' and
 * 'adjoint/laws' to the sources; tsconfig.run.json gives the runs the same options (verbatimModuleSyntax
 * keeps an import that only names things, so a missing export fails there too).
 */
export function prepare(units: readonly CheckedModule[], dir: string): void {
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  for (const unit of units) writeFileSync(join(dir, checkedFile(unit)), `${unit.lines.map((l) => l.text).join('\n')}\n`)
  const paths = { adjoint: [join(root, 'index.ts')], 'adjoint/laws': [join(root, 'laws/index.ts')] }
  const check = { compilerOptions: { ...compilerOptions(), paths }, files: units.map(checkedFile) }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(check, null, 2))
  writeFileSync(join(dir, 'tsconfig.run.json'), JSON.stringify({ compilerOptions: compilerOptions() }, null, 2))
}

const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/

/**
 * Type-checks the modules `prepare` wrote in one compiler run; the failures, located in the documentation.
 * An error outside the modules (in the library itself, or in the configuration) is a failure too.
 */
export async function typeCheck(units: readonly CheckedModule[], dir: string): Promise<Failure[]> {
  const { code, output } = await spawnCollect(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], dir)
  const diagnostics: { file: string; line: number; message: string }[] = []
  for (const text of output.split('\n')) {
    const m = DIAGNOSTIC.exec(text)
    if (m !== null) diagnostics.push({ file: m[1], line: Number(m[2]), message: `${m[4]}: ${m[5]}` })
    else if (/^\s/.test(text) && diagnostics.length > 0) diagnostics[diagnostics.length - 1].message += `\n${text}`
    else if (text.trim() !== '') diagnostics.push({ file: 'tsc', line: 0, message: text })
  }
  if (code !== 0 && diagnostics.length === 0) diagnostics.push({ file: 'tsc', line: 0, message: `exit ${code}` })
  const files = new Set(units.map(checkedFile))
  const failures: Failure[] = diagnostics.filter((d) => !files.has(d.file))
  for (const unit of units) {
    const own = diagnostics.filter((d) => d.file === checkedFile(unit))
    for (const [line, text] of unit.expected) {
      const at = own.filter((d) => d.line === line)
      const where = unit.lines[line - 1]
      if (at.length === 0)
        failures.push({ file: unit.file, line: where.line, message: 'marked "does not compile", but compiles' })
      else if (!at.some((d) => d.message.includes(text)))
        failures.push({
          file: unit.file,
          line: where.line,
          message: `does not compile, but not with "${text}":\n${at.map((d) => d.message).join('\n')}`,
        })
    }
    for (const d of own) {
      if (unit.expected.has(d.line)) continue
      const where = unit.lines[d.line - 1]
      failures.push({ file: unit.file, line: where?.line ?? unit.line, message: d.message })
    }
  }
  // One line checked in two modules (a block and the block continuing it) is reported once.
  const seen = new Set<string>()
  return failures
    .filter((f) => !seen.has(format(f)) && seen.add(format(f)))
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
}

export const entryUrls: Readonly<Record<string, string>> = {
  adjoint: pathToFileURL(join(root, 'index.ts')).href,
  'adjoint/laws': pathToFileURL(join(root, 'laws/index.ts')).href,
}

/** A module as it runs: the imports of the package point at its sources, lines that do not compile are left out. */
export function runnable(unit: CheckedModule): string {
  return unit.lines
    .map((l, k) =>
      unit.expected.has(k + 1)
        ? ''
        : l.text.replace(
            /(\bfrom\s*|\bimport\s*\(?\s*)(['"])(adjoint(?:\/laws)?)\2/g,
            (_whole, before: string, _quote, name: string) => `${before}'${entryUrls[name]}'`,
          ),
    )
    .join('\n')
}

/** The file a module runs from, in the folder `prepare` filled. */
export const runFile = (unit: CheckedModule): string => `${unit.id}.run.${unit.language === 'js' ? 'mjs' : 'mts'}`

/** What tsx needs to run a module from the folder `prepare` filled, on the CPU backend. */
export const runEnvironment = (dir: string): Record<string, string> => ({
  ADJOINT_BACKEND: 'cpu',
  TSX_TSCONFIG_PATH: join(dir, 'tsconfig.run.json'),
})

/** Runs every module marked run, each in a process of its own, at most two at a time; the ones that fail, with the end of their output. */
export async function runEach(units: readonly CheckedModule[], dir: string): Promise<Failure[]> {
  const queue = units.filter((u) => u.run)
  const failures: Failure[] = []
  const worker = async () => {
    for (let unit = queue.shift(); unit !== undefined; unit = queue.shift()) {
      const file = join(dir, runFile(unit))
      writeFileSync(file, `${runnable(unit)}\n`)
      const { code, output } = await spawnCollect(process.execPath, ['--import', 'tsx', file], dir, runEnvironment(dir))
      if (code !== 0)
        failures.push({
          file: unit.file,
          line: unit.line,
          message: `the block exits with ${code}:\n${output.trim().split('\n').slice(-15).join('\n')}`,
        })
    }
  }
  await Promise.all([worker(), worker()])
  return failures.sort((a, b) => format(a).localeCompare(format(b)))
}

export function spawnCollect(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000 })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}
