/**
 * Accumulators, a stage of loop motion (loop-motion.ts): a float carry
 * whose next value is c + u, with c read nowhere else and c + u used only as
 * the next carry, is a sum over the steps (the gradient of a tied parameter:
 * D. Barber, Neural Nets, "Parameter Tying"): c_T = c₀ + Σₜ uₜ. It leaves
 * the loop; the sinking stage computes u for all steps after it, and this
 * stage adds them up: a sum over the stacked terms, or, where u is a
 * product aₜ·bₜ, one product over all steps,
 * Σₜ aₜ·bₜ = [a₀ … a_{T−1}]·[b₀; …; b_{T−1}].
 *
 * Preserves: every output's value, up to floating-point reassociation of
 * the sum over the steps: c₀ + (Σₜ uₜ) in place of ((c₀ + u₀) + u₁) + …,
 * and for a product term the sum over the steps and the contraction taken
 * together as one sum over T·K terms. A known-zero init is not added
 * (exact, but for the sign of a zero total). Integer carries are left in
 * the loop.
 */
import * as lax from '../core/lax.ts'
import { Var, type Atom, type Eqn, type Program } from '../ir/program.ts'
import { isKnownZero, type Tensor } from '../tensor.ts'
import { producersOf, readsOf } from './shared.ts'

/** The identity the accumulation rests on, as a table so that the law suite can plant a wrong one. */
export const accumulateIdentities = {
  /**
   * Σₜ aₜ·bₜ for stacked factors a [T, M, K] (or, `transposed`, aᵀ stacked
   * [T, K, M]) and b [T, K, N], as one product over the T·K terms.
   */
  productOverSteps(a: Tensor, b: Tensor, transposed: boolean): Tensor {
    const [T, K, N] = b.aval.shape
    const rows = lax.reshape(b, [T * K, N])
    if (transposed) {
      const M = a.aval.shape[2]
      return lax.matmul(lax.transpose(lax.reshape(a, [T * K, M]), [1, 0]), rows)
    }
    const M = a.aval.shape[1]
    return lax.matmul(lax.reshape(lax.transpose(a, [1, 0, 2]), [M, T * K]), rows)
  },
}

/** A carry that is a sum over the steps: its index among the carries, the term added at each step, and the add. */
export interface Accumulator {
  readonly k: number
  readonly term: Atom
  readonly add: Eqn
}

/**
 * A scan body's accumulators (c′ = c + u in either order, c read only there, c′ used only as the carry; floats
 * only), and the carries that stay in the loop (indices into the carries).
 */
export function accumulators(body: Program, nC: number, nK: number): { sums: Accumulator[]; kept: number[] } {
  const carryIn = body.inputs.slice(nC, nC + nK)
  const outs = body.outputs
  const producer = producersOf(body)
  const reads = readsOf(body.eqns, outs)
  const sums: Accumulator[] = []
  carryIn.forEach((c, k) => {
    const o = outs[k]
    const e = o instanceof Var ? producer.get(o) : undefined
    if (
      e === undefined ||
      e.prim !== 'add' ||
      reads.get(c) !== 1 ||
      reads.get(o) !== 1 ||
      !c.aval.dtype.startsWith('f')
    )
      return
    const term = e.inputs[0] === c ? e.inputs[1] : e.inputs[1] === c ? e.inputs[0] : null
    if (term !== null && term !== c) sums.push({ k, term, add: e })
  })
  const summed = new Set(sums.map((s) => s.k))
  return { sums, kept: carryIn.map((_, k) => k).filter((k) => !summed.has(k)) }
}

/** Which outputs of the sunk part give a sum's term: the term, or a product's two factors (the first transposed?). */
export type TermOutputs = readonly [number] | readonly [number, number, boolean]

/**
 * What the sunk part computes for each sum, appended to its `outputs`: the term, or where the term is a product
 * that the sunk part computes (not `cut` out of it), the product's factors, so that the sum over the steps is one
 * product. A factor that is a transpose is stacked untransposed: the product over all steps then reads it as it is.
 */
export function termOutputs(
  sums: readonly Accumulator[],
  producer: ReadonlyMap<Var, Eqn>,
  cut: ReadonlySet<Eqn>,
  outputs: Atom[],
): TermOutputs[] {
  return sums.map((s): TermOutputs => {
    const e = s.term instanceof Var ? producer.get(s.term) : undefined
    if (e?.prim === 'matmul' && e.inputs.every((a) => a.aval.shape.length === 2) && !cut.has(e)) {
      const [a, b] = e.inputs
      const ta = a instanceof Var && producer.get(a)?.prim === 'transpose' && !cut.has(producer.get(a) as Eqn)
      return [outputs.push(ta ? (producer.get(a as Var) as Eqn).inputs[0] : a) - 1, outputs.push(b) - 1, ta]
    }
    return [outputs.push(s.term) - 1]
  })
}

/** A sum's final value from the sunk part's stacked outputs: its init plus the sum of its terms over the steps. */
export function finalSum(at: TermOutputs, stacked: readonly Tensor[], init: Tensor): Tensor {
  const total =
    at.length === 1
      ? lax.sum(stacked[at[0]], [0])
      : accumulateIdentities.productOverSteps(stacked[at[0]], stacked[at[1]], at[2])
  // A sum that starts from zero (as a transposed loop's cotangent sums do) needs no addition.
  return isKnownZero(init) ? total : lax.add(init, total)
}
