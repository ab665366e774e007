/**
 * The user-facing operations: NumPy-style broadcasting, JavaScript numbers
 * as scalars, axes that may be negative, and shapes checked by the compiler
 * (see `shape/types.ts`). Each one lowers to the strict primitives in
 * `core/lax.ts`, so every transform sees only primitives.
 */
import * as lax from './core/lax.ts'
import { normAxes, normAxis } from './shape/axes.ts'
// Loads the primitives' rules (and registers them with the core) before any operation runs.
import './rules.ts'
import type { CompareOp } from './core/primitive.ts'
import { fromNumbers, isFloat, type DType } from './dtype.ts'
import type {
  Broadcast,
  CheckAxes,
  CheckAxis,
  CheckBinary,
  CheckBroadcastTo,
  CheckDeclared,
  CheckConcat,
  CheckDTypes,
  CheckExpandDims,
  CheckMatMul,
  CheckPad,
  CheckPerm,
  CheckReshape,
  CheckSlice,
  CheckSqueeze,
  CheckStack,
  CheckWhere,
  Concat,
  DTypeOf,
  ExpandDims,
  JoinDType,
  MatMul,
  OnNumber,
  Pad,
  Reduce,
  Reshape,
  Shape,
  ShapesOf,
  Slice,
  Squeeze,
  Stack,
  Take,
  Transpose,
  Tuple,
} from './shape/types.ts'
import {
  type ConcreteTensor,
  Tensor,
  checkShape,
  concrete,
  filled,
  formatAval,
  formatShape,
  scalarOf,
  sizeOf,
} from './tensor.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
type Operand<S extends Shape, D extends DType> = Tensor<S, D> | number

// ---------------------------------------------------------------- construction

type NestedNumbers = number | boolean | readonly NestedNumbers[]
/**
 * The shape of nested arrays: `[[1, 2, 3], [4, 5, 6]]` has shape `[2, 3]`
 * (the first entry of each level decides; arrays of unknown length give `number`).
 */
type ShapeOfData<X, Depth extends 0[] = []> = Depth['length'] extends 16
  ? Shape
  : [X] extends [number | boolean]
    ? []
    : [X] extends [readonly unknown[]]
      ? X extends readonly [infer First, ...unknown[]]
        ? [X['length'], ...ShapeOfData<First, [...Depth, 0]>]
        : X extends readonly []
          ? [0]
          : X extends readonly (infer E)[]
            ? [number, ...ShapeOfData<E, [...Depth, 0]>]
            : Shape
      : Shape

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = []
  let node: NestedNumbers = data
  while (Array.isArray(node)) {
    shape.push(node.length)
    node = node[0] as NestedNumbers
  }
  return shape
}

function flattenNested(data: NestedNumbers, shape: readonly number[], out: number[], depth = 0): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new Error(`tensor: ragged data: expected a number at depth ${depth}, got an array`)
    out.push(Number(data))
    return
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new Error(
      `tensor: ragged data: expected ${shape[depth]} entries at depth ${depth}, got ${Array.isArray(data) ? data.length : 'a number'}`,
    )
  for (const x of data) flattenNested(x, shape, out, depth + 1)
}

const DTYPES: readonly DType[] = ['f32', 'f64', 'i32', 'bool']

/** The dtype of data given without one: bool for booleans (as NumPy and JAX; up to rank 3), f32 otherwise. */
type DefaultDType<X> = [X] extends [boolean | readonly boolean[] | readonly (readonly boolean[])[]]
  ? 'bool'
  : [X] extends [readonly (readonly (readonly boolean[])[])[]]
    ? 'bool'
    : 'f32'
const firstLeaf = (data: unknown): unknown => (Array.isArray(data) && data.length > 0 ? firstLeaf(data[0]) : data)

/**
 * A tensor from nested arrays (shape inferred) or from flat values and a
 * shape; without a dtype, booleans give a bool tensor and numbers f32.
 */
