/**
 * ONNX model files in and out: `encodeModel` turns a ModelProto (schema.ts)
 * into the protobuf bytes of an .onnx file, `decodeModel` reads one back;
 * the wire format itself is in wire.ts.
 *
 * Writing follows the reference serializer: fields in increasing number;
 * `dims` and attribute `ints`/`floats` one value per field (proto2 without
 * [packed]); the `*_data` fields of TensorProto packed. Empty strings and a
 * zero model_version are left out; an attribute's value, a dimension's value,
 * a shape and a tensor's data fields are written whenever present.
 *
 * Laws:
 *  - round trip: `decodeModel(encodeModel(m))` equals `m` for a model built
 *    with the constructors of schema.ts (which round floats to float32 as the
 *    wire does, and leave out empty doc strings as decoding does);
 *  - fields this module does not model are skipped by their wire type, so
 *    files written by other tools load; what is skipped is not written back;
 *  - decoding corrupt bytes throws an Error naming the message, the field and
 *    the byte offset (wire.ts); it never loops or allocates beyond the input.
 */
import {
  AttributeType,
  attributeTypeName,
  doc,
  graphProto,
  shownName,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type StringStringEntryProto,
  type TensorProto,
  type TensorShapeDimension,
  type TensorShapeProto,
  type TensorTypeProto,
  type TypeProto,
  type ValueInfoProto,
} from './schema.ts'
import { ProtoReader, ProtoWriter } from './wire.ts'

export {
  AttributeType,
  TensorDataType,
  IR_VERSION,
  OPSET_VERSION,
  attr,
  attributeTypeName,
  attributeValue,
  dataTypeName,
  dimension,
  graphProto,
  modelProto,
  nodeProto,
  tensorProto,
  tensorValueInfo,
  tensorValues,
  type AttributeProto,
  type FloatAttribute,
  type FloatsAttribute,
  type GraphAttribute,
  type GraphProto,
  type GraphsAttribute,
  type IntAttribute,
  type IntsAttribute,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type StringAttribute,
  type StringsAttribute,
  type StringStringEntryProto,
  type TensorAttribute,
  type TensorProto,
  type TensorShapeDimension,
  type TensorShapeProto,
  type TensorsAttribute,
  type TensorTypeProto,
  type TensorValues,
  type TypeProto,
  type ValueInfoProto,
} from './schema.ts'

// ---------------------------------------------------------------- writing

function writeEntry(w: ProtoWriter, e: StringStringEntryProto): void {
  w.optionalString(1, e.key)
  w.optionalString(2, e.value)
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  const label = `TensorProto ${shownName(t)}`
  t.dims.forEach((d, k) => w.int64(1, d, `${label} dims[${k}]`))
  w.int32(2, t.dataType, `${label} data_type`)
  const { floatData, int32Data, int64Data, doubleData, uint64Data } = t
  if (floatData !== undefined) w.packed(4, floatData.length, 4, (v, k) => v.setFloat32(k * 4, floatData[k], true))
  if (int32Data !== undefined)
    w.message(5, (p) => int32Data.forEach((x, k) => p.int32Value(x, `${label} int32_data[${k}]`)))
  for (const s of t.stringData ?? []) w.bytes(6, s)
  if (int64Data !== undefined) w.message(7, (p) => int64Data.forEach((x) => p.bigintValue(x)))
  w.optionalString(8, t.name)
  if (t.rawData !== undefined) w.bytes(9, t.rawData)
  if (doubleData !== undefined) w.packed(10, doubleData.length, 8, (v, k) => v.setFloat64(k * 8, doubleData[k], true))
  if (uint64Data !== undefined) w.message(11, (p) => uint64Data.forEach((x) => p.bigintValue(x)))
  w.optionalString(12, t.docString)
  for (const e of t.externalData ?? []) w.message(13, (m) => writeEntry(m, e))
  if (t.dataLocation !== undefined) w.int32(14, t.dataLocation, `${label} data_location`)
}

