import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AttributeType,
  attr,
  attributeValue,
  decodeModel,
  decodeNode,
  decodeTensor,
  encodeModel,
  encodeNode,
  encodeTensor,
  graphProto,
  modelProto,
  nodeProto,
  TensorDataType,
  tensorProto,
  tensorValueInfo,
  tensorValues,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type TensorShapeDimension,
  type ValueInfoProto,
} from '../src/onnx/proto.ts'
import { cumsumBody, f32 } from './lib/onnx.ts'
import { assertProperty } from './lib/property.ts'

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')
const fromHex = (s: string): Uint8Array =>
  Uint8Array.from(s.split(/\s+/).filter(Boolean), (h) => Number.parseInt(h, 16))
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** The error `f` throws (failing when it throws none). */
function errorOf(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    if (e instanceof Error) return e
    throw new Error(`expected an Error, got ${String(e)}`)
  }
  throw new Error('expected an error, got none')
}

const { FLOAT, INT64, INT32, DOUBLE, BOOL, UINT8 } = TensorDataType

// ---------------------------------------------------------------- bytes by hand

describe('wire bytes computed by hand', () => {
  it('a NodeProto with one input: tag, length, UTF-8, fields in increasing number', () => {
    const relu = nodeProto('Relu', ['x'], ['y'])
    // 0a = field 1 (input), wire 2; 12 = field 2 (output); 22 = field 4 (op_type); name and domain empty, left out.
    expect(hex(encodeNode(relu))).toBe('0a 01 78 12 01 79 22 04 52 65 6c 75')
    expect(decodeNode(encodeNode(relu))).toEqual(relu)
  })

  it('an int64 attribute of −1 takes ten bytes; the type tag (field 20) takes two', () => {
    const node = nodeProto('Softmax', ['x'], ['y'], [attr.int('axis', -1)])
    // attribute: 0a 04 "axis" | 18 = field 3 (i), then 2^64 − 1 as a varint | a0 01 = field 20, 02 = INT
    const attribute = '0a 04 61 78 69 73 18 ff ff ff ff ff ff ff ff ff 01 a0 01 02'
    expect(hex(encodeNode(node))).toBe(`0a 01 78 12 01 79 22 07 53 6f 66 74 6d 61 78 2a 14 ${attribute}`)
    expect(decodeNode(encodeNode(node))).toEqual(node)
  })

  it('floats as fixed32 little-endian; ints one value per field; 300 as ac 02', () => {
    const node = nodeProto('N', [], [], [attr.float('alpha', 1.5), attr.ints('axes', [300, 0, -2])])
    const alpha = '0a 05 61 6c 70 68 61 15 00 00 c0 3f a0 01 01'
    const axes = `0a 04 61 78 65 73 40 ac 02 40 00 40 fe ff ff ff ff ff ff ff ff 01 a0 01 07`
    expect(hex(encodeNode(node))).toBe(`22 01 4e 2a 0f ${alpha} 2a 19 ${axes}`)
  })

  it('the INT64 minimum and −1 in int64_data: a packed run of two ten-byte varints', () => {
    const t: TensorProto = { name: '', dataType: INT64, dims: [2], int64Data: BigInt64Array.of(INT64_MIN, -1n) }
    // dims 2, data_type 7, field 7 wire 2 with 20 bytes: 2^63 = 80 … 80 01, 2^64 − 1 = ff … ff 01
    expect(hex(encodeTensor(t))).toBe(`08 02 10 07 3a 14 ${'80 '.repeat(9)}01 ${'ff '.repeat(9)}01`)
    expect(decodeTensor(encodeTensor(t))).toEqual(t)
  })

  it('raw_data little-endian: FLOAT 1 is 00 00 80 3f, INT64 −2 is fe ff … ff, BOOL one byte each', () => {
    expect(hex(tensorProto('f', FLOAT, [2], [1, -2]).rawData!)).toBe('00 00 80 3f 00 00 00 c0')
    expect(hex(tensorProto('i', INT64, [1], [-2]).rawData!)).toBe('fe ff ff ff ff ff ff ff')
    expect(hex(tensorProto('b', BOOL, [3], [1, 0, 1]).rawData!)).toBe('01 00 01')
    expect(hex(encodeTensor(tensorProto('d', DOUBLE, [], [0.5])))).toBe('10 0b 42 01 64 4a 08 00 00 00 00 00 00 e0 3f')
  })

  it('a model starts with ir_version 10 and writes the opset import after the graph', () => {
    const m = modelProto(graphProto({ name: 'g', node: [], input: [], output: [] }))
    // 08 0a: ir_version 10 | 3a 03 12 01 67: graph { name 'g' } | 42 02 10 15: opset_import { version 21 }
    expect(hex(encodeModel(m))).toBe('08 0a 3a 03 12 01 67 42 02 10 15')
  })

  it('reads repeated scalars packed or not, and either way gives the same dims', () => {
    const unpacked = decodeTensor(fromHex('08 02 08 03 10 01'))
    const packed = decodeTensor(fromHex('0a 02 02 03 10 01'))
    expect(unpacked.dims).toEqual([2, 3])
    expect(packed).toEqual(unpacked)
    // float_data unpacked (two fixed32 fields) and packed (one run).
    const a = decodeTensor(fromHex('25 00 00 80 3f 25 00 00 00 40'))
    const b = decodeTensor(fromHex('22 08 00 00 80 3f 00 00 00 40'))
    expect(Array.from(a.floatData!)).toEqual([1, 2])
    expect(b).toEqual(a)
  })

  it('skips unknown fields of every wire type, wherever they sit', () => {
    const plain = '0a 01 78 12 01 79 22 04 52 65 6c 75'
    const unknown = [
      'f8 06 2a', // field 111, varint
      'f1 06 01 02 03 04 05 06 07 08', // field 110, fixed64
      'ea 06 03 61 62 63', // field 109, length-delimited
      'e5 06 01 02 03 04', // field 108, fixed32
      '40 96 01', // field 8 (NodeProto.overload in newer files is a string; here a varint: skipped all the same)
    ]
    const mixed = `${unknown[0]} 0a 01 78 ${unknown[1]} 12 01 79 ${unknown[2]} 22 04 52 65 6c 75 ${unknown[3]} ${unknown[4]}`
    expect(decodeNode(fromHex(mixed))).toEqual(decodeNode(fromHex(plain)))
  })

  it('an attribute without a type (IR version 1) takes its type from the field in use', () => {
    const bytes = fromHex('0a 01 78 2a 08 0a 04 61 78 69 73 18 03') // input x; attribute { name 'axis', i 3 }
    expect(decodeNode(bytes).attribute).toEqual([attr.int('axis', 3)])
  })
})