export function tensor<const X extends NestedNumbers, D extends DType = DefaultDType<X>>(
  data: X,
  options?: { shape?: undefined; dtype?: D },
): T<ShapeOfData<X>, NoInfer<D>>
export function tensor<D extends DType = 'f32'>(
  data: ArrayBufferView & ArrayLike<number>,
  options?: { shape?: undefined; dtype?: D },
): T<[number], NoInfer<D>>
export function tensor<D extends DType = 'f32'>(
  data: NestedNumbers | ArrayLike<number>,
  options?: { shape?: undefined; dtype?: D },
): T<Shape, NoInfer<D>>
// With an explicit shape the result may be declared with named dims for the
// run-time sizes (`const x: Tensor<['N', 2]> = tensor(xs, { shape: [n, 2] })`);
// the declared shape `R` must agree with the given one.
export function tensor<const S extends readonly number[], D extends DType = 'f32', R extends Shape = Tuple<S>>(
  data: NestedNumbers | ArrayLike<number>,
  options: { shape: S & NoInfer<CheckDeclared<'tensor', R, Tuple<S>>>; dtype?: D },
): T<R, NoInfer<D>>
export function tensor<D extends DType = 'f32'>(
  data: NestedNumbers | ArrayLike<number>,
  options: { shape?: readonly number[]; dtype?: D } = {},
): T<Shape, D> {
  const dtype = (options.dtype ?? (typeof firstLeaf(data) === 'boolean' ? 'bool' : 'f32')) as D
  if (!DTYPES.includes(dtype)) throw new Error(`tensor: expected a dtype of ${DTYPES.join(', ')}, got ${String(dtype)}`)
  let values: ArrayLike<number>
  let shape: readonly number[]
  if (options.shape !== undefined) {
    shape = options.shape
    checkShape('tensor', shape)
    values =
      typeof data === 'number' || typeof data === 'boolean'
        ? [Number(data)]
        : ArrayBuffer.isView(data)
          ? (data as ArrayLike<number>)
          : (() => {
              const flat: number[] = []
              flattenNested(data as NestedNumbers, inferShape(data as NestedNumbers), flat)
              return flat
            })()
    if (values.length !== sizeOf(shape))
      throw new Error(
        `tensor: ${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`,
      )
  } else if (ArrayBuffer.isView(data)) {
    shape = [(data as ArrayLike<number>).length]
    values = data as ArrayLike<number>
  } else {
    shape = inferShape(data as NestedNumbers)
    const flat: number[] = []
    flattenNested(data as NestedNumbers, shape, flat)
    values = flat
  }
  for (let i = 0; i < values.length; i++)
    if (typeof values[i] !== 'number' && typeof values[i] !== 'boolean')
      throw new Error(`tensor: expected numbers, got ${typeof values[i]} at position ${i}`)
  if (dtype === 'i32')
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i])
      if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)
        throw new Error(
          `tensor: i32 data must be integers in [−2³¹, 2³¹ − 1], got ${v} at position ${i} (round it, or use astype for the conversion rule)`,
        )
    }
  return concrete(shape, dtype, fromNumbers(dtype, values)) as unknown as T<Shape, D>
}

/** A scalar (shape []) of `value`, f32 unless `dtype` is given. */
export const scalar = <D extends DType = 'f32'>(value: number, dtype?: D): T<[], NoInfer<D>> =>
  scalarOf(value, dtype ?? 'f32') as unknown as T<[], D>

/** A tensor of `shape` with every element `value`, f32 unless `dtype` is given. */
export const full = <const S extends readonly number[], D extends DType = 'f32'>(
  shape: S,
  value: number,
  dtype?: D,
): T<Tuple<S>, NoInfer<D>> => {
  checkShape('full', shape)
  return filled(shape, dtype ?? 'f32', value) as unknown as T<Tuple<S>, D>
}
/** A tensor of zeros of `shape`, f32 unless `dtype` is given. */
export const zeros = <const S extends readonly number[], D extends DType = 'f32'>(
  shape: S,
  dtype?: D,
): T<Tuple<S>, NoInfer<D>> => full(shape, 0, dtype)
/** A tensor of ones of `shape`, f32 unless `dtype` is given. */
export const ones = <const S extends readonly number[], D extends DType = 'f32'>(
  shape: S,
  dtype?: D,
): T<Tuple<S>, NoInfer<D>> => full(shape, 1, dtype)
/** Zeros with the shape and dtype of x. */
export const zerosLike = <S extends Shape, D extends DType>(x: T<S, D>): T<S, D> =>
  lax.fullLike(x, 0) as Tensor<any, any>
/** Ones with the shape and dtype of x. */
export const onesLike = <S extends Shape, D extends DType>(x: T<S, D>): T<S, D> =>
  lax.fullLike(x, 1) as Tensor<any, any>

