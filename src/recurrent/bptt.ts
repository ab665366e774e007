/**
 * Backpropagation through time (Werbos 1990; D. Barber, Neural Nets (lecture
 * notes), "Backprop Through Time"; A. Martins, Deep Learning: A Shallow
 * Tutorial, NLPL Winter School 2018, "Backpropagation Through Time"):
 * the gradient of E(θ, h₀) (loss.ts) by reverse mode through the scan that
 * runs the cell. Reverse mode of a scan is one forward scan that stacks, for
 * every step, the values the backward pass needs (the residuals, O(T·H)
 * memory), then one scan backwards in time that carries ∂E/∂h_t and sums the
 * per-step parameter cotangents, the untied gradients of the tied θ (Barber,
 * "Parameter Tying": ∂E/∂θ = Σ_t ∂E/∂θ_t).
 *
 * Truncated BPTT, `{ truncate: k }`: the sequence is cut into chunks of k
 * steps (the last one shorter when k does not divide T) and the state enters
 * each chunk as a constant (a stop-gradient), so the gradient of L_t flows
 * back to the start of t's chunk: between 1 and k steps, never further. The
 * chunks' gradients are computed one after another inside a scan over the
 * chunks, so the stacked residuals are O(k·H), not O(T·H). With k ≥ T this is
 * BPTT; with k = 1 it is Σ_t ∂L_t/∂θ with h_{t−1} held fixed. ∂E/∂h₀ is the
 * first chunk's. For a final-state loss only the last chunk sees the loss.
 */
import { checkpoint } from '../control/derivatives.ts'
import { valueAndGrad } from '../transforms.ts'
import * as ops from '../ops.ts'
import type { Tensor } from '../tensor.ts'
import { flatten, treeMap, treeMap2, unflatten, type Tree } from '../tree.ts'
import type { AnyCell, Cell, StateLayout } from './cells.ts'
import {
  checkLoss,
  checkSequence,
  isStepLoss,
  partialLoss,
  type SequenceGradient,
  type SequenceGradientFn,
  type SequenceLoss,
} from './loss.ts'
import { scan } from './scan.ts'

/** Options of `bptt`: truncation and rematerialisation. */
export interface BpttOptions {
  /** Chunks of this many steps, the state a constant between them (default: no truncation). */
  readonly truncate?: number
  /**
   * Rematerialise: the forward pass keeps the state only every this many
   * steps, and the backward pass recomputes each chunk's k steps from it
   * (`checkpoint` around each chunk). The residuals then hold O(T/k) states
   * plus one chunk's O(k) while it is differentiated, instead of O(T); the
   * gradient is the same. k ≈ √T balances the two.
   */
  readonly checkpointEvery?: number
}

/** Leaves [T, ...] → [n, k, ...] for the first n·k steps. */
const chunked = (tree: unknown, n: number, k: number): unknown => {
  const [leaves, def] = flatten(tree)
  return unflatten(
    def,
    leaves.map((x) =>
      ops.reshape(
        ops.slice(
          x as Tensor,
          x.aval.shape.map(() => 0),
          [n * k, ...x.aval.shape.slice(1)],
        ),
        [n, k, ...x.aval.shape.slice(1)],
      ),
    ),
  )
}
/** Leaves [T, ...] → [T − from, ...]. */
const tail = (tree: unknown, from: number): unknown => {
  const [leaves, def] = flatten(tree)
  return unflatten(
    def,
    leaves.map((x) =>
      ops.slice(
        x as Tensor,
        x.aval.shape.map((_, i) => (i === 0 ? from : 0)),
      ),
    ),
  )
}

/**
 * `bptt(cell, loss, { truncate })(θ, h₀, xs, targets)`: `{ loss: E, grad:
 * { params: ∂E/∂θ, h0: ∂E/∂h₀ } }` for a time-major xs [T, ...B, I].
 */
export function bptt<I extends number, O extends number, P, L extends StateLayout, Tg>(
  cell: Cell<I, O, P, L>,
  loss: SequenceLoss<L, Tg>,
  options: BpttOptions = {},
): SequenceGradientFn<I, P, L, Tg> {
  const l = checkLoss('bptt', loss)
  const k = options.truncate
  if (k !== undefined && !(Number.isInteger(k) && k >= 1))
    throw new Error(`bptt: truncate must be a positive integer (steps per chunk), got ${String(k)}`)
  const every = options.checkpointEvery
  if (every !== undefined) {
    if (!(Number.isInteger(every) && every >= 1))
      throw new Error(`bptt: checkpointEvery must be a positive integer (steps per chunk), got ${String(every)}`)
    if (k !== undefined) throw new Error('bptt: use truncate or checkpointEvery, not both')
    return rematerialised(cell as unknown as AnyCell, l, every) as unknown as SequenceGradientFn<I, P, L, Tg>
  }
  return gradient(cell as unknown as AnyCell, l, k) as unknown as SequenceGradientFn<I, P, L, Tg>
}

/**
 * E(θ, h₀) as a scan over chunks of k steps, each chunk a checkpoint: reverse
 * mode stores each chunk's initial state and recomputes the chunk's steps in
 * the backward pass.
 */
