/**
 * Run-time shape checks for data that enters from outside (JSON, files,
 * nested arrays): io-ts codecs that decode to a `Tensor<S, D>` whose
 * compile-time shape is the expected one, or fail with a message that names
 * the expected and the actual shape.
 *
 * Laws:
 *  - decoding never throws: it gives a tensor of the expected shape and dtype,
 *    or an error;
 *  - a named dim matches any size, but the same size wherever the name appears
 *    (within one shape, and across the fields of a `tensorRecord`);
 *  - round trip: `decode(encode(x))` is a tensor equal to x for every x the
 *    codec accepts (`is(x)`).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { fromNumbers, type DType } from '../dtype.ts'
import { Tensor, concrete, formatShape, sizeOf } from '../tensor.ts'
import type { Shape, Tuple } from './types.ts'

/** The JSON form of a tensor: its shape, dtype and values in row-major order. */
export interface TensorJson {
  readonly shape: readonly number[]
  readonly dtype: DType
  readonly data: readonly number[]
}

/** The size a named dim took, and where (for messages such as "B is 32 at x, axis 0"). */
export interface Binding {
  readonly size: number
  readonly at: string
}
/** The sizes bound to the named dimensions while a value is decoded, by name. */
export type Bindings = Readonly<Record<string, Binding>>

const dtypes: readonly DType[] = ['f32', 'f64', 'i32', 'bool']

/**
 * Matches a run-time shape against an expected one: equal rank, equal literal
 * sizes, and one size per name (names bound in `bindings` keep their size).
 * Returns the bindings extended with the names seen here.
 */
export function matchShape(
  expected: Shape,
  actual: readonly number[],
  bindings: Bindings = {},
  where = '',
): E.Either<string, Bindings> {
  const head = `expected shape ${formatShape(expected)}, got ${formatShape(actual)}`
  if (expected.length !== actual.length) return E.left(`${head}: rank ${actual.length}, not ${expected.length}`)
  const bound: Record<string, Binding> = { ...bindings }
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]
    const got = actual[i]
    if (typeof want === 'number') {
      if (want !== got) return E.left(`${head}: axis ${i} is ${got}, not ${want}`)
      continue
    }
    const at = where === '' ? `axis ${i}` : `${where}, axis ${i}`
    const prior = bound[want]
    if (prior === undefined) bound[want] = { size: got, at }
    else if (prior.size !== got) return E.left(`${head}: ${want} is ${prior.size} at ${prior.at} but ${got} at ${at}`)
  }
  return E.right(bound)
}

/** Multi-index of a row-major flat index, as messages print it. */
const position = (shape: readonly number[], flat: number): string => {
  const index: number[] = []
  for (let i = shape.length - 1; i >= 0; i--) {
    index.unshift(flat % shape[i])
    flat = Math.floor(flat / shape[i])
  }
  return `[${index.join(', ')}]`
}

const describeValue = (u: unknown): string =>
  typeof u === 'string'
    ? JSON.stringify(u)
    : u === null
      ? 'null'
      : Array.isArray(u)
        ? 'an array'
        : typeof u === 'object'
          ? 'an object'
          : `${typeof u} ${String(u)}`

/** Why a value cannot be an element of the dtype, or undefined when it can. */
function invalidValue(dtype: DType, x: unknown): string | undefined {
  if (dtype === 'bool')
    return x === true || x === false || x === 0 || x === 1
      ? undefined
      : `expected a bool (true, false, 0 or 1), got ${describeValue(x)}`
  if (typeof x !== 'number') return `expected a number, got ${describeValue(x)}`
  if (Number.isNaN(x)) return 'expected a number, got NaN'
  if (dtype === 'i32' && !(Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31)) return `expected an i32, got ${x}`
  return undefined
}

/** Values in row-major order, checked against the dtype; the error names the position. */
function readValues(
  dtype: DType,
  values: ArrayLike<unknown>,
  label: (flat: number) => string,
): E.Either<string, number[]> {
  const out = new Array<number>(values.length)
  for (let i = 0; i < values.length; i++) {
    const why = invalidValue(dtype, values[i])
    if (why !== undefined) return E.left(`${why} at ${label(i)}`)
    out[i] = Number(values[i])
  }
  return E.right(out)
}

/** The most axes a decoded tensor may have: deeper nesting is refused before it is walked. */
const MAX_RANK = 64

