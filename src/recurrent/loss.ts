/**
 * The objective of a recurrent network over one sequence (D. Barber, Neural
 * Nets (lecture notes), "Computing the Gradient"), in one of two forms:
 *
 *  - per step:   E(θ, h₀) = Σ_t L(y_t, target_t), with (h_t, y_t) = step(θ, h_{t−1}, x_t);
 *  - final state: E(θ, h₀) = L(h_T, target).
 *
 * A step loss is a function `(y_t, target_t) => scalar`; the targets are then
 * a pytree whose leaves have the sequence's leading (time) axis, or null. A
 * final-state loss is `{ final: (h_T, target) => scalar }`, its target any
 * pytree or null. `bptt` and `rtrl` compute the gradient of the same E, so
 * `sequenceLoss(cell, loss)` is the function both differentiate.
 */
import { isFloat } from '../dtype.ts'
import * as ops from '../ops.ts'
import type { Dim, Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'
import { checkState, type AnyCell, type Cell, type StateLayout, type StateOf } from './cells.ts'
import { scan } from './scan.ts'

/** L(y_t, target_t): one step's term of E = Σ_t L(y_t, target_t). */
export type StepLoss<Tg = any> = (y: Tensor, target: Tg) => Tensor<[]>

/** E = L(h_T, target): a loss on the state after the last step. */
export interface FinalStateLoss<L extends StateLayout = any, Tg = any> {
  readonly final: (state: StateOf<L, Shape>, target: Tg) => Tensor<[]>
}

/** A loss of a sequence: a sum of per-step losses, or a loss of the final state. */
export type SequenceLoss<L extends StateLayout = any, Tg = any> = StepLoss<Tg> | FinalStateLoss<L, Tg>

/** The gradient of E with respect to the parameters and the initial state, with E itself. */
export interface SequenceGradient<P, S> {
  readonly loss: Tensor<[]>
  readonly grad: { readonly params: P; readonly h0: S }
}

/** A gradient algorithm's function: (θ, h₀, xs, targets) ↦ { loss, grad }, for any leading batch shape B. */
export type SequenceGradientFn<I extends number, P, L extends StateLayout, Tg> = <B extends Shape>(
  params: P,
  h0: StateOf<L, B>,
  xs: Tensor<[Dim, ...B, I]>,
  targets?: Tg,
) => SequenceGradient<P, StateOf<L, B>>

export const isStepLoss = (loss: SequenceLoss): loss is StepLoss => typeof loss === 'function'

/** Throws unless `loss` is a step loss or a final-state loss. */
export function checkLoss(name: string, loss: unknown): SequenceLoss {
  const ok =
    typeof loss === 'function' ||
    (typeof loss === 'object' && loss !== null && typeof (loss as FinalStateLoss).final === 'function')
  if (!ok)
    throw new TypeError(
      `${name}: expected a loss (y, target) => scalar or { final: (state, target) => scalar }, got ${loss === null ? 'null' : typeof loss}`,
    )
  return loss as SequenceLoss
}

/** A loss's value, checked to be a float scalar and cast to the accumulator's dtype. */
export function scalarLoss(name: string, value: unknown, like: Tensor): Tensor<[]> {
  const v = value as Tensor
  if (typeof v !== 'object' || v === null || !('aval' in v) || v.aval.shape.length !== 0 || !isFloat(v.aval.dtype))
    throw new Error(
      `${name}: the loss must return a floating-point scalar tensor (shape []), got ${typeof v === 'object' && v !== null && 'aval' in v ? formatAval(v.aval) : typeof v}`,
    )
  return (v.aval.dtype === like.aval.dtype ? v : ops.astype(v as Tensor<[]>, like.aval.dtype)) as Tensor<[]>
}

/** Throws unless xs is a time-major sequence [T, ...B, I] and h0 a state for B; returns T and B. */
export function checkSequence(name: string, cell: AnyCell, h0: unknown, xs: unknown): [number, number[]] {
  const ok = typeof xs === 'object' && xs !== null && 'aval' in xs
  const shape = ok ? (xs as Tensor).aval.shape : []
  if (!ok || shape.length < 2 || shape[shape.length - 1] !== cell.inputSize)
    throw new Error(
      `${name}: expected a time-major input sequence [T, ..., ${cell.inputSize}] for ${cell.name}, got ${ok ? formatAval((xs as Tensor).aval) : xs === null ? 'null' : typeof xs}`,
    )
  const lead = shape.slice(1, -1)
  checkState(name, cell.layout, h0, lead, 'h0')
  return [shape[0], lead]
}

/**
 * E over a part of a sequence from state h: [E, h_end]. Step losses are
 * summed over the steps of xs; a final-state loss is added, times `weight`
 * (1 or 0, a tensor or number), on the state after them.
 */
export function partialLoss(
  name: string,
  cell: AnyCell,
  loss: SequenceLoss,
  params: unknown,
  h: unknown,
  xs: Tensor,
  targets: unknown,
  weight: Tensor | number = 1,
): [Tensor<[]>, unknown] {
  const zero = ops.zeros([], cell.dtype) as Tensor<[]>
  if (isStepLoss(loss)) {
    const [end] = scan(
      (c: { h: unknown; e: Tensor<[]> }, s: { x: Tensor; target: unknown }) => {
        const [next, y] = cell.step(params, c.h as never, s.x as never)
        return [{ h: next, e: ops.add(c.e, scalarLoss(name, loss(y, s.target), zero)) }, null] as const
      },
      { h, e: zero },
      { x: xs, target: targets ?? null },
    )
    return [end.e, end.h]
  }
  const [end] = scan((c: unknown, x: Tensor) => [cell.step(params, c as never, x as never)[0], null] as const, h, xs)
  const e = scalarLoss(name, (loss.final as (state: unknown, target: unknown) => Tensor)(end, targets), zero)
  return [weight === 1 ? e : ops.mul(e, weight as Tensor<[]>), end]
}

/** E(θ, h₀) as a function of (θ, h₀, xs, targets), for any leading batch shape B of the sequence. */
export type SequenceObjective<I extends number, P, L extends StateLayout, Tg> = <B extends Shape>(
  params: P,
  h0: StateOf<L, B>,
  xs: Tensor<[Dim, ...B, I]>,
  targets?: Tg,
) => Tensor<[]>

/** E(θ, h₀) for a cell, a loss, a sequence xs [T, ...B, I] and its targets: what `bptt` and `rtrl` differentiate. */
export function sequenceLoss<I extends number, O extends number, P, L extends StateLayout, Tg>(
  cell: Cell<I, O, P, L>,
  loss: SequenceLoss<L, Tg>,
): SequenceObjective<I, P, L, Tg> {
  const l = checkLoss('sequenceLoss', loss)
  const c = cell as unknown as AnyCell
  const objective = (params: unknown, h0: unknown, xs: Tensor, targets?: unknown): Tensor<[]> => {
    checkSequence('sequenceLoss', c, h0, xs)
    return partialLoss('sequenceLoss', c, l, params, h0, xs, targets)[0]
  }
  return objective as unknown as SequenceObjective<I, P, L, Tg>
}
