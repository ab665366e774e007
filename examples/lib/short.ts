/**
 * The examples' short mode: with ADJOINT_EXAMPLE_SHORT=1 in the environment,
 * every example runs its whole program (training, evaluation, printout,
 * files written) with tiny step counts and data sizes, so that it finishes in
 * a few seconds; test/examples.test.ts runs them all this way. The numbers a
 * short run prints are not the example's results, and the example's claim
 * about them (an accuracy reached, a perplexity beaten) is reported but does
 * not set the exit status. Checks of exact properties (two gradients that
 * must agree, a derivative that must be zero) still do.
 *
 * ADJOINT_EXAMPLE_OUT, where set, replaces the `out` directory the examples
 * write their files under.
 */
import { join } from 'node:path'

/** Whether the examples run in short mode (ADJOINT_EXAMPLE_SHORT set to anything but '', '0' or 'false'). */
export function short(): boolean {
  const v = process.env.ADJOINT_EXAMPLE_SHORT
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

/** `inShort` in short mode, `full` otherwise: `const STEPS = shortOr(5, 1200)`. */
export function shortOr<T>(inShort: T, full: T): T {
  return short() ? inShort : full
}

/** The path `parts` under the examples' output directory (ADJOINT_EXAMPLE_OUT, default `out`). */
export function outPath(...parts: string[]): string {
  const root = process.env.ADJOINT_EXAMPLE_OUT
  return join(root === undefined || root === '' ? 'out' : root, ...parts)
}

/**
 * The example's claim about its result. A claim that fails prints `failure`
 * and sets the exit status to 1, except in short mode, where the counts are
 * too small to meet it: there it prints that the claim is not checked.
 */
export function claim(ok: boolean, failure: string): void {
  if (ok) return
  if (short()) {
    console.log(`(short mode: not checked: ${failure})`)
    return
  }
  console.error(failure)
  process.exitCode = 1
}
