/**
 * The messages of onnx.proto (IR version 10, opset 21) as readonly data,
 * with constructors that make them pleasant to build by hand, and the element
 * data of tensors read and written as typed arrays. The wire codec is in
 * proto.ts, which re-exports the public part of this module.
 *
 * Field names are onnx.proto's in camelCase. Decoded messages carry every
 * field, at its default where the file left it out, except `docString`
 * (present only when non-empty) and fields whose presence means something:
 * a tensor's data fields, a value's type, a tensor type's shape.
 *
 * Laws:
 *  - `tensorValues(tensorProto(name, type, dims, v))` equals `v` element for
 *    element (FLOAT rounded to float32), for every type `tensorProto` writes;
 *  - `tensorValues` gives the same array whether the elements sit in rawData
 *    or in the typed field of their type.
 */
import { utf8Decoder, utf8Encoder } from './wire.ts'

// ---------------------------------------------------------------- codes

/** TensorProto.DataType: the element type codes of ONNX. */
export const TensorDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const
export type TensorDataType = (typeof TensorDataType)[keyof typeof TensorDataType]

/** AttributeProto.AttributeType. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const
export type AttributeType = (typeof AttributeType)[keyof typeof AttributeType]

const nameOfCode = (table: Record<string, number>, code: number): string =>
  Object.keys(table).find((k) => table[k] === code) ?? `code ${code}`

/** `FLOAT`, `INT64`, … or `code 99` for a code this module does not know. */
export const dataTypeName = (code: number): string => nameOfCode(TensorDataType, code)
export const attributeTypeName = (code: number): string => nameOfCode(AttributeType, code)

/** The IR version and default-domain opset this module writes by default. */
export const IR_VERSION = 10
/** The ONNX operator set the export targets. */
export const OPSET_VERSION = 21

// ---------------------------------------------------------------- messages

export interface OperatorSetIdProto {
  /** '' is the default domain (ai.onnx). */
  readonly domain: string
  readonly version: number
}

export interface StringStringEntryProto {
  readonly key: string
  readonly value: string
}

/**
 * A tensor's value. Exactly one of the data fields normally holds the
 * elements: `rawData` (little-endian, fixed width; what `tensorProto` writes)
 * or the typed field that fits the element type (other tools write these):
 * `floatData` (FLOAT), `int32Data` (INT32, INT16, INT8, UINT16, UINT8, BOOL,
 * FLOAT16/BFLOAT16 as bit patterns), `int64Data` (INT64), `doubleData`
 * (DOUBLE), `uint64Data` (UINT32, UINT64), `stringData` (STRING).
 * `tensorValues` reads whichever is present. The typed fields are packed,
 * so an empty one is written and read back as empty; an empty `stringData`
 * or `externalData` has nothing on the wire and reads back as absent.
 */
export interface TensorProto {
  readonly name: string
  /** A `TensorDataType` code; files may hold codes newer than the table. */
  readonly dataType: number
  readonly dims: readonly number[]
  readonly rawData?: Uint8Array
  readonly floatData?: Float32Array
  readonly int32Data?: Int32Array
  readonly int64Data?: BigInt64Array
  readonly doubleData?: Float64Array
  readonly uint64Data?: BigUint64Array
  readonly stringData?: readonly Uint8Array[]
  /** `location`, `offset`, `length` of data kept in a separate file (dataLocation 1). */
  readonly externalData?: readonly StringStringEntryProto[]
  /** 0: in this message; 1: in the file `externalData` names. */
  readonly dataLocation?: number
  readonly docString?: string
}

/** A dimension: a size, a symbolic name such as 'batch', or `{}` where neither is known. */
export type TensorShapeDimension = { readonly dimValue: number } | { readonly dimParam: string } | Record<string, never>

export interface TensorShapeProto {
  readonly dim: readonly TensorShapeDimension[]
}

export interface TensorTypeProto {
  readonly elemType: number
  /** Absent: the rank is unknown; `{ dim: [] }` is a scalar. */
  readonly shape?: TensorShapeProto
}

/** Only tensor types are modelled; a sequence, map or optional type reads as `{}`. */
export interface TypeProto {
  readonly tensorType?: TensorTypeProto
}

export interface ValueInfoProto {
  readonly name: string
  readonly type?: TypeProto
  readonly docString?: string
}

