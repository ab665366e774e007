/**
 * Models built by hand with operators that adjoint's exporter does not
 * write (Gemm, Conv in NCHW, BatchNormalization, pooling, LSTM, GRU, RNN,
 * Loops and Ifs as other tools write them, shape arithmetic, the indexing
 * operators), imported and run by adjoint, against ONNX Runtime running the
 * same bytes: the independent reference. The gradients of the imported
 * models (in f64) agree with central differences of their values, and a
 * model with its LSTM gate blocks swapped (a planted bug) does not agree
 * with ONNX Runtime.
 */
import { describe, expect, it } from 'vitest'
import { grad, jvp, ops, random, scan, tensor, vmap, type Tensor } from '../src/index.ts'
import { gru } from '../src/recurrent/index.ts'
import { loadOnnxRuntime } from '../src/onnx/backend.ts'
import { type ImportedModel, importModel } from '../src/onnx/import.ts'
import {
  attr,
  encodeModel,
  graphProto,
  type ModelProto,
  modelProto,
  type NodeProto,
  nodeProto,
  TensorDataType,
  type TensorProto,
  tensorProto,
  tensorValueInfo,
  type ValueInfoProto,
} from '../src/onnx/proto.ts'
import { expectClose, firstFar, ofLargest } from './lib/close.ts'

const ort = await loadOnnxRuntime().catch(() => null)
const { FLOAT, INT64, BOOL } = TensorDataType

let seed = 100
/** A FLOAT initializer of normal values times `scale` (drawn from a fresh key each time). */
const weights = (name: string, dims: number[], scale = 0.5, shift = 0): TensorProto =>
  tensorProto(
    name,
    FLOAT,
    dims,
    Float32Array.from(random.normal(random.key(++seed), dims).dataSync(), (v) => v * scale + shift),
  )
const int64s = (name: string, values: number[], dims = [values.length]): TensorProto =>
  tensorProto(name, INT64, dims, BigInt64Array.from(values, BigInt))
const f32 = (name: string, shape: (number | string)[]) => tensorValueInfo(name, FLOAT, shape)
const build = (
  name: string,
  node: NodeProto[],
  input: ValueInfoProto[],
  output: ValueInfoProto[],
  initializer: TensorProto[] = [],
): ModelProto => modelProto(graphProto({ name, node, input, output, initializer }))
const normal = (shape: number[], s = 1) => ops.mul(random.normal(random.key(++seed), shape), s) as Tensor

/** ONNX Runtime's outputs for the model's inputs (i32 tensors fed as INT64 where the model says so). */
async function onOrt(model: ModelProto, inputs: readonly Tensor[]): Promise<Float64Array[]> {
  const o = ort!
  const session = await o.InferenceSession.create(encodeModel(model))
  const feeds: Record<string, unknown> = {}
  const initializers = new Set(model.graph.initializer.map((t) => t.name))
  model.graph.input
    .filter((v) => !initializers.has(v.name))
    .forEach((v, k) => {
      const x = inputs[k]
      const type = v.type?.tensorType?.elemType
      feeds[v.name] =
        type === INT64
          ? new o.Tensor('int64', BigInt64Array.from(x.dataSync(), BigInt) as never, [...x.shape])
          : type === BOOL
            ? new o.Tensor('bool', x.dataSync(), [...x.shape])
            : new o.Tensor('float32', x.dataSync(), [...x.shape])
    })
  const out = (await session.run(feeds as never)) as Record<string, { data: ArrayLike<number | bigint> }>
  await session.release?.()
  return model.graph.output.map((v) => Float64Array.from(out[v.name].data as ArrayLike<number>, Number))
}

/** adjoint's outputs of the imported model, as a list. */
const outputsOf = (m: ImportedModel, inputs: readonly Tensor[], params = m.params): Tensor[] =>
  [m.apply(params, ...inputs)].flat()

async function expectSameAsOrt(model: ModelProto, inputs: readonly Tensor[], rtol = 2e-5): Promise<Tensor[]> {
  const got = outputsOf(importModel(model), inputs)
  const want = await onOrt(model, inputs)
  expect(got.length).toBe(want.length)
  got.forEach((g, k) => expectClose(g.dataSync(), want[k], ofLargest(rtol), `output ${model.graph.output[k].name}`))
  return got
}