/** [start, start + step, …) below stop, like NumPy's arange; `arange(n)` is 0..n−1. */
export function arange<const N extends number>(stop: N): T<[N], 'f32'>
export function arange<D extends DType = 'f32'>(
  startOrStop: number,
  stop?: number,
  step?: number,
  dtype?: D,
): T<[number], NoInfer<D>>
export function arange<D extends DType = 'f32'>(
  startOrStop: number,
  stop?: number,
  step = 1,
  dtype?: D,
): T<[number], D> {
  const [start, end] = stop === undefined ? [0, startOrStop] : [startOrStop, stop]
  if (step === 0) throw new Error('arange: step must not be 0')
  const n = Math.max(0, Math.ceil((end - start) / step))
  return tensor(
    Array.from({ length: n }, (_, i) => start + i * step),
    { shape: [n], dtype: dtype ?? ('f32' as D) },
  )
}

/** The n×n identity. */
export function eye<const N extends number, D extends DType = 'f32'>(n: N, dtype?: D): T<[N, N], NoInfer<D>> {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`eye: n must be a non-negative integer, got ${n}`)
  const values = new Array<number>(n * n).fill(0)
  for (let i = 0; i < n; i++) values[i * n + i] = 1
  return tensor(values, { shape: [n, n], dtype: dtype ?? ('f32' as D) }) as T<Shape, D> as T<[N, N], D>
}

// ---------------------------------------------------------------- broadcasting

const asTensor = (x: Operand<Shape, DType>, like: Operand<Shape, DType>): Tensor => {
  if (x instanceof Tensor) return x
  if (typeof x !== 'number') throw new TypeError(`expected a Tensor or a number, got ${typeof x}`)
  return scalarOf(x, like instanceof Tensor ? like.aval.dtype : 'f32')
}

/** The NumPy broadcast of two run-time shapes, or an error naming them. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1
    const y = b[b.length - n + i] ?? 1
    if (x !== y && x !== 1 && y !== 1)
      throw new Error(
        `${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast: axis ${i} of the result would need ${x} = ${y}`,
      )
    out.push(x === 1 ? y : x)
  }
  return out
}

function binaryOp(
  op: string,
  f: (a: Tensor, b: Tensor) => Tensor,
  x: Operand<Shape, DType>,
  y: Operand<Shape, DType>,
): Tensor {
  const a = asTensor(x, y)
  const b = asTensor(y, x)
  if (a.aval.dtype !== b.aval.dtype)
    throw new Error(`${op}: dtypes differ: ${formatAval(a.aval)} and ${formatAval(b.aval)}; convert one with astype`)
  const shape = broadcastShapes(op, a.aval.shape, b.aval.shape)
  return f(lax.broadcast(a, shape), lax.broadcast(b, shape))
}

/**
 * A binary elementwise op with result dtype `R` (`never`: the operands').
 * The first four signatures keep the shape where it cannot change (equal
 * shapes, a number operand), which is also what makes them hold for shapes
 * that are type parameters; the last one broadcasts and checks.
 */
export interface Binary<Op extends string, R extends DType = never> {
  <S extends Shape, D extends DType>(a: T<S, D>, b: T<NoInfer<S>, NoInfer<D>>): T<S, Result<R, D>>
  <S extends Shape, D extends DType>(a: T<S, D>, b: number): T<S, Result<R, D>>
  <S extends Shape, D extends DType>(a: number, b: T<S, D>): T<S, Result<R, D>>
  (a: number, b: number): T<[], Result<R, 'f32'>>
  <A extends Shape, B extends Shape, DA extends DType, DB extends DType>(
    a: T<A, DA>,
    b: T<B, DB> & NoInfer<CheckBinary<Op, A, B, DA, DB>>,
  ): T<Broadcast<A, B>, Result<R, JoinDType<DA, DB>>>
}
type Result<R extends DType, D extends DType> = [R] extends [never] ? D : R

const binary = <Op extends string>(op: Op, f: (a: Tensor, b: Tensor) => Tensor): Binary<Op> =>
  ((a: Operand<Shape, DType>, b: Operand<Shape, DType>) => binaryOp(op, f, a, b)) as Binary<Op>

