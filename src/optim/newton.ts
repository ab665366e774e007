/**
 * Second-order methods built from the transforms, on the host loop (Deep
 * Learning, COMP613 Advanced Topics in Machine Learning (lecture notes),
 * "Optimisation for Machine Learning"): minimise the local quadratic model
 *   h(θ + δ) ≈ h(θ) + ∇hᵀδ + ½ δᵀBδ,  so  δ = −B⁻¹∇h,
 * with B the Hessian H (Newton) or the generalised Gauss-Newton matrix
 * G = Σ Jᵢᵀ Hᵢ Jᵢ (always PSD), damped to B + λI to keep the step inside the
 * region where the model holds. B is never formed: truncated conjugate
 * gradient needs only products B·v, from `linearize(grad f)` (the Hessian-
 * vector product of `hvp`, with the primal pass done once per step) or from
 * jvp of the model, the loss's hvp in output space, and vjp of the model.
 *
 * With `adaptDamping`, λ follows the Levenberg-Marquardt rule of Martens
 * (2010, §4.1): ρ = (actual reduction) / (reduction predicted by the
 * undamped model); λ ← ⅔λ when ρ > ¾, λ ← 3⁄2·λ when ρ < ¼.
 */
import { linearize, valueAndGrad, vjp } from '../transforms.ts'
import type { Tensor } from '../tensor.ts'
import type { Tree } from '../tree.ts'
import { backtrackingArmijo, checkLineSearch, conjugateGradient, type LineSearchOptions } from './cg.ts'
import type { Minimiser, Objective, StepInfo } from './minimize.ts'
import { checkNonNegative, checkPositiveInteger } from './optimiser.ts'
import { checkFloatLeaves, treeAxpy, treeNeg, treeNorm, treeVdot } from './tree-math.ts'

/** Options of the Newton and Gauss-Newton minimisers: damping, the CG solve and the line search. */
export interface CurvatureOptions {
  /** λ in B + λI (default 0 for Newton, 1e-3 for Gauss-Newton). */
  readonly damping?: number
  /** Adapt λ by the Levenberg-Marquardt rule (default true when damping > 0). */
  readonly adaptDamping?: boolean
  /** Iterations of CG per step (default 50). */
  readonly maxCgIters?: number
  /** CG's relative residual tolerance (default 1e-10). */
  readonly cgTol?: number
  /** Backtracking Armijo search along the step, or false for the full step α = 1. */
  readonly lineSearch?: LineSearchOptions | false
}

/** The state of the Newton and Gauss-Newton minimisers: the damping and the CG iterations of the last step. */
export interface CurvatureState {
  readonly damping: number
  /** CG iterations used by the last step. */
  readonly cgIterations: number
}

interface Resolved {
  readonly damping: number
  readonly adapt: boolean
  readonly maxCgIters: number
  readonly cgTol: number
  readonly lineSearch: ReturnType<typeof checkLineSearch> | false
}

function resolve(what: string, o: CurvatureOptions, defaultDamping: number): Resolved {
  const damping = checkNonNegative(what, 'damping', o.damping ?? defaultDamping)
  return {
    damping,
    adapt: o.adaptDamping ?? damping > 0,
    maxCgIters: checkPositiveInteger(what, 'maxCgIters', o.maxCgIters ?? 50),
    cgTol: checkNonNegative(what, 'cgTol', o.cgTol ?? 1e-10),
    lineSearch: o.lineSearch === false ? false : checkLineSearch(what, o.lineSearch),
  }
}

function checkState(what: string, state: unknown): CurvatureState {
  const s = state as CurvatureState | null
  if (typeof s !== 'object' || s === null || typeof s.damping !== 'number' || !(s.damping >= 0))
    throw new Error(`${what}: expected the state { damping, cgIterations } from init, got ${JSON.stringify(state)}`)
  return s
}

/**
 * One damped step: d from CG on (B + λI) d = −g, then a line search (or the
 * full step), then the damping update.
 */
