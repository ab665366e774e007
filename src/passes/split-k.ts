/**
 * Split long contractions: a product Xᵀ·B of few outputs over a long
 * contraction (X: [K, M], B: [K, N], M·N ≤ MAX_OUTPUTS, K ≥ MIN_K; a weight
 * gradient summed over every row of a batch, such as a convolution's over
 * every window) becomes S partial products over runs of K/S rows, one batched
 * product [S, M, N], and their sum over S: Σₛ Xₛᵀ·Bₛ. A backend that gives a
 * product's outputs to its processors then has S times the work units for
 * them; the runs are reshapes of the leading axis, read in place.
 *
 * Preserves: every output's value, up to floating-point reassociation of the
 * contraction's sum (S partial sums, then their sum). Every other equation is
 * bound as it is; the transpose of X is left to dead-code elimination when
 * nothing else reads it.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { isFloat } from '../dtype.ts'
import { Var, type Atom, type Eqn, type Program } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { producersOf, restage } from './shared.ts'

/** Products of at most this many outputs are split… */
export const MAX_OUTPUTS = 16384
/** …when their contraction is at least this long… */
export const MIN_K = 4096
/** …into at most this many parts, each a run of at least MIN_RUN rows. */
const MAX_PARTS = 16
const MIN_RUN = 512

/** The identities the split rests on, as a table so that a test can plant a wrong one. */
export const splitKIdentities = {
  /** The parts of a contraction of length k: the most, up to MAX_PARTS, that cut it into equal runs of MIN_RUN rows or more. */
  parts(k: number): number {
    for (let s = MAX_PARTS; s >= 2; s--) if (k % s === 0 && k / s >= MIN_RUN) return s
    return 1
  },
  /** X's rows, [K, M], as S runs [S, K/S, M]. */
  runsOfX: (x: Tensor, s: number): Tensor => lax.reshape(x, [s, x.aval.shape[0] / s, x.aval.shape[1]]),
  /** B's rows, [K, N], as the same S runs [S, K/S, N]: run s of B must hold the rows of run s of X. */
  runsOfB: (b: Tensor, s: number): Tensor => lax.reshape(b, [s, b.aval.shape[0] / s, b.aval.shape[1]]),
}

/** X where `a` is Xᵀ (a transpose of a matrix), else null. */
function transposed(producer: ReadonlyMap<Var, Eqn>, a: Atom): Atom | null {
  const e = a instanceof Var ? producer.get(a) : undefined
  if (e?.prim !== 'transpose') return null
  const { perm } = e.params as Params<'transpose'>
  return perm.length === 2 && perm[0] === 1 ? e.inputs[0] : null
}

/** `program` with every long product of few outputs split (see the header); the program itself when there is none. */
export function splitLongContractions(program: Program): Program {
  const producer = producersOf(program)
  const splits = new Map<Eqn, { x: Atom; parts: number }>()
  for (const e of program.eqns) {
    if (e.prim !== 'matmul' || !isFloat(e.outputs[0].aval.dtype)) continue
    const [a, b] = e.inputs
    if (a.aval.shape.length !== 2 || b.aval.shape.length !== 2) continue
    const [m, k] = a.aval.shape as readonly number[]
    const n = b.aval.shape[1] as number
    const x = transposed(producer, a)
    if (x === null || m * n > MAX_OUTPUTS || k < MIN_K) continue
    const parts = splitKIdentities.parts(k)
    if (parts > 1) splits.set(e, { x, parts })
  }
  if (splits.size === 0) return program
  return restage('splitLongContractions', program, (eqn, args, read) => {
    const split = splits.get(eqn)
    if (split === undefined) return null
    const { runsOfX, runsOfB } = splitKIdentities
    const xs = lax.transpose(runsOfX(read(split.x), split.parts), [0, 2, 1])
    return [lax.sum(lax.matmul(xs, runsOfB(args[1], split.parts)), [0])]
  })
}