/**
 * The gradient of Σₖ ⟨wₖ, outputₖ⟩ in the model's parameters, imported in
 * f64, against central differences in a random direction v:
 * ⟨∇L, v⟩ = (L(p + hv) − L(p − hv)) / 2h + O(h²).
 */
function expectGradientMatchesDifferences(
  model: ModelProto,
  inputs: readonly Tensor[],
  only?: readonly number[],
): void {
  const m = importModel(model, { floatDType: 'f64' })
  const xs = inputs.map((x) => (x.dtype === 'f32' ? ops.astype(x, 'f64') : x))
  const floats = outputsOf(m, xs).map((y, k) => y.dtype === 'f64' && (only === undefined || only.includes(k)))
  const probes = outputsOf(m, xs).map((y) => random.normal(random.key(++seed), [...y.shape], { dtype: 'f64' }))
  const loss = (p: Record<string, Tensor>) =>
    outputsOf(m, xs, p)
      .filter((_, k) => floats[k])
      .reduce(
        (s: Tensor, y, k) =>
          ops.add(s as never, ops.sum(ops.mul(y as never, probes.filter((_, j) => floats[j])[k] as never))),
        tensor(0, { dtype: 'f64' }),
      )
  const g = grad(loss)(m.params as Record<string, Tensor>)
  const names = Object.keys(m.params)
  expect(names.length).toBeGreaterThan(0)
  const v = Object.fromEntries(
    names.map((n) => [n, random.normal(random.key(++seed), [...m.params[n].shape], { dtype: 'f64' })]),
  )
  const h = 1e-5
  const shifted = (s: number) =>
    loss(Object.fromEntries(names.map((n) => [n, ops.add(m.params[n] as never, ops.mul(v[n] as never, s * h))]))).item()
  const numeric = (shifted(1) - shifted(-1)) / (2 * h)
  const analytic = names.reduce((s, n) => s + ops.sum(ops.mul(g[n] as never, v[n] as never)).item(), 0)
  expect(Math.abs(numeric - analytic)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(analytic)))
}

// ---------------------------------------------------------------- models

const gemmSoftmax = build(
  'gemm_softmax',
  [
    nodeProto('Gemm', ['x', 'w1', 'b1'], ['h'], [attr.int('transB', 1)]),
    nodeProto('Relu', ['h'], ['r']),
    nodeProto('Gemm', ['r', 'w2', 'b2'], ['z'], [attr.float('alpha', 0.5), attr.float('beta', 2)]),
    nodeProto('Softmax', ['z'], ['y'], [attr.int('axis', 1)]),
  ],
  [f32('x', ['batch', 4])],
  [f32('y', ['batch', 3])],
  [weights('w1', [6, 4]), weights('b1', [6], 0.1), weights('w2', [6, 3]), weights('b2', [3], 0.1)],
)

