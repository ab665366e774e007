/**
 * Program → Program passes: the one entry a backend (or jit) calls is
 * `optimize`; each pass is a file of its own, whose header says what it does
 * and what it preserves.
 *
 *  - cse.ts: common-subexpression elimination (exact);
 *  - simplify.ts: zero folding of staged derivative bodies (scan's rules);
 *  - loop-motion.ts: loops that keep only their recurrence, the driver of
 *    accumulate.ts, hoist.ts, rotate.ts, sink.ts (one rewrite per scan),
 *    gather-products.ts, fuse-inputs.ts and split-products.ts;
 *  - split-k.ts: long contractions of few outputs as partial products and their sum;
 *  - shared.ts: what several passes use.
 *
 * Layering: a pass imports the IR, the core, tensors and dtypes, shapes, the
 * primitives and the transforms' own folders (ad, batch), never the
 * user-facing API (transforms.ts, ops.ts, nn, recurrent, control).
 */
import type { Program } from '../ir/program.ts'
import { accumulateIdentities } from './accumulate.ts'
import { commonSubexpressions, cseIdentities } from './cse.ts'
import { fuseIdentities } from './fuse-inputs.ts'
import { gatherProductIdentities } from './gather-products.ts'
import { hoistIdentities } from './hoist.ts'
import { moveLoopInvariants, type LoopMotionOptions } from './loop-motion.ts'
import { rotateIdentities } from './rotate.ts'
import { foldIdentities } from './simplify.ts'
import { sinkIdentities } from './sink.ts'
import { splitIdentities } from './split-products.ts'
import { splitKIdentities, splitLongContractions } from './split-k.ts'

export { commonSubexpressions } from './cse.ts'
export { splitLongContractions } from './split-k.ts'
export { gatherProducts } from './gather-products.ts'
export { foldZeros } from './simplify.ts'
export { moveLoopInvariants, type LoopMotionOptions } from './loop-motion.ts'
export { fuseStepwiseInputs } from './fuse-inputs.ts'
export { splitProducts } from './split-products.ts'

/** Which passes `optimize` runs (none by default), in this order. */
export interface Passes {
  /** Merge equations that compute the same values (jit, on every traced Program). */
  readonly cse?: boolean
  /** Leave in each loop only its recurrence (a backend where each step of a loop costs dispatches). */
  readonly loopMotion?: boolean | LoopMotionOptions
  /** Split long contractions of few outputs into partial products (a backend that parallelises over outputs). */
  readonly splitK?: boolean
}

export { inlineCalls, inlineProgram } from './inline-calls.ts'

/** `program` with the chosen passes applied: common subexpressions merged, then loop motion, then long contractions split. */
export function optimize(program: Program, passes: Passes): Program {
  const merged = passes.cse ? commonSubexpressions(program) : program
  const { loopMotion } = passes
  const moved =
    loopMotion === undefined || loopMotion === false
      ? merged
      : moveLoopInvariants(merged, loopMotion === true ? {} : loopMotion)
  return passes.splitK ? splitLongContractions(moved) : moved
}

/**
 * Each pass's identities: the tables that its rewrite reads them from, so that a test can plant a wrong one and see
 * the comparison with the original Program fail (restore them afterwards).
 */
export const identities = {
  accumulate: accumulateIdentities,
  hoist: hoistIdentities,
  sink: sinkIdentities,
  rotate: rotateIdentities,
  fuseInputs: fuseIdentities,
  splitProducts: splitIdentities,
  splitK: splitKIdentities,
  gatherProducts: gatherProductIdentities,
  cse: cseIdentities,
  foldZeros: foldIdentities,
}