function curvatureStep<P extends Tree>(
  what: string,
  params: P,
  state: CurvatureState,
  loss: number,
  grad: P,
  curvature: (v: P) => P,
  objective: (p: P) => number,
  o: Resolved,
): StepInfo<P, CurvatureState> {
  if (!Number.isFinite(loss))
    throw new Error(`${what}: the objective is ${loss} at the current parameters; expected a finite number`)
  const gradNorm = treeNorm(grad)
  if (!Number.isFinite(gradNorm)) throw new Error(`${what}: the gradient has a non-finite entry (‖g‖ = ${gradNorm})`)
  if (gradNorm === 0) return { params, state: { ...state, cgIterations: 0 }, loss, gradNorm, evaluations: 1 }
  const lambda = state.damping
  const damped = (v: P): P => (lambda > 0 ? treeAxpy(curvature(v), lambda, v) : curvature(v))
  const cg = conjugateGradient(damped, treeNeg(grad), { maxIters: o.maxCgIters, tol: o.cgTol })
  let d = cg.x
  let slope = treeVdot(grad, d)
  // Negative curvature before any progress leaves d = 0: fall back to steepest descent.
  if (!(slope < 0)) {
    d = treeNeg(grad)
    slope = -gradNorm * gradNorm
  }
  let alpha = 1
  let value = Number.NaN
  let evaluations = 1
  if (o.lineSearch === false) {
    value = objective(treeAxpy(params, 1, d))
    evaluations++
  } else {
    const ls = backtrackingArmijo(
      (a) => ({ value: objective(treeAxpy(params, a, d)), payload: null }),
      loss,
      slope,
      o.lineSearch,
    )
    evaluations += ls.evaluations
    if (!ls.ok)
      return {
        params,
        state: { damping: lambda, cgIterations: cg.iterations },
        loss,
        gradNorm,
        evaluations,
        stalled: true,
      }
    alpha = ls.alpha
    value = ls.value
  }
  let nextDamping = lambda
  if (o.adapt) {
    const dBd = treeVdot(d, curvature(d))
    const predicted = alpha * slope + 0.5 * alpha * alpha * dBd
    const rho = predicted < 0 && Number.isFinite(value) ? (value - loss) / predicted : 0
    nextDamping = rho > 0.75 ? (lambda * 2) / 3 : rho < 0.25 ? lambda * 1.5 : lambda
  }
  return {
    params: treeAxpy(params, alpha, d),
    state: { damping: nextDamping, cgIterations: cg.iterations },
    loss,
    gradNorm,
    evaluations,
  }
}

/** A trial point's objective on the host; NaN becomes +∞ so that a line search rejects it. */
const hostValue = (t: Tensor): number => {
  const v = t.item()
  return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY
}

/** What tells Newton-CG and Gauss-Newton apart. */
interface Method {
  readonly name: string
  readonly defaultDamping: number
  /** The objective h(θ, ...batch). */
  readonly objective: Objective
  /** The loss, its gradient and the curvature products v ↦ B·v at `params`, for one batch. */
  readonly products: <P extends Tree>(
    params: P,
    batch: unknown[],
  ) => { loss: Tensor<[]>; grad: P; product: (v: P) => P }
  /** Throws unless `batch` is one the method takes. */
  readonly checkBatch?: (batch: unknown[]) => void
}

/** A curvature method as a Minimiser: each step is `curvatureStep` on the method's products. */
function curvatureMinimiser(method: Method, options: CurvatureOptions): Minimiser<CurvatureState> {
  const { name: what, objective, products, checkBatch = () => {} } = method
  const o = resolve(what, options, method.defaultDamping)
  return {
    name: what,
    init: (params) => {
      checkFloatLeaves(`${what}.init`, params)
      return { damping: o.damping, cgIterations: 0 }
    },
    async step(params, state, ...batch) {
      const s = checkState(`${what}.step`, state)
      checkBatch(batch)
      const { loss, grad, product } = products(params, batch)
      return curvatureStep(what, params, s, loss.item(), grad, product, (p) => hostValue(objective(p, ...batch)), o)
    },
    async evaluate(params, ...batch) {
      checkBatch(batch)
      const [loss, grad] = valueAndGrad(objective)(params, ...batch)
      return { loss: loss.item(), gradNorm: treeNorm(grad as Tree) }
    },
  }
}

// ---------------------------------------------------------------- Newton-CG

