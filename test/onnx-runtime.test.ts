/**
 * Models encoded by the ONNX codec (src/onnx/proto.ts) checked by ONNX
 * Runtime's own loader (ours is not the only reader): an Add, a MatMul with
 * initializers in both data layouts, negative axes and INT64 ends, Scan and
 * If graphs; and a file that ONNX Runtime itself wrote, decoded, re-encoded
 * and run again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  attr,
  decodeModel,
  encodeModel,
  graphProto,
  modelProto,
  nodeProto,
  TensorDataType,
  tensorProto,
  tensorValueInfo,
  tensorValues,
  type ModelProto,
} from '../src/onnx/proto.ts'
import { cumsumBody, f32 } from './lib/onnx.ts'

type Ort = typeof import('onnxruntime-node')
const ort: Ort | null = await import('onnxruntime-node').catch(() => null)

const INT64_MIN = -(2n ** 63n)
const { FLOAT, INT64, BOOL } = TensorDataType

/** A model exercising every attribute kind, nested graphs two deep, metadata and doc strings. */

// ---------------------------------------------------------------- ONNX Runtime

const skipWhy = ort === null ? ' (skipped: onnxruntime-node cannot be imported)' : ''

async function run(model: ModelProto, feeds: Record<string, [Float32Array | BigInt64Array | Uint8Array, number[]]>) {
  const o = ort!
  const session = await o.InferenceSession.create(encodeModel(model))
  const inputs: Record<string, import('onnxruntime-node').Tensor> = {}
  for (const [name, [data, dims]] of Object.entries(feeds))
    inputs[name] =
      data instanceof Float32Array
        ? new o.Tensor('float32', data, dims)
        : data instanceof BigInt64Array
          ? new o.Tensor('int64', data, dims)
          : new o.Tensor('bool', data, dims)
  const out = await session.run(inputs)
  await session.release()
  return out
}
const close = (got: ArrayLike<number>, want: readonly number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length)
  want.forEach((w, k) => expect(Math.abs(got[k] - w)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w))))
}
const X = Float32Array.of(1, -2, 3, 0.5, 4, -6)