// ---------------------------------------------------------------- round trips

/** A model exercising every attribute kind, nested graphs two deep, metadata and doc strings. */
function richModel(): ModelProto {
  const inner = graphProto({
    name: 'inner',
    node: [nodeProto('Neg', ['a'], ['b'], [attr.ints('empty', []), attr.strings('none', [])])],
    input: [tensorValueInfo('a', DOUBLE, [])],
    output: [tensorValueInfo('b', DOUBLE)],
    docString: 'a graph in a graph in a graph',
  })
  const thenBranch = graphProto({
    name: 'then',
    node: [nodeProto('Loop', ['', 'cond'], ['out'], [attr.graph('body', inner)])],
    input: [],
    output: [f32(['batch', null, 3], 'out')],
    valueInfo: [{ name: 'untyped' }, { name: 'sequence', type: {} }],
  })
  const weights = tensorProto('w', FLOAT, [2, 3], [1, 2, 3, 4, 5, 6.5])
  const nodes: NodeProto[] = [
    nodeProto(
      'Scan',
      ['init', 'xs'],
      ['final', 'ys'],
      [attr.graph('body', cumsumBody(3)), attr.int('num_scan_inputs', 1)],
    ),
    nodeProto('If', ['c'], ['z'], [attr.graph('then_branch', thenBranch), attr.graph('else_branch', cumsumBody(1))], {
      name: 'branch',
      docString: 'chooses',
    }),
    nodeProto(
      'Custom',
      ['x', '', 'y'],
      ['out'],
      [
        attr.int('neg', -1),
        attr.int('big', -(2 ** 53 - 1)),
        attr.int('zero', 0),
        attr.float('f', 0.1),
        attr.float('negzero', -0),
        attr.floats('fs', [0.5, -1e-30, Number.POSITIVE_INFINITY]),
        attr.ints('ends', [-1, Number.MAX_SAFE_INTEGER, 0]),
        attr.string('mode', 'nearest — ünïcode'),
        attr.string('empty', ''),
        attr.strings('words', ['a', '', 'ç']),
        attr.tensor('value', weights),
        attr.tensors('ts', [weights, tensorProto('i', INT64, [2], [INT64_MIN, INT64_MAX])]),
        attr.graphs('gs', [inner, cumsumBody(2)]),
      ],
      { domain: 'com.example', name: 'custom' },
    ),
  ]
  const graph = graphProto({
    name: 'main',
    node: nodes,
    input: [f32([4, 3], 'xs'), tensorValueInfo('c', BOOL, [])],
    output: [f32([3], 'final'), f32([4, 3], 'ys'), tensorValueInfo('out', INT32)],
    initializer: [
      weights,
      { name: 'typed', dataType: FLOAT, dims: [2], floatData: Float32Array.of(1.5, Number.NaN) },
      { name: 'empty', dataType: INT64, dims: [0], rawData: new Uint8Array(0) },
      { name: 'ext', dataType: FLOAT, dims: [4], externalData: [{ key: 'location', value: 'w.bin' }], dataLocation: 1 },
    ],
    docString: 'the main graph',
  })
  return modelProto(graph, {
    producerName: 'adjoint',
    producerVersion: '0.1',
    domain: 'org.example',
    modelVersion: 7,
    docString: 'rich',
    opsetImport: [
      { domain: '', version: 21 },
      { domain: 'com.example', version: 1 },
    ],
    metadataProps: [
      { key: 'author', value: 'me' },
      { key: '', value: '' },
    ],
  })
}