interface AttributeOf<T extends AttributeType> {
  readonly name: string
  readonly type: T
}
export interface FloatAttribute extends AttributeOf<typeof AttributeType.FLOAT> {
  readonly f: number
}
export interface IntAttribute extends AttributeOf<typeof AttributeType.INT> {
  readonly i: number
}
/** `s` is bytes on the wire; in practice UTF-8 text (`attr.string` encodes, `attributeValue` decodes). */
export interface StringAttribute extends AttributeOf<typeof AttributeType.STRING> {
  readonly s: Uint8Array
}
export interface TensorAttribute extends AttributeOf<typeof AttributeType.TENSOR> {
  readonly t: TensorProto
}
export interface GraphAttribute extends AttributeOf<typeof AttributeType.GRAPH> {
  readonly g: GraphProto
}
export interface FloatsAttribute extends AttributeOf<typeof AttributeType.FLOATS> {
  readonly floats: readonly number[]
}
export interface IntsAttribute extends AttributeOf<typeof AttributeType.INTS> {
  readonly ints: readonly number[]
}
export interface StringsAttribute extends AttributeOf<typeof AttributeType.STRINGS> {
  readonly strings: readonly Uint8Array[]
}
export interface TensorsAttribute extends AttributeOf<typeof AttributeType.TENSORS> {
  readonly tensors: readonly TensorProto[]
}
export interface GraphsAttribute extends AttributeOf<typeof AttributeType.GRAPHS> {
  readonly graphs: readonly GraphProto[]
}
export type AttributeProto =
  | FloatAttribute
  | IntAttribute
  | StringAttribute
  | TensorAttribute
  | GraphAttribute
  | FloatsAttribute
  | IntsAttribute
  | StringsAttribute
  | TensorsAttribute
  | GraphsAttribute

/** An ONNX node: an operator applied to named inputs, with its attributes. */
export interface NodeProto {
  readonly input: readonly string[]
  readonly output: readonly string[]
  readonly name: string
  readonly opType: string
  readonly domain: string
  readonly attribute: readonly AttributeProto[]
  readonly docString?: string
}

/** An ONNX graph: its nodes, initializers, inputs and outputs. */
export interface GraphProto {
  readonly name: string
  readonly node: readonly NodeProto[]
  readonly initializer: readonly TensorProto[]
  readonly input: readonly ValueInfoProto[]
  readonly output: readonly ValueInfoProto[]
  readonly valueInfo: readonly ValueInfoProto[]
  readonly docString?: string
}

/** An ONNX model: the graph with its IR version and operator sets. */
export interface ModelProto {
  readonly irVersion: number
  readonly opsetImport: readonly OperatorSetIdProto[]
  readonly producerName: string
  readonly producerVersion: string
  readonly domain: string
  readonly modelVersion: number
  readonly docString?: string
  readonly graph: GraphProto
  readonly metadataProps: readonly StringStringEntryProto[]
}

// ---------------------------------------------------------------- builders

/** A doc string field, present only when it says something (as decoding gives it). */
export const doc = (docString: string | undefined): { docString?: string } =>
  docString === undefined || docString === '' ? {} : { docString }

/** Attribute constructors; floats are rounded to float32 here, as the wire stores them. */
export const attr = {
  float: (name: string, f: number): FloatAttribute => ({ name, type: AttributeType.FLOAT, f: Math.fround(f) }),
  int: (name: string, i: number): IntAttribute => ({ name, type: AttributeType.INT, i }),
  string: (name: string, s: string): StringAttribute => ({
    name,
    type: AttributeType.STRING,
    s: utf8Encoder.encode(s),
  }),
  tensor: (name: string, t: TensorProto): TensorAttribute => ({ name, type: AttributeType.TENSOR, t }),
  graph: (name: string, g: GraphProto): GraphAttribute => ({ name, type: AttributeType.GRAPH, g }),
  floats: (name: string, floats: readonly number[]): FloatsAttribute => ({
    name,
    type: AttributeType.FLOATS,
    floats: floats.map(Math.fround),
  }),
  ints: (name: string, ints: readonly number[]): IntsAttribute => ({ name, type: AttributeType.INTS, ints: [...ints] }),
  strings: (name: string, strings: readonly string[]): StringsAttribute => ({
    name,
    type: AttributeType.STRINGS,
    strings: strings.map((s) => utf8Encoder.encode(s)),
  }),
  tensors: (name: string, tensors: readonly TensorProto[]): TensorsAttribute => ({
    name,
    type: AttributeType.TENSORS,
    tensors: [...tensors],
  }),
  graphs: (name: string, graphs: readonly GraphProto[]): GraphsAttribute => ({
    name,
    type: AttributeType.GRAPHS,
    graphs: [...graphs],
  }),
}

