/**
 * Truncated conjugate gradient and a backtracking line search: the host-side
 * solvers under the second-order methods. Both see the curvature matrix only
 * through products `v ↦ A·v` (a Hessian- or GGN-vector product), never as a
 * matrix.
 */
import type { Tree } from '../tree.ts'
import { checkNonNegative, checkPositive, checkPositiveInteger } from './optimiser.ts'
import { treeAxpy, treeVdot, treeZerosLike } from './tree-math.ts'

/** Options of `conjugateGradient`. */
export interface CGOptions {
  /** The most iterations; in exact arithmetic CG solves an n-dimensional SPD system in n. */
  readonly maxIters: number
  /** Stop when ‖r‖ ≤ tol·‖b‖ (default 1e-10). */
  readonly tol?: number
}

/** The result of `conjugateGradient`: the solution, the iterations and the residual. */
export interface CGResult<T> {
  readonly x: T
  readonly iterations: number
  /** ‖b − A x‖ as tracked by the recurrence. */
  readonly residualNorm: number
  /** CG met a direction p with pᵀAp ≤ 0 and stopped there (x is the iterate before it). */
  readonly negativeCurvature: boolean
}

/**
 * Solves A x = b for symmetric A by conjugate gradients from x = 0 (Hestenes
 * & Stiefel 1952): r = b − Ax, α = rᵀr / pᵀAp, x += αp, r −= αAp,
 * p = r + (r'ᵀr' / rᵀr) p. Truncated after maxIters iterations, at the
 * tolerance, or at the first direction of non-positive curvature (Nocedal &
 * Wright, Algorithm 7.1), where a Newton step would be meaningless.
 */
export function conjugateGradient<T extends Tree>(matvec: (v: T) => T, b: T, options: CGOptions): CGResult<T> {
  const maxIters = checkPositiveInteger('conjugateGradient', 'maxIters', options.maxIters)
  const tol = checkNonNegative('conjugateGradient', 'tol', options.tol ?? 1e-10)
  let x = treeZerosLike(b)
  let r = b
  let p = b
  let rr = treeVdot(r, r)
  if (!Number.isFinite(rr))
    throw new Error(`conjugateGradient: the right-hand side has a non-finite entry (‖b‖² = ${rr})`)
  const stop = tol * Math.sqrt(rr)
  if (rr === 0) return { x, iterations: 0, residualNorm: 0, negativeCurvature: false }
  for (let i = 0; i < maxIters; i++) {
    const ap = matvec(p)
    const pap = treeVdot(p, ap)
    if (!Number.isFinite(pap))
      throw new Error(
        `conjugateGradient: the matrix-vector product gave a non-finite value (pᵀAp = ${pap}) at iteration ${i}`,
      )
    if (pap <= 0) return { x, iterations: i, residualNorm: Math.sqrt(rr), negativeCurvature: true }
    const alpha = rr / pap
    x = treeAxpy(x, alpha, p)
    r = treeAxpy(r, -alpha, ap)
    const rr2 = treeVdot(r, r)
    if (Math.sqrt(rr2) <= stop) return { x, iterations: i + 1, residualNorm: Math.sqrt(rr2), negativeCurvature: false }
    p = treeAxpy(r, rr2 / rr, p)
    rr = rr2
  }
  return { x, iterations: maxIters, residualNorm: Math.sqrt(rr), negativeCurvature: false }
}

/** Options of the backtracking line search (Armijo's sufficient decrease). */
export interface LineSearchOptions {
  /** The first step length tried (default 1: the full Newton or quasi-Newton step). */
  readonly initial?: number
  /** The factor by which a rejected step is shortened (default 0.5). */
  readonly shrink?: number
  /** c₁ of the Armijo condition (default 1e-4). */
  readonly c1?: number
  /** The most trial steps (default 40). */
  readonly maxSteps?: number
}

/**
 * The result of a line search: whether it found a step, its length α, the objective there, what
 * the objective returned beside its value, and the evaluations made.
 */
export interface LineSearchResult<X> {
  readonly ok: boolean
  readonly alpha: number
  readonly value: number
  readonly payload: X | null
  readonly evaluations: number
}

export function checkLineSearch(what: string, o: LineSearchOptions = {}): Required<LineSearchOptions> {
  const shrink = o.shrink ?? 0.5
  if (!(shrink > 0 && shrink < 1)) throw new Error(`${what}: lineSearch.shrink must be in (0, 1), got ${shrink}`)
  const c1 = o.c1 ?? 1e-4
  if (!(c1 > 0 && c1 < 1)) throw new Error(`${what}: lineSearch.c1 must be in (0, 1), got ${c1}`)
  return {
    initial: checkPositive(what, 'lineSearch.initial', o.initial ?? 1),
    shrink,
    c1,
    maxSteps: checkPositiveInteger(what, 'lineSearch.maxSteps', o.maxSteps ?? 40),
  }
}

/**
 * Backtracking until the Armijo condition φ(α) ≤ φ(0) + c₁ α φ'(0) holds,
 * where φ(α) = f(θ + α d) and φ'(0) = ∇fᵀd < 0. A non-finite trial value
 * counts as too large. `phi` may return a payload (e.g. the gradient at the
 * trial point) that the caller keeps for the accepted step.
 */
export function backtrackingArmijo<X>(
  phi: (alpha: number) => { value: number; payload: X },
  value0: number,
  slope: number,
  options: Required<LineSearchOptions>,
): LineSearchResult<X> {
  if (!(slope < 0)) throw new Error(`backtrackingArmijo: the direction must descend (∇fᵀd < 0), got ∇fᵀd = ${slope}`)
  let alpha = options.initial
  for (let i = 1; i <= options.maxSteps; i++) {
    const { value, payload } = phi(alpha)
    if (Number.isFinite(value) && value <= value0 + options.c1 * alpha * slope)
      return { ok: true, alpha, value, payload, evaluations: i }
    alpha *= options.shrink
  }
  return { ok: false, alpha: 0, value: value0, payload: null, evaluations: options.maxSteps }
}