describe('round trips', () => {
  it('a hand-built model with nested graphs, negative ints, empty lists and metadata', () => {
    const m = richModel()
    const back = decodeModel(encodeModel(m))
    expect(back).toEqual(m)
    // and the bytes are a fixed point
    expect(hex(encodeModel(back))).toBe(hex(encodeModel(m)))
    const custom = back.graph.node[2]
    expect(custom.attribute.map(attributeValue).slice(0, 3)).toEqual([-1, -(2 ** 53 - 1), 0])
    expect(attributeValue(custom.attribute[7])).toBe('nearest — ünïcode')
    expect(Object.is((custom.attribute[4] as { f: number }).f, -0)).toBe(true)
  })

  it('tensors above the splice size, in a graph nested in an attribute, between small fields', () => {
    const big = (name: string, n: number) =>
      tensorProto(
        name,
        DOUBLE,
        [n],
        Float64Array.from({ length: n }, (_, k) => k / 3),
      )
    const inner = graphProto({
      name: 'inner',
      node: [],
      input: [],
      output: [],
      initializer: [big('a', 9000), tensorProto('s', INT32, [1], [5]), big('b', 20000)],
    })
    const m = modelProto(
      graphProto({
        name: 'outer',
        node: [nodeProto('If', ['c'], ['y'], [attr.graph('then_branch', inner), attr.tensor('t', big('c', 10000))])],
        input: [],
        output: [],
        initializer: [big('d', 8193)],
      }),
    )
    const bytes = encodeModel(m)
    expect(decodeModel(bytes)).toEqual(m)
    expect(bytes.length).toBeGreaterThan(8 * (9000 + 20000 + 10000 + 8193))
    expect(bytes.length).toBeLessThan(8 * (9000 + 20000 + 10000 + 8193) + 200)
  })

  it('a planted change is seen: the comparison is not vacuous', () => {
    const m = richModel()
    const bytes = encodeModel(m)
    // Flip the value of `neg` (−1) to −2 in the bytes: its first varint byte ff becomes fe.
    const at = hex(bytes).split(' ').join('').indexOf('0a036e656718ffffffffffffffffff01') / 2 + 6
    expect(bytes[at]).toBe(0xff)
    const planted = bytes.slice()
    planted[at] = 0xfe
    expect(decodeModel(planted)).not.toEqual(m)
    expect(attributeValue(decodeModel(planted).graph.node[2].attribute[0])).toBe(-2)
  })

  it('generated models decode to themselves', () => {
    assertProperty(
      fc.property(modelArb, (m) => {
        expect(decodeModel(encodeModel(m))).toEqual(m)
      }),
      { numRuns: 60, seed: 20260 },
    )
  })
})