const convNet = build(
  'conv_bn_pool',
  [
    nodeProto('Conv', ['x', 'cw', 'cb'], ['c'], [attr.ints('pads', [1, 0, 1, 2]), attr.ints('strides', [2, 1])]),
    nodeProto('BatchNormalization', ['c', 'scale', 'shift', 'mean', 'var'], ['n'], [attr.float('epsilon', 1e-3)]),
    nodeProto('Relu', ['n'], ['r']),
    nodeProto('MaxPool', ['r'], ['p'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
    nodeProto('Flatten', ['p'], ['f']),
    nodeProto('Gemm', ['f', 'dw', 'db'], ['y'], [attr.int('transB', 1)]),
  ],
  [f32('x', [2, 2, 7, 7])],
  [f32('y', [2, 5])],
  [
    weights('cw', [4, 2, 3, 3]),
    weights('cb', [4], 0.1),
    weights('scale', [4], 0.2, 1),
    weights('shift', [4], 0.1),
    weights('mean', [4], 0.1),
    weights('var', [4], 0.1, 1),
    weights('dw', [5, 24], 0.3),
    weights('db', [5], 0.1),
  ],
)

/** Grouped dilated convolution, SAME_LOWER with strides, average pooling that counts its padding, max pooling in ceil mode, 1-D conv. */
const convVariants = build(
  'conv_variants',
  [
    nodeProto(
      'Conv',
      ['x', 'gw'],
      ['g'],
      [attr.int('group', 2), attr.ints('dilations', [2, 1]), attr.ints('pads', [2, 1, 2, 1])],
    ),
    nodeProto('Conv', ['x', 'sw'], ['same'], [attr.string('auto_pad', 'SAME_LOWER'), attr.ints('strides', [2, 2])]),
    nodeProto(
      'AveragePool',
      ['g'],
      ['a'],
      [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1]), attr.int('count_include_pad', 1)],
    ),
    nodeProto(
      'MaxPool',
      ['g'],
      ['m'],
      [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2]), attr.int('ceil_mode', 1)],
    ),
    nodeProto('GlobalAveragePool', ['m'], ['gap']),
    nodeProto('Reshape', ['x', 'flat'], ['x1']),
    nodeProto('Conv', ['x1', 'w1d'], ['c1'], [attr.ints('pads', [2, 1]), attr.ints('strides', [3])]),
  ],
  [f32('x', [1, 4, 5, 5])],
  [
    f32('a', [1, 6, 5, 5]),
    f32('m', [1, 6, 3, 3]),
    f32('gap', [1, 6, 1, 1]),
    f32('c1', [1, 3, 9]),
    f32('same', [1, 2, 3, 3]),
  ],
  [weights('gw', [6, 2, 3, 3]), int64s('flat', [1, 4, 25]), weights('w1d', [3, 4, 3]), weights('sw', [2, 4, 2, 2])],
)

/** An LSTM (bidirectional, biases, peepholes, initial state), a GRU with linear_before_reset, a reverse GRU, an RNN. */
const [T, B, I, H] = [5, 2, 3, 4]
const recurrentNet = build(
  'recurrent',
  [
    nodeProto(
      'LSTM',
      ['x', 'lw', 'lr', 'lb', '', 'h0', 'c0', 'lp'],
      ['ly', 'lh', 'lc'],
      [attr.int('hidden_size', H), attr.string('direction', 'bidirectional')],
    ),
    nodeProto(
      'GRU',
      ['x', 'gw', 'gr', 'gb'],
      ['gy', 'gh'],
      [attr.int('hidden_size', H), attr.int('linear_before_reset', 1)],
    ),
    nodeProto(
      'GRU',
      ['x', 'gw', 'gr', 'gb'],
      ['g2y', ''],
      [attr.int('hidden_size', H), attr.string('direction', 'reverse')],
    ),
    nodeProto('RNN', ['x', 'rw', 'rr', 'rb'], ['ry'], [attr.int('hidden_size', H)]),
  ],
  [f32('x', [T, B, I]), f32('h0', [2, B, H]), f32('c0', [2, B, H])],
  [
    f32('ly', [T, 2, B, H]),
    f32('lh', [2, B, H]),
    f32('lc', [2, B, H]),
    f32('gy', [T, 1, B, H]),
    f32('gh', [1, B, H]),
    f32('g2y', [T, 1, B, H]),
    f32('ry', [T, 1, B, H]),
  ],
  [
    weights('lw', [2, 4 * H, I]),
    weights('lr', [2, 4 * H, H]),
    weights('lb', [2, 8 * H], 0.2),
    weights('lp', [2, 3 * H], 0.3),
    weights('gw', [1, 3 * H, I]),
    weights('gr', [1, 3 * H, H]),
    weights('gb', [1, 6 * H], 0.2),
    weights('rw', [1, H, I]),
    weights('rr', [1, H, H]),
    weights('rb', [1, 2 * H], 0.2),
  ],
)

/** The planted bug: the model with the LSTM's gate blocks o and f swapped (the order iofc read as ifoc). */
function swappedGates(model: ModelProto): ModelProto {
  const initializer = model.graph.initializer.map((t) => {
    if (t.name !== 'lw') return t
    const v = new Float32Array(t.rawData!.slice().buffer)
    const [d, rows, k] = t.dims
    const out = v.slice()
    for (let a = 0; a < d; a++)
      for (const [from, to] of [
        [1, 2],
        [2, 1],
      ])
        out.set(v.subarray((a * rows + from * H) * k, (a * rows + (from + 1) * H) * k), (a * rows + to * H) * k)
    return tensorProto(t.name, FLOAT, t.dims, out)
  })
  return { ...model, graph: { ...model.graph, initializer } }
}

