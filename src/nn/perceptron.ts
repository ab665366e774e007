/**
 * The perceptron (Rosenblatt 1958) for labels y ∈ {−1, +1}, and Novikoff's
 * (1962) bound on the number of mistakes it makes (A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Perceptron
 * Algorithm" and "Perceptron's Mistake Bound").
 *
 * The notes state the algorithm with a joint feature map φ(x, y): predict
 * ŷ = argmax_y w·φ(x, y), and on a mistake w⁽ᵏ⁺¹⁾ = w⁽ᵏ⁾ + φ(x_i, y_i) −
 * φ(x_i, ŷ_i). For two classes with φ(x, y) = y·x/2 the difference is
 * φ(x, y) − φ(x, −y) = y·x, so, starting from w⁽⁰⁾ = 0:
 *
 *   score s_i = w·x_i (+ b),   a mistake when y_i·s_i ≤ 0,   then w ← w + y_i·x_i (and b ← b + y_i).
 *
 * A tie (s_i = 0, as for every example while w = 0) counts as a mistake:
 * argmax has no answer there, and the bound's proof needs the update.
 *
 * Mistake bound (Novikoff 1962): if some u with ‖u‖ = 1 has y_i·u·x_i ≥ γ > 0
 * for every i (the data are linearly separable with margin γ), and
 * R = max_i ‖x_i‖, then the perceptron makes at most R²/γ² mistakes, in any
 * order and over any number of epochs. In the notes' terms, R is the radius
 * max ‖φ(x_i, y_i) − φ(x_i, y′)‖ = max ‖x_i‖ and the margin condition
 * u·φ(x_i, y_i) ≥ u·φ(x_i, −y_i) + γ is y_i·u·x_i ≥ γ. The proof: each
 * mistake raises u·w by at least γ and ‖w‖² by at most R², so after k
 * mistakes kγ ≤ u·w ≤ ‖w‖ ≤ √k·R. Since an epoch without a mistake leaves w
 * unchanged, separable data are separated after at most R²/γ² mistakes,
 * within ⌊R²/γ²⌋ + 1 epochs.
 *
 * The bias: with `bias: true` the perceptron learns b as the weight of a
 * constant feature 1, so it runs on the augmented points (x_i, 1), and the
 * bound holds with R and γ of those: R = max ‖(x_i, 1)‖ and a unit separator
 * (u, c) of D + 1 entries (`mistakeBound(x, y, uc, { bias: true })`).
 *
 * The averaged perceptron (Freund and Schapire 1999, "Large margin
 * classification using the perceptron algorithm"): w̄ = (1/T)·Σ_{t=1..T} w_t,
 * the mean of the weights after each of the T examples seen (the voted
 * perceptron's vote, each vector weighted by how long it survived).
 *
 * An epoch is one jitted program: a `scan` over the examples carrying w, b
 * and the running sums Σw_t, Σb_t, with the mistake flags as its outputs.
 */
import type { Backend } from '../core/backend.ts'
import type { FloatDType } from '../dtype.ts'
import { jit, type Jitted } from '../jit.ts'
import * as ops from '../ops.ts'
import * as random from '../random.ts'
import { scan } from '../recurrent/scan.ts'
import type { Dim, Width } from '../shape/types.ts'
import { formatAval, Tensor } from '../tensor.ts'

type AnyTensor = Tensor<any, any>
const untyped = (x: Tensor): AnyTensor => x as AnyTensor

/** Options of the perceptron's training. */
export interface PerceptronOptions {
  /** The most passes over the data. */
  readonly epochs: number
  /**
   * The order of the examples in each epoch: a key, so that epoch e (from 0)
   * visits them in the order `random.permutation(random.foldIn(order, e), N)`,
   * drawn inside the epoch's program; or 'fixed' (the default): 0, 1, …, N − 1
   * in every epoch.
   */
  readonly order?: random.Key | 'fixed'
  /** Also return the averaged perceptron's weights (Freund and Schapire 1999). Default false. */
  readonly averaged?: boolean
  /** Learn a bias b, the weight of a constant feature 1. Default false (the notes' w·φ(x, y) has none). */
  readonly bias?: boolean
  /**
   * Stop after the first epoch without a mistake (default true). Later epochs
   * would change nothing but the averaged weights.
   */
  readonly stopWhenConverged?: boolean
  /** The backend that runs the epochs (default: jit's default backend). */
  readonly backend?: Backend
}

/** A linear classifier: label sign(w·x + b). */
export interface LinearClassifier<D extends Dim = Dim, F extends FloatDType = FloatDType> {
  readonly w: Tensor<[D], F>
  readonly b: Tensor<[], F>
}

/** A trained perceptron: the linear classifier with the record of its mistakes. */
export interface PerceptronResult<D extends Dim = Dim, F extends FloatDType = FloatDType>
  extends LinearClassifier<D, F> {
  /** The number of mistakes (updates), over all epochs. */
  readonly mistakes: number
  /** The mistakes in each epoch run. */
  readonly mistakesPerEpoch: readonly number[]
  /** After each example seen (epochs run × N of them), the number of mistakes so far. */
  readonly cumulativeMistakes: Int32Array
  /** Whether an epoch passed without a mistake: w then separates the training data. */
  readonly converged: boolean
  /** With `averaged`: w̄ and b̄, the means of w and b after each example seen. */
  readonly averaged?: LinearClassifier<D, F>
}

