/**
 * L-BFGS (Nocedal 1980; Liu & Nocedal 1989): a low-rank approximation of the
 * inverse Hessian from the last m pairs sₖ = θₖ₊₁ − θₖ, yₖ = ∇hₖ₊₁ − ∇hₖ
 * (Deep Learning, COMP613 Advanced Topics in Machine Learning (lecture notes),
 * "Optimisation 2", "Curvature matrix approximations": low rank, O(rn) storage),
 * applied to the gradient by the two-loop recursion (Nocedal & Wright,
 * Algorithm 7.4), with a backtracking Armijo line search. Pairs with
 * sᵀy ≤ 0 would make the approximation indefinite and are skipped (Armijo
 * alone does not guarantee the curvature condition that Wolfe would).
 */
import { valueAndGrad } from '../transforms.ts'
import type { Tensor } from '../tensor.ts'
import type { Tree } from '../tree.ts'
import { backtrackingArmijo, checkLineSearch, type LineSearchOptions } from './cg.ts'
import type { Minimiser, Objective, StepInfo } from './minimize.ts'
import { checkPositiveInteger } from './optimiser.ts'
import { checkFloatLeaves, treeAxpy, treeNeg, treeNorm, treeScale, treeSub, treeVdot } from './tree-math.ts'

/** Options of `lbfgs`: the history length and the line search. */
export interface LbfgsOptions {
  /** m, the number of (s, y) pairs kept (default 10). */
  readonly history?: number
  readonly lineSearch?: LineSearchOptions
}

/** The state of `lbfgs`: the newest (s, y) pairs and the loss and gradient at the last iterate. */
export interface LbfgsState {
  readonly s: readonly Tree[]
  readonly y: readonly Tree[]
  /** ρᵢ = 1 / sᵢᵀyᵢ. */
  readonly rho: readonly number[]
  /** The loss and gradient at the parameters the last step returned, so the next step need not recompute them. */
  readonly last: { readonly at: Tree; readonly loss: number; readonly grad: Tree } | null
}

/** r ≈ H⁻¹ g by the two-loop recursion, with H₀ = γI, γ = sᵀy / yᵀy of the newest pair. */
export function twoLoop<P extends Tree>(g: P, s: readonly P[], y: readonly P[], rho: readonly number[]): P {
  const k = s.length
  const alphas = new Array<number>(k)
  let q = g
  for (let i = k - 1; i >= 0; i--) {
    alphas[i] = rho[i] * treeVdot(s[i], q)
    q = treeAxpy(q, -alphas[i], y[i])
  }
  const gamma = k === 0 ? 1 : treeVdot(s[k - 1], y[k - 1]) / treeVdot(y[k - 1], y[k - 1])
  let r = treeScale(q, gamma)
  for (let i = 0; i < k; i++) {
    const beta = rho[i] * treeVdot(y[i], r)
    r = treeAxpy(r, alphas[i] - beta, s[i])
  }
  return r
}

/**
 * The limited-memory BFGS minimiser (Nocedal 1980) of the objective f: each step goes along
 * −H⁻¹∇f, with H⁻¹ from the last `history` pairs of parameter and gradient changes by the
 * two-loop recursion, and a backtracking line search.
 *
 * @example
 * const target = tensor([1, 2])
 * const loss = (w: Tensor<[2]>) => ops.sum(ops.square(ops.sub(w, target)))
 * const { params } = await optim.minimize(optim.lbfgs(loss), zeros([2]), { maxIters: 100 }) // ≈ target
 */
export function lbfgs(f: Objective, options: LbfgsOptions = {}): Minimiser<LbfgsState> {
  const what = 'lbfgs'
  const m = checkPositiveInteger(what, 'history', options.history ?? 10)
  const search = checkLineSearch(what, options.lineSearch)
  const lossAndGrad = <P extends Tree>(p: P, batch: unknown[]): { loss: number; grad: P } => {
    const [loss, grad] = valueAndGrad(f)(p, ...batch) as [Tensor<[]>, P]
    const v = loss.item()
    return { loss: Number.isFinite(v) ? v : Number.POSITIVE_INFINITY, grad }
  }
  return {
    name: what,
    init: (params) => {
      checkFloatLeaves(`${what}.init`, params)
      return { s: [], y: [], rho: [], last: null }
    },
    async step<P extends Tree>(params: P, state: LbfgsState, ...batch: unknown[]): Promise<StepInfo<P, LbfgsState>> {
      if (
        typeof state !== 'object' ||
        state === null ||
        !Array.isArray(state.s) ||
        !Array.isArray(state.y) ||
        !Array.isArray(state.rho)
      )
        throw new Error(
          `${what}.step: expected the state { s, y, rho, last } from init, got ${state === null ? 'null' : typeof state}`,
        )
      // The cached point is reused only when the caller passes back the very parameters the last step returned.
      const here =
        state.last !== null && state.last.at === params
          ? { loss: state.last.loss, grad: state.last.grad as P }
          : lossAndGrad(params, batch)
      let evaluations = state.last !== null && state.last.at === params ? 0 : 1
      if (!Number.isFinite(here.loss))
        throw new Error(`${what}: the objective is not finite at the current parameters; expected a finite number`)
      const g = here.grad
      const gradNorm = treeNorm(g)
      if (!Number.isFinite(gradNorm))
        throw new Error(`${what}: the gradient has a non-finite entry (‖g‖ = ${gradNorm})`)
      if (gradNorm === 0) return { params, state, loss: here.loss, gradNorm, evaluations }
      let s = state.s as P[]
      let y = state.y as P[]
      let rho = state.rho
      let d = treeNeg(twoLoop(g, s, y, rho))
      let slope = treeVdot(g, d)
      if (!(slope < 0)) {
        s = []
        y = []
        rho = []
        d = treeNeg(g)
        slope = -gradNorm * gradNorm
      }
      // Without curvature pairs the direction is −g, whose scale means nothing: the first trial moves θ by at most 1.
      const initial = s.length === 0 ? Math.min(1, 1 / gradNorm) * search.initial : search.initial
      const ls = backtrackingArmijo(
        (a) => {
          const at = treeAxpy(params, a, d)
          const r = lossAndGrad(at, batch)
          return { value: r.loss, payload: { at, grad: r.grad } }
        },
        here.loss,
        slope,
        { ...search, initial },
      )
      evaluations += ls.evaluations
      if (!ls.ok || ls.payload === null)
        return {
          params,
          state: { s: [], y: [], rho: [], last: null },
          loss: here.loss,
          gradNorm,
          evaluations,
          stalled: true,
        }
      const next = ls.payload.at
      const sk = treeScale(d, ls.alpha)
      const yk = treeSub(ls.payload.grad, g)
      const sy = treeVdot(sk, yk)
      if (sy > 1e-12 * treeNorm(sk) * treeNorm(yk)) {
        s = [...s, sk].slice(-m)
        y = [...y, yk].slice(-m)
        rho = [...rho, 1 / sy].slice(-m)
      }
      return {
        params: next,
        state: { s, y, rho, last: { at: next, loss: ls.value, grad: ls.payload.grad } },
        loss: here.loss,
        gradNorm,
        evaluations,
      }
    },
    async evaluate(params, ...batch) {
      const r = lossAndGrad(params, batch)
      return { loss: r.loss, gradNorm: treeNorm(r.grad) }
    },
  }
}
