/**
 * Immutable tensors. A `Tensor<S, D>` carries its shape `S` in the type (a
 * tuple of number literals and named dimensions) and its element type `D`.
 * At run time a tensor is either concrete (`ConcreteTensor`, a typed array in
 * row-major order) or a tracer owned by a transform (`Tracer`); user code
 * cannot tell them apart except that only concrete tensors can be read.
 */
import { allocate, fromNumbers, type DType, type TypedArray } from './dtype.ts'
import type { Shape, RuntimeShape } from './shape/types.ts'

/** Abstract value: what every transform knows of a tensor without its data. */
export interface Aval {
  readonly shape: readonly number[]
  readonly dtype: DType
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)
export const formatShape = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`
export const formatAval = (a: Aval): string => `${a.dtype}[${a.shape.join(',')}]`
export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

/** Refuses a shape that is not a list of non-negative integers (a fractional, negative or NaN dimension). */
export function checkShape(caller: string, shape: readonly number[], what = 'shape'): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new Error(`${caller}: ${what} must be non-negative integers, got ${formatShape(shape)}`)
}

/**
 * How a dimension behaves under assignment: a size literal is an instance of
 * a named dimension (a Tensor<[32, 3]> is a Tensor<['B', 3]>), two different
 * names are not interchangeable, and a plain `number` accepts any dimension.
 */
type AssignableDim<X> = X extends number
  ? number extends X
    ? number | string
    : X
  : X extends string
    ? string extends X
      ? string | number
      : X | number
    : never
type AssignableShape<S extends Shape> = { readonly [K in keyof S]: AssignableDim<S[K]> }

/**
 * An immutable tensor whose shape S and dtype D are known to the type checker: a concrete array
 * of values, a value being traced by a transform, or a value on a device. `shape`, `dtype` and
 * `aval` describe it; `await t.data()` reads its values.
 */
export abstract class Tensor<S extends Shape = Shape, D extends DType = DType> {
  /** Phantom field: the compile-time shape and dtype. Never read at run time. */
  declare readonly __type?: { shape: AssignableShape<S>; dtype: D }
  abstract readonly aval: Aval

  get shape(): RuntimeShape<S> {
    return this.aval.shape as unknown as RuntimeShape<S>
  }
  get dtype(): D {
    return this.aval.dtype as D
  }
  get ndim(): number {
    return this.aval.shape.length
  }
  get size(): number {
    return sizeOf(this.aval.shape)
  }

  /** The values, in row-major order. Only concrete tensors can be read. */
  async data(): Promise<TypedArray> {
    return this.dataSync()
  }
  abstract dataSync(): TypedArray

  /**
   * The tensor as a host tensor, for the CPU kernels. A tensor that lives on
   * a device and has not been read back says so.
   */
  toConcrete(): ConcreteTensor {
    throw new Error(`a ${formatAval(this.aval)} tensor of kind ${this.constructor.name} has no host values`)
  }

  /** Values as nested JavaScript arrays (numbers; booleans as 0/1). */
  toArray(): unknown {
    const data = this.dataSync()
    const shape = this.aval.shape
    const build = (dim: number, offset: number): unknown => {
      if (dim === shape.length) return data[offset]
      const stride = sizeOf(shape.slice(dim + 1))
      return Array.from({ length: shape[dim] }, (_, i) => build(dim + 1, offset + i * stride))
    }
    return build(0, 0)
  }

  /** A scalar's value. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`item() needs a tensor with one element, got shape ${formatShape(this.aval.shape)}`)
    return this.dataSync()[0]
  }
}

/** A tensor whose values are known: a typed array in row-major order. */
export class ConcreteTensor<S extends Shape = Shape, D extends DType = DType> extends Tensor<S, D> {
  readonly aval: Aval
  readonly values: TypedArray
  constructor(shape: readonly number[], dtype: DType, values: TypedArray) {
    super()
    if (values.length !== sizeOf(shape))
      throw new Error(
        `tensor: ${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`,
      )
    this.aval = Object.freeze({ shape: Object.freeze([...shape]), dtype })
    this.values = values
    Object.freeze(this)
  }
  dataSync(): TypedArray {
    return this.values.slice()
  }
  override toConcrete(): ConcreteTensor {
    return this
  }
  override toString(): string {
    return `Tensor(${formatAval(this.aval)}) ${JSON.stringify(this.toArray())}`
  }
}

/** Builds a concrete tensor without checks on the caller's side (kernels use it). */
export const concrete = (shape: readonly number[], dtype: DType, values: TypedArray): ConcreteTensor =>
  new ConcreteTensor(shape, dtype, values)

export const filled = (shape: readonly number[], dtype: DType, value: number): ConcreteTensor => {
  const values = allocate(dtype, sizeOf(shape))
  if (value !== 0) values.fill(value)
  return concrete(shape, dtype, values)
}

export const scalarOf = (value: number, dtype: DType): ConcreteTensor =>
  concrete([], dtype, fromNumbers(dtype, [value]))

export const zerosLike = (x: { aval: Aval }): ConcreteTensor => filled(x.aval.shape, x.aval.dtype, 0)

/** Whether x is known to be zero everywhere: a concrete tensor all of whose elements are 0 (a tracer is not known). */
export const isKnownZero = (x: Tensor): boolean => x instanceof ConcreteTensor && x.values.every((v) => v === 0)

/** An argument as an error message names it: a tensor by its shape and dtype, anything else by its type. */
export const describeArg = (x: unknown): string =>
  x instanceof Tensor ? formatAval(x.aval) : x === null ? 'null' : typeof x