/** Hessian-vector products at `params`: the gradient and v ↦ H·v, with the primal pass done once. */
export function hessianProduct<P extends Tree>(
  f: (params: P) => Tensor<[]>,
  params: P,
): { loss: Tensor<[]>; grad: P; product: (v: P) => P } {
  const [[loss, grad], lin] = linearize((p: P) => valueAndGrad(f)(p) as [Tensor<[]>, P], params)
  return { loss, grad, product: (v: P) => lin(v)[1] }
}

/**
 * Newton's method, θ' = θ − α (H + λI)⁻¹ ∇h, with the system solved by
 * truncated CG on Hessian-vector products (COMP613 notes, "Optimisation for
 * Machine Learning").
 */
export function newtonCG(f: Objective, options: CurvatureOptions = {}): Minimiser<CurvatureState> {
  return curvatureMinimiser(
    {
      name: 'newtonCG',
      defaultDamping: 0,
      objective: f,
      products: (params, batch) => hessianProduct((p: typeof params) => f(p, ...batch), params),
    },
    options,
  )
}

// ---------------------------------------------------------------- Gauss-Newton

/** A model z = g(θ, x) and a loss l(z, y) whose sum over the batch is the objective h(θ) = l(g(θ, x), y). */
export interface GaussNewtonProblem<P extends Tree = any, X = any, Z extends Tree = any, Y = any> {
  readonly model: (params: P, x: X) => Z
  readonly loss: (z: Z, y: Y) => Tensor<[]>
}

/**
 * The generalised Gauss-Newton product at θ (Schraudolph 2002; COMP613 notes,
 * "Optimisation for Machine Learning"):
 *   G v = Jᵀ H_l J v,  J = ∂g(θ, x)/∂θ,  H_l = ∂²l(z, y)/∂z² at z = g(θ, x),
 * as jvp of the model (J v, by `linearize`), the loss's Hessian-vector
 * product in output space (H_l u), and vjp of the model (Jᵀ w). Over a batch
 * the loss's Hessian is block-diagonal, so this is Σᵢ Jᵢᵀ Hᵢ Jᵢ v.
 * Also returns the loss and its gradient Jᵀ ∇_z l, which come for free.
 */
export function ggnProduct<P extends Tree, X, Z extends Tree, Y>(
  problem: GaussNewtonProblem<P, X, Z, Y>,
  params: P,
  x: X,
  y: Y,
): { loss: Tensor<[]>; grad: P; product: (v: P) => P } {
  const model = (p: P) => problem.model(p, x)
  const [z, jvpModel] = linearize(model, params)
  const [, vjpModel] = vjp(model, params)
  const { loss, grad: gz, product: lossHvp } = hessianProduct((zz: Z) => problem.loss(zz, y), z as Z)
  const transposeJ = (w: Z): P => vjpModel(w as ReturnType<typeof model>)[0]
  return {
    loss,
    grad: transposeJ(gz),
    product: (v: P) => transposeJ(lossHvp(jvpModel(v) as Z)),
  }
}

/**
 * Gauss-Newton: θ' = θ − α (G + λI)⁻¹ ∇h with G the generalised Gauss-Newton
 * matrix, by truncated CG on GGN-vector products. The batch is `(x, y)`.
 */
export function gaussNewton(problem: GaussNewtonProblem, options: CurvatureOptions = {}): Minimiser<CurvatureState> {
  const what = 'gaussNewton'
  if (typeof problem?.model !== 'function' || typeof problem?.loss !== 'function')
    throw new Error(
      `${what}: expected { model: (params, x) => z, loss: (z, y) => scalar }, got ${problem === null ? 'null' : typeof problem}`,
    )
  return curvatureMinimiser(
    {
      name: what,
      defaultDamping: 1e-3,
      objective: (p: Tree, x: unknown, y: unknown) => problem.loss(problem.model(p, x), y),
      products: (params, [x, y]) => ggnProduct(problem, params, x, y),
      checkBatch: (batch) => {
        if (batch.length !== 2) throw new Error(`${what}: expected the batch (x, y), got ${batch.length} argument(s)`)
      },
    },
    options,
  )
}