function writeShape(w: ProtoWriter, shape: TensorShapeProto, label: string): void {
  shape.dim.forEach((d, k) =>
    w.message(1, (m) => {
      if ('dimValue' in d) m.int64(1, d.dimValue, `${label} shape.dim[${k}].dim_value`)
      else if ('dimParam' in d) m.string(2, d.dimParam)
    }),
  )
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  const label = `ValueInfoProto '${v.name}'`
  w.optionalString(1, v.name)
  const tensorType = v.type?.tensorType
  if (v.type !== undefined)
    w.message(2, (type) => {
      if (tensorType !== undefined)
        type.message(1, (m) => {
          m.int32(1, tensorType.elemType, `${label} elem_type`)
          const shape = tensorType.shape
          if (shape !== undefined) m.message(2, (s) => writeShape(s, shape, label))
        })
    })
  w.optionalString(3, v.docString)
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  const label = `AttributeProto '${a.name}'`
  w.optionalString(1, a.name)
  switch (a.type) {
    case AttributeType.FLOAT:
      w.float(2, a.f)
      break
    case AttributeType.INT:
      w.int64(3, a.i, `${label} i`)
      break
    case AttributeType.STRING:
      w.bytes(4, a.s)
      break
    case AttributeType.TENSOR:
      w.message(5, (m) => writeTensor(m, a.t))
      break
    case AttributeType.GRAPH:
      w.message(6, (m) => writeGraph(m, a.g))
      break
    case AttributeType.FLOATS:
      for (const f of a.floats) w.float(7, f)
      break
    case AttributeType.INTS:
      a.ints.forEach((i, k) => w.int64(8, i, `${label} ints[${k}]`))
      break
    case AttributeType.STRINGS:
      for (const s of a.strings) w.bytes(9, s)
      break
    case AttributeType.TENSORS:
      for (const t of a.tensors) w.message(10, (m) => writeTensor(m, t))
      break
    case AttributeType.GRAPHS:
      for (const g of a.graphs) w.message(11, (m) => writeGraph(m, g))
      break
    default: {
      const type: unknown = (a satisfies never as { type: unknown }).type
      throw new Error(
        `encode: ${label} has type ${String(type)}, expected one of FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS (AttributeType)`,
      )
    }
  }
  w.int32(20, a.type, `${label} type`)
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const s of n.input) w.string(1, s)
  for (const s of n.output) w.string(2, s)
  w.optionalString(3, n.name)
  w.optionalString(4, n.opType)
  for (const a of n.attribute) w.message(5, (m) => writeAttribute(m, a))
  w.optionalString(6, n.docString)
  w.optionalString(7, n.domain)
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.node) w.message(1, (m) => writeNode(m, n))
  w.optionalString(2, g.name)
  for (const t of g.initializer) w.message(5, (m) => writeTensor(m, t))
  w.optionalString(10, g.docString)
  for (const v of g.input) w.message(11, (m) => writeValueInfo(m, v))
  for (const v of g.output) w.message(12, (m) => writeValueInfo(m, v))
  for (const v of g.valueInfo) w.message(13, (m) => writeValueInfo(m, v))
}

function writeModel(w: ProtoWriter, model: ModelProto): void {
  w.int64(1, model.irVersion, 'ModelProto ir_version')
  w.optionalString(2, model.producerName)
  w.optionalString(3, model.producerVersion)
  w.optionalString(4, model.domain)
  if (model.modelVersion !== 0) w.int64(5, model.modelVersion, 'ModelProto model_version')
  w.optionalString(6, model.docString)
  w.message(7, (m) => writeGraph(m, model.graph))
  for (const o of model.opsetImport)
    w.message(8, (m) => {
      m.optionalString(1, o.domain)
      m.int64(2, o.version, `OperatorSetIdProto '${o.domain}' version`)
    })
  for (const e of model.metadataProps) w.message(14, (m) => writeEntry(m, e))
}

const encoder =
  <T>(write: (w: ProtoWriter, x: T) => void) =>
  (x: T): Uint8Array => {
    const w = new ProtoWriter()
    write(w, x)
    return w.finish()
  }

/** The bytes of an .onnx file. Throws naming the field of an int64 that is not an integer within ±(2^53 − 1). */
export const encodeModel: (m: ModelProto) => Uint8Array = encoder(writeModel)
/** The bytes of one TensorProto (the form of ONNX's .pb test data). */
export const encodeTensor: (t: TensorProto) => Uint8Array = encoder(writeTensor)
/** The bytes of one NodeProto: the smallest unit to check the wire format on. */
export const encodeNode: (n: NodeProto) => Uint8Array = encoder(writeNode)

