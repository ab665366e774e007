// A module-resolution hook for the docs build: typedoc's own imports of
// `typescript` load TypeScript 5.4 (the `typescript-5.4` devDependency), since
// the project's `typescript` is TypeScript 7, which has no compiler API.
// Every other import of `typescript` is left alone.

/** Node's `resolve` hook (registered with `module.register`). */
export async function resolve(specifier, context, nextResolve) {
  const fromTypedoc = context.parentURL?.includes('/node_modules/typedoc/') ?? false
  if (fromTypedoc && (specifier === 'typescript' || specifier.startsWith('typescript/'))) {
    return nextResolve(`typescript-5.4${specifier.slice('typescript'.length)}`, context)
  }
  return nextResolve(specifier, context)
}