export function checkpointedLoss(c: AnyCell, l: SequenceLoss, k: number) {
  const perStep = isStepLoss(l)
  const part = checkpoint((p: unknown, h: unknown, seq: Tensor, tg: unknown, weight: Tensor | number) =>
    partialLoss('bptt', c, l, p, h, seq, tg, weight),
  )
  return (params: unknown, h0: unknown, xs: Tensor, targets?: unknown): Tensor<[]> => {
    const [T] = checkSequence('bptt', c, h0, xs)
    const n = Math.floor(T / k)
    const rest = T - n * k
    let h = h0
    let e = ops.zeros([], c.dtype) as Tensor<[]>
    if (n > 0) {
      const last = ops.tensor(
        Array.from({ length: n }, (_, j) => (rest === 0 && j === n - 1 ? 1 : 0)),
        { shape: [n], dtype: c.dtype },
      ) as Tensor
      const chunks = { x: chunked(xs, n, k), target: perStep ? chunked(targets ?? null, n, k) : null, last }
      const [end, es] = scan(
        (s: unknown, q: any) => {
          const [ek, next] = part(params, s, q.x, perStep ? q.target : targets, q.last as Tensor)
          return [next, ek] as const
        },
        h,
        chunks,
      )
      h = end
      e = ops.sum(es as Tensor) as Tensor<[]>
    }
    if (rest > 0) {
      const one = ops.ones([], c.dtype) as Tensor
      const [er] = part(params, h, tail(xs, n * k) as Tensor, perStep ? tail(targets ?? null, n * k) : targets, one)
      e = ops.add(e, er) as Tensor<[]>
    }
    return e
  }
}

function rematerialised(c: AnyCell, l: SequenceLoss, k: number) {
  const loss = checkpointedLoss(c, l, k)
  return (params: unknown, h0: unknown, xs: Tensor, targets?: unknown): SequenceGradient<unknown, unknown> => {
    const [value, [gp, gh]] = valueAndGrad((p: unknown, h: unknown) => loss(p, h, xs, targets), { argnums: [0, 1] })(
      params,
      h0,
    )
    return { loss: value, grad: { params: gp, h0: gh } }
  }
}

function gradient(c: AnyCell, l: SequenceLoss, k: number | undefined) {
  const objective = (p: unknown, h: unknown, seq: Tensor, tg: unknown, weight: Tensor | number) =>
    partialLoss('bptt', c, l, p, h, seq, tg, weight)
  const perStep = isStepLoss(l)
  const chunk = valueAndGrad(objective, { argnums: [0, 1], hasAux: true }) as (
    ...args: Parameters<typeof objective>
  ) => [[Tensor<[]>, unknown], [unknown, unknown]]
  return (params: unknown, h0: unknown, xs: Tensor, targets?: unknown): SequenceGradient<unknown, unknown> => {
    const [T] = checkSequence('bptt', c, h0, xs)
    if (k === undefined) {
      const [value, [gp, gh]] = valueAndGrad((p: unknown, h: unknown) => objective(p, h, xs, targets, 1)[0], {
        argnums: [0, 1],
      })(params, h0)
      return { loss: value, grad: { params: gp, h0: gh } }
    }
    const n = Math.floor(T / k)
    const rest = T - n * k
    type Carry = { h: unknown; gp: unknown; gh: unknown; e: Tensor<[]> }
    const add = (a: unknown, b: unknown) => treeMap2(a as Tree, b as Tree, (x, y) => ops.add(x, y))
    let carry: Carry = {
      h: h0,
      gp: treeMap(params as Tree, ops.zerosLike),
      gh: treeMap(h0 as Tree, ops.zerosLike),
      e: ops.zeros([], c.dtype) as Tensor<[]>,
    }
    if (n > 0) {
      // first[j] = 1 for the chunk that starts at h₀ (it alone gives ∂E/∂h₀); last[j] = 1 for the chunk that ends the sequence.
      const flag = (at: number) =>
        ops.tensor(
          Array.from({ length: n }, (_, j) => (j === at ? 1 : 0)),
          { shape: [n], dtype: c.dtype },
        ) as Tensor
      const chunks = {
        x: chunked(xs, n, k),
        target: perStep ? chunked(targets ?? null, n, k) : null,
        first: flag(0),
        last: flag(rest === 0 ? n - 1 : -1),
      }
      ;[carry] = scan(
        (s: Carry, part: any) => {
          const [[e, end], [gp, gh]] = chunk(params, s.h, part.x, perStep ? part.target : targets, part.last)
          const first = part.first as Tensor<[]>
          const gh0 = treeMap2(s.gh as Tree, gh as Tree, (a, b) =>
            ops.add(a, ops.mul(b, ops.astype(first, b.aval.dtype))),
          )
          return [{ h: end, gp: add(s.gp, gp), gh: gh0, e: ops.add(s.e, e) }, null] as const
        },
        carry,
        chunks,
      )
    }
    if (rest > 0) {
      const [[e, end], [gp, gh]] = chunk(
        params,
        carry.h,
        tail(xs, n * k) as Tensor,
        perStep ? tail(targets ?? null, n * k) : targets,
        1,
      )
      carry = { h: end, gp: add(carry.gp, gp), gh: n === 0 ? gh : carry.gh, e: ops.add(carry.e, e) }
    }
    return { loss: carry.e, grad: { params: carry.gp, h0: carry.gh } }
  }
}