const scalarF = (name: string, v: number) => tensorProto(name, FLOAT, [], [v])
const body = (name: string, node: NodeProto[], input: ValueInfoProto[], output: ValueInfoProto[]) =>
  graphProto({ name, node, input, output })
const boolInfo = (name: string) => tensorValueInfo(name, BOOL, [])
const iterInfo = (name: string) => tensorValueInfo(name, INT64, [])

/** A Loop body halving v while Σ|v| > 1 (reading `half` and `one` from the enclosing graph). */
const halving = () =>
  body(
    'halve',
    [
      nodeProto('Mul', ['v', 'half'], ['v2']),
      nodeProto('Abs', ['v2'], ['av2']),
      nodeProto('ReduceSum', ['av2'], ['s2'], [attr.int('keepdims', 0)]),
      nodeProto('Greater', ['s2', 'one'], ['go']),
    ],
    [iterInfo('i'), boolInfo('c'), f32('v', [3])],
    [boolInfo('go'), f32('v2', [3])],
  )

/**
 * Control flow as other tools write it: a Loop with no trip count whose
 * condition is computed from the data (halve x until Σ|x| ≤ 1; the same
 * with a trip count from an input, and with a known one), an If on the
 * sign of Σx, and a Loop of 4 trips that reads seq[i], uses i as data, and
 * emits a scan output; outer values (half, one, decay) read inside bodies.
 */
const controlNet = build(
  'control',
  [
    nodeProto('Abs', ['x'], ['ax']),
    nodeProto('ReduceSum', ['ax'], ['sx'], [attr.int('keepdims', 0)]),
    nodeProto('Greater', ['sx', 'one'], ['go0']),
    nodeProto('Loop', ['', 'go0', 'x'], ['halved'], [attr.graph('body', halving())]),
    nodeProto('Loop', ['n', 'go0', 'x'], ['halvedAtMostN'], [attr.graph('body', halving())]),
    nodeProto('Loop', ['trips', 'go0', 'x'], ['halvedAtMost4'], [attr.graph('body', halving())]),
    nodeProto('ReduceSum', ['x'], ['total'], [attr.int('keepdims', 0)]),
    nodeProto('Greater', ['total', 'zero'], ['positive']),
    nodeProto(
      'If',
      ['positive'],
      ['branch'],
      [
        attr.graph('then_branch', body('then', [nodeProto('Mul', ['x', 'x'], ['sq'])], [], [f32('sq', [3])])),
        attr.graph('else_branch', body('else', [nodeProto('Mul', ['x', 'half'], ['hx'])], [], [f32('hx', [3])])),
      ],
    ),
    nodeProto(
      'Loop',
      ['trips', 'yes', 'x'],
      ['acc', 'accs'],
      [
        attr.graph(
          'body',
          body(
            'accumulate',
            [
              nodeProto('Gather', ['seq', 'k'], ['row'], [attr.int('axis', 0)]),
              nodeProto('Cast', ['k'], ['kf'], [attr.int('to', FLOAT)]),
              nodeProto('Mul', ['row', 'kf'], ['scaled']),
              nodeProto('Mul', ['a', 'decay'], ['kept']),
              nodeProto('Add', ['kept', 'scaled'], ['a2']),
              nodeProto('Identity', ['c'], ['c2']),
              nodeProto('Identity', ['a2'], ['out']),
            ],
            [iterInfo('k'), boolInfo('c'), f32('a', [3])],
            [boolInfo('c2'), f32('a2', [3]), f32('out', [3])],
          ),
        ),
      ],
    ),
  ],
  [f32('x', [3]), f32('seq', [4, 3]), tensorValueInfo('n', INT64, [])],
  [
    f32('halved', [3]),
    f32('halvedAtMostN', [3]),
    f32('halvedAtMost4', [3]),
    f32('branch', [3]),
    f32('acc', [3]),
    f32('accs', [4, 3]),
  ],
  [
    scalarF('one', 1),
    scalarF('zero', 0),
    scalarF('half', 0.5),
    scalarF('decay', 0.9),
    int64s('trips', [4], []),
    tensorProto('yes', BOOL, [], [1]),
  ],
)