interface EpochState {
  readonly w: AnyTensor
  readonly b: AnyTensor
  /** Σ_t w_t and Σ_t b_t over the examples seen so far. */
  readonly sumW: AnyTensor
  readonly sumB: AnyTensor
}

/**
 * One epoch: the examples in the epoch's order, each a perceptron step. The
 * flags say which steps were mistakes. `shuffled` and `bias` are static.
 */
function epoch(
  state: EpochState,
  x: AnyTensor,
  y: AnyTensor,
  order: random.Key,
  index: Tensor<[], 'i32'>,
  shuffled: boolean,
  bias: boolean,
): [EpochState, AnyTensor] {
  const labels = untyped(ops.astype(y, x.dtype))
  const perm = shuffled ? random.permutation(random.foldIn(order, index), x.aval.shape[0]) : null
  const xs = perm === null ? x : untyped(ops.take(x, perm, 0))
  const ys = perm === null ? labels : untyped(ops.take(labels, perm, 0))
  const [next, flags] = scan(
    (c: EpochState, ex: { x: AnyTensor; y: AnyTensor }) => {
      const score = ops.add(ops.sum(ops.mul(c.w, ex.x)), c.b)
      const mistake = ops.lessEqual(ops.mul(ex.y, score), 0)
      const w = ops.where(mistake, ops.add(c.w, ops.mul(ex.y, ex.x)), c.w)
      const b = bias ? ops.where(mistake, ops.add(c.b, ex.y), c.b) : c.b
      const carry: EpochState = { w, b, sumW: ops.add(c.sumW, w), sumB: ops.add(c.sumB, b) }
      return [carry, ops.astype(mistake, 'i32')] as const
    },
    state,
    { x: xs, y: ys },
  )
  return [next, untyped(flags)]
}

/** The jitted epoch for each backend asked for (undefined: the default), so that repeated runs compile once per shape. */
const epochs = new Map<Backend | undefined, Jitted<typeof epoch>>()
function compiledEpoch(backend: Backend | undefined): Jitted<typeof epoch> {
  let f = epochs.get(backend)
  if (f === undefined) {
    f = jit(epoch, { staticArgnums: [5, 6], donateArgnums: [0], ...(backend === undefined ? {} : { backend }) })
    epochs.set(backend, f)
  }
  return f
}

function checkData(op: string, x: Tensor, y: Tensor): [number, number, FloatDType] {
  if (x.ndim !== 2) throw new Error(`${op}: x must be a matrix [N, D] of examples, got ${formatAval(x.aval)}`)
  const dtype = x.dtype
  if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`${op}: x must be f32 or f64, got ${formatAval(x.aval)}`)
  const [n, d] = x.aval.shape as [number, number]
  if (y.ndim !== 1 || y.aval.shape[0] !== n)
    throw new Error(`${op}: y must hold one label per example, [${n}], got ${formatAval(y.aval)}`)
  if (y.dtype === 'bool') throw new Error(`${op}: labels must be −1 or +1 (f32, f64 or i32), got ${formatAval(y.aval)}`)
  return [n, d, dtype]
}