/** a + b, elementwise, broadcasting the shapes and promoting the dtypes; either may be a number. */
export const add = binary('add', lax.add)
/** a − b, elementwise, broadcasting the shapes and promoting the dtypes; either may be a number. */
export const sub = binary('sub', lax.sub)
/** a · b, elementwise, broadcasting the shapes and promoting the dtypes; either may be a number. */
export const mul = binary('mul', lax.mul)
/** a / b, elementwise, broadcasting the shapes and promoting the dtypes; either may be a number. */
export const div = binary('div', lax.div)
/** aᵇ, elementwise, broadcasting the shapes and promoting the dtypes; either may be a number. */
export const pow = binary('pow', lax.pow)
/** Elementwise maximum; at a tie each operand gets half the tangent. */
export const maximum = binary('maximum', lax.max)
/** Elementwise minimum, as −max(−a, −b); at a tie each operand gets half the tangent. */
export const minimum = binary('minimum', (a, b) => lax.neg(lax.max(lax.neg(a), lax.neg(b))))

const comparison = <Op extends CompareOp>(op: Op): Binary<Op, 'bool'> =>
  ((a: Operand<Shape, DType>, b: Operand<Shape, DType>) =>
    binaryOp(op, (x, y) => lax.compare(x, y, op), a, b)) as Binary<Op, 'bool'>
/** a < b, elementwise, broadcasting: a bool tensor. */
export const less = comparison('lt')
/** a ≤ b, elementwise, broadcasting: a bool tensor. */
export const lessEqual = comparison('le')
/** a > b, elementwise, broadcasting: a bool tensor. */
export const greater = comparison('gt')
/** a ≥ b, elementwise, broadcasting: a bool tensor. */
export const greaterEqual = comparison('ge')
/** a = b, elementwise, broadcasting: a bool tensor. */
export const equal = comparison('eq')
/** a ≠ b, elementwise, broadcasting: a bool tensor. */
export const notEqual = comparison('ne')

/** `onTrue` where `cond` holds, else `onFalse`; all three broadcast together. */
export function where<S extends Shape, D extends DType>(
  cond: T<S, 'bool'>,
  onTrue: T<NoInfer<S>, D>,
  onFalse: T<NoInfer<S>, NoInfer<D>> | number,
): T<S, D>
export function where<S extends Shape, D extends DType>(
  cond: T<S, 'bool'>,
  onTrue: number,
  onFalse: T<NoInfer<S>, D>,
): T<S, D>
export function where<C extends Shape>(cond: T<C, 'bool'>, onTrue: number, onFalse: number): T<C, 'f32'>
export function where<
  C extends Shape,
  A extends Shape = [],
  B extends Shape = [],
  DA extends DType = never,
  DB extends DType = never,
>(
  cond: T<C, 'bool'>,
  onTrue: Operand<A, DA>,
  onFalse: Operand<B, DB> & NoInfer<CheckWhere<C, A, B, DA, DB>>,
): T<Broadcast<C, Broadcast<A, B>>, JoinDType<DA, DB>>
export function where(cond: T<Shape, 'bool'>, onTrue: Operand<Shape, DType>, onFalse: Operand<Shape, DType>): Tensor {
  const a = asTensor(onTrue, onFalse)
  const b = asTensor(onFalse, onTrue)
  if (cond.aval.dtype !== 'bool') throw new Error(`where: the condition must be bool, got ${formatAval(cond.aval)}`)
  const shape = broadcastShapes('where', cond.aval.shape, broadcastShapes('where', a.aval.shape, b.aval.shape))
  return lax.select(lax.broadcast(cond, shape), lax.broadcast(a, shape), lax.broadcast(b, shape))
}

// ---------------------------------------------------------------- elementwise unary

type Unary = <S extends Shape, D extends DType>(x: T<S, D>) => T<S, D>
const unary = (f: (x: Tensor) => Tensor): Unary => ((x: Tensor) => f(x)) as Unary

/** −x, elementwise. */
export const neg = unary(lax.neg)
/** eˣ, elementwise. */
export const exp = unary(lax.exp)
/** The natural logarithm, elementwise. */
export const log = unary(lax.log)
/** The hyperbolic tangent, elementwise. */
export const tanh = unary(lax.tanh)
/** The logistic sigmoid σ(x) = 1/(1 + e^{−x}). */
export const sigmoid = unary(lax.logistic)
/** The sine, elementwise. */
export const sin = unary(lax.sin)
/** The cosine, elementwise. */
export const cos = unary(lax.cos)
/** The square root, elementwise. */
export const sqrt = unary(lax.sqrt)
/** |x|, elementwise. */
export const abs = unary(lax.abs)
/** The sign, elementwise: −1, 0 or 1. */
export const sign = unary(lax.sign)
/** x², elementwise. */
export const square = unary(lax.square)
/**
 * max(x, 0), with the subgradient 0 at x = 0 (the convention of most
 * libraries); NaN stays NaN, so corrupt data is not silently zeroed.
 */