// ---------------------------------------------------------------- reading

function readEntry(r: ProtoReader): StringStringEntryProto {
  let key = ''
  let value = ''
  r.fields('StringStringEntryProto', (f) => {
    if (f.number === 1) key = r.string(f, 'key')
    else if (f.number === 2) value = r.string(f, 'value')
    else r.skip(f)
  })
  return { key, value }
}

function readTensor(r: ProtoReader): TensorProto {
  const dims: number[] = []
  let dataType = 0
  let name = ''
  let docString = ''
  let rawData: Uint8Array | undefined
  let floats: number[] | undefined
  let int32s: number[] | undefined
  let int64s: bigint[] | undefined
  let doubles: number[] | undefined
  let uint64s: bigint[] | undefined
  let strings: Uint8Array[] | undefined
  let externalData: StringStringEntryProto[] | undefined
  let dataLocation: number | undefined
  r.fields('TensorProto', (f) => {
    const n = f.number
    if (n === 1) r.int64s(f, 'dims', dims)
    else if (n === 2) dataType = r.int32(f, 'data_type')
    else if (n === 4) r.fixed(f, 'float_data', (floats ??= []), 4)
    else if (n === 5) r.int32s(f, 'int32_data', (int32s ??= []))
    else if (n === 6) (strings ??= []).push(r.bytes(f, 'string_data'))
    else if (n === 7) r.bigints(f, 'int64_data', (int64s ??= []), true)
    else if (n === 8) name = r.string(f, 'name')
    else if (n === 9) rawData = r.bytes(f, 'raw_data')
    else if (n === 10) r.fixed(f, 'double_data', (doubles ??= []), 8)
    else if (n === 11) r.bigints(f, 'uint64_data', (uint64s ??= []), false)
    else if (n === 12) docString = r.string(f, 'doc_string')
    else if (n === 13) (externalData ??= []).push(r.message(f, 'external_data', () => readEntry(r)))
    else if (n === 14) dataLocation = r.int32(f, 'data_location')
    else r.skip(f)
  })
  return {
    name,
    dataType,
    dims,
    ...(rawData !== undefined && { rawData }),
    ...(floats !== undefined && { floatData: Float32Array.from(floats) }),
    ...(int32s !== undefined && { int32Data: Int32Array.from(int32s) }),
    ...(int64s !== undefined && { int64Data: BigInt64Array.from(int64s) }),
    ...(doubles !== undefined && { doubleData: Float64Array.from(doubles) }),
    ...(uint64s !== undefined && { uint64Data: BigUint64Array.from(uint64s) }),
    ...(strings !== undefined && { stringData: strings }),
    ...(externalData !== undefined && { externalData }),
    ...(dataLocation !== undefined && { dataLocation }),
    ...doc(docString),
  }
}

function readShape(r: ProtoReader): TensorShapeProto {
  const dim: TensorShapeDimension[] = []
  r.fields('TensorShapeProto', (f) => {
    if (f.number !== 1) return r.skip(f)
    let d: TensorShapeDimension = {}
    r.message(f, 'dim', () =>
      r.fields('TensorShapeProto.Dimension', (g) => {
        if (g.number === 1) d = { dimValue: r.int64(g, 'dim_value') }
        else if (g.number === 2) d = { dimParam: r.string(g, 'dim_param') }
        else r.skip(g)
      }),
    )
    dim.push(d)
  })
  return { dim }
}

function readType(r: ProtoReader): TypeProto {
  let tensorType: TensorTypeProto | undefined
  r.fields('TypeProto', (f) => {
    if (f.number !== 1) return r.skip(f)
    let elemType = 0
    let shape: TensorShapeProto | undefined
    r.message(f, 'tensor_type', () =>
      r.fields('TypeProto.Tensor', (g) => {
        if (g.number === 1) elemType = r.int32(g, 'elem_type')
        else if (g.number === 2) shape = r.message(g, 'shape', () => readShape(r))
        else r.skip(g)
      }),
    )
    tensorType = shape === undefined ? { elemType } : { elemType, shape }
  })
  return tensorType === undefined ? {} : { tensorType }
}