// ---------------------------------------------------------------- generated models

const text = fc.string({ maxLength: 6, unit: 'grapheme' })
const docArb = fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined })
const int64Arb = fc.oneof(fc.integer({ min: -300, max: 300 }), fc.maxSafeInteger())
const float32Arb = fc.float({ noNaN: true })
const bigint64 = fc.bigInt({ min: INT64_MIN, max: INT64_MAX })
const dimArb: fc.Arbitrary<TensorShapeDimension> = fc.oneof(
  fc.nat(1000).map((dimValue) => ({ dimValue })),
  text.map((dimParam) => ({ dimParam })),
  fc.constant({}),
)
const valueInfoArb: fc.Arbitrary<ValueInfoProto> = fc.record(
  {
    name: text,
    type: fc.oneof(
      fc.constant({}),
      fc
        .record(
          { elemType: fc.integer({ min: 0, max: 23 }), shape: fc.record({ dim: fc.array(dimArb, { maxLength: 4 }) }) },
          { requiredKeys: ['elemType'] },
        )
        .map((tensorType) => ({ tensorType })),
    ),
    docString: docArb,
  },
  { requiredKeys: ['name'] },
)
const tensorArb: fc.Arbitrary<TensorProto> = fc
  .tuple(
    text,
    fc.integer({ min: 0, max: 23 }),
    fc.array(fc.nat(5), { maxLength: 3 }),
    fc.oneof(
      fc.uint8Array({ maxLength: 12 }).map((rawData) => ({ rawData })),
      fc.array(float32Arb, { maxLength: 4 }).map((v) => ({ floatData: Float32Array.from(v) })),
      fc.array(fc.integer(), { maxLength: 4 }).map((v) => ({ int32Data: Int32Array.from(v) })),
      fc.array(bigint64, { maxLength: 4 }).map((v) => ({ int64Data: BigInt64Array.from(v) })),
      fc.array(fc.double(), { maxLength: 4 }).map((v) => ({ doubleData: Float64Array.from(v) })),
      fc
        .array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 4 })
        .map((v) => ({ uint64Data: BigUint64Array.from(v) })),
      // a repeated bytes field with no element is absent on the wire
      fc.array(fc.uint8Array({ maxLength: 3 }), { minLength: 1, maxLength: 3 }).map((stringData) => ({ stringData })),
      fc.constant({ externalData: [{ key: 'location', value: 'x.bin' }], dataLocation: 1 }),
    ),
    docArb,
  )
  .map(([name, dataType, dims, data, docString]) => ({ name, dataType, dims, ...data, docString }))