export const relu = unary((x) => lax.select(lax.compare(x, lax.fullLike(x, 0), 'le'), lax.fullLike(x, 0), x))
/** x converted to `dtype`, elementwise. */
export const astype = <S extends Shape, D extends DType>(x: T<S>, dtype: D): T<S, D> => lax.convert(x, dtype) as T<S, D>

// ---------------------------------------------------------------- reductions

const keep = (x: Tensor, y: Tensor, axes: readonly number[], keepDims: boolean): Tensor =>
  keepDims
    ? lax.reshape(
        y,
        x.aval.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
      )
    : y

/** Options of a reduction. */
export interface ReduceOptions<K extends boolean = boolean> {
  readonly keepDims?: K
}
type AxisArg = number | readonly number[] | undefined

/**
 * A reduction over `axis` (an axis, a list, or all axes when omitted); with
 * `keepDims` the reduced axes stay, as 1s. `Op` names it in the shape errors.
 */
export type Reduction<Op extends string> = <
  S extends Shape,
  D extends DType,
  const Ax extends AxisArg = undefined,
  K extends boolean = false,
>(
  x: T<S, D>,
  axis?: Ax & OnNumber<CheckAxes<Op, S, Ax>>,
  opts?: ReduceOptions<K>,
) => T<Reduce<S, Ax, K>, D>

/** The reduction `op`, from `f` given x, the axes (normalised: non-negative; all when omitted) and keepDims. */
const reduction = <Op extends string>(
  op: Op,
  f: (x: Tensor, axes: number[], keepDims: boolean) => Tensor,
): Reduction<Op> =>
  ((x: Tensor, axis?: number | readonly number[], opts: ReduceOptions = {}) =>
    f(x, normAxes(op, axis, x.ndim), opts.keepDims ?? false)) as Reduction<Op>

/** Sum over `axis` (an axis, a list, or all axes when omitted). */
export const sum = reduction('sum', (x, axes, keepDims) => keep(x, lax.sum(x, axes), axes, keepDims))
/** The mean over `axis` (an axis, a list, or all axes when omitted). */
export const mean = reduction('mean', (x, axes, keepDims) => {
  const count = axes.reduce((n, a) => n * x.aval.shape[a], 1)
  const s = keep(x, lax.sum(x, axes), axes, keepDims)
  return lax.div(s, lax.fullLike(s, count))
})
/** Maximum over `axis`; ties share the tangent equally. */
export const max = reduction('max', (x, axes, keepDims) => keep(x, lax.reduceMax(x, axes), axes, keepDims))
/** Minimum over `axis`: −max(−x). */
export const min = reduction('min', (x, axes, keepDims) =>
  lax.neg(keep(x, lax.reduceMax(lax.neg(x), axes), axes, keepDims)),
)
/**
 * log Σ exp(x) over `axis`, computed as m + log Σ exp(x − m) with m the
 * (gradient-stopped) maximum, or 0 where the maximum is ±∞: then the result
 * is −∞ (every term −∞) or +∞, not ∞ − ∞ = NaN.
 */
export const logsumexp = reduction('logsumexp', (x, axes, keepDims) => {
  const top = keep(x, lax.reduceMax(x, axes), axes, true)
  const finite = lax.compare(lax.abs(top), lax.fullLike(top, Infinity), 'lt')
  const m = stopGradient(lax.select(finite, top, lax.fullLike(top, 0)))
  const shifted = lax.sub(x, lax.broadcast(m, x.aval.shape))
  const s = lax.add(
    lax.log(lax.sum(lax.exp(shifted), axes)),
    lax.reshape(
      m,
      m.aval.shape.filter((_, i) => !axes.includes(i)),
    ),
  )
  return keep(x, s, axes, keepDims)
})

/** The value of x with a zero derivative (the identity, treated as a constant by every derivative transform). */
export function stopGradient<S extends Shape, D extends DType>(x: T<S, D>): T<S, D> {
  return lax.stopGradient(x)
}

// ---------------------------------------------------------------- structure

