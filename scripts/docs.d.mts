// Types of docs.mjs, for the tests that import it.

/** A stage of the pipeline: a category of the reference. */
export interface Stage {
  readonly title: string
  readonly about: string
  readonly names: readonly string[]
}

/** The pipeline's stages, in its order; each name `adjoint` exports belongs to exactly one. */
export const STAGES: readonly Stage[]
/** The second entry, `adjoint/laws`, a stage of its own. */
export const LAW_KIT: { readonly title: string; readonly about: string }

/** The runnable examples: examples/*.ts (absolute paths). */
export function exampleFiles(folder?: string): string[]
/** A source file's header comment as markdown. */
export function headerMarkdown(source: string): string
/** The first sentence of a header, up to its first colon, without asides in parentheses. */
export function summarySentence(markdown: string): string
/** For each example (relative to the root), the files under examples/ it imports, directly or not. */
export function helperFiles(examples: readonly string[]): Map<string, string[]>
/** What is wrong with the stages for the names `adjoint` exports; empty when all is well. */
export function stageProblems(exported: readonly string[], stages?: readonly Stage[]): string[]

/** What a build wrote. */
export interface DocsSummary {
  readonly out: string
  readonly pages: number
  readonly names: readonly string[]
  readonly examples: number
  readonly warnings: number
  readonly errors: number
}
/** Builds the reference into `out` (default out/docs/api). */
export function buildDocs(options?: { out?: string }): Promise<DocsSummary>