function concatenated(parts: readonly Int32Array[], length: number): Int32Array {
  const out = new Int32Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

async function checkLabels(op: string, y: Tensor): Promise<void> {
  const values = await y.data()
  const bad = values.findIndex((v) => v !== 1 && v !== -1)
  if (bad >= 0) throw new Error(`${op}: labels must be −1 or +1, but y[${bad}] is ${values[bad]}`)
}

/**
 * Trains a perceptron on examples x [N, D] with labels y [N] in {−1, +1},
 * from w = 0, b = 0, for at most `epochs` passes (one jitted program each).
 */
export async function perceptron<N extends Dim, D extends Dim, F extends FloatDType>(
  x: Tensor<[N, D], F>,
  y: Tensor<[N], 'f32' | 'f64' | 'i32'>,
  options: PerceptronOptions,
): Promise<PerceptronResult<D, F>> {
  const [n, d, dtype] = checkData('perceptron', x, y)
  if (!Number.isInteger(options.epochs) || options.epochs < 0)
    throw new Error(`perceptron: epochs must be a non-negative integer, got ${options.epochs}`)
  await checkLabels('perceptron', y)
  const order = options.order ?? 'fixed'
  if (order !== 'fixed' && typeof order === 'string')
    throw new Error(`perceptron: order must be a key or 'fixed', got ${JSON.stringify(order)}`)
  const shuffled = order !== 'fixed'
  const key = shuffled ? order : random.key(0)
  const bias = options.bias ?? false
  const run = compiledEpoch(options.backend)
  let state: EpochState = {
    w: untyped(ops.zeros([d], dtype)),
    b: untyped(ops.scalar(0, dtype)),
    sumW: untyped(ops.zeros([d], dtype)),
    sumB: untyped(ops.scalar(0, dtype)),
  }
  const mistakesPerEpoch: number[] = []
  const cumulative: Int32Array[] = []
  let total = 0
  let converged = false
  for (let e = 0; e < options.epochs; e++) {
    const [next, flags] = await run(state, untyped(x), untyped(y), key, ops.scalar(e, 'i32'), shuffled, bias)
    state = next
    const f = await flags.data()
    const sofar = new Int32Array(n)
    let count = 0
    for (let i = 0; i < n; i++) {
      count += f[i]
      sofar[i] = total + count
    }
    cumulative.push(sofar)
    total += count
    mistakesPerEpoch.push(count)
    if (count === 0) {
      converged = true
      if (options.stopWhenConverged ?? true) break
    }
  }
  const seen = mistakesPerEpoch.length * n
  // Read the results back, so that they can be used eagerly (predictions, the bound) on any backend.
  await Promise.all([state.w, state.b, state.sumW, state.sumB].map((t) => t.data()))
  const result = {
    w: state.w as Tensor<[D], F>,
    b: state.b as Tensor<[], F>,
    mistakes: total,
    mistakesPerEpoch,
    cumulativeMistakes: concatenated(cumulative, seen),
    converged,
  }
  if (!(options.averaged ?? false)) return result
  const mean = (s: AnyTensor, zero: AnyTensor) => (seen === 0 ? zero : untyped(ops.div(s, seen)))
  return {
    ...result,
    averaged: {
      w: mean(state.sumW, state.w) as Tensor<[D], F>,
      b: mean(state.sumB, state.b) as Tensor<[], F>,
    },
  }
}

/** The labels sign(x·w + b) ∈ {−1, 0, +1} of examples x [N, D]; 0 on the boundary, wrong for either label. */
export function perceptronPredict<N extends Dim, D extends Dim, F extends FloatDType, X extends Dim>(
  classifier: LinearClassifier<D, F>,
  x: Tensor<[N, X], NoInfer<F>> & NoInfer<Width<X, D>>,
): Tensor<[N], F> {
  const scores = ops.add(ops.matmul(untyped(x), untyped(classifier.w)), untyped(classifier.b))
  return ops.sign(scores) as Tensor<[N], F>
}

/** Novikoff's mistake bound for data and a separating direction u: R, the margin γ and R²/γ². */
export interface MistakeBound {
  /** R = max_i ‖x_i‖ (of the augmented (x_i, 1) with `bias`). */
  readonly R: number
  /** γ = min_i y_i·u·x_i for u normalised to ‖u‖ = 1. */
  readonly gamma: number
  /** R²/γ², Novikoff's bound on the mistakes; Infinity when γ ≤ 0 (u does not separate the data). */
  readonly bound: number
  /** γ > 0: u separates the data, every example strictly on its side. */
  readonly separable: boolean
}

/**
 * Novikoff's bound for the data (x, y) and a separator u (normalised here):
 * R = max ‖x_i‖, γ = min y_i·u·x_i, bound R²/γ² (A. Martins, Deep Learning:
 * A Shallow Tutorial, "Perceptron's Mistake Bound"). With `bias: true`, x is
 * augmented with a constant feature 1 (as `perceptron` does with a bias), so
 * u has D + 1 entries, the last one the bias's. Computed eagerly in f64,
 * from host values (read a tensor that lives on a device with `await t.data()`
 * first).
 */
export function mistakeBound(
  x: Tensor,
  y: Tensor,
  u: Tensor | ArrayLike<number>,
  options: { readonly bias?: boolean } = {},
): MistakeBound {
  const [n, d] = checkData('mistakeBound', x, y)
  const bias = options.bias ?? false
  const width = bias ? d + 1 : d
  const direction = Array.from(u instanceof Tensor ? u.dataSync() : u)
  if (direction.length !== width)
    throw new Error(
      `mistakeBound: u must have ${width} entries (D = ${d}${bias ? ', plus 1 for the bias' : ''}), got ${direction.length}`,
    )
  const norm = Math.hypot(...direction)
  if (!(norm > 0) || !Number.isFinite(norm))
    throw new Error(`mistakeBound: u must be a finite non-zero vector, got norm ${norm}`)
  const x64 = untyped(ops.astype(untyped(x), 'f64'))
  const points = bias ? untyped(ops.concat([x64, ops.ones([n, 1], 'f64')], 1)) : x64
  const unit = ops.tensor(
    direction.map((v) => v / norm),
    { shape: [width], dtype: 'f64' },
  )
  const R = n === 0 ? 0 : Math.sqrt(ops.max(ops.sum(ops.square(points), 1)).item())
  const margins = ops.mul(ops.astype(untyped(y), 'f64'), ops.matmul(points, unit))
  const gamma = n === 0 ? Infinity : ops.min(margins).item() + 0 // + 0: no −0
  const separable = gamma > 0
  return { R, gamma, bound: separable ? (R * R) / (gamma * gamma) : Infinity, separable }
}