/** An attribute's value in JavaScript terms: strings decoded from UTF-8. */
export function attributeValue(
  a: AttributeProto,
):
  | number
  | string
  | TensorProto
  | GraphProto
  | readonly number[]
  | readonly string[]
  | readonly TensorProto[]
  | readonly GraphProto[] {
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f
    case AttributeType.INT:
      return a.i
    case AttributeType.STRING:
      return utf8Decoder.decode(a.s)
    case AttributeType.TENSOR:
      return a.t
    case AttributeType.GRAPH:
      return a.g
    case AttributeType.FLOATS:
      return a.floats
    case AttributeType.INTS:
      return a.ints
    case AttributeType.STRINGS:
      return a.strings.map((s) => utf8Decoder.decode(s))
    case AttributeType.TENSORS:
      return a.tensors
    case AttributeType.GRAPHS:
      return a.graphs
    default:
      return a satisfies never
  }
}

export function nodeProto(
  opType: string,
  input: readonly string[],
  output: readonly string[],
  attribute: readonly AttributeProto[] = [],
  options: { readonly name?: string; readonly domain?: string; readonly docString?: string } = {},
): NodeProto {
  return {
    input: [...input],
    output: [...output],
    name: options.name ?? '',
    opType,
    domain: options.domain ?? '',
    attribute: [...attribute],
    ...doc(options.docString),
  }
}

/** A dimension from a size, a symbolic name, or null for one unknown. */
export const dimension = (d: number | string | null): TensorShapeDimension =>
  typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {}

/**
 * A graph input, output or value_info entry of tensor type, its dimensions
 * given as sizes, symbolic names ('batch') or null; no shape leaves the rank unknown.
 */
export function tensorValueInfo(
  name: string,
  elemType: number,
  shape?: readonly (number | string | null)[],
  docString?: string,
): ValueInfoProto {
  const tensorType = shape === undefined ? { elemType } : { elemType, shape: { dim: shape.map(dimension) } }
  return { name, type: { tensorType }, ...doc(docString) }
}

export function graphProto(g: {
  readonly name: string
  readonly node: readonly NodeProto[]
  readonly input: readonly ValueInfoProto[]
  readonly output: readonly ValueInfoProto[]
  readonly initializer?: readonly TensorProto[]
  readonly valueInfo?: readonly ValueInfoProto[]
  readonly docString?: string
}): GraphProto {
  return {
    name: g.name,
    node: [...g.node],
    initializer: [...(g.initializer ?? [])],
    input: [...g.input],
    output: [...g.output],
    valueInfo: [...(g.valueInfo ?? [])],
    ...doc(g.docString),
  }
}

/** A model around `graph`; by default IR version 10 importing the default domain at opset 21. */
export function modelProto(graph: GraphProto, options: Partial<Omit<ModelProto, 'graph'>> = {}): ModelProto {
  return {
    irVersion: options.irVersion ?? IR_VERSION,
    opsetImport: [...(options.opsetImport ?? [{ domain: '', version: OPSET_VERSION }])],
    producerName: options.producerName ?? '',
    producerVersion: options.producerVersion ?? '',
    domain: options.domain ?? '',
    modelVersion: options.modelVersion ?? 0,
    ...doc(options.docString),
    graph,
    metadataProps: [...(options.metadataProps ?? [])],
  }
}

// ---------------------------------------------------------------- tensor data

type NumberArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
/** What `tensorValues` gives: the typed array that fits the element type. */
export type TensorValues = NumberArray | BigInt64Array | BigUint64Array

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

interface Layout {
  readonly size: number
  readonly make: (n: number) => TensorValues
  readonly get: (v: DataView, at: number) => number | bigint
  readonly set: (v: DataView, at: number, x: number | bigint) => void
  /** The inclusive range of an integer type; undefined for floating point. */
  readonly range?: readonly [bigint, bigint]
}
const int = (bits: number, signed: boolean): readonly [bigint, bigint] =>
  signed ? [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n] : [0n, (1n << BigInt(bits)) - 1n]