const attributeArb = (graph: fc.Arbitrary<GraphProto> | null): fc.Arbitrary<AttributeProto> => {
  const leaves: fc.Arbitrary<AttributeProto>[] = [
    fc.tuple(text, float32Arb).map(([n, f]) => attr.float(n, f)),
    fc.tuple(text, int64Arb).map(([n, i]) => attr.int(n, i)),
    fc.tuple(text, fc.uint8Array({ maxLength: 5 })).map(([name, s]) => ({ name, type: AttributeType.STRING, s })),
    fc.tuple(text, tensorArb).map(([n, t]) => attr.tensor(n, t)),
    fc.tuple(text, fc.array(float32Arb, { maxLength: 3 })).map(([n, v]) => attr.floats(n, v)),
    fc.tuple(text, fc.array(int64Arb, { maxLength: 3 })).map(([n, v]) => attr.ints(n, v)),
    fc.tuple(text, fc.array(text, { maxLength: 3 })).map(([n, v]) => attr.strings(n, v)),
    fc.tuple(text, fc.array(tensorArb, { maxLength: 2 })).map(([n, v]) => attr.tensors(n, v)),
  ]
  if (graph === null) return fc.oneof(...leaves)
  return fc.oneof(
    ...leaves,
    fc.tuple(text, graph).map(([n, g]) => attr.graph(n, g)),
    fc.tuple(text, fc.array(graph, { maxLength: 2 })).map(([n, v]) => attr.graphs(n, v)),
  )
}
const graphArb = (depth: number): fc.Arbitrary<GraphProto> => {
  const attribute = attributeArb(depth > 0 ? graphArb(depth - 1) : null)
  const node: fc.Arbitrary<NodeProto> = fc
    .tuple(
      text,
      fc.array(text, { maxLength: 3 }),
      fc.array(text, { maxLength: 2 }),
      fc.array(attribute, { maxLength: 3 }),
      text,
      text,
      docArb,
    )
    .map(([op, input, output, attribute, name, domain, docString]) =>
      nodeProto(op, input, output, attribute, { name, domain, docString }),
    )
  return fc
    .tuple(
      text,
      fc.array(node, { maxLength: 3 }),
      fc.array(tensorArb, { maxLength: 2 }),
      fc.array(valueInfoArb, { maxLength: 2 }),
      fc.array(valueInfoArb, { maxLength: 2 }),
      fc.array(valueInfoArb, { maxLength: 2 }),
      docArb,
    )
    .map(([name, node, initializer, input, output, valueInfo, docString]) =>
      graphProto({ name, node, initializer, input, output, valueInfo, docString }),
    )
}
const modelArb: fc.Arbitrary<ModelProto> = fc
  .tuple(
    graphArb(2),
    fc.record({
      irVersion: int64Arb,
      opsetImport: fc.array(fc.record({ domain: text, version: int64Arb }), { maxLength: 3 }),
      producerName: text,
      producerVersion: text,
      domain: text,
      modelVersion: int64Arb,
      docString: docArb,
      metadataProps: fc.array(fc.record({ key: text, value: text }), { maxLength: 2 }),
    }),
  )
  .map(([graph, options]) => modelProto(graph, options))

// ---------------------------------------------------------------- tensors

