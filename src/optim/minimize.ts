/**
 * A common loop for every method, first or second order: a `Minimiser` owns
 * its objective and takes one step at a time on the host, and `minimize`
 * runs it to a tolerance or an iteration budget, recording the loss of every
 * iterate and when it was known. First-order optimisers join through
 * `fromOptimiser`, which can jit the whole step (gradient and update) into
 * one call on a backend.
 */
import type { Backend } from '../core/backend.ts'
import { jit } from '../jit.ts'
import type { Tensor } from '../tensor.ts'
import { valueAndGrad } from '../transforms.ts'
import type { Tree } from '../tree.ts'
import { globalNorm } from './clip.ts'
import { checkPositiveInteger, checkNonNegative, type Optimiser } from './optimiser.ts'
import { checkFloatLeaves } from './tree-math.ts'

/** A scalar objective of the parameters and any batch arguments. */
export type Objective = (params: any, ...batch: any[]) => Tensor<[]>

/**
 * What one step of a minimiser reports: the new parameters and state, and the loss and gradient
 * norm where it started.
 */
export interface StepInfo<P, S> {
  readonly params: P
  readonly state: S
  /** The objective at the parameters the step started from. */
  readonly loss: number
  /** ‖∇L‖ at the parameters the step started from. */
  readonly gradNorm: number
  /** Evaluations of the objective (with or without its gradient) made by the step. */
  readonly evaluations: number
  /** True when the step could not make progress (a failed line search); params are then unchanged. */
  readonly stalled?: boolean
}

/** A minimiser of an objective: `init` its state from the parameters, then `step` repeatedly (what `minimize` does). */
export interface Minimiser<S = unknown> {
  readonly name: string
  init<P extends Tree>(params: P): S
  step<P extends Tree>(params: P, state: S, ...batch: unknown[]): Promise<StepInfo<P, S>>
  /** The objective and its gradient norm at `params`. */
  evaluate(params: Tree, ...batch: unknown[]): Promise<{ loss: number; gradNorm: number }>
}

/** A first-order optimiser and an objective as a Minimiser; with `backend`, each step is one jitted call. */
export function fromOptimiser<S extends Tree>(
  optimiser: Optimiser<S>,
  f: Objective,
  options: { backend?: Backend } = {},
): Minimiser<S> {
  const name = optimiser.name
  const body = (params: Tree, state: S, ...batch: unknown[]) => {
    const [loss, grads] = valueAndGrad(f)(params, ...batch)
    const [p2, s2] = optimiser.update(grads as Tree, state, params)
    return [p2, s2, loss, globalNorm(grads as Tree)] as const
  }
  const measure = (params: Tree, ...batch: unknown[]) => {
    const [loss, grads] = valueAndGrad(f)(params, ...batch)
    return [loss, globalNorm(grads as Tree)] as const
  }
  const jitted =
    options.backend === undefined
      ? null
      : { body: jit(body, { backend: options.backend }), measure: jit(measure, { backend: options.backend }) }
  return {
    name,
    init: (params) => optimiser.init(params),
    async step(params, state, ...batch) {
      const [p2, s2, loss, gnorm] =
        jitted === null ? body(params, state, ...batch) : await jitted.body(params, state, ...batch)
      return {
        params: p2 as typeof params,
        state: s2,
        loss: (await loss.data())[0],
        gradNorm: (await gnorm.data())[0],
        evaluations: 1,
      }
    },
    async evaluate(params, ...batch) {
      const [loss, gnorm] = jitted === null ? measure(params, ...batch) : await jitted.measure(params, ...batch)
      return { loss: (await loss.data())[0], gradNorm: (await gnorm.data())[0] }
    },
  }
}

/** Options of `minimize`. */
export interface MinimizeOptions {
  /** The most steps to take. */
  readonly maxIters: number
  /** Stop when ‖∇L‖ ≤ gradTol (default 0: run all maxIters steps). */
  readonly gradTol?: number
  /** Extra arguments of the objective after the parameters. */
  readonly batch?: readonly unknown[]
  /** Called after every step with the iteration number and its information. */
  readonly onStep?: (iteration: number, info: StepInfo<Tree, unknown>) => void
}

/**
 * Why `minimize` stopped: the gradient tolerance was met, the iterations ran out, the loss became
 * non-finite, or a step stalled.
 */
export type StopReason = 'gradTol' | 'maxIters' | 'diverged' | 'stalled'

/** The result of `minimize`: the parameters, the history of the loss and gradient norm, and why it stopped. */
export interface MinimizeResult<P> {
  readonly params: P
  /** losses[k]: the objective at iterate k (losses[0] at the start, the last at the returned params). */
  readonly losses: readonly number[]
  readonly gradNorms: readonly number[]
  /** times[k]: milliseconds from the start until losses[k] was known. */
  readonly times: readonly number[]
  /** Steps taken. */
  readonly iterations: number
  readonly evaluations: number
  readonly reason: StopReason
  readonly converged: boolean
}

/**
 * Runs `method` from `params` until ‖∇L‖ ≤ gradTol, the loss stops being
 * finite, a step stalls, or maxIters steps are taken.
 */
export async function minimize<P extends Tree, S>(
  method: Minimiser<S>,
  params: P,
  options: MinimizeOptions,
): Promise<MinimizeResult<P>> {
  const maxIters = options.maxIters === 0 ? 0 : checkPositiveInteger('minimize', 'maxIters', options.maxIters)
  const gradTol = checkNonNegative('minimize', 'gradTol', options.gradTol ?? 0)
  const batch = options.batch ?? []
  checkFloatLeaves(`minimize(${method.name})`, params)
  const losses: number[] = []
  const gradNorms: number[] = []
  const times: number[] = []
  const start = performance.now()
  let state = method.init(params)
  let p = params
  let evaluations = 0
  let reason: StopReason = 'maxIters'
  for (let k = 0; k < maxIters; k++) {
    const info = await method.step(p, state, ...batch)
    evaluations += info.evaluations
    if (k === 0 && !Number.isFinite(info.loss))
      throw new Error(
        `minimize(${method.name}): the objective is ${info.loss} at the starting parameters; expected a finite number`,
      )
    losses.push(info.loss)
    gradNorms.push(info.gradNorm)
    times.push(performance.now() - start)
    options.onStep?.(k, info as StepInfo<Tree, unknown>)
    if (!Number.isFinite(info.loss)) {
      reason = 'diverged'
      break
    }
    if (info.gradNorm <= gradTol) {
      // Iterate k already meets the tolerance: keep it, not the step taken from it.
      reason = 'gradTol'
      return { params: p, losses, gradNorms, times, iterations: k, evaluations, reason, converged: true }
    }
    if (info.stalled) {
      reason = 'stalled'
      break
    }
    p = info.params
    state = info.state
  }
  const last = reason === 'maxIters' ? await method.evaluate(p, ...batch) : null
  if (last !== null) {
    evaluations++
    losses.push(last.loss)
    gradNorms.push(last.gradNorm)
    times.push(performance.now() - start)
    if (last.gradNorm <= gradTol) reason = 'gradTol'
  }
  const iterations = reason === 'maxIters' || reason === 'gradTol' ? maxIters : losses.length - 1
  return { params: p, losses, gradNorms, times, iterations, evaluations, reason, converged: reason === 'gradTol' }
}
