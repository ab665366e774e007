/**
 * Real-time recurrent learning (Williams and Zipser 1989; D. Barber, Neural
 * Nets (lecture notes), "Real Time Recurrent Learning (Williams and Zipser)"):
 * the exact gradient of E(θ, h₀) (loss.ts) in one forward pass, by carrying
 * the sensitivities S_t = dh_t/dθ along the sequence with the recursion
 *
 *   S_t = ∂f/∂h · S_{t−1} + ∂f/∂θ,      (h_t, y_t) = f(θ, h_{t−1}, x_t),
 *
 * and adding at each step the total derivative of that step's loss,
 *
 *   dL_t/dθ = ∂L_t/∂θ + ∂L_t/∂h_{t−1} · S_{t−1},
 *
 * so that after step t the carry holds Σ_{τ≤t} dL_τ/dθ: the exact gradient of
 * the loss so far, usable for an update at once (hence "real time"). For a
 * final-state loss, dE/dθ = ∂L/∂h_T · S_T.
 *
 * A transform, not code per cell: f is any cell's step with the state and the
 * parameters seen as vectors (ravel.ts; N state scalars, P parameter
 * scalars), ∂f/∂h [N, N] is jacfwd of the step (N forward passes) and ∂f/∂θ
 * [N, P] is jacrev (N reverse passes; forward mode would need P tangents of
 * size P, a P×P basis). h₀ is treated as P′ = N more parameters whose
 * sensitivity starts at I and that f does not read directly, so S_t is
 * [N, P + N] and the carried gradient gives dE/dh₀ as well.
 *
 * Costs (Barber, same section): memory O(N·(P + N)) for S, whatever T (BPTT's is O(T·N));
 * time per step O(N²·(P + N)) for ∂f/∂h · S, which for an RNN with H units
 * (P ≈ H²) is O(H⁴): "very high storage cost" and time, which is why BPTT is
 * the usual choice. The carry (h, S, gradient, loss) runs as one scan, so
 * `rtrl` jits.
 *
 * RTRL is per sequence: a state with a batch axis B makes N = B·H and
 * ∂f/∂h a block-diagonal [B·H, B·H]; run one sequence per call and vmap over
 * the batch instead.
 */