/** The same elements in a new shape; one axis may be -1 (the remaining size). */
export function reshape<S extends Shape, D extends DType, const R extends readonly number[]>(
  x: T<S, D>,
  shape: R & NoInfer<CheckReshape<S, R>>,
): T<Reshape<S, R>, D>
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1)
  const inferred = shape.length - known.length
  if (inferred > 1) throw new Error(`reshape: at most one axis may be -1, got ${formatShape(shape)}`)
  const full = inferred ? shape.map((d) => (d === -1 ? x.size / sizeOf(known) : d)) : shape
  if (full.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(full) !== x.size)
    throw new Error(`reshape: cannot reshape ${formatAval(x.aval)} (${x.size} elements) to ${formatShape(shape)}`)
  return lax.reshape(x, full)
}

/** Permutes axes (reverses them when `perm` is omitted). */
export function transpose<S extends Shape, D extends DType, const P extends readonly number[] | undefined = undefined>(
  x: T<S, D>,
  perm?: P & NoInfer<CheckPerm<S, P>>,
): T<Transpose<S, P>, D>
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.aval.shape.map((_, i) => x.ndim - 1 - i)
  return lax.transpose(
    x,
    p.map((a) => normAxis('transpose', a, x.ndim)),
  )
}

/** x broadcast to `shape`: size-1 and missing leading axes stretched, as in the elementwise ops. */
export function broadcastTo<S extends Shape, D extends DType, const R extends readonly number[]>(
  x: T<S, D>,
  shape: R & NoInfer<CheckBroadcastTo<S, R>>,
): T<Tuple<R>, D>
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  broadcastShapes('broadcastTo', x.aval.shape, shape)
  return lax.broadcast(x, shape)
}

/** x with a new axis of size 1 at `axis`. */
export function expandDims<S extends Shape, D extends DType, const A extends number>(
  x: T<S, D>,
  axis: A & OnNumber<CheckExpandDims<S, A>>,
): T<ExpandDims<S, A>, D>
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normAxis('expandDims', axis, x.ndim + 1)
  const shape = [...x.aval.shape]
  shape.splice(a, 0, 1)
  return lax.reshape(x, shape)
}

/** x without the size-1 axes named by `axis` (all of them when omitted). */
export function squeeze<S extends Shape, D extends DType, const Ax extends AxisArg = undefined>(
  x: T<S, D>,
  axis?: Ax & OnNumber<CheckSqueeze<S, Ax>>,
): T<Squeeze<S, Ax>, D>
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  const axes =
    axis === undefined ? x.aval.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes('squeeze', axis, x.ndim)
  for (const a of axes)
    if (x.aval.shape[a] !== 1)
      throw new Error(`squeeze: axis ${a} of ${formatAval(x.aval)} has size ${x.aval.shape[a]}, not 1`)
  return lax.reshape(
    x,
    x.aval.shape.filter((_, i) => !axes.includes(i)),
  )
}

/** Joins tensors along an existing axis; the other axes must agree. */
export function concat<const Xs extends readonly Tensor[], const A extends number = 0>(
  xs: Xs & NoInfer<CheckConcat<ShapesOf<Xs>, A>>,
  axis?: A,
): T<Concat<ShapesOf<Xs>, A>, DTypeOf<Xs[number]>>
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor')
  return lax.concat(xs, normAxis('concat', axis, xs[0].ndim))
}

/** Joins tensors of one shape along a new axis. */
export function stack<const Xs extends readonly Tensor[], const A extends number = 0>(
  xs: Xs & NoInfer<CheckStack<ShapesOf<Xs>, A>>,
  axis?: A,
): T<Stack<ShapesOf<Xs>, A>, DTypeOf<Xs[number]>>
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: needs at least one tensor')
  return concat(
    xs.map((x) => expandDims(x, axis)),
    axis,
  )
}

/** The block starting at `starts` with extent `sizes` (−1: to the end). */
export function slice<
  S extends Shape,
  D extends DType,
  const St extends readonly number[],
  const Sz extends readonly number[] | undefined = undefined,
>(x: T<S, D>, starts: St & NoInfer<CheckSlice<S, St, Sz>>, sizes?: Sz): T<Slice<S, St, Sz>, D>
export function slice(x: Tensor, starts: readonly number[], sizes?: readonly number[]): Tensor {
  if (starts.length !== x.ndim)
    throw new Error(`slice: expected ${x.ndim} starts for ${formatAval(x.aval)}, got ${starts.length}`)
  const limits = x.aval.shape.map((d, i) => {
    const size = sizes?.[i] ?? -1
    return size === -1 ? d : starts[i] + size
  })
  return lax.slice(x, starts, limits)
}