/** Element layouts of the types this module reads and writes; FLOAT16/BFLOAT16 as uint16 bit patterns. */
const layouts: Partial<Record<number, Layout>> = {
  [TensorDataType.FLOAT]: {
    size: 4,
    make: (n) => new Float32Array(n),
    get: (v, at) => v.getFloat32(at, true),
    set: (v, at, x) => v.setFloat32(at, Number(x), true),
  },
  [TensorDataType.DOUBLE]: {
    size: 8,
    make: (n) => new Float64Array(n),
    get: (v, at) => v.getFloat64(at, true),
    set: (v, at, x) => v.setFloat64(at, Number(x), true),
  },
  [TensorDataType.INT32]: {
    size: 4,
    make: (n) => new Int32Array(n),
    get: (v, at) => v.getInt32(at, true),
    set: (v, at, x) => v.setInt32(at, Number(x), true),
    range: int(32, true),
  },
  [TensorDataType.INT64]: {
    size: 8,
    make: (n) => new BigInt64Array(n),
    get: (v, at) => v.getBigInt64(at, true),
    set: (v, at, x) => v.setBigInt64(at, BigInt(x), true),
    range: int(64, true),
  },
  [TensorDataType.UINT8]: {
    size: 1,
    make: (n) => new Uint8Array(n),
    get: (v, at) => v.getUint8(at),
    set: (v, at, x) => v.setUint8(at, Number(x)),
    range: int(8, false),
  },
  [TensorDataType.BOOL]: {
    size: 1,
    make: (n) => new Uint8Array(n),
    get: (v, at) => v.getUint8(at),
    set: (v, at, x) => v.setUint8(at, Number(x)),
    range: [0n, 1n],
  },
  [TensorDataType.INT8]: {
    size: 1,
    make: (n) => new Int8Array(n),
    get: (v, at) => v.getInt8(at),
    set: (v, at, x) => v.setInt8(at, Number(x)),
    range: int(8, true),
  },
  [TensorDataType.INT16]: {
    size: 2,
    make: (n) => new Int16Array(n),
    get: (v, at) => v.getInt16(at, true),
    set: (v, at, x) => v.setInt16(at, Number(x), true),
    range: int(16, true),
  },
  [TensorDataType.UINT16]: {
    size: 2,
    make: (n) => new Uint16Array(n),
    get: (v, at) => v.getUint16(at, true),
    set: (v, at, x) => v.setUint16(at, Number(x), true),
    range: int(16, false),
  },
  [TensorDataType.UINT32]: {
    size: 4,
    make: (n) => new Uint32Array(n),
    get: (v, at) => v.getUint32(at, true),
    set: (v, at, x) => v.setUint32(at, Number(x), true),
    range: int(32, false),
  },
  [TensorDataType.UINT64]: {
    size: 8,
    make: (n) => new BigUint64Array(n),
    get: (v, at) => v.getBigUint64(at, true),
    set: (v, at, x) => v.setBigUint64(at, BigInt(x), true),
    range: int(64, false),
  },
}
layouts[TensorDataType.FLOAT16] = layouts[TensorDataType.UINT16]
layouts[TensorDataType.BFLOAT16] = layouts[TensorDataType.UINT16]

/** Element types whose values live in int32_data when raw_data is not used. */
const inInt32Data: readonly number[] = [
  TensorDataType.INT32,
  TensorDataType.INT16,
  TensorDataType.INT8,
  TensorDataType.UINT16,
  TensorDataType.UINT8,
  TensorDataType.BOOL,
  TensorDataType.FLOAT16,
  TensorDataType.BFLOAT16,
]

function elementCount(where: string, dims: readonly number[]): number {
  let n = 1
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new Error(`${where}: dims must be non-negative integers, got [${dims.join(', ')}]`)
    n *= d
  }
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: dims [${dims.join(', ')}] hold too many elements`)
  return n
}

export const shownName = (t: { readonly name: string }) => (t.name === '' ? '(unnamed)' : `'${t.name}'`)

/**
 * A tensor whose elements are written to rawData, little-endian. Integer and
 * BOOL values must be integers in the type's range (BOOL: 0 or 1); INT64 and
 * UINT64 also take bigints (a BigInt64Array, say). FLOAT16 and BFLOAT16 take
 * their uint16 bit patterns.
 */
export function tensorProto(
  name: string,
  dataType: number,
  dims: readonly number[],
  values: ArrayLike<number> | ArrayLike<bigint>,
): TensorProto {
  const where = `tensorProto '${name}'`
  const layout = layouts[dataType]
  if (layout === undefined)
    throw new Error(
      `${where}: cannot write ${dataTypeName(dataType)} elements (expected one of ${Object.keys(layouts)
        .map((c) => dataTypeName(Number(c)))
        .join(', ')})`,
    )
  const n = elementCount(where, dims)
  if (values.length !== n)
    throw new Error(`${where}: dims [${dims.join(', ')}] hold ${n} elements, but ${values.length} values were given`)
  const raw = new Uint8Array(n * layout.size)
  // A typed array of the very kind holds only values of the type (BOOL aside): its bytes are the data.
  if (littleEndianHost && dataType !== TensorDataType.BOOL && values instanceof layout.make(0).constructor) {
    const v = values as TensorValues
    raw.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
    return { name, dataType, dims: [...dims], rawData: raw }
  }
  const view = new DataView(raw.buffer)
  const wide = dataType === TensorDataType.INT64 || dataType === TensorDataType.UINT64
  for (let k = 0; k < n; k++) {
    const x = values[k]
    if (typeof x === 'bigint' && !wide)
      throw new Error(`${where}: element ${k} is the bigint ${x}; bigints are for INT64 and UINT64 only`)
    const range = layout.range
    if (range !== undefined) {
      if (typeof x === 'number' && !Number.isInteger(x))
        throw new Error(`${where}: element ${k} is ${x}, not an integer as ${dataTypeName(dataType)} needs`)
      // The bounds as numbers are powers of two, exact; the upper one is exclusive.
      const inside =
        typeof x === 'number' ? x >= Number(range[0]) && x < Number(range[1] + 1n) : x >= range[0] && x <= range[1]
      if (!inside)
        throw new Error(
          `${where}: element ${k} is ${x}, outside ${dataTypeName(dataType)}'s range [${range[0]}, ${range[1]}]`,
        )
    }
    layout.set(view, k * layout.size, x)
  }
  return { name, dataType, dims: [...dims], rawData: raw }
}