/** Shape arithmetic as exported PyTorch graphs do it: Shape → Gather → Unsqueeze → Concat → Reshape, Range, … */
const shapeNet = build(
  'shapes',
  [
    nodeProto('Shape', ['x'], ['s']),
    nodeProto('Gather', ['s', 'i0'], ['b'], [attr.int('axis', 0)]),
    nodeProto('Unsqueeze', ['b', 'axis0'], ['bu']),
    nodeProto('Concat', ['bu', 'minus1'], ['target'], [attr.int('axis', 0)]),
    nodeProto('Reshape', ['x', 'target'], ['y']),
    nodeProto('Shape', ['y'], ['ys'], [attr.int('start', -1)]),
    nodeProto('Cast', ['ys'], ['width'], [attr.int('to', FLOAT)]),
    nodeProto('ReduceSum', ['y', 'axis1'], ['rowSum'], [attr.int('keepdims', 1)]),
    nodeProto('Div', ['rowSum', 'width'], ['rowMean']),
    nodeProto('Range', ['i0', 'b', 'i1'], ['r']),
    nodeProto('Cast', ['r'], ['rf'], [attr.int('to', FLOAT)]),
    nodeProto('Unsqueeze', ['rf', 'axis1'], ['rc']),
    nodeProto('Add', ['rowMean', 'rc'], ['y2']),
    nodeProto('ConstantOfShape', ['s'], ['filled'], [attr.tensor('value', tensorProto('v', FLOAT, [1], [1.5]))]),
    nodeProto('Mul', ['x', 'filled'], ['y3']),
    nodeProto('Shape', ['x'], ['s2'], [attr.int('start', 1)]),
    nodeProto('ReduceProd', ['s2'], ['n'], [attr.int('keepdims', 1)]),
    nodeProto('Concat', ['bu', 'n'], ['target2'], [attr.int('axis', 0)]),
    nodeProto('Reshape', ['y3', 'target2'], ['y4']),
  ],
  [f32('x', ['batch', 2, 3])],
  [f32('y', ['batch', 6]), f32('y2', ['batch', 1]), f32('y4', ['batch', 6])],
  [int64s('i0', [0], []), int64s('i1', [1], []), int64s('axis0', [0]), int64s('axis1', [1]), int64s('minus1', [-1])],
)

