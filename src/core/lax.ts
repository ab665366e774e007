/**
 * One function per primitive, with the primitive's strict shape rules (no
 * implicit broadcasting). Rules and transforms are written with these; user
 * code uses `ops.ts`, which adds broadcasting, scalars and typed shapes.
 */
import type { DType } from '../dtype.ts'
import { filled, scalarOf, type Aval, type Tensor } from '../tensor.ts'
import type { CompareOp } from './primitive.ts'
import { bind1 } from './trace.ts'

const none = {} as Record<string, never>

/** −x. */
export const neg = (x: Tensor) => bind1('neg', [x], none)
/** eˣ. */
export const exp = (x: Tensor) => bind1('exp', [x], none)
/** The natural logarithm. */
export const log = (x: Tensor) => bind1('log', [x], none)
/** log(1 + x), accurate near 0. */
export const log1p = (x: Tensor) => bind1('log1p', [x], none)
/** eˣ − 1, accurate near 0. */
export const expm1 = (x: Tensor) => bind1('expm1', [x], none)
/** The error function. */
export const erf = (x: Tensor) => bind1('erf', [x], none)
/** The hyperbolic tangent. */
export const tanh = (x: Tensor) => bind1('tanh', [x], none)
/** The logistic sigmoid 1/(1 + e⁻ˣ). */
export const logistic = (x: Tensor) => bind1('logistic', [x], none)
/** The sine. */
export const sin = (x: Tensor) => bind1('sin', [x], none)
/** The cosine. */
export const cos = (x: Tensor) => bind1('cos', [x], none)
/** The square root. */
export const sqrt = (x: Tensor) => bind1('sqrt', [x], none)
/** |x|. */
export const abs = (x: Tensor) => bind1('abs', [x], none)
/** The sign: −1, 0 or 1. */
export const sign = (x: Tensor) => bind1('sign', [x], none)
/** x, with a derivative of zero. */
export const stopGradient = (x: Tensor) => bind1('stopGradient', [x], none)
/** x converted to `dtype` (x itself when it has that dtype). */
export const convert = (x: Tensor, dtype: DType) => (x.dtype === dtype ? x : bind1('convert', [x], { dtype }))

/** a + b; the operands have the same shape and dtype. */
export const add = (a: Tensor, b: Tensor) => bind1('add', [a, b], none)
/** a − b; the operands have the same shape and dtype. */
export const sub = (a: Tensor, b: Tensor) => bind1('sub', [a, b], none)
/** a · b, elementwise; the operands have the same shape and dtype. */
export const mul = (a: Tensor, b: Tensor) => bind1('mul', [a, b], none)
/** a / b; the operands have the same shape and dtype. */
export const div = (a: Tensor, b: Tensor) => bind1('div', [a, b], none)
/** aᵇ; the operands have the same shape and dtype. */
export const pow = (a: Tensor, b: Tensor) => bind1('pow', [a, b], none)
/** The elementwise maximum of a and b. */
export const max = (a: Tensor, b: Tensor) => bind1('max', [a, b], none)
/** The elementwise comparison `a op b`, a bool tensor. */
export const compare = (a: Tensor, b: Tensor, op: CompareOp) => bind1('compare', [a, b], { op })
/** `onTrue` where `pred` holds, else `onFalse`; all three of one shape. */
export const select = (pred: Tensor, onTrue: Tensor, onFalse: Tensor) => bind1('select', [pred, onTrue, onFalse], none)

/** The sum over `axes` (x itself for none). */
export const sum = (x: Tensor, axes: readonly number[]) => (axes.length === 0 ? x : bind1('sum', [x], { axes }))
/** The maximum over `axes`. */
export const reduceMax = (x: Tensor, axes: readonly number[]) =>
  axes.length === 0 ? x : bind1('reduceMax', [x], { axes })

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])
/** x broadcast to `shape` (its rank, with size-1 axes stretched). */
export const broadcast = (x: Tensor, shape: readonly number[]) =>
  same(x.aval.shape, shape) ? x : bind1('broadcast', [x], { shape })
/** x with the same elements in `shape`, in row-major order. */
export const reshape = (x: Tensor, shape: readonly number[]) =>
  same(x.aval.shape, shape) ? x : bind1('reshape', [x], { shape })
