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

export const neg = (x: Tensor) => bind1('neg', [x], none)
export const exp = (x: Tensor) => bind1('exp', [x], none)
export const log = (x: Tensor) => bind1('log', [x], none)
export const log1p = (x: Tensor) => bind1('log1p', [x], none)
export const expm1 = (x: Tensor) => bind1('expm1', [x], none)
export const erf = (x: Tensor) => bind1('erf', [x], none)
export const tanh = (x: Tensor) => bind1('tanh', [x], none)
export const logistic = (x: Tensor) => bind1('logistic', [x], none)
export const sin = (x: Tensor) => bind1('sin', [x], none)
export const cos = (x: Tensor) => bind1('cos', [x], none)
export const sqrt = (x: Tensor) => bind1('sqrt', [x], none)
export const abs = (x: Tensor) => bind1('abs', [x], none)
export const sign = (x: Tensor) => bind1('sign', [x], none)
export const stopGradient = (x: Tensor) => bind1('stopGradient', [x], none)
export const convert = (x: Tensor, dtype: DType) => (x.dtype === dtype ? x : bind1('convert', [x], { dtype }))

export const add = (a: Tensor, b: Tensor) => bind1('add', [a, b], none)
export const sub = (a: Tensor, b: Tensor) => bind1('sub', [a, b], none)
export const mul = (a: Tensor, b: Tensor) => bind1('mul', [a, b], none)
export const div = (a: Tensor, b: Tensor) => bind1('div', [a, b], none)
export const pow = (a: Tensor, b: Tensor) => bind1('pow', [a, b], none)
export const max = (a: Tensor, b: Tensor) => bind1('max', [a, b], none)
export const compare = (a: Tensor, b: Tensor, op: CompareOp) => bind1('compare', [a, b], { op })
export const select = (pred: Tensor, onTrue: Tensor, onFalse: Tensor) => bind1('select', [pred, onTrue, onFalse], none)

export const sum = (x: Tensor, axes: readonly number[]) => (axes.length === 0 ? x : bind1('sum', [x], { axes }))
export const reduceMax = (x: Tensor, axes: readonly number[]) =>
  axes.length === 0 ? x : bind1('reduceMax', [x], { axes })

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])
export const broadcast = (x: Tensor, shape: readonly number[]) =>
  same(x.aval.shape, shape) ? x : bind1('broadcast', [x], { shape })
export const reshape = (x: Tensor, shape: readonly number[]) =>
  same(x.aval.shape, shape) ? x : bind1('reshape', [x], { shape })
export const transpose = (x: Tensor, perm: readonly number[]) =>
  perm.every((p, i) => p === i) ? x : bind1('transpose', [x], { perm })
export const slice = (x: Tensor, starts: readonly number[], limits: readonly number[]) =>
  starts.every((s) => s === 0) && same(limits, x.aval.shape) ? x : bind1('slice', [x], { starts, limits })
export const pad = (x: Tensor, lo: readonly number[], hi: readonly number[]) =>
  lo.every((p) => p === 0) && hi.every((p) => p === 0) ? x : bind1('pad', [x], { lo, hi })
export const rev = (x: Tensor, axes: readonly number[]) => (axes.length === 0 ? x : bind1('rev', [x], { axes }))
export const cumsum = (x: Tensor, axis: number, reverse = false) => bind1('cumsum', [x], { axis, reverse })
export const argsort = (x: Tensor, axis: number, descending = false) => bind1('argsort', [x], { axis, descending })
export const concat = (xs: readonly Tensor[], axis: number) => (xs.length === 1 ? xs[0] : bind1('concat', xs, { axis }))

export const matmul = (a: Tensor, b: Tensor) => bind1('matmul', [a, b], none)
export const gather = (x: Tensor, indices: Tensor, axis: number, batchDims = 0) =>
  bind1('gather', [x, indices], { axis, batchDims })
export const scatterAdd = (x: Tensor, indices: Tensor, updates: Tensor, axis: number, batchDims = 0) =>
  bind1('scatterAdd', [x, indices, updates], { axis, batchDims })
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
export const scalarLike = (like: { aval: Aval }, value: number) => scalarOf(value, like.aval.dtype)
/** x · c for a number c. */
export const scale = (x: Tensor, c: number) => mul(x, fullLike(x, c))
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