const INT64_MIN = -(2n ** 63n)
/** The structural and indexing operators, reductions and activations, on x [4, 6]. */
const assortedNet = build(
  'assorted',
  [
    nodeProto('Slice', ['x', 'sStart', 'sEnd', 'axis1', 'sStep'], ['sliced']),
    nodeProto('Slice', ['x', 'sStart2', 'sEnd', 'axis0', 'minusOne'], ['backwards']),
    nodeProto('Pad', ['x', 'pads'], ['reflected'], [attr.string('mode', 'reflect')]),
    nodeProto('Pad', ['x', 'pads', 'padValue'], ['padded']),
    nodeProto('TopK', ['x', 'k'], ['topValues', 'topIndices'], [attr.int('axis', 1)]),
    nodeProto('CumSum', ['x', 'cAxis'], ['cumsum'], [attr.int('exclusive', 1), attr.int('reverse', 1)]),
    nodeProto('GatherElements', ['x', 'gIdx'], ['gathered'], [attr.int('axis', 1)]),
    nodeProto('ScatterND', ['x', 'sIdx', 'updates'], ['scattered'], [attr.string('reduction', 'add')]),
    nodeProto('Tile', ['x', 'reps'], ['tiled']),
    nodeProto('ReduceMean', ['x', 'axis1'], ['mean'], [attr.int('keepdims', 0)]),
    nodeProto('ReduceL2', ['x', 'axis0'], ['l2']),
    nodeProto('ReduceLogSumExp', ['x', 'axis1'], ['lse']),
    nodeProto('ArgMax', ['x'], ['argmax'], [attr.int('axis', 1), attr.int('select_last_index', 1)]),
    nodeProto('Split', ['x', 'split'], ['left', 'right'], [attr.int('axis', 1)]),
    nodeProto('Clip', ['x', 'lo', 'hi'], ['clipped']),
    nodeProto('OneHot', ['ohIdx', 'depth', 'ohValues'], ['onehot']),
    nodeProto('LogSoftmax', ['x'], ['logsoftmax'], [attr.int('axis', 0)]),
    nodeProto('Transpose', ['x'], ['transposed'], [attr.ints('perm', [1, 0])]),
    nodeProto('Expand', ['x', 'expandTo'], ['expanded']),
    nodeProto('LayerNormalization', ['x', 'lnScale', 'lnBias'], ['normed']),
    nodeProto('Max', ['x', 'row', 'lo'], ['maxed']),
    nodeProto('Gelu', ['x'], ['gelu']),
    nodeProto('LeakyRelu', ['x'], ['leaky'], [attr.float('alpha', 0.2)]),
    nodeProto('Elu', ['x'], ['elu']),
    nodeProto('HardSigmoid', ['x'], ['hardSigmoid']),
    nodeProto('Softplus', ['x'], ['softplus']),
    nodeProto('PRelu', ['x', 'row'], ['prelu']),
    nodeProto('Pow', ['x', 'two'], ['squared']),
    nodeProto('Erf', ['x'], ['erf']),
    nodeProto('Gather', ['x', 'rowsIdx'], ['rows'], [attr.int('axis', 0)]),
  ],
  [f32('x', [4, 6])],
  [
    ...['sliced', 'backwards', 'reflected', 'padded', 'topValues'].map((n) => f32(n, [])),
    tensorValueInfo('topIndices', INT64, [4, 2]),
    ...['cumsum', 'gathered', 'scattered', 'tiled', 'mean', 'l2', 'lse'].map((n) => f32(n, [])),
    tensorValueInfo('argmax', INT64, [4, 1]),
    ...['left', 'right', 'clipped', 'onehot', 'logsoftmax', 'transposed', 'expanded', 'normed', 'maxed'].map((n) =>
      f32(n, []),
    ),
    ...['gelu', 'leaky', 'elu', 'hardSigmoid', 'softplus', 'prelu', 'squared', 'erf', 'rows'].map((n) => f32(n, [])),
  ].map((v) => ({ name: v.name, type: { tensorType: { elemType: v.type?.tensorType?.elemType ?? FLOAT } } })),
  [
    int64s('sStart', [-1]),
    tensorProto('sEnd', INT64, [1], BigInt64Array.of(INT64_MIN)),
    int64s('sStep', [-2]),
    int64s('minusOne', [-1]),
    int64s('sStart2', [2]),
    int64s('axis0', [0]),
    int64s('axis1', [1]),
    int64s('pads', [1, 2, 0, 1]),
    scalarF('padValue', -3),
    int64s('k', [2]),
    int64s('cAxis', [1], []),
    int64s('gIdx', [0, 5, -1, 2, 3, 3, 1, -6], [4, 2]),
    int64s('sIdx', [1, 3, 1], [3, 1]),
    weights('updates', [3, 6]),
    int64s('reps', [1, 2]),
    int64s('split', [2, 4]),
    scalarF('lo', -0.5),
    scalarF('hi', 0.7),
    int64s('ohIdx', [0, 4, -1]),
    int64s('depth', [5], []),
    tensorProto('ohValues', FLOAT, [2], [-1, 2]),
    int64s('expandTo', [3, 1, 1]),
    weights('lnScale', [6], 0.3, 1),
    weights('lnBias', [6], 0.1),
    weights('row', [6], 0.5),
    int64s('two', [2], []),
    int64s('rowsIdx', [3, -4, 1], [3]),
  ],
)

// ---------------------------------------------------------------- tests

