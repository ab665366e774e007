/**
 * Orderings along an axis: `flip` and `cumsum` (primitives: `rev`,
 * `cumsum`), `argsort` (a stable sort's indices, a primitive), and what is
 * built from it: `sort`, `topK`, and `takeAlongAxis`, which reads each row at
 * its own indices (a gather, so gradients flow to the values taken).
 */
import * as lax from '../core/lax.ts'
import type { DType } from '../dtype.ts'
import { normAxis } from '../shape/axes.ts'
import type { CheckAxis, OnNumber, Shape } from '../shape/types.ts'
import { formatAval, formatShape, type Tensor } from '../tensor.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
/** S with its last axis of size K. */
type WithLast<S extends Shape, K extends number> = S extends readonly [...infer Init extends Shape, unknown]
  ? [...Init, K]
  : Shape

const axisOf = (op: string, x: Tensor, axis: number): number => normAxis(op, axis, x.ndim)

/** An axis of S, checked at compile time where S is a tuple (negative counts from the end). */
type AxisOf<Op extends string, S extends Shape, A extends number> = A & OnNumber<CheckAxis<Op, S, A>>

/** x with the order of its elements reversed along `axis` (an axis, a list, or every axis when omitted). */
export function flip<S extends Shape, D extends DType, const A extends number = number>(
  x: T<S, D>,
  axis?: AxisOf<'flip', S, A> | readonly number[],
): T<S, D> {
  const axes = axis === undefined ? x.aval.shape.map((_, i) => i) : typeof axis === 'number' ? [axis] : [...axis]
  return lax.rev(
    x,
    axes.map((a) => axisOf('flip', x, a)),
  ) as T<S, D>
}

/** Running sums along `axis` (default: the last); with `reverse`, from the end. */
export function cumsum<S extends Shape, D extends DType, const A extends number = -1>(
  x: T<S, D>,
  axis: AxisOf<'cumsum', S, A> = -1 as AxisOf<'cumsum', S, A>,
  opts: { readonly reverse?: boolean } = {},
): T<S, D> {
  if (x.ndim === 0) return x
  return lax.cumsum(x, axisOf('cumsum', x, axis), opts.reverse ?? false) as T<S, D>
}

/**
 * The indices that sort x along `axis` (default: the last), stably: equal
 * elements keep their order. Ascending puts NaN last; `descending` is the
 * reverse order (NaN first), equal elements still in their order. On
 * WebGPU each row of n costs O(n²) work (no memory beyond the output).
 */
export function argsort<S extends Shape, D extends DType, const A extends number = -1>(
  x: T<S, D>,
  axis: AxisOf<'argsort', S, A> = -1 as AxisOf<'argsort', S, A>,
  opts: { readonly descending?: boolean } = {},
): T<S, 'i32'> {
  if (x.ndim === 0) throw new Error(`argsort: expected a tensor of rank ≥ 1, got ${formatAval(x.aval)}`)
  return lax.argsort(x, axisOf('argsort', x, axis), opts.descending ?? false) as T<S, 'i32'>
}

/**
 * x[…, indices[…, j, …], …] along `axis`: each row read at its own indices
 * (NumPy's take_along_axis). `indices` has x's shape except along `axis`.
 */
export function takeAlongAxis<D extends DType>(x: T<Shape, D>, indices: T<Shape, 'i32'>, axis = -1): T<Shape, D> {
  const a = axisOf('takeAlongAxis', x, axis)
  const xs = x.aval.shape
  const is = indices.aval.shape
  if (indices.aval.dtype !== 'i32' || is.length !== xs.length || is.some((d, i) => i !== a && d !== xs[i]))
    throw new Error(
      `takeAlongAxis: expected i32 indices of the shape of x ${formatShape(xs)} except along axis ${a}, got ${formatAval(indices.aval)}`,
    )
  // Each row's axis last, the axes before it paired as batch axes of the gather.
  const last = (t: Tensor) => lax.moveAxis(t, a, xs.length - 1)
  const taken = lax.gather(last(x), last(indices), xs.length - 1, xs.length - 1)
  return lax.moveAxis(taken, xs.length - 1, a) as T<Shape, D>
}

/** x sorted along `axis` (default: the last), ascending with NaN last, or `descending`. */
export function sort<S extends Shape, D extends DType, const A extends number = -1>(
  x: T<S, D>,
  axis: AxisOf<'sort', S, A> = -1 as AxisOf<'sort', S, A>,
  opts: { readonly descending?: boolean } = {},
): T<S, D> {
  return takeAlongAxis(x, argsort(x as T<Shape, D>, axis as number, opts), axis) as T<S, D>
}

/**
 * The k largest elements along the last axis, largest first, and their
 * indices (JAX's `lax.top_k`); among equal elements the first comes first.
 */
export function topK<S extends Shape, D extends DType, const K extends number>(
  x: T<S, D>,
  k: K,
): [T<WithLast<S, K>, D>, T<WithLast<S, K>, 'i32'>] {
  const shape = x.aval.shape
  const n = shape[shape.length - 1]
  if (x.ndim === 0) throw new Error(`topK: expected a tensor of rank ≥ 1, got ${formatAval(x.aval)}`)
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`topK: k must be an integer in [0, ${n}] for ${formatAval(x.aval)}, got ${k}`)
  const order = lax.argsort(x, shape.length - 1, true)
  const indices = lax.slice(
    order,
    shape.map(() => 0),
    [...shape.slice(0, -1), k],
  )
  return [takeAlongAxis(x, indices) as T<WithLast<S, K>, D>, indices as T<WithLast<S, K>, 'i32'>]
}