describe('tensor data', () => {
  const cases = [
    [TensorDataType.FLOAT, [1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 3.4e38], Float32Array],
    [TensorDataType.DOUBLE, [0.1, -1e300, Number.MIN_VALUE], Float64Array],
    [TensorDataType.INT32, [-(2 ** 31), 2 ** 31 - 1, 0], Int32Array],
    [TensorDataType.INT64, [INT64_MIN, -1n, INT64_MAX], BigInt64Array],
    [TensorDataType.UINT8, [0, 255, 7], Uint8Array],
    [TensorDataType.BOOL, [1, 0, 1], Uint8Array],
    [TensorDataType.INT8, [-128, 127, 0], Int8Array],
    [TensorDataType.INT16, [-32768, 32767, 1], Int16Array],
    [TensorDataType.UINT16, [0, 65535, 2], Uint16Array],
    [TensorDataType.FLOAT16, [0x3c00, 0xfc00, 0x7e00], Uint16Array],
    [TensorDataType.UINT32, [0, 2 ** 32 - 1, 3], Uint32Array],
    [TensorDataType.UINT64, [0n, 2n ** 64n - 1n, 5n], BigUint64Array],
  ] as const
  it.each(cases)('type %i: values through raw_data, a typed array of the right kind', (type, values, kind) => {
    const t = tensorProto('t', type, [values.length], values as ArrayLike<number> | ArrayLike<bigint>)
    const back = tensorValues(decodeTensor(encodeTensor(t)))
    expect(back).toBeInstanceOf(kind)
    const given: unknown[] = Array.from(values as ArrayLike<unknown>)
    expect(Array.from(back as ArrayLike<unknown>)).toEqual(
      type === TensorDataType.FLOAT ? given.map((v) => Math.fround(Number(v))) : given,
    )
    // given as a typed array of the very kind, the same bytes
    const typed = (kind as unknown as { from: (v: unknown[]) => ArrayLike<number> }).from(given)
    expect(hex(tensorProto('t', type, [values.length], typed).rawData!)).toBe(hex(t.rawData!))
  })

  it('values in the typed fields other tools write read as from raw_data', () => {
    const viaRaw = (type: number, v: ArrayLike<number> | ArrayLike<bigint>) =>
      tensorValues(tensorProto('r', type, [v.length], v))
    const typed = (type: number, data: Partial<TensorProto>) =>
      tensorValues(decodeTensor(encodeTensor({ name: 't', dataType: type, dims: [3], ...data })))
    expect(typed(FLOAT, { floatData: Float32Array.of(1, 2.5, -3) })).toEqual(viaRaw(FLOAT, [1, 2.5, -3]))
    expect(typed(DOUBLE, { doubleData: Float64Array.of(0.1, 2, -3) })).toEqual(viaRaw(DOUBLE, [0.1, 2, -3]))
    expect(typed(INT32, { int32Data: Int32Array.of(-5, 0, 9) })).toEqual(viaRaw(INT32, [-5, 0, 9]))
    expect(typed(UINT8, { int32Data: Int32Array.of(255, 0, 9) })).toEqual(viaRaw(UINT8, [255, 0, 9]))
    expect(typed(BOOL, { int32Data: Int32Array.of(1, 0, 1) })).toEqual(viaRaw(BOOL, [1, 0, 1]))
    expect(typed(INT64, { int64Data: BigInt64Array.of(INT64_MIN, 0n, 1n) })).toEqual(viaRaw(INT64, [INT64_MIN, 0n, 1n]))
    expect(typed(TensorDataType.UINT32, { uint64Data: BigUint64Array.of(1n, 2n, 4294967295n) })).toEqual(
      viaRaw(TensorDataType.UINT32, [1, 2, 4294967295]),
    )
    expect(tensorValues({ name: 'e', dataType: FLOAT, dims: [0, 3] })).toEqual(new Float32Array(0))
  })

  it('refuses values that do not fit, and data that does not match the dims', () => {
    expect(errorOf(() => tensorProto('x', INT32, [1], [3.5])).message).toMatch(
      /tensorProto 'x': element 0 is 3.5, not an integer/,
    )
    expect(errorOf(() => tensorProto('x', UINT8, [2], [1, 256])).message).toMatch(
      /element 1 is 256, outside UINT8's range \[0, 255\]/,
    )
    expect(errorOf(() => tensorProto('x', BOOL, [1], [2])).message).toMatch(/outside BOOL's range \[0, 1\]/)
    expect(errorOf(() => tensorProto('x', BOOL, [2], Uint8Array.of(1, 2))).message).toMatch(
      /element 1 is 2, outside BOOL/,
    )
    expect(errorOf(() => tensorProto('x', INT64, [1], [2 ** 63])).message).toMatch(/outside INT64's range/)
    expect(errorOf(() => tensorProto('x', INT64, [1], [INT64_MAX + 1n])).message).toMatch(/outside INT64's range/)
    expect(errorOf(() => tensorProto('x', FLOAT, [2, 2], [1, 2, 3])).message).toMatch(
      /dims \[2, 2\] hold 4 elements, but 3 values/,
    )
    expect(errorOf(() => tensorProto('x', FLOAT, [1], [1n])).message).toMatch(/bigints are for INT64 and UINT64 only/)
    expect(errorOf(() => tensorProto('x', TensorDataType.STRING, [1], [1])).message).toMatch(
      /cannot write STRING elements/,
    )
    const short = { name: 'w', dataType: FLOAT, dims: [2, 3], rawData: new Uint8Array(20) }
    expect(errorOf(() => tensorValues(short)).message).toMatch(
      /tensor 'w' \(FLOAT\): dims \[2, 3\] hold 6 elements, but raw_data has 20 bytes, not 6 × 4/,
    )
    expect(
      errorOf(() => tensorValues({ name: 'w', dataType: UINT8, dims: [1], int32Data: Int32Array.of(300) })).message,
    ).toMatch(/int32_data element 0 is 300, outside UINT8's range/)
    expect(errorOf(() => tensorValues({ name: 'w', dataType: FLOAT, dims: [2] })).message).toMatch(/no data/)
    // dims from a corrupt file: refused before anything of their size is allocated
    const huge = { name: 'w', dataType: DOUBLE, dims: [2 ** 20, 2 ** 20], rawData: new Uint8Array(8) }
    expect(errorOf(() => tensorValues(huge)).message).toMatch(/hold 1099511627776 elements, but raw_data has 8 bytes/)
    const ext = { name: 'w', dataType: FLOAT, dims: [2], externalData: [{ key: 'location', value: 'w.bin' }] }
    expect(errorOf(() => tensorValues(ext)).message).toMatch(/external file \(w\.bin\)/)
  })
})

// ---------------------------------------------------------------- corrupt input

describe('corrupt input: a clear error naming message, field and byte offset', () => {
  it('a length prefix past the end', () => {
    // ir_version 10, then field 7 (graph) claiming 5 bytes of which 1 is there.
    expect(errorOf(() => decodeModel(fromHex('08 0a 3a 05 0a'))).message).toBe(
      'decodeModel: ModelProto.graph (field 7) at byte 3: the length 5 runs past the end of the input at byte 5 (1 left)',
    )
  })

  it('a length that runs past its enclosing message, not only past the input', () => {
    // graph of 4 bytes holding a node field that claims 9.
    const e = errorOf(() => decodeModel(fromHex('3a 04 0a 09 0a 01 00 00 00 00 00 00')))
    expect(e.message).toMatch(
      /^decodeModel: GraphProto\.node \(field 1\) at byte 3: the length 9 runs past the end of the enclosing message at byte 6/,
    )
  })

  it('a wrong wire type for a known field', () => {
    expect(errorOf(() => decodeModel(fromHex('0a 00'))).message).toBe(
      'decodeModel: ModelProto.ir_version (field 1) at byte 0: expected wire type 0 (varint), got 2 (length-delimited)',
    )
    // op_type (field 4) given as a varint, inside graph → node: the offset is absolute.
    const nested = encodeModel(modelProto(graphProto({ name: '', node: [], input: [], output: [] })))
    const bad = fromHex(`${hex(nested.subarray(0, 2))} 3a 04 0a 02 20 01`)
    expect(errorOf(() => decodeModel(bad)).message).toBe(
      'decodeModel: NodeProto.op_type (field 4) at byte 6: expected wire type 2 (length-delimited), got 0 (varint)',
    )
    expect(errorOf(() => decodeTensor(fromHex('15 00 00 00 00'))).message).toMatch(
      /TensorProto\.data_type \(field 2\) at byte 0: expected wire type 0 \(varint\), got 5 \(fixed32\)/,
    )
  })

  it('truncated bytes: every prefix either decodes (cut between top-level fields) or throws a decodeModel error', () => {
    const bytes = encodeModel(richModel())
    let threw = 0
    for (let k = 0; k < bytes.length; k++) {
      try {
        decodeModel(bytes.subarray(0, k))
      } catch (e) {
        expect(e).toBeInstanceOf(Error)
        expect((e as Error).message).toMatch(/^decodeModel: \S+.* at byte \d+: /)
        threw++
      }
    }
    // only a cut between two top-level fields leaves a valid (shorter) model
    expect(bytes.length - threw).toBeLessThan(20)
    expect(errorOf(() => decodeModel(fromHex('08'))).message).toBe(
      'decodeModel: ModelProto.ir_version (field 1) at byte 1: the varint is cut off by the end of the input at byte 1',
    )
  })

  it('a varint longer than ten bytes, a zero field number, a group wire type', () => {
    expect(errorOf(() => decodeModel(fromHex(`08 ${'ff '.repeat(10)}01`))).message).toMatch(
      /ModelProto\.ir_version \(field 1\) at byte 1: the varint runs past 10 bytes/,
    )
    expect(errorOf(() => decodeModel(fromHex('00 01'))).message).toMatch(
      /ModelProto field tag at byte 0: invalid tag 0/,
    )
    expect(errorOf(() => decodeModel(fromHex('0b'))).message).toMatch(
      /ModelProto field 1 at byte 0: wire type 3 \(group start\)/,
    )
  })

  it('an int64 a number cannot hold exactly, on decoding and on encoding', () => {
    // attribute { name 'i', i = 2^63 − 1, type INT }
    const bytes = fromHex(`2a 10 0a 01 69 18 ${'ff '.repeat(8)}7f a0 01 02`)
    expect(errorOf(() => decodeNode(bytes)).message).toBe(
      'decodeNode: AttributeProto.i (field 3) at byte 6: the int64 9223372036854775807 is beyond ±(2^53 − 1), which a number cannot hold exactly',
    )
    const big = nodeProto('N', [], [], [attr.ints('axes', [0, 2 ** 53])])
    expect(errorOf(() => encodeNode(big)).message).toMatch(
      /AttributeProto 'axes' ints\[1\] must be an integer within ±\(2\^53 − 1\)/,
    )
    const fractional = graphProto({ name: '', node: [], input: [f32([1.5], 'x')], output: [] })
    expect(errorOf(() => encodeModel(modelProto(fractional))).message).toMatch(
      /ValueInfoProto 'x' shape\.dim\[0\]\.dim_value/,
    )
  })

  it('messages nested past 100 deep are refused before the stack runs out', () => {
    let g = graphProto({ name: 'leaf', node: [], input: [], output: [] })
    for (let k = 0; k < 40; k++)
      g = graphProto({
        name: `g${k}`,
        node: [nodeProto('If', [], [], [attr.graph('then_branch', g)])],
        input: [],
        output: [],
      })
    expect(errorOf(() => decodeModel(encodeModel(modelProto(g)))).message).toMatch(/messages nest more than 100 deep/)
  })

  it('random corruption gives a decoded model or a decodeModel error, never a hang or another kind of failure', () => {
    const bytes = encodeModel(richModel())
    assertProperty(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const b = bytes.slice()
          for (const [at, v] of edits) b[at] = v
          try {
            decodeModel(b)
          } catch (e) {
            expect((e as Error).message).toMatch(/^decodeModel: /)
          }
        },
      ),
      { numRuns: 300, seed: 4242 },
    )
  })
})