describe.skipIf(ort === null)('imported models = ONNX Runtime on the same bytes', () => {
  it('Gemm (transB, alpha, beta) + Relu + Softmax, with a symbolic batch', async () => {
    const y = await expectSameAsOrt(gemmSoftmax, [normal([5, 4])])
    expect(y[0].shape).toEqual([5, 3])
  })

  it('Conv (NCHW, asymmetric pads, strides) + BatchNormalization + MaxPool + Flatten + Gemm', async () => {
    await expectSameAsOrt(convNet, [normal([2, 2, 7, 7])])
  })

  it('grouped dilated Conv, SAME_LOWER strided Conv, AveragePool counting its padding, MaxPool in ceil mode, GlobalAveragePool, 1-D Conv', async () => {
    await expectSameAsOrt(convVariants, [normal([1, 4, 5, 5])])
  })

  it('LSTM (bidirectional, peepholes, initial state), GRU (linear_before_reset; reverse), RNN', async () => {
    await expectSameAsOrt(recurrentNet, [normal([T, B, I]), normal([2, B, H], 0.5), normal([2, B, H], 0.5)])
  })

  it("gru(I, H, { resetAfter: true }) = ONNX Runtime's GRU with linear_before_reset (its gates z, r, h; u = 1 − z)", async () => {
    const draw = (dims: number[]) => Float32Array.from(normal(dims, 0.5).dataSync())
    const [w, r, b] = [draw([3 * H, I]), draw([3 * H, H]), draw([6 * H])]
    const gruNet = build(
      'gru',
      [nodeProto('GRU', ['x', 'w', 'r', 'b'], ['y'], [attr.int('hidden_size', H), attr.int('linear_before_reset', 1)])],
      [f32('x', [T, B, I])],
      [f32('y', [T, 1, B, H])],
      [
        tensorProto('w', FLOAT, [1, 3 * H, I], w),
        tensorProto('r', FLOAT, [1, 3 * H, H], r),
        tensorProto('b', FLOAT, [1, 6 * H], b),
      ],
    )
    // ONNX's block k of W is [H, I] (rows k·H…); ours are the columns of wx [I, 3H] in the order r, u, candidate,
    // u's the negation of z's. The bias of r and u is Wb + Rb; the candidate's is Wbh, and Rbh is bh.
    const order = [1, 0, 2]
    const sign = [1, -1, 1]
    const transposed = (m: Float32Array, cols: number) =>
      tensor(
        Array.from({ length: cols * 3 * H }, (_, e) => {
          const [i, j] = [Math.floor(e / (3 * H)), e % (3 * H)]
          const k = Math.floor(j / H)
          return sign[k] * m[(order[k] * H + (j % H)) * cols + i]
        }),
        { shape: [cols, 3 * H] },
      )
    const bias = Array.from({ length: 3 * H }, (_, j) => {
      const k = Math.floor(j / H)
      const at = order[k] * H + (j % H)
      return sign[k] * (b[at] + (k < 2 ? b[3 * H + at] : 0))
    })
    const params = {
      wx: transposed(w, I),
      wh: transposed(r, H),
      b: tensor(bias),
      bh: tensor(Array.from(b.slice(5 * H))),
    }
    const cell = gru(I, H, { resetAfter: true })
    const x = normal([T, B, I])
    const [, ys] = scan(
      (h: Tensor, xt: Tensor) => cell.step(params as never, h as never, xt as never),
      cell.initialState(B) as Tensor,
      x,
    )
    const [want] = await onOrt(gruNet, [x])
    expectClose(ys.dataSync(), want, ofLargest(2e-5), 'reset after')
    // The cell that resets before its product, with the same weights, differs.
    const before = gru(I, H)
    const [, other] = scan(
      (h: Tensor, xt: Tensor) => before.step(params as never, h as never, xt as never),
      before.initialState(B) as Tensor,
      x,
    )
    expect(firstFar(other.dataSync(), want, ofLargest(2e-5))).toBeDefined()
  })

  it('a model with its LSTM gates swapped differs from ONNX Runtime (the comparison catches a wrong gate order)', async () => {
    const inputs = [normal([T, B, I]), normal([2, B, H], 0.5), normal([2, B, H], 0.5)]
    const got = outputsOf(importModel(swappedGates(recurrentNet)), inputs)
    const want = await onOrt(recurrentNet, inputs)
    expect(firstFar(got[0].dataSync(), want[0], ofLargest(2e-5))).toBeDefined()
    // The GRU and RNN outputs do not involve the swapped weights.
    expect(firstFar(got[3].dataSync(), want[3], ofLargest(2e-5))).toBeUndefined()
  })

  it('Loop with a condition from the data, If, Loop with a trip count and scan outputs, outer values in bodies', async () => {
    for (const x of [tensor([3, -2, 4]), tensor([-0.1, 0.2, -0.3]), tensor([40, 30, -50])]) {
      const [halved, halvedTwice, , branch] = await expectSameAsOrt(controlNet, [
        x,
        normal([4, 3]),
        tensor(2, { dtype: 'i32' }),
      ])
      expect(ops.sum(ops.abs(halved)).item()).toBeLessThanOrEqual(1)
      expect(ops.sum(ops.abs(halvedTwice)).item()).toBeGreaterThanOrEqual(ops.sum(ops.abs(x)).item() / 4)
      expect(branch.shape).toEqual([3])
    }
  })

  it('shape arithmetic (Shape, Gather, Unsqueeze, Concat, Range, ConstantOfShape, ReduceProd) at two batch sizes', async () => {
    for (const b of [1, 4]) {
      const [y] = await expectSameAsOrt(shapeNet, [normal([b, 2, 3])])
      expect(y.shape).toEqual([b, 6])
    }
  })

  it('structural and indexing operators, reductions, activations', async () => {
    await expectSameAsOrt(assortedNet, [normal([4, 6])], 3e-5)
  })
})

