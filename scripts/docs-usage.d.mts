// Types of docs-usage.mjs, for the tests that import it.
import type ts from 'typescript-5.4'

/** One example's use of a name: the example, and the helpers under examples/ it uses the name through (none: its own code). */
export interface ExampleUse {
  readonly example: string
  readonly via: readonly string[]
}

/** The export paths of each entry module (`prefix + name`, `prefix + ns.name`), by the symbol they resolve to. */
export function exportPaths(
  tsModule: typeof ts,
  checker: ts.TypeChecker,
  program: ts.Program,
  entries: Readonly<Record<string, string>>,
): Map<ts.Symbol, string[]>

/** For each export path an example uses, the examples (relative to `root`) that use it. */
export function exampleUsage(
  tsModule: typeof ts,
  program: ts.Program,
  entries: Readonly<Record<string, string>>,
  examples: readonly string[],
  root: string,
): Map<string, ExampleUse[]>

/** The repository's compiler options as `tsModule` reads them: options it does not know dropped, nothing emitted. */
export function repositoryCompilerOptions(tsModule: typeof ts, root: string): ts.CompilerOptions