function readValueInfo(r: ProtoReader): ValueInfoProto {
  let name = ''
  let type: TypeProto | undefined
  let docString = ''
  r.fields('ValueInfoProto', (f) => {
    if (f.number === 1) name = r.string(f, 'name')
    else if (f.number === 2) type = r.message(f, 'type', () => readType(r))
    else if (f.number === 3) docString = r.string(f, 'doc_string')
    else r.skip(f)
  })
  return { name, ...(type !== undefined && { type }), ...doc(docString) }
}

function readAttribute(r: ProtoReader): AttributeProto {
  const start = r.pos
  let name = ''
  let type: number = AttributeType.UNDEFINED
  let f32: number | undefined
  let i: number | undefined
  let s: Uint8Array | undefined
  let t: TensorProto | undefined
  let g: GraphProto | undefined
  const floats: number[] = []
  const ints: number[] = []
  const strings: Uint8Array[] = []
  const tensors: TensorProto[] = []
  const graphs: GraphProto[] = []
  r.fields('AttributeProto', (f) => {
    const n = f.number
    if (n === 1) name = r.string(f, 'name')
    else if (n === 2) f32 = r.float(f, 'f')
    else if (n === 3) i = r.int64(f, 'i')
    else if (n === 4) s = r.bytes(f, 's')
    else if (n === 5) t = r.message(f, 't', () => readTensor(r))
    else if (n === 6) g = r.message(f, 'g', () => readGraph(r))
    else if (n === 7) r.fixed(f, 'floats', floats, 4)
    else if (n === 8) r.int64s(f, 'ints', ints)
    else if (n === 9) strings.push(r.bytes(f, 'strings'))
    else if (n === 10) tensors.push(r.message(f, 'tensors', () => readTensor(r)))
    else if (n === 11) graphs.push(r.message(f, 'graphs', () => readGraph(r)))
    else if (n === 20) type = r.int32(f, 'type')
    else r.skip(f)
  })
  // Files of IR version 1 carry no type: the field in use says it.
  if (type === AttributeType.UNDEFINED) {
    const present: readonly [boolean, AttributeType][] = [
      [f32 !== undefined, AttributeType.FLOAT],
      [i !== undefined, AttributeType.INT],
      [s !== undefined, AttributeType.STRING],
      [t !== undefined, AttributeType.TENSOR],
      [g !== undefined, AttributeType.GRAPH],
      [floats.length > 0, AttributeType.FLOATS],
      [ints.length > 0, AttributeType.INTS],
      [strings.length > 0, AttributeType.STRINGS],
      [tensors.length > 0, AttributeType.TENSORS],
      [graphs.length > 0, AttributeType.GRAPHS],
    ]
    type = present.find(([here]) => here)?.[1] ?? AttributeType.UNDEFINED
  }
  const where = `AttributeProto '${name}'`
  const missing = (field: string): never =>
    r.fail(where, start, `the type is ${attributeTypeName(type)} but the field ${field} is absent`)
  switch (type) {
    case AttributeType.FLOAT:
      return { name, type: AttributeType.FLOAT, f: f32 ?? 0 }
    case AttributeType.INT:
      return { name, type: AttributeType.INT, i: i ?? 0 }
    case AttributeType.STRING:
      return { name, type: AttributeType.STRING, s: s ?? new Uint8Array(0) }
    case AttributeType.TENSOR:
      return { name, type: AttributeType.TENSOR, t: t ?? missing('t') }
    case AttributeType.GRAPH:
      return { name, type: AttributeType.GRAPH, g: g ?? missing('g') }
    case AttributeType.FLOATS:
      return { name, type: AttributeType.FLOATS, floats }
    case AttributeType.INTS:
      return { name, type: AttributeType.INTS, ints }
    case AttributeType.STRINGS:
      return { name, type: AttributeType.STRINGS, strings }
    case AttributeType.TENSORS:
      return { name, type: AttributeType.TENSORS, tensors }
    case AttributeType.GRAPHS:
      return { name, type: AttributeType.GRAPHS, graphs }
    default:
      return r.fail(
        where,
        start,
        `attribute type ${attributeTypeName(type)} is not supported (expected FLOAT, INT, STRING, TENSOR, GRAPH or a list of one of them)`,
      )
  }
}

