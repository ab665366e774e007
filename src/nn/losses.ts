/**
 * Losses and weight penalties, as functions of tensors to a scalar (or, with
 * `reduction: 'none'`, to one loss per example). Class axes are the last;
 * every other axis is a batch axis, and 'mean' (the default) averages over
 * all of them.
 *
 * Per example, with their gradients (A. Martins, Deep Learning: A Shallow
 * Tutorial, NLPL Winter School 2018, "Loss Function" to "Sparsemax Loss";
 * the layer table of Deep Learning, COMP613 Advanced Topics in Machine
 * Learning (lecture notes), "Neural Networks: Foundations"):
 *  - squaredError:        ½‖f − y‖²                                  ∂/∂f = f − y
 *  - sigmoidCrossEntropy: −y log σ(z) − (1 − y) log(1 − σ(z))        ∂/∂z = σ(z) − y
 *  - binaryCrossEntropy:  −y log p − (1 − y) log(1 − p)              ∂/∂p = −y/p + (1 − y)/(1 − p)
 *  - crossEntropy:        −Σ_c q_c log p_c                            ∂/∂p = −q/p
 *  - softmaxCrossEntropy: logsumexp(z) − Σ_c q_c z_c                 ∂/∂z = softmax(z) − q
 *  - sparsemaxLoss:       −qᵀz + ½Σ_{j∈S(z)}(z_j² − τ²(z)) + ½‖q‖²   ∂/∂z = sparsemax(z) − q
 * q is a distribution over the classes, or the one-hot vector of an i32
 * label (the sparse forms). Written from logits, softmax cross-entropy and
 * the sigmoid cross-entropy never exponentiate a positive number, so they
 * stay finite for logits of any magnitude.
 *
 * Penalties: l1Penalty Σ|w| (gradient sign(w); Martins, "ℓ1 Regularization")
 * and l2Penalty ½Σw² (gradient w; Multi-level networks (lecture notes),
 * "Training", writes λ/2 Σ W²). They skip biases, recognised by
 * rank: a leaf of rank ≤ 1 (a bias, a batch-norm scale or offset) is not
 * penalised, a leaf of rank ≥ 2 (dense, convolution and embedding weights)
 * is. A rank-1 weight (a linear model's weight vector) is therefore skipped
 * too: pass `include` to decide leaf by leaf, from its path (e.g. `[0].w`).
 */
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import * as math from '../ops/math.ts'
import type { Shape } from '../shape/types.ts'
import { ConcreteTensor, formatAval, formatShape, type Tensor } from '../tensor.ts'
import { flatten, leafPaths } from '../tree.ts'
import { shiftedByMax, sparsemaxSupport } from './functional.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
const untyped = (x: Tensor): T<any, any> => x as T<any, any>

/** How a loss combines the examples of a batch: their mean, their sum, or none (one loss per example). */
export type Reduction = 'mean' | 'sum' | 'none'
/** Options of a loss: its reduction over the batch. */
export interface LossOptions<R extends Reduction = Reduction> {
  /** 'mean' over the examples (default), their 'sum', or 'none': one loss per example. */
  readonly reduction?: R
}
/** The shape of a reduced loss: a scalar, or the batch shape for 'none'. */
export type Reduced<Batch extends Shape, R extends Reduction> = [R] extends ['none'] ? Batch : []
/** All axes but the last. */
export type BatchOf<S extends Shape> = S extends readonly [...infer B extends Shape, unknown] ? B : Shape