describe.skipIf(ort === null)(`ONNX Runtime loads and runs the encoded models (IR 10, opset 21)${skipWhy}`, () => {
  it('(a) Add of two float inputs [2,3]', async () => {
    const Y = Float32Array.of(10, 20, 30, 40, 50, 60)
    const model = modelProto(
      graphProto({
        name: 'add',
        node: [nodeProto('Add', ['x', 'y'], ['z'])],
        input: [f32([2, 3], 'x'), f32([2, 3], 'y')],
        output: [f32([2, 3], 'z')],
      }),
    )
    const out = await run(model, { x: [X, [2, 3]], y: [Y, [2, 3]] })
    expect(out.z.dims).toEqual([2, 3])
    close(
      out.z.data as Float32Array,
      Array.from(X, (x, k) => x + Y[k]),
    )
  })

  it('(b) MatMul with an initializer in raw_data (120 kB, past the size the writer splices in), plus a bias in float_data', async () => {
    const [K, N] = [300, 100]
    const W = Array.from({ length: K * N }, (_, k) => ((k * 37) % 101) / 50 - 1)
    const bias = Array.from({ length: N }, (_, j) => j / 10)
    const x = Float32Array.from({ length: 2 * K }, (_, k) => Math.sin(k))
    const model = modelProto(
      graphProto({
        name: 'affine',
        node: [nodeProto('MatMul', ['x', 'w'], ['xw']), nodeProto('Add', ['xw', 'b'], ['y'])],
        input: [f32(['batch', K], 'x')],
        output: [f32(['batch', N], 'y')],
        initializer: [
          tensorProto('w', FLOAT, [K, N], W),
          { name: 'b', dataType: FLOAT, dims: [N], floatData: Float32Array.from(bias) },
        ],
      }),
    )
    const out = await run(model, { x: [x, [2, K]] })
    const want: number[] = []
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < N; j++) {
        let s = bias[j]
        for (let k = 0; k < K; k++) s += x[i * K + k] * Math.fround(W[k * N + j])
        want.push(s)
      }
    expect(out.y.dims).toEqual([2, N])
    close(out.y.data as Float32Array, want, 1e-4)
  })

  it('(c) negative int64s: Softmax axis −2, ReduceSum over axes [−1], Slice back to the INT64 minimum', async () => {
    const model = modelProto(
      graphProto({
        name: 'negative',
        node: [
          nodeProto('Softmax', ['x'], ['soft'], [attr.int('axis', -2)]),
          nodeProto('ReduceSum', ['x', 'axes'], ['sum'], [attr.int('keepdims', 0)]),
          nodeProto('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['reversed']),
        ],
        input: [f32([2, 3], 'x')],
        output: [f32([2, 3], 'soft'), f32([2], 'sum'), f32([2, 3], 'reversed')],
        initializer: [
          tensorProto('axes', INT64, [1], [-1]),
          tensorProto('starts', INT64, [1], [-1]),
          // the end as varints in int64_data (ten bytes), the step in raw_data
          { name: 'ends', dataType: INT64, dims: [1], int64Data: BigInt64Array.of(INT64_MIN) },
          tensorProto('steps', INT64, [1], BigInt64Array.of(-1n)),
        ],
      }),
    )
    const out = await run(model, { x: [X, [2, 3]] })
    // softmax down each column (axis −2 of [2, 3]); the default axis (−1) would go along rows
    const soft: number[] = new Array(6)
    for (let j = 0; j < 3; j++) {
      const a = Math.exp(X[j])
      const b = Math.exp(X[3 + j])
      soft[j] = a / (a + b)
      soft[3 + j] = b / (a + b)
    }
    close(out.soft.data as Float32Array, soft)
    expect(out.sum.dims).toEqual([2])
    close(out.sum.data as Float32Array, [X[0] + X[1] + X[2], X[3] + X[4] + X[5]])
    close(out.reversed.data as Float32Array, [X[2], X[1], X[0], X[5], X[4], X[3]])
  })

  it('(d) Scan with a body graph: cumulative sums, forward and reversed (scan_input_directions [1])', async () => {
    const scan = (reverse: boolean, outs: string[]) =>
      nodeProto('Scan', ['init', 'xs'], outs, [
        attr.graph('body', cumsumBody(3)),
        attr.int('num_scan_inputs', 1),
        ...(reverse ? [attr.ints('scan_input_directions', [1])] : []),
      ])
    const model = modelProto(
      graphProto({
        name: 'scan',
        node: [scan(false, ['total', 'running']), scan(true, ['total_r', 'running_r'])],
        input: [f32([3], 'init'), f32([4, 3], 'xs')],
        output: [f32([3], 'total'), f32([4, 3], 'running'), f32([3], 'total_r'), f32([4, 3], 'running_r')],
      }),
    )
    const init = Float32Array.of(100, 0, -1)
    const xs = Float32Array.from({ length: 12 }, (_, k) => ((k * 7) % 5) - 2)
    const out = await run(model, { init: [init, [3]], xs: [xs, [4, 3]] })
    // a reversed scan input is read from its last row; its outputs are still appended in iteration order
    const sums = (order: number[]) => {
      const acc = Array.from(init)
      return order.flatMap((t) => [0, 1, 2].map((j) => (acc[j] += xs[t * 3 + j])))
    }
    const forward = sums([0, 1, 2, 3])
    const backward = sums([3, 2, 1, 0])
    close(out.running.data as Float32Array, forward)
    close(out.total.data as Float32Array, forward.slice(9))
    close(out.running_r.data as Float32Array, backward)
    close(out.total_r.data as Float32Array, backward.slice(9))
  })

  it('(e) If with two branch graphs, one holding a Constant whose value is a tensor attribute', async () => {
    const two = tensorProto('two', FLOAT, [], [2])
    const model = modelProto(
      graphProto({
        name: 'if',
        node: [
          nodeProto(
            'If',
            ['c'],
            ['y'],
            [
              attr.graph(
                'then_branch',
                graphProto({
                  name: 'then',
                  node: [
                    nodeProto('Constant', [], ['k'], [attr.tensor('value', two)]),
                    nodeProto('Mul', ['x', 'k'], ['t']),
                  ],
                  input: [],
                  output: [f32([2, 3], 't')],
                }),
              ),
              attr.graph(
                'else_branch',
                graphProto({
                  name: 'else',
                  node: [nodeProto('Neg', ['x'], ['e'])],
                  input: [],
                  output: [f32([2, 3], 'e')],
                }),
              ),
            ],
          ),
        ],
        input: [f32([2, 3], 'x'), tensorValueInfo('c', BOOL, [])],
        output: [f32([2, 3], 'y')],
      }),
    )
    const yes = await run(model, { x: [X, [2, 3]], c: [Uint8Array.of(1), []] })
    close(
      yes.y.data as Float32Array,
      Array.from(X, (x) => 2 * x),
    )
    const no = await run(model, { x: [X, [2, 3]], c: [Uint8Array.of(0), []] })
    close(
      no.y.data as Float32Array,
      Array.from(X, (x) => -x),
    )
  })

  it('a model written by ONNX Runtime itself (its optimised graph) decodes, and runs again once re-encoded', async () => {
    const W1 = [1, 2, 3, 4, 5, 6] // [3, 2]
    const W2 = [0.5, 0.5, -1, -1, 2, 2]
    const model = modelProto(
      graphProto({
        name: 'fold',
        node: [nodeProto('Add', ['w1', 'w2'], ['w']), nodeProto('MatMul', ['x', 'w'], ['y'])],
        input: [f32([2, 3], 'x')],
        output: [f32([2, 2], 'y')],
        initializer: [tensorProto('w1', FLOAT, [3, 2], W1), tensorProto('w2', FLOAT, [3, 2], W2)],
      }),
      { producerName: 'adjoint-test' },
    )
    const dir = await mkdtemp(join(tmpdir(), 'onnx-proto-'))
    try {
      const path = join(dir, 'optimized.onnx')
      const session = await ort!.InferenceSession.create(encodeModel(model), {
        graphOptimizationLevel: 'basic',
        optimizedModelFilePath: path,
      })
      await session.release()
      const written = new Uint8Array(await readFile(path))
      const read = decodeModel(written)
      // ONNX Runtime folded the constant Add into one initializer holding w1 + w2.
      expect(read.graph.node.map((n) => n.opType)).toEqual(['MatMul'])
      expect(read.graph.initializer).toHaveLength(1)
      const folded = read.graph.initializer[0]
      expect(folded.dims).toEqual([3, 2])
      expect(folded.dataType).toBe(FLOAT)
      expect(Array.from(tensorValues(folded) as Float32Array)).toEqual(W1.map((w, k) => w + W2[k]))
      expect(read.graph.input.map((v) => v.name)).toEqual(['x'])
      expect(read.graph.input[0].type?.tensorType).toEqual({
        elemType: FLOAT,
        shape: { dim: [{ dimValue: 2 }, { dimValue: 3 }] },
      })
      expect(read.opsetImport).toContainEqual({ domain: '', version: 21 })
      expect(read.producerName).toBe('adjoint-test')
      const out = await run(read, { x: [X, [2, 3]] })
      const want: number[] = []
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++) {
          let s = 0
          for (let k = 0; k < 3; k++) s += X[i * 3 + k] * (W1[k * 2 + j] + W2[k * 2 + j])
          want.push(s)
        }
      close(out.y.data as Float32Array, want)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