function readNode(r: ProtoReader): NodeProto {
  const input: string[] = []
  const output: string[] = []
  const attribute: AttributeProto[] = []
  let name = ''
  let opType = ''
  let domain = ''
  let docString = ''
  r.fields('NodeProto', (f) => {
    const n = f.number
    if (n === 1) input.push(r.string(f, 'input'))
    else if (n === 2) output.push(r.string(f, 'output'))
    else if (n === 3) name = r.string(f, 'name')
    else if (n === 4) opType = r.string(f, 'op_type')
    else if (n === 5) attribute.push(r.message(f, 'attribute', () => readAttribute(r)))
    else if (n === 6) docString = r.string(f, 'doc_string')
    else if (n === 7) domain = r.string(f, 'domain')
    else r.skip(f)
  })
  return { input, output, name, opType, domain, attribute, ...doc(docString) }
}

function readGraph(r: ProtoReader): GraphProto {
  const node: NodeProto[] = []
  const initializer: TensorProto[] = []
  const input: ValueInfoProto[] = []
  const output: ValueInfoProto[] = []
  const valueInfo: ValueInfoProto[] = []
  let name = ''
  let docString = ''
  r.fields('GraphProto', (f) => {
    const n = f.number
    if (n === 1) node.push(r.message(f, 'node', () => readNode(r)))
    else if (n === 2) name = r.string(f, 'name')
    else if (n === 5) initializer.push(r.message(f, 'initializer', () => readTensor(r)))
    else if (n === 10) docString = r.string(f, 'doc_string')
    else if (n === 11) input.push(r.message(f, 'input', () => readValueInfo(r)))
    else if (n === 12) output.push(r.message(f, 'output', () => readValueInfo(r)))
    else if (n === 13) valueInfo.push(r.message(f, 'value_info', () => readValueInfo(r)))
    else r.skip(f)
  })
  return { name, node, initializer, input, output, valueInfo, ...doc(docString) }
}

function readOpset(r: ProtoReader): OperatorSetIdProto {
  let domain = ''
  let version = 0
  r.fields('OperatorSetIdProto', (f) => {
    if (f.number === 1) domain = r.string(f, 'domain')
    else if (f.number === 2) version = r.int64(f, 'version')
    else r.skip(f)
  })
  return { domain, version }
}

function readModel(r: ProtoReader): ModelProto {
  const opsetImport: OperatorSetIdProto[] = []
  const metadataProps: StringStringEntryProto[] = []
  let irVersion = 0
  let producerName = ''
  let producerVersion = ''
  let domain = ''
  let modelVersion = 0
  let docString = ''
  let graph: GraphProto | undefined
  r.fields('ModelProto', (f) => {
    const n = f.number
    if (n === 1) irVersion = r.int64(f, 'ir_version')
    else if (n === 2) producerName = r.string(f, 'producer_name')
    else if (n === 3) producerVersion = r.string(f, 'producer_version')
    else if (n === 4) domain = r.string(f, 'domain')
    else if (n === 5) modelVersion = r.int64(f, 'model_version')
    else if (n === 6) docString = r.string(f, 'doc_string')
    else if (n === 7) graph = r.message(f, 'graph', () => readGraph(r))
    else if (n === 8) opsetImport.push(r.message(f, 'opset_import', () => readOpset(r)))
    else if (n === 14) metadataProps.push(r.message(f, 'metadata_props', () => readEntry(r)))
    else r.skip(f)
  })
  return {
    irVersion,
    opsetImport,
    producerName,
    producerVersion,
    domain,
    modelVersion,
    ...doc(docString),
    graph: graph ?? graphProto({ name: '', node: [], input: [], output: [] }),
    metadataProps,
  }
}

const decoder =
  <T>(entry: string, read: (r: ProtoReader) => T) =>
  (bytes: Uint8Array): T =>
    read(new ProtoReader(bytes, entry))

/**
 * A model from the bytes of an .onnx file. What this module does not model
 * (training info, local functions, sparse initializers, quantization
 * annotations, metadata of nodes and graphs, non-tensor types) is skipped.
 * Throws on corrupt input, naming the message, the field and the byte offset.
 */
export const decodeModel: (bytes: Uint8Array) => ModelProto = decoder('decodeModel', readModel)
/** One TensorProto from its bytes. */
export const decodeTensor: (bytes: Uint8Array) => TensorProto = decoder('decodeTensor', readTensor)
/** One NodeProto from its bytes. */
export const decodeNode: (bytes: Uint8Array) => NodeProto = decoder('decodeNode', readNode)