/** Zero padding: `[before, after]` for each axis. */
export function pad<S extends Shape, D extends DType, const W extends readonly (readonly [number, number])[]>(
  x: T<S, D>,
  widths: W & NoInfer<CheckPad<S, W>>,
): T<Pad<S, W>, D>
export function pad(x: Tensor, widths: readonly (readonly [number, number])[]): Tensor {
  if (widths.length !== x.ndim)
    throw new Error(`pad: expected ${x.ndim} [before, after] pairs for ${formatAval(x.aval)}, got ${widths.length}`)
  return lax.pad(
    x,
    widths.map((w) => w[0]),
    widths.map((w) => w[1]),
  )
}

// ---------------------------------------------------------------- linear algebra and indexing

/**
 * Matrix product with NumPy's rules: 1-D operands are promoted (and the
 * added axis removed), leading batch axes broadcast.
 */
export function matmul<A extends Shape, B extends Shape, DA extends DType, DB extends DType>(
  a: T<A, DA>,
  b: T<B, DB> & NoInfer<CheckDTypes<'matmul', DA, DB, CheckMatMul<A, B>>>,
): T<MatMul<A, B>, JoinDType<DA, DB>>
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(`matmul: operands must have rank ≥ 1, got ${formatAval(a.aval)} and ${formatAval(b.aval)}`)
  const x = a.ndim === 1 ? lax.reshape(a, [1, a.aval.shape[0]]) : (a as Tensor)
  const y = b.ndim === 1 ? lax.reshape(b, [b.aval.shape[0], 1]) : (b as Tensor)
  const [m, k] = x.aval.shape.slice(-2)
  const [k2, n] = y.aval.shape.slice(-2)
  if (k !== k2)
    throw new Error(`matmul: ${formatAval(a.aval)} × ${formatAval(b.aval)}: the inner dimensions ${k} and ${k2} differ`)
  if (a.aval.dtype !== b.aval.dtype)
    throw new Error(`matmul: dtypes differ: ${formatAval(a.aval)} and ${formatAval(b.aval)}`)
  const batch = broadcastShapes('matmul', x.aval.shape.slice(0, -2), y.aval.shape.slice(0, -2))
  const out = lax.matmul(lax.broadcast(x, [...batch, m, k]), lax.broadcast(y, [...batch, k, n]))
  const shape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])]
  return lax.reshape(out, shape)
}

/** Inner product of two vectors, or matmul otherwise. */
export const dot = ((a: Tensor, b: Tensor) => matmul(a, b)) as typeof matmul

/** Rows (or slices along `axis`) picked by integer `indices`: an embedding lookup. */
export function take<S extends Shape, D extends DType, I extends Shape, const A extends number = 0>(
  x: T<S, D>,
  indices: T<I, 'i32'>,
  axis?: A & OnNumber<CheckAxis<'take', S, A>>,
): T<Take<S, I, A>, D>
export function take(x: Tensor, indices: T<Shape, 'i32'>, axis = 0): Tensor {
  if (indices.aval.dtype !== 'i32') throw new Error(`take: indices must be i32, got ${formatAval(indices.aval)}`)
  return lax.gather(x, indices, normAxis('take', axis, x.ndim))
}

/** x with updates added at `indices` along `axis` (repeated indices accumulate). */
export function scatterAdd<S extends Shape, D extends DType>(
  x: T<S, D>,
  indices: T<Shape, 'i32'>,
  updates: T<Shape, D>,
  axis = 0,
): T<S, D> {
  return lax.scatterAdd(x, indices, updates, normAxis('scatterAdd', axis, x.ndim)) as T<S, D>
}

/** Σᵢ xᵢ yᵢ over all elements: the inner product used by the adjoint laws. */
export const vdot = (x: Tensor, y: Tensor): T<[], DType> =>
  lax.sum(
    lax.mul(x, y),
    x.aval.shape.map((_, i) => i),
  ) as T<[], DType>

/** Whether x has a floating-point dtype. */
export const isFloating = (x: Tensor): boolean => isFloat(x.aval.dtype)
export type { ConcreteTensor }