/**
 * The elements of a tensor as the typed array that fits its type: Float32Array
 * (FLOAT), Float64Array (DOUBLE), Int32Array (INT32), BigInt64Array (INT64),
 * Uint8Array (UINT8, BOOL), Int8Array, Int16Array, Uint16Array (UINT16,
 * FLOAT16, BFLOAT16 bit patterns), Uint32Array, BigUint64Array; read from
 * rawData or from the typed field. A fresh copy. Throws when the data is
 * missing, external, of the wrong length, or of a type not listed.
 */
export function tensorValues(t: TensorProto): TensorValues {
  const where = `tensorValues: tensor ${shownName(t)} (${dataTypeName(t.dataType)})`
  const layout = layouts[t.dataType]
  if (layout === undefined) throw new Error(`${where}: reading ${dataTypeName(t.dataType)} elements is not supported`)
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) {
    const location = t.externalData?.find((e) => e.key === 'location')?.value
    throw new Error(`${where}: the data is in an external file (${location ?? 'no location given'}); load it first`)
  }
  const n = elementCount(where, t.dims)
  const mismatch = (field: string, count: string) =>
    new Error(`${where}: dims [${t.dims.join(', ')}] hold ${n} elements, but ${field} has ${count}`)
  if (t.rawData !== undefined) {
    if (t.rawData.length !== n * layout.size)
      throw mismatch('raw_data', `${t.rawData.length} bytes, not ${n} × ${layout.size}`)
    const out = layout.make(n)
    if (littleEndianHost) {
      new Uint8Array(out.buffer).set(t.rawData)
      return out
    }
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength)
    for (let k = 0; k < n; k++) out[k] = layout.get(view, k * layout.size) as never
    return out
  }
  const typed = (field: string, data: ArrayLike<number | bigint> | undefined): TensorValues | undefined => {
    if (data === undefined) return undefined
    if (data.length !== n) throw mismatch(field, `${data.length} elements`)
    const out = layout.make(n)
    const wide = out instanceof BigInt64Array || out instanceof BigUint64Array
    for (let k = 0; k < n; k++) {
      const x = wide ? data[k] : Number(data[k])
      out[k] = x as never
      if (layout.range !== undefined && out[k] !== x)
        throw new Error(`${where}: ${field} element ${k} is ${x}, outside ${dataTypeName(t.dataType)}'s range`)
    }
    return out
  }
  const found =
    t.dataType === TensorDataType.FLOAT
      ? typed('float_data', t.floatData)
      : t.dataType === TensorDataType.DOUBLE
        ? typed('double_data', t.doubleData)
        : t.dataType === TensorDataType.INT64
          ? typed('int64_data', t.int64Data)
          : t.dataType === TensorDataType.UINT32 || t.dataType === TensorDataType.UINT64
            ? typed('uint64_data', t.uint64Data)
            : inInt32Data.includes(t.dataType)
              ? typed('int32_data', t.int32Data)
              : undefined
  if (found !== undefined) return found
  if (n === 0) return layout.make(0)
  throw new Error(`${where}: no data (neither raw_data nor the typed field for its type is present)`)
}