import { jacfwd, jacrev, valueAndGrad, vmap } from '../transforms.ts'
import * as ops from '../ops.ts'
import type { Dim, Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'
import type { AnyCell, Cell, StateLayout, StateOf } from './cells.ts'
import {
  checkLoss,
  checkSequence,
  isStepLoss,
  scalarLoss,
  type SequenceGradient,
  type SequenceLoss,
  type StepLoss,
} from './loss.ts'
import { raveler } from './ravel.ts'
import { scan } from './scan.ts'

type Matrix = Tensor<[number, number]>
type Vector = Tensor<[number]>

/** What RTRL carries from step to step. */
export interface RtrlCarry<S> {
  /** h_t. */
  readonly state: S
  /** S_t = dh_t/d(θ, h₀): [N, P + N], state scalars by parameter scalars (then initial-state scalars). */
  readonly sensitivity: Matrix
  /** Σ_{τ≤t} dL_τ/d(θ, h₀), flat: [P + N]. */
  readonly grad: Vector
  /** Σ_{τ≤t} L_τ. */
  readonly loss: Tensor<[]>
}

/**
 * The sensitivity update S_{t−1} ↦ S_t from ∂f/∂h [N, N] and ∂f/∂θ padded
 * with zero columns for h₀ [N, P + N]. Only the default, Williams and
 * Zipser's recursion, gives the exact gradient; another one gives an approximate
 * RTRL (dropping or sparsifying ∂f/∂h · S_{t−1} is what cheaper online
 * algorithms do).
 */
export type SensitivityUpdate = (dfdh: Matrix, sensitivity: Matrix, dfdtheta: Matrix) => Matrix

/** S_t = ∂f/∂h · S_{t−1} + ∂f/∂θ (Williams and Zipser 1989; Barber, "Real Time Recurrent Learning"). */
export const exactSensitivity: SensitivityUpdate = (dfdh, sensitivity, dfdtheta) =>
  ops.add(ops.matmul(dfdh, sensitivity), dfdtheta) as Matrix

/** Options of `rtrl`: the sensitivity recursion and whether to keep the history. */
export interface RtrlOptions {
  /** The sensitivity recursion (default `exactSensitivity`). */
  readonly sensitivity?: SensitivityUpdate
  /** Also return, for every t, the loss and the gradient of the loss so far (T copies of the gradient). */
  readonly history?: boolean
}

/** One step of RTRL at a time: for online learning, where θ may change between steps. */
export interface RtrlOnline<P, S, Tg> {
  /** The carry before the first step: h₀, S₀ = [0 | I], zero gradient and loss. */
  init(params: P, h0: S): RtrlCarry<S>
  /** The carry after one more step on input x (with its target, for a step loss). */
  step(params: P, carry: RtrlCarry<S>, x: Tensor, target?: Tg): RtrlCarry<S>
  /** The carried flat gradient as trees: { params: Σ dL_τ/dθ, h0: Σ dL_τ/dh₀ }. */
  gradient(params: P, carry: RtrlCarry<S>): { readonly params: P; readonly h0: S }
}

function vectors(name: string, params: unknown, state: unknown) {
  const theta = raveler(params, 'params')
  const h = raveler(state, 'state', theta.dtype)
  if (theta.size > 0 && h.dtype !== theta.dtype)
    throw new Error(`${name}: the parameters are ${theta.dtype} but the state is ${h.dtype}; dh/dθ needs one dtype`)
  return { theta, h, P: theta.size, N: h.size }
}

function checkCarry(name: string, carry: unknown, N: number, P: number): asserts carry is RtrlCarry<unknown> {
  const c = carry as RtrlCarry<unknown>
  if (
    typeof c !== 'object' ||
    c === null ||
    !('sensitivity' in c) ||
    !('grad' in c) ||
    !('state' in c) ||
    !('loss' in c)
  )
    throw new Error(
      `${name}: expected a carry { state, sensitivity, grad, loss } from init, got ${c === null ? 'null' : typeof c}`,
    )
  const s = c.sensitivity.aval.shape
  if (s.length !== 2 || s[0] !== N || s[1] !== P + N)
    throw new Error(
      `${name}: expected the sensitivity [${N}, ${P + N}] (state scalars × parameter and initial-state scalars), got ${formatAval(c.sensitivity.aval)}`,
    )
}

/**
 * RTRL one step at a time for a step loss (or `null`: the sensitivities and
 * state only, as for a final-state loss).
 */
export function rtrlOnline<I extends number, O extends number, P, L extends StateLayout, Tg>(
  cell: Cell<I, O, P, L>,
  loss: StepLoss<Tg> | null,
  options: Pick<RtrlOptions, 'sensitivity'> = {},
): RtrlOnline<P, StateOf<L, Shape>, Tg> {
  if (loss !== null && typeof loss !== 'function')
    throw new TypeError(`rtrl: expected a step loss (y, target) => scalar or null, got ${typeof loss}`)
  const update = options.sensitivity ?? exactSensitivity
  if (typeof update !== 'function')
    throw new TypeError(`rtrl: options.sensitivity must be a function (dfdh, S, dfdθ) => S′, got ${typeof update}`)
  return online(cell as unknown as AnyCell, loss, update) as RtrlOnline<P, StateOf<L, Shape>, Tg>
}

function online(c: AnyCell, loss: StepLoss | null, update: SensitivityUpdate): RtrlOnline<unknown, unknown, unknown> {
  return {
    init(params, h0) {
      const { h, P, N } = vectors('rtrl.init', params, h0)
      const S0 = ops.concat([ops.zeros([N, P], h.dtype), ops.eye(N, h.dtype)] as Tensor[], 1) as Matrix
      return {
        state: h0,
        sensitivity: S0,
        grad: ops.zeros([P + N], h.dtype) as Tensor as Vector,
        loss: ops.zeros([], h.dtype) as Tensor<[]>,
      }
    },
    step(params, carry, x, target) {
      const { theta, h, P, N } = vectors('rtrl.step', params, carry?.state)
      checkCarry('rtrl.step', carry, N, P)
      const tv = theta.ravel(params)
      const hv = h.ravel(carry.state)
      const f = (t: Vector, s: Vector) =>
        c.step(theta.unravel(t), h.unravel(s) as never, x as never) as readonly [unknown, Tensor]
      const next = (t: Vector, s: Vector) => h.ravel(f(t, s)[0])
      const dfdh = jacfwd((s: Vector) => next(tv, s))(hv) as Matrix
      const dfdtheta =
        P === 0 ? (ops.zeros([N, 0], h.dtype) as Tensor as Matrix) : (jacrev((t: Vector) => next(t, hv))(tv) as Matrix)
      const padded = ops.pad(dfdtheta as Tensor, [
        [0, 0],
        [0, N],
      ]) as Matrix
      const sensitivity = update(dfdh, carry.sensitivity, padded)
      if (loss === null) return { state: h.unravel(next(tv, hv)), sensitivity, grad: carry.grad, loss: carry.loss }
      // dL_t/d(θ, h₀) = [∂L_t/∂θ | 0] + ∂L_t/∂h_{t−1} · S_{t−1}
      const stepLoss = (t: Vector, s: Vector) => {
        const [state, y] = f(t, s)
        return [scalarLoss('rtrl', loss(y, target), carry.loss), state] as const
      }
      const [[l, state], [dLdtheta, dLdh]] = valueAndGrad(stepLoss, { argnums: [0, 1], hasAux: true })(tv, hv) as [
        [Tensor<[]>, unknown],
        [Vector, Vector],
      ]
      const direct = ops.pad(dLdtheta as Tensor, [[0, N]])
      const grad = ops.add(ops.add(carry.grad, direct), ops.matmul(dLdh, carry.sensitivity)) as Vector
      return { state, sensitivity, grad, loss: ops.add(carry.loss, l) as Tensor<[]> }
    },
    gradient(params, carry) {
      const { theta, h, P, N } = vectors('rtrl.gradient', params, carry?.state)
      checkCarry('rtrl.gradient', carry, N, P)
      const g = carry.grad as Tensor
      return {
        params: theta.unravel(ops.slice(g, [0], [P]) as Vector),
        h0: h.unravel(ops.slice(g, [P], [N]) as Vector),
      }
    },
  }
}

/** The result of `rtrl`: the loss and gradient, and with `history` the running loss and gradient at every step. */
export interface RtrlResult<P, S> extends SequenceGradient<P, S> {
  /** With `history`: at every t, Σ_{τ≤t} L_τ [T] and its gradient (each leaf with a leading T). */
  readonly history?: { readonly loss: Tensor<[number]>; readonly grad: { readonly params: P; readonly h0: S } }
}

/** rtrl's function: (θ, h₀, xs, targets) ↦ { loss, grad, history? }, for any leading batch shape B. */
export type RtrlFn<I extends number, P, L extends StateLayout, Tg> = <B extends Shape>(
  params: P,
  h0: StateOf<L, B>,
  xs: Tensor<[Dim, ...B, I]>,
  targets?: Tg,
) => RtrlResult<P, StateOf<L, B>>

/**
 * `rtrl(cell, loss, options)(θ, h₀, xs, targets)`: `{ loss: E, grad: { params:
 * dE/dθ, h0: dE/dh₀ } }` for one time-major sequence xs [T, ...B, I], in one
 * forward scan whose carry is (h_t, S_t, gradient so far, loss so far).
 */
export function rtrl<I extends number, O extends number, P, L extends StateLayout, Tg>(
  cell: Cell<I, O, P, L>,
  loss: SequenceLoss<L, Tg>,
  options: RtrlOptions = {},
): RtrlFn<I, P, L, Tg> {
  const l = checkLoss('rtrl', loss)
  const perStep = isStepLoss(l)
  if (options.history && !perStep)
    throw new Error(
      'rtrl: history (the gradient of the loss so far at every step) needs a step loss, not a final-state loss',
    )
  const c = cell as unknown as AnyCell
  const steps = rtrlOnline(cell, perStep ? l : null, options) as RtrlOnline<unknown, unknown, unknown>
  const run = (params: unknown, h0: unknown, xs: Tensor, targets?: unknown): RtrlResult<unknown, unknown> => {
    checkSequence('rtrl', c, h0, xs)
    const [end, ys] = scan(
      (carry: RtrlCarry<unknown>, s: { x: Tensor; target: unknown }) => {
        const next = steps.step(params, carry, s.x, s.target)
        return [next, options.history ? { loss: next.loss, grad: next.grad } : null] as const
      },
      steps.init(params, h0),
      { x: xs, target: perStep ? (targets ?? null) : null },
    )
    let carry = end
    if (!isStepLoss(l)) {
      // E = L(h_T): dE/d(θ, h₀) = ∂L/∂h_T · S_T.
      const { h } = vectors('rtrl', params, end.state)
      const final = (s: Vector) =>
        scalarLoss('rtrl', (l.final as (state: unknown, target: unknown) => Tensor)(h.unravel(s), targets), end.loss)
      const [e, dLdh] = valueAndGrad(final)(h.ravel(end.state)) as [Tensor<[]>, Vector]
      carry = { ...end, grad: ops.matmul(dLdh, end.sensitivity) as Vector, loss: e }
    }
    const grad = steps.gradient(params, carry)
    if (!options.history || ys === null) return { loss: carry.loss, grad }
    const stacked = ys as { loss: Tensor<[number]>; grad: Tensor }
    const history = vmap((g: Vector) => steps.gradient(params, { ...carry, grad: g }))(stacked.grad) as {
      params: unknown
      h0: unknown
    }
    return { loss: carry.loss, grad, history: { loss: stacked.loss, grad: history } }
  }
  return run as unknown as RtrlFn<I, P, L, Tg>
}