/** x with its axes permuted: axis i of the result is axis `perm[i]` of x. */
export const transpose = (x: Tensor, perm: readonly number[]) =>
  perm.every((p, i) => p === i) ? x : bind1('transpose', [x], { perm })
/** The elements from `starts` (inclusive) to `limits` (exclusive) along each axis. */
export const slice = (x: Tensor, starts: readonly number[], limits: readonly number[]) =>
  starts.every((s) => s === 0) && same(limits, x.aval.shape) ? x : bind1('slice', [x], { starts, limits })
/** x padded with zeros: `lo[i]` before and `hi[i]` after along axis i. */
export const pad = (x: Tensor, lo: readonly number[], hi: readonly number[]) =>
  lo.every((p) => p === 0) && hi.every((p) => p === 0) ? x : bind1('pad', [x], { lo, hi })
/** x reversed along `axes`. */
export const rev = (x: Tensor, axes: readonly number[]) => (axes.length === 0 ? x : bind1('rev', [x], { axes }))
/** The cumulative sum along `axis`, from the end when `reverse`. */
export const cumsum = (x: Tensor, axis: number, reverse = false) => bind1('cumsum', [x], { axis, reverse })
/** The indices that sort x along `axis`, ascending unless `descending`. */
export const argsort = (x: Tensor, axis: number, descending = false) => bind1('argsort', [x], { axis, descending })
/** The tensors joined along `axis`. */
export const concat = (xs: readonly Tensor[], axis: number) => (xs.length === 1 ? xs[0] : bind1('concat', xs, { axis }))

/** The matrix product of a and b, batched over their leading axes. */
export const matmul = (a: Tensor, b: Tensor) => bind1('matmul', [a, b], none)
/** The slices of x at `indices` along `axis`, the first `batchDims` axes shared by x and indices. */
export const gather = (x: Tensor, indices: Tensor, axis: number, batchDims = 0) =>
  bind1('gather', [x, indices], { axis, batchDims })
/** x with `updates` added at `indices` along `axis` (repeated indices add up): the transpose of `gather`. */
export const scatterAdd = (x: Tensor, indices: Tensor, updates: Tensor, axis: number, batchDims = 0) =>
  bind1('scatterAdd', [x, indices, updates], { axis, batchDims })
/**
 * Pseudo-random values of `shape` and `dtype` from a key, a counter offset and a stream number:
 * raw i32 bits, or uniform floats.
 */
export const randomBits = (
  key: Tensor,
  offset: Tensor,
  shape: readonly number[],
  stream: number,
  dtype: 'i32' | 'f32' | 'f64',
) => bind1('randomBits', [key, offset], { shape, stream, dtype })

// Helpers built from the primitives.

/** A constant with the shape and dtype of `like`. */
export const fullLike = (like: { aval: Aval }, value: number) => filled(like.aval.shape, like.aval.dtype, value)
/** A scalar of `value` with the dtype of `like`. */
export const scalarLike = (like: { aval: Aval }, value: number) => scalarOf(value, like.aval.dtype)
/** x · c for a number c. */
export const scale = (x: Tensor, c: number) => mul(x, fullLike(x, c))
/** x², as x · x. */
export const square = (x: Tensor) => mul(x, x)

/** Moves axis `from` of `x` to position `to`. */
export function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x
  const perm = x.aval.shape.map((_, i) => i).filter((i) => i !== from)
  perm.splice(to, 0, from)
  return transpose(x, perm)
}

/** Inverse of a permutation. */
export const invertPerm = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length)
  perm.forEach((p, i) => (inv[p] = i))
  return inv
}

/** Swaps the last two axes. */
export function swapLast(x: Tensor): Tensor {
  const n = x.ndim
  const perm = x.aval.shape.map((_, i) => i)
  perm[n - 2] = n - 1
  perm[n - 1] = n - 2
  return transpose(x, perm)
}

/** Sums `x` down to `shape` (the transpose of numpy-style broadcasting from `shape`). */
export function unbroadcast(x: Tensor, shape: readonly number[]): Tensor {
  const xs = x.aval.shape
  if (same(xs, shape)) return x
  const lead = xs.length - shape.length
  const axes: number[] = []
  for (let i = 0; i < xs.length; i++) if (i < lead || (shape[i - lead] === 1 && xs[i] !== 1)) axes.push(i)
  return reshape(sum(x, axes), shape)
}
