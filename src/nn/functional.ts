/**
 * Activations and other parameter-free functions of tensors, written with the
 * typed ops so that every transform differentiates them from the rules of
 * the primitives (no hand-written derivatives).
 *
 * Formulas (activations: Multi-level networks (lecture notes), "Activation
 * Functions"; softmax, sparsemax and dropout: A. Martins, Deep Learning: A
 * Shallow Tutorial, NLPL Winter School 2018, "Softmax Activation", "Sparsemax
 * Activation" and "Dropout Regularization"):
 *  - sigmoid σ(z) = 1/(1 + e^{−z}), σ′ = σ(1 − σ); tanh′ = 1 − tanh²;
 *  - relu(z) = max(0, z), relu′(0) = 0; leakyRelu(z) = z for z > 0, αz otherwise (derivative α at 0);
 *  - maxout: the maximum over groups of `pieces` consecutive features;
 *  - softmax(z) = exp(z − logsumexp(z)): no overflow for any z, since the
 *    largest exponent is 0;
 *  - sparsemax(z) = argmin_{p ∈ Δ} ‖p − z‖² = max(z − τ, 0) (Martins and
 *    Astudillo 2016), the Euclidean projection onto the simplex;
 *  - inverted dropout: units kept with probability 1 − rate are scaled by
 *    1/(1 − rate), so nothing changes at evaluation.
 */
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import * as math from '../ops/math.ts'
import * as random from '../random.ts'
import type { Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
const untyped = (x: Tensor): T<any, any> => x as T<any, any>

export const sigmoid = ops.sigmoid
export const tanh = ops.tanh
export const relu = ops.relu
/** log(1 + eᶻ) without overflow; its derivative is σ(z). */
export const softplus = math.softplus
/** z·Φ(z); `approximate` (the default, as in JAX) uses the tanh form. */
export const gelu = math.gelu

/** z for z > 0, αz otherwise. */
export function leakyRelu<S extends Shape, D extends DType>(z: T<S, D>, alpha = 0.01): T<S, D> {
  return ops.where(ops.greater(untyped(z), 0), untyped(z), ops.mul(untyped(z), alpha)) as T<S, D>
}

function lastAxis(op: string, x: Tensor): number {
  if (x.ndim === 0) throw new Error(`${op}: expected a tensor of rank ≥ 1, got ${formatAval(x.aval)}`)
  return x.aval.shape[x.ndim - 1]
}

/** Maximum over groups of `pieces` consecutive features of the last axis: [..., n·pieces] → [..., n]. */
export function maxoutUnits(z: Tensor, pieces: number): Tensor {
  const size = lastAxis('maxout', z)
  if (!Number.isInteger(pieces) || pieces < 1 || size % pieces !== 0)
    throw new Error(
      `maxout: the last axis (${size}) must be a multiple of pieces (${pieces}), got ${formatAval(z.aval)}`,
    )
  const grouped = ops.reshape(untyped(z), [...z.aval.shape.slice(0, -1), size / pieces, pieces])
  return ops.max(grouped, -1)
}

/**
 * z − m along `axis` with m the (gradient-stopped) maximum: every entry ≤ 0,
 * and computed without rounding the large values that z and m share, so
 * that softmax and logSoftmax keep full precision for logits of magnitude
 * 1e4 in f32. The value of each function below does not depend on m, so
 * stopping its gradient changes no derivative.
 */
export function shiftedByMax(z: Tensor, axis = -1): { shifted: T<any, any>; max: T<any, any> } {
  const x = untyped(z)
  const m = ops.stopGradient(ops.max(x, axis, { keepDims: true }))
  return { shifted: ops.sub(x, m), max: m }
}

/** exp(z − m) / Σ exp(z − m) along `axis` (default the last), m the maximum. */
export function softmax<S extends Shape, D extends DType>(z: T<S, D>, axis = -1): T<S, D> {
  lastAxis('softmax', z)
  const e = ops.exp(shiftedByMax(z, axis).shifted)
  return ops.div(e, ops.sum(e, axis, { keepDims: true })) as T<S, D>
}

/** (z − m) − log Σ exp(z − m) along `axis`: log softmax(z) without forming softmax. */
export function logSoftmax<S extends Shape, D extends DType>(z: T<S, D>, axis = -1): T<S, D> {
  lastAxis('logSoftmax', z)
  const { shifted } = shiftedByMax(z, axis)
  return ops.sub(shifted, ops.log(ops.sum(ops.exp(shifted), axis, { keepDims: true }))) as T<S, D>
}

/**
 * The support of sparsemax along the last axis and its threshold τ, without
 * sorting. With k_i = Σ_j [z_j ≥ z_i] (how many entries are at least z_i)
 * and s_i = Σ_j [z_j ≥ z_i] z_j, entry i is in the support S iff
 * 1 + k_i z_i > s_i; then τ = (Σ_{j∈S} z_j − 1)/|S| (Martins and Astudillo
 * 2016, eq. 2–3 with the sort replaced by pairwise comparisons).
 * The comparisons have zero derivative, so dτ = Σ_{j∈S} dz_j / |S| and the
 * Jacobian of max(z − τ, 0) is diag(s) − s sᵀ/|S| with s the support indicator.
 */
export function sparsemaxSupport(z: Tensor): { support: Tensor; size: Tensor; tau: Tensor } {
  lastAxis('sparsemax', z)
  const x = untyped(z)
  const zi = ops.expandDims(x, -1) // [..., C, 1]: entry i
  const zj = ops.expandDims(x, -2) // [..., 1, C]: entry j
  const atLeast = ops.greaterEqual(zj, zi) // [..., i, j]: z_j ≥ z_i
  const k = ops.sum(ops.astype(atLeast, x.dtype), -1)
  const s = ops.sum(ops.where(atLeast, zj, 0), -1)
  const support = ops.greater(ops.add(ops.mul(k, x), 1), s)
  const size = ops.sum(ops.astype(support, x.dtype), -1, { keepDims: true })
  const tau = ops.div(ops.sub(ops.sum(ops.where(support, x, 0), -1, { keepDims: true }), 1), size)
  return { support, size, tau }
}

/**
 * The Euclidean projection of z onto the probability simplex along the last
 * axis: max(z − τ, 0). A row with a NaN is NaN throughout (its support is not
 * defined), rather than a projection of the rest.
 */
export function sparsemax<S extends Shape, D extends DType>(z: T<S, D>): T<S, D> {
  const { tau } = sparsemaxSupport(z)
  const x = untyped(z)
  const projected = ops.relu(ops.sub(x, tau))
  const nanRow = ops.greater(ops.max(ops.astype(ops.notEqual(x, x), 'i32'), -1, { keepDims: true }), 0)
  return ops.where(ops.broadcastTo(nanRow, x.aval.shape), Number.NaN, projected) as T<S, D>
}

/**
 * The keep mask of inverted dropout: each entry true with probability
 * 1 − rate, from the key alone (the same key gives the same mask). The key
 * may be traced: inside a jitted step the mask is drawn on the device at
 * each call, from the key the call is given.
 */
export function dropoutMask(key: random.Key, shape: readonly number[], rate: number): T<Shape, 'bool'> {
  checkRate(rate)
  return ops.greaterEqual(random.uniform(key, shape), rate)
}

function checkRate(rate: number): void {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`)
}

/**
 * Inverted dropout: each unit kept with probability 1 − rate and scaled by
 * 1/(1 − rate) (Srivastava et al. 2014; Martins, "Dropout Regularization"),
 * so E[y] = x. The mask comes from `key` alone: the same key gives the same
 * mask, and a key that is an argument of a jitted step gives a new mask at
 * every call with a new key (split or fold in the step number for each
 * step). Under vmap over a batch of keys each member draws its own mask.
 */
export function dropout<S extends Shape, D extends DType>(x: T<S, D>, rate: number, key: random.Key): T<S, D> {
  checkRate(rate)
  if (rate === 0) return x
  return applyDropoutMask(x, dropoutMask(key, x.aval.shape, rate), rate)
}

/** x where the mask holds, scaled by 1/(1 − rate); 0 elsewhere. */
export function applyDropoutMask<S extends Shape, D extends DType>(
  x: T<S, D>,
  mask: T<Shape, 'bool'>,
  rate: number,
): T<S, D> {
  checkRate(rate)
  return ops.where(untyped(mask), ops.mul(untyped(x), 1 / (1 - rate)), 0) as T<S, D>
}

export interface BatchNormParams {
  readonly scale: Tensor
  readonly offset: Tensor
}
export interface BatchNormState {
  readonly mean: Tensor
  readonly variance: Tensor
}
export interface BatchNormOptions {
  readonly training: boolean
  /** Weight of the old running average (default 0.99). */
  readonly momentum?: number
  /** Added to the variance before the square root (default 1e-3). */
  readonly epsilon?: number
}

/**
 * Batch normalisation over every axis but the last (Ioffe and Szegedy 2015;
 * "normalising input to zero mean, unit variance" in Deep Learning, COMP613
 * Advanced Topics in Machine Learning (lecture notes), "Image Recognition
 * with Convolutional Networks"), then scale and shift:
 * y = scale·(x − μ)/√(σ² + ε) + offset.
 * Training: μ and σ² are the batch's (σ² the biased variance), and the
 * running averages become m·old + (1 − m)·batch, returned as the new state
 * (constants: no derivative flows into them). Evaluation: μ and σ² are the
 * running averages and the state is returned unchanged.
 */
export function batchNorm<S extends Shape, D extends DType>(
  x: T<S, D>,
  params: BatchNormParams,
  state: BatchNormState,
  options: BatchNormOptions,
): [T<S, D>, BatchNormState] {
  const { momentum = 0.99, epsilon = 1e-3 } = options
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`batchNorm: momentum must be in [0, 1], got ${momentum}`)
  if (!(epsilon > 0)) throw new Error(`batchNorm: epsilon must be positive, got ${epsilon}`)
  const c = lastAxis('batchNorm', x)
  for (const [what, t] of [
    ['scale', params.scale],
    ['offset', params.offset],
    ['running mean', state.mean],
    ['running variance', state.variance],
  ] as const)
    if (t.ndim !== 1 || t.aval.shape[0] !== c)
      throw new Error(
        `batchNorm: the ${what} must have shape [${c}] for input ${formatAval(x.aval)}, got ${formatAval(t.aval)}`,
      )
  const v = untyped(x)
  const axes = v.aval.shape.slice(0, -1).map((_, i) => i)
  let mean = untyped(state.mean)
  let variance = untyped(state.variance)
  let next = state
  if (options.training) {
    if (axes.length === 0) throw new Error(`batchNorm: training needs a batch axis, got ${formatAval(x.aval)}`)
    mean = ops.mean(v, axes)
    variance = ops.mean(ops.square(ops.sub(v, mean)), axes)
    const blend = (old: Tensor, batch: Tensor) =>
      ops.add(ops.mul(untyped(old), momentum), ops.mul(ops.stopGradient(batch as T<any, any>), 1 - momentum))
    next = { mean: blend(state.mean, mean), variance: blend(state.variance, variance) }
  }
  const normalised = ops.div(ops.sub(v, mean), ops.sqrt(ops.add(variance, epsilon)))
  return [ops.add(ops.mul(normalised, untyped(params.scale)), untyped(params.offset)) as T<S, D>, next]
}

export {
  avgPool2d,
  conv2d,
  conv2dTranspose,
  globalAvgPool2d,
  globalMaxPool2d,
  maxPool2d,
  type PoolOptions,
  type TransposeOptions,
  type WindowOptions,
} from './conv.ts'