/** The shape of nested arrays, read along the first entry of each level. */
function nestedShape(u: unknown): number[] {
  const shape: number[] = []
  for (let node = u; Array.isArray(node); node = node[0]) shape.push(node.length)
  return shape
}

/** Flattens nested arrays of a known shape; ragged levels are reported with their position. */
function flattenNested(u: unknown, shape: readonly number[]): E.Either<string, unknown[]> {
  const out: unknown[] = []
  const walk = (node: unknown, path: number[]): string | undefined => {
    const depth = path.length
    if (depth === shape.length) {
      if (Array.isArray(node)) return `ragged data: expected a number at [${path.join(', ')}], got an array`
      out.push(node)
      return undefined
    }
    const at = depth === 0 ? 'the top level' : `[${path.join(', ')}]`
    if (!Array.isArray(node))
      return `ragged data: expected ${shape[depth]} entries at ${at}, got ${describeValue(node)}`
    if (node.length !== shape[depth])
      return `ragged data: expected ${shape[depth]} entries at ${at}, got ${node.length}`
    for (let i = 0; i < node.length; i++) {
      const why = walk(node[i], [...path, i])
      if (why !== undefined) return why
    }
    return undefined
  }
  const why = walk(u, [])
  return why === undefined ? E.right(out) : E.left(why)
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === 'object' && u !== null && !Array.isArray(u) && !ArrayBuffer.isView(u)

interface Raw {
  readonly shape: readonly number[]
  /** Unchecked values in row-major order, and how to name the position of one. */
  readonly values: ArrayLike<unknown>
  readonly label: (flat: number) => string
}

/** `{ shape, dtype?, data }`: the shape is checked to be sizes, the dtype to be the expected one, the data to fill the shape. */
function readJson(u: Record<string, unknown>, dtype: DType): E.Either<string, Raw> {
  const { shape, data } = u
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    return E.left(`shape must be a list of non-negative integers, got ${JSON.stringify(shape) ?? 'nothing'}`)
  if (u.dtype !== undefined && u.dtype !== dtype)
    return E.left(
      dtypes.includes(u.dtype as DType)
        ? `expected dtype ${dtype}, got ${String(u.dtype)}`
        : `dtype must be one of ${dtypes.join(', ')}, got ${describeValue(u.dtype)}`,
    )
  if (!Array.isArray(data) && !ArrayBuffer.isView(data))
    return E.left(`data must be a list of numbers, got ${describeValue(data)}`)
  const values = data as ArrayLike<unknown>
  const size = sizeOf(shape)
  if (values.length !== size)
    return E.left(`data has ${values.length} values, but shape ${formatShape(shape)} needs ${size}`)
  return E.right({ shape, values, label: (i) => `data[${i}] (${position(shape, i)})` })
}

/** Nested arrays (or a number for a scalar, or a typed array for a vector). */
function readNested(u: unknown): E.Either<string, Raw> {
  if (ArrayBuffer.isView(u)) {
    const values = u as unknown as ArrayLike<number>
    return E.right({ shape: [values.length], values, label: (i) => `[${i}]` })
  }
  if (!Array.isArray(u) && typeof u !== 'number' && typeof u !== 'boolean')
    return E.left(`expected nested arrays of numbers or { shape, dtype, data }, got ${describeValue(u)}`)
  const shape = nestedShape(u)
  if (shape.length > MAX_RANK)
    return E.left(`nested arrays ${shape.length} levels deep: a tensor has at most ${MAX_RANK} axes`)
  return pipe(
    flattenNested(u, shape),
    E.map((values) => ({ shape, values, label: (i: number) => position(shape, i) })),
  )
}

/**
 * Decodes one tensor of the expected shape and dtype, extending the bindings
 * of named dims. The shape is checked before the values, so a wrong shape is
 * reported as such rather than as the first odd value.
 */
export function decodeWith(
  shape: Shape,
  dtype: DType,
  u: unknown,
  bindings: Bindings = {},
  where = '',
): E.Either<string, readonly [Tensor, Bindings]> {
  if (u instanceof Tensor)
    return u.dtype !== dtype
      ? E.left(`expected dtype ${dtype}, got ${u.dtype}`)
      : pipe(
          matchShape(shape, u.aval.shape, bindings, where),
          E.map((b) => [u, b] as const),
        )
  return pipe(
    isRecord(u) ? readJson(u, dtype) : readNested(u),
    E.chain((raw) =>
      pipe(
        matchShape(shape, raw.shape, bindings, where),
        E.chain((b) =>
          pipe(
            readValues(dtype, raw.values, raw.label),
            E.map((values) => [concrete(raw.shape, dtype, fromNumbers(dtype, values)) as Tensor, b] as const),
          ),
        ),
      ),
    ),
  )
}

const encodeTensor = (x: Tensor): TensorJson => ({
  shape: [...x.aval.shape],
  dtype: x.aval.dtype,
  data: Array.from(x.dataSync()),
})

/** A codec for one tensor; it keeps its expected shape and dtype for `tensorRecord`. */
export class TensorType<S extends Shape, D extends DType> extends t.Type<Tensor<Tuple<S>, D>, TensorJson, unknown> {
  readonly _tag = 'TensorType' as const
  constructor(
    readonly shape: S,
    readonly dtype: D,
  ) {
    super(
      `Tensor<${formatShape(shape)}, ${dtype}>`,
      (u): u is Tensor<Tuple<S>, D> =>
        u instanceof Tensor && u.dtype === dtype && E.isRight(matchShape(shape, u.aval.shape)),
      (u, c) =>
        pipe(
          decodeWith(shape, dtype, u),
          E.fold(
            (message) => t.failure<Tensor<Tuple<S>, D>>(u, c, message),
            ([x]) => t.success(x as Tensor<Tuple<S>, D>),
          ),
        ),
      encodeTensor,
    )
  }
}

/**
 * `tensorCodec(['B', 784])` decodes nested number arrays, a typed array (a
 * vector) or `{ shape, dtype, data }` JSON to a `Tensor<['B', 784], 'f32'>`.
 */
export const tensorCodec = <const S extends Shape, D extends DType = 'f32'>(
  shape: S,
  dtype?: D,
): TensorType<S, NoInfer<D>> => new TensorType(shape, dtype ?? ('f32' as D))

/** Any `TensorType`, whatever its shape and dtype. */
export interface SomeTensorType extends t.Mixed {
  readonly _tag: 'TensorType'
  readonly shape: Shape
  readonly dtype: DType
}
type Decoded<P extends Record<string, SomeTensorType>> = { readonly [K in keyof P]: t.TypeOf<P[K]> }

/**
 * A record of tensors whose named dims agree across fields: with
 * `{ x: tensorCodec(['B', 784]), y: tensorCodec(['B'], 'i32') }` the batch
 * size of y must be that of x.
 */
export function tensorRecord<P extends Record<string, SomeTensorType>>(
  props: P,
  name = 'TensorRecord',
): t.Type<Decoded<P>, { readonly [K in keyof P]: TensorJson }, unknown> {
  const keys = Object.keys(props) as (keyof P & string)[]
  const decodeAll = (u: unknown): E.Either<string, Decoded<P>> => {
    if (!isRecord(u)) return E.left(`expected a record with fields ${keys.join(', ')}, got ${describeValue(u)}`)
    let bindings: Bindings = {}
    const out: Record<string, Tensor> = {}
    for (const k of keys) {
      const r = decodeWith(props[k].shape, props[k].dtype, u[k], bindings, k)
      if (E.isLeft(r)) return E.left(`${k}: ${r.left}`)
      ;[out[k], bindings] = r.right
    }
    return E.right(out as Decoded<P>)
  }
  return new t.Type(
    name,
    (u): u is Decoded<P> => E.isRight(decodeAll(u)),
    (u, c) =>
      pipe(
        decodeAll(u),
        E.fold((message) => t.failure(u, c, message), t.success),
      ),
    (v) => Object.fromEntries(keys.map((k) => [k, encodeTensor(v[k])])) as { readonly [K in keyof P]: TensorJson },
  )
}

/** One line per error: the path into the input (when inside a larger codec), then the message. */
export const formatDecodeError = (errors: t.Errors): string =>
  errors
    .map((e) => {
      const path = e.context
        .map((c) => c.key)
        .filter((k) => k !== '')
        .join('.')
      const message =
        e.message ??
        `invalid value ${describeValue(e.value)} for ${e.context[e.context.length - 1]?.type.name ?? 'the codec'}`
      return path === '' ? message : `${path}: ${message}`
    })
    .join('\n')

/** Decodes with a codec and reports failure as one readable string. */
export const decodeTensor = <A, O>(codec: t.Type<A, O, unknown>, input: unknown): E.Either<string, A> =>
  pipe(codec.decode(input), E.mapLeft(formatDecodeError))