describe('gradients of imported models (f64) = central differences', () => {
  it('Gemm + Relu + Softmax', () => expectGradientMatchesDifferences(gemmSoftmax, [normal([5, 4])]))
  it('Conv + BatchNormalization + MaxPool + Flatten + Gemm', () =>
    expectGradientMatchesDifferences(convNet, [normal([2, 2, 7, 7])]))
  it('grouped and 1-D convolutions and the pools', () =>
    expectGradientMatchesDifferences(convVariants, [normal([1, 4, 5, 5])]))
  it('LSTM, GRU and RNN through their scans (backpropagation through time)', () =>
    expectGradientMatchesDifferences(recurrentNet, [normal([T, B, I]), normal([2, B, H], 0.5), normal([2, B, H], 0.5)]))
  it('the structural and indexing operators', () => expectGradientMatchesDifferences(assortedNet, [normal([4, 6])]))
  it('If and the Loop with a trip count (a scan), in the parameters half and decay', () =>
    expectGradientMatchesDifferences(
      controlNet,
      [tensor([-0.5, 0.2, -0.4]), normal([4, 3]), tensor(2, { dtype: 'i32' })],
      [3, 4, 5],
    ))
})

describe('transforms of imported control flow', () => {
  it('jvp through the data-dependent Loop (a whileLoop) agrees with differences in x; grad through it is refused', () => {
    const m = importModel(controlNet, { floatDType: 'f64' })
    const seq = ops.astype(normal([4, 3]), 'f64')
    const halved = (x: Tensor) => outputsOf(m, [x, seq, tensor(9, { dtype: 'i32' })])[0] as Tensor
    const x = tensor([3, -2, 4], { dtype: 'f64' })
    const v = tensor([0.3, 0.1, -0.2], { dtype: 'f64' })
    const [, tangent] = jvp(halved, [x], [v]) as [Tensor, Tensor]
    const h = 1e-6
    const numeric = ops.div(ops.sub(halved(ops.add(x, ops.mul(v, h))), halved(ops.sub(x, ops.mul(v, h)))), 2 * h)
    expectClose(tangent.dataSync(), numeric.dataSync(), { atol: 1e-8, rtol: 1e-6 })
    expect(() => grad((y: Tensor) => ops.sum(halved(y)))(x)).toThrow(/whileLoop|reverse/i)
  })

  it('vmap of the shape-arithmetic model: each example is its own batch', () => {
    const m = importModel(shapeNet)
    const xs = normal([3, 2, 2, 3])
    const batched = vmap((x: Tensor) => outputsOf(m, [x])[1])(xs) as Tensor
    const each = [0, 1, 2].map(
      (k) => outputsOf(m, [ops.reshape(ops.slice(xs, [k, 0, 0, 0], [1, 2, 2, 3]), [2, 2, 3])])[1],
    )
    expect(batched.shape).toEqual([3, 2, 1])
    expectClose(batched.dataSync(), ops.stack(each as never).dataSync(), { atol: 1e-6 })
  })
})