function reduce(op: string, perExample: Tensor, reduction: Reduction = 'mean'): Tensor {
  switch (reduction) {
    case 'mean':
      return ops.mean(untyped(perExample))
    case 'sum':
      return ops.sum(untyped(perExample))
    case 'none':
      return perExample
    default:
      throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`)
  }
}

function sameShapes(op: string, a: Tensor, b: Tensor, what: [string, string]): void {
  if (a.ndim !== b.ndim || a.aval.shape.some((d, i) => d !== b.aval.shape[i]))
    throw new Error(
      `${op}: the ${what[1]} must have the shape of the ${what[0]} ${formatAval(a.aval)}, got ${formatAval(b.aval)}`,
    )
  if (a.dtype !== b.dtype)
    throw new Error(`${op}: the ${what[1]} must have dtype ${a.dtype} like the ${what[0]}, got ${formatAval(b.aval)}`)
}

function classes(op: string, x: Tensor): number {
  if (x.ndim === 0) throw new Error(`${op}: expected scores with a class axis (the last), got ${formatAval(x.aval)}`)
  return x.aval.shape[x.ndim - 1]
}

/**
 * One-hot vectors of i32 labels: labels S → [...S, classes]. Labels known on
 * the host are checked to lie in [0, classes).
 */
export function oneHot<S extends Shape, D extends DType = 'f32'>(
  labels: T<S, 'i32'>,
  count: number,
  dtype?: D,
): T<[...S, number], D> {
  if (labels.dtype !== 'i32') throw new Error(`oneHot: labels must be i32, got ${formatAval(labels.aval)}`)
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`oneHot: the number of classes must be a positive integer, got ${count}`)
  if (labels instanceof ConcreteTensor) {
    const bad = labels.values.findIndex((v) => v < 0 || v >= count)
    if (bad >= 0)
      throw new Error(
        `oneHot: label ${labels.values[bad]} at flat position ${bad} is out of range for ${count} classes`,
      )
  }
  const hit = ops.equal(ops.expandDims(untyped(labels), -1), ops.arange(count, undefined, 1, 'i32'))
  return ops.astype(hit, dtype ?? ('f32' as D)) as T<any, D>
}

/** q for class scores x: the targets themselves (a distribution, same shape), or the one-hot vectors of i32 labels. */
function targetsFor(op: string, x: Tensor, targets: Tensor): Tensor {
  const c = classes(op, x)
  if (targets.dtype === 'i32') {
    const batch = x.aval.shape.slice(0, -1)
    if (targets.ndim !== batch.length || targets.aval.shape.some((d, i) => d !== batch[i]))
      throw new Error(
        `${op}: i32 labels must have the batch shape ${formatShape(batch)} of scores ${formatAval(x.aval)}, got ${formatAval(targets.aval)}`,
      )
    return oneHot(untyped(targets), c, x.dtype)
  }
  sameShapes(op, x, targets, ['scores', 'targets'])
  return targets
}

// ---------------------------------------------------------------- regression and binary

/** ½‖f − y‖² over the last axis, per example (Martins, "Squared Loss"); gradient f − y. */
export function squaredError<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  predictions: T<S, D>,
  targets: T<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  classes('squaredError', predictions)
  sameShapes('squaredError', predictions, targets, ['predictions', 'targets'])
  const perExample = ops.mul(ops.sum(ops.square(ops.sub(untyped(predictions), untyped(targets))), -1), 0.5)
  return reduce('squaredError', perExample, options.reduction) as T<any, D>
}

/**
 * The logistic loss from logits, elementwise: softplus(z) − z·y, which equals
 * −y log σ(z) − (1 − y) log(1 − σ(z)); softplus is computed as
 * max(z, 0) + log1p(e^{−|z|}), so it never overflows, and its derivative is
 * σ(z) by rule, so that derivatives of every order are smooth at z = 0 (the
 * kinks of max and |·| cancel in the value, not in their rules). y in [0, 1].
 * 'mean' averages over every element.
 */
export function sigmoidCrossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  logits: T<S, D>,
  labels: T<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<S, R>, D> {
  sameShapes('sigmoidCrossEntropy', logits, labels, ['logits', 'labels'])
  const z = untyped(logits)
  const perElement = ops.sub(math.softplus(z), ops.mul(z, untyped(labels)))
  return reduce('sigmoidCrossEntropy', perElement, options.reduction) as T<any, D>
}

/**
 * −y log p − (1 − y) log(1 − p) elementwise, for probabilities p in [0, 1]:
 * a term whose weight (y or 1 − y) is 0 contributes 0, even where its log is
 * −∞ (p = 0 or 1 with the matching label gives 0, with a finite gradient).
 */
export function binaryCrossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  probabilities: T<S, D>,
  labels: T<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<S, R>, D> {
  sameShapes('binaryCrossEntropy', probabilities, labels, ['probabilities', 'labels'])
  const p = untyped(probabilities)
  const y = untyped(labels)
  // w·log(v) where v > 0 (smooth in both, the labels included); where v = 0, 0 for w = 0 and −∞ otherwise. The
  // log sees 1 where v = 0, so the gradient stays finite there too.
  const weighted = (w: Tensor, v: Tensor) => {
    const positive = ops.greater(v, 0)
    const zero = ops.zerosLike(w)
    const atZero = ops.where(ops.greater(w, 0), ops.sub(zero, Infinity), zero)
    return ops.where(positive, ops.mul(w, ops.log(ops.where(positive, v, 1))), atZero)
  }
  const perElement = ops.neg(ops.add(weighted(y, p), weighted(ops.sub(1, y), ops.sub(1, p))))
  return reduce('binaryCrossEntropy', perElement, options.reduction) as T<any, D>
}

// ---------------------------------------------------------------- multi-class

type Targets<S extends Shape, D extends DType> = T<BatchOf<S>, 'i32'> | T<S, D>

/**
 * −Σ_c q_c log p_c per example, for probabilities p (e.g. softmax outputs) and
 * targets q (a distribution, or i32 labels: then −log p_y). Classes with
 * q_c = 0 contribute nothing, even where p_c = 0.
 */
export function crossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  probabilities: T<S, D>,
  targets: Targets<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  const p = untyped(probabilities)
  const q = untyped(targetsFor('crossEntropy', p, targets))
  let perExample: Tensor
  if (targets.dtype === 'i32') perExample = ops.neg(ops.log(ops.sum(ops.mul(p, q), -1)))
  else {
    // log is taken only where q > 0, so that p = 0 there gives no 0·log 0 (and no NaN gradient).
    const used = ops.greater(q, 0)
    perExample = ops.neg(ops.sum(ops.where(used, ops.mul(q, ops.log(ops.where(used, p, 1))), 0), -1))
  }
  return reduce('crossEntropy', perExample, options.reduction) as T<any, D>
}

/** crossEntropy with i32 labels: −log p_y. */
export function sparseCrossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  probabilities: T<S, D>,
  labels: T<BatchOf<NoInfer<S>>, 'i32'>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  if (labels.dtype !== 'i32') throw new Error(`sparseCrossEntropy: labels must be i32, got ${formatAval(labels.aval)}`)
  return crossEntropy(probabilities, labels as Targets<S, D>, options)
}

/**
 * Cross-entropy of softmax(z) against q, from the logits z:
 * logsumexp(z) − Σ_c q_c z_c per example (COMP613 notes, "Neural Networks:
 * Foundations", cross-entropy loss with logits); its
 * gradient is softmax(z) − q. Targets are a distribution over the classes or
 * i32 labels.
 */
export function softmaxCrossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  logits: T<S, D>,
  targets: Targets<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  const z = untyped(logits)
  const q = untyped(targetsFor('softmaxCrossEntropy', z, targets))
  // logsumexp(z) − qᵀz = log Σ exp(z − m) − qᵀ(z − m) + (1 − Σq)·m with m the maximum: for a
  // distribution q the last term vanishes and the large values of z never meet the small result.
  const { shifted, max } = shiftedByMax(z)
  const m = ops.squeeze(max, -1)
  // A class with q_c = 0 contributes nothing to qᵀ(z − m), even a masked one with z_c = −∞.
  const qz = ops.where(ops.equal(q, 0), 0, ops.mul(q, shifted))
  const perExample = ops.add(
    ops.sub(ops.log(ops.sum(ops.exp(shifted), -1)), ops.sum(qz, -1)),
    ops.mul(ops.sub(1, ops.sum(q, -1)), m),
  )
  return reduce('softmaxCrossEntropy', perExample, options.reduction) as T<any, D>
}

/** softmaxCrossEntropy with i32 labels: logsumexp(z) − z_y. */
export function sparseSoftmaxCrossEntropy<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  logits: T<S, D>,
  labels: T<BatchOf<NoInfer<S>>, 'i32'>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  if (labels.dtype !== 'i32')
    throw new Error(`sparseSoftmaxCrossEntropy: labels must be i32, got ${formatAval(labels.aval)}`)
  return softmaxCrossEntropy(logits, labels as Targets<S, D>, options)
}

/**
 * The sparsemax loss (Martins and Astudillo 2016; Martins, "Sparsemax Loss"):
 * −qᵀz + ½Σ_{j∈S(z)}(z_j² − τ²(z)) + ½‖q‖², with S(z) the support of
 * sparsemax(z) and τ its threshold; ≥ 0, and 0 iff sparsemax(z) = q. Its
 * gradient is sparsemax(z) − q. Targets: a distribution or i32 labels.
 */
export function sparsemaxLoss<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  logits: T<S, D>,
  targets: Targets<NoInfer<S>, NoInfer<D>>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  const z = untyped(logits)
  const q = untyped(targetsFor('sparsemaxLoss', z, targets))
  const { support, tau } = sparsemaxSupport(z)
  const inside = ops.where(untyped(support), ops.sub(ops.square(z), ops.square(tau)), 0)
  const perExample = ops.add(
    ops.sub(ops.mul(ops.sum(inside, -1), 0.5), ops.sum(ops.mul(q, z), -1)),
    ops.mul(ops.sum(ops.square(q), -1), 0.5),
  )
  return reduce('sparsemaxLoss', perExample, options.reduction) as T<any, D>
}

/** sparsemaxLoss with i32 labels: −z_y + ½Σ_{j∈S}(z_j² − τ²) + ½. */
export function sparseSparsemaxLoss<S extends Shape, D extends DType, R extends Reduction = 'mean'>(
  logits: T<S, D>,
  labels: T<BatchOf<NoInfer<S>>, 'i32'>,
  options: LossOptions<R> = {},
): T<Reduced<BatchOf<S>, R>, D> {
  if (labels.dtype !== 'i32') throw new Error(`sparseSparsemaxLoss: labels must be i32, got ${formatAval(labels.aval)}`)
  return sparsemaxLoss(logits, labels as Targets<S, D>, options)
}

// ---------------------------------------------------------------- penalties

/** Options of a weight penalty: which leaves it applies to. */
export interface PenaltyOptions {
  /** Whether the leaf at `path` (e.g. `[0].w`) is penalised; default: its rank is at least 2 (biases are skipped). */
  readonly include?: (path: string, leaf: Tensor) => boolean
}

/** The default choice of penalised leaves: rank ≥ 2, so that biases (rank 1) are skipped. */
export const isWeight = (_path: string, leaf: Tensor): boolean => leaf.ndim >= 2

function penalised(op: string, params: unknown, options: PenaltyOptions): Tensor[] {
  const [leaves, def] = flatten(params, 'params')
  const paths = leafPaths(def, '')
  const include = options.include ?? isWeight
  return leaves.filter((leaf, i) => {
    const chosen = include(paths[i], leaf)
    if (chosen && leaf.dtype !== 'f32' && leaf.dtype !== 'f64')
      throw new Error(`${op}: the leaf at ${paths[i]} is ${formatAval(leaf.aval)}, not a float`)
    return chosen
  })
}

function total(terms: Tensor[]): T<[], DType> {
  if (terms.length === 0) return ops.scalar(0)
  return terms.reduce((a, b) => ops.add(untyped(a), untyped(ops.astype(untyped(b), a.dtype)))) as T<[], DType>
}

/** Σ|w| over the penalised leaves (weights, not biases: see the header). */
export function l1Penalty(params: unknown, options: PenaltyOptions = {}): T<[], DType> {
  return total(penalised('l1Penalty', params, options).map((w) => ops.sum(ops.abs(untyped(w)))))
}

/** ½Σw² over the penalised leaves (weights, not biases: see the header). */
export function l2Penalty(params: unknown, options: PenaltyOptions = {}): T<[], DType> {
  return total(penalised('l2Penalty', params, options).map((w) => ops.mul(ops.sum(ops.square(untyped(w))), 0.5)))
}
