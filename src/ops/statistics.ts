/**
 * Statistics along axes, built from the primitives: variance and standard
 * deviation (with a `ddof` correction, as NumPy), and the positions of the
 * largest and smallest elements (`argmax`, `argmin`: the first such
 * position; a NaN counts as the largest and the smallest, as in NumPy).
 */
import * as lax from '../core/lax.ts'
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import { normAxes } from '../shape/axes.ts'
import type { CheckAxes, CheckAxis, OnNumber, Reduce, Shape } from '../shape/types.ts'
import { concrete, formatAval, type Tensor } from '../tensor.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
type AxisArg = number | readonly number[] | undefined

/** Options of `variance` and `std`. */
export interface MomentOptions<K extends boolean = boolean> {
  readonly keepDims?: K
  /** Delta degrees of freedom: the sum of squares is divided by N − ddof (default 0). */
  readonly ddof?: number
}

/** A statistic over `axis` (an axis, a list, or all axes when omitted). */
export type Moment<Op extends string> = <
  S extends Shape,
  D extends DType,
  const Ax extends AxisArg = undefined,
  K extends boolean = false,
>(
  x: T<S, D>,
  axis?: Ax & OnNumber<CheckAxes<Op, S, Ax>>,
  opts?: MomentOptions<K>,
) => T<Reduce<S, Ax, K>, D>

const axesOf = (op: string, x: Tensor, axis: AxisArg): number[] => normAxes(op, axis, x.ndim)

function variance(op: string, x: Tensor, axis: AxisArg, opts: MomentOptions): Tensor {
  const axes = axesOf(op, x, axis)
  const ddof = opts.ddof ?? 0
  const count = axes.reduce((n, a) => n * x.aval.shape[a], 1)
  if (!(Number.isInteger(ddof) && ddof >= 0)) throw new Error(`${op}: ddof must be a non-negative integer, got ${ddof}`)
  const centred = ops.sub(x, ops.mean(x, axes, { keepDims: true }))
  return ops.div(ops.sum(ops.square(centred), axes, { keepDims: opts.keepDims ?? false }), count - ddof)
}

/** The variance Σ(x − mean)²/(N − ddof) over `axis`. */
const variance_: Moment<'var'> = ((x: Tensor, axis?: AxisArg, opts: MomentOptions = {}) =>
  variance('var', x, axis, opts)) as Moment<'var'>
/** The standard deviation √var over `axis`. */
export const std: Moment<'std'> = ((x: Tensor, axis?: AxisArg, opts: MomentOptions = {}) =>
  ops.sqrt(variance('std', x, axis, opts))) as Moment<'std'>
export { variance_ as var }

/** The index of an extremum along one axis, or of the flattened tensor when the axis is omitted. */
export type ArgReduction<Op extends string> = {
  <S extends Shape, D extends DType>(x: T<S, D>): T<[], 'i32'>
  <S extends Shape, D extends DType, const A extends number, K extends boolean = false>(
    x: T<S, D>,
    axis: A & OnNumber<CheckAxis<Op, S, A>>,
    opts?: { readonly keepDims?: K },
  ): T<Reduce<S, A, K>, 'i32'>
}

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, axis?: number, keepDims = false): Tensor {
  if (x.aval.dtype === 'bool')
    throw new Error(`${op}: expected a number tensor, got ${formatAval(x.aval)}; convert it with astype`)
  if (axis === undefined) return argExtremum(op, ops.reshape(x, [x.size]), 0, false)
  const [a] = axesOf(op, x, axis)
  const n = x.aval.shape[a]
  if (n === 0)
    throw new Error(`${op}: axis ${axis} has size 0, so it has no ${op === 'argmax' ? 'maximum' : 'minimum'}`)
  const v = op === 'argmax' ? x : lax.neg(x)
  const best = lax.broadcast(
    lax.reshape(
      lax.reduceMax(v, [a]),
      x.aval.shape.map((d, i) => (i === a ? 1 : d)),
    ),
    x.aval.shape,
  )
  const nan = lax.compare(x, x, 'ne')
  // A row with a NaN answers its first NaN; otherwise the first position of the extremum.
  const nanRow = lax.broadcast(
    lax.reshape(
      lax.reduceMax(lax.convert(nan, 'i32'), [a]),
      x.aval.shape.map((d, i) => (i === a ? 1 : d)),
    ),
    x.aval.shape,
  )
  const hit = lax.select(lax.compare(nanRow, lax.fullLike(nanRow, 0), 'gt'), nan, lax.compare(v, best, 'eq'))
  const positions = lax.broadcast(
    lax.reshape(
      concrete(
        [n],
        'i32',
        Int32Array.from({ length: n }, (_, i) => i),
      ),
      x.aval.shape.map((d, i) => (i === a ? d : 1)),
    ),
    x.aval.shape,
  )
  // The least position that holds: −max(−position) over the candidates (−n elsewhere).
  const candidates = lax.select(hit, lax.neg(positions), lax.fullLike(positions, -n))
  const first = lax.neg(lax.reduceMax(candidates, [a]))
  return keepDims
    ? lax.reshape(
        first,
        x.aval.shape.map((d, i) => (i === a ? 1 : d)),
      )
    : first
}

/** The position of the largest element along `axis` (of the flattened tensor when omitted); the first of ties. */
export const argmax: ArgReduction<'argmax'> = ((x: Tensor, axis?: number, opts: { keepDims?: boolean } = {}) =>
  argExtremum('argmax', x, axis, opts.keepDims)) as ArgReduction<'argmax'>
/** The position of the smallest element along `axis` (of the flattened tensor when omitted); the first of ties. */
export const argmin: ArgReduction<'argmin'> = ((x: Tensor, axis?: number, opts: { keepDims?: boolean } = {}) =>
  argExtremum('argmin', x, axis, opts.keepDims)) as ArgReduction<'argmin'>
