/**
 * Law: compiled (WebGPU) = interpreted (CPU), in f32, for every layer,
 * combinator and loss of `nn`: the value, and the gradient of ⟨u, f(p, x)⟩
 * with respect to the parameters and the (float) input, each compiled with
 * `jit(f, { backend })` and compared with the CPU interpreter's result.
 *
 *   npx vitest run test/gpu/nn.test.ts
 */
import { describe, expect, it } from 'vitest'
import { grad, jit, ops, random, tensor, tree, type Tensor } from '../../src/index.ts'
import * as nn from '../../src/nn/index.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
type AnyT = Tensor<any, any>
type Fn = (p: any, x: any) => Tensor

/**
 * Tolerance relative to the largest expected magnitude (at least 1). WGSL
 * allows exp, log and tanh a few ULP and sums may be reordered; gradients
 * pass through several such steps.
 */
const VALUE_TOLERANCE = 2e-5
const GRADIENT_TOLERANCE = 1e-4

const base = random.key(2024)
let draws = 0
const normal = (shape: readonly number[], scale = 1): AnyT =>
  ops.mul(random.normal(random.foldIn(base, draws++), shape), scale) as AnyT
const key = random.key(5)

const isFloat = (x: Tensor) => x.dtype === 'f32' || x.dtype === 'f64'
const hasFloatLeaves = (t: unknown) => tree.flatten(t)[0].some(isFloat)

/** Value and gradients of f at (p, x): compiled against interpreted. */
async function compiledMatches(
  label: string,
  f: Fn,
  p: unknown,
  x: AnyT,
  tolerance = { value: VALUE_TOLERANCE, gradient: GRADIENT_TOLERANCE },
): Promise<void> {
  const want = f(p, x)
  const got = await jit(f, { backend: backend! })(p, x)
  expect(got.shape, `${label}: shape`).toEqual(want.shape)
  expectClose(await got.data(), want.dataSync(), ofLargest(tolerance.value), `${label}: value`)

  const argnums = [...(hasFloatLeaves(p) ? [0] : []), ...(isFloat(x) ? [1] : [])]
  const u = normal(want.shape as number[])
  const loss = (q: unknown, v: AnyT, w: AnyT) => ops.sum(ops.mul(f(q, v) as AnyT, w))
  const gradient = grad(loss, { argnums })
  const wantG = tree.flatten(gradient(p, x, u))[0]
  const gotG = tree.flatten(await jit(gradient, { backend: backend! })(p, x, u))[0]
  expect(gotG.length, `${label}: gradient leaves`).toBe(wantG.length)
  for (const [i, g] of gotG.entries())
    expectClose(await g.data(), wantG[i].dataSync(), ofLargest(tolerance.gradient), `${label}: gradient leaf ${i}`)
}

/** A layer's apply at its initial parameters. */
const layerCase = (label: string, layer: nn.AnyLayer, x: AnyT) =>
  it(label, () => compiledMatches(label, (p, v) => layer.apply(p, v), layer.init(key), x))

describe.skipIf(backend === null)(`nn layers compiled = interpreted on ${backend?.name ?? 'no adapter'}`, () => {
  layerCase('dense', nn.dense(6, 5), normal([4, 6]))
  layerCase('maxout', nn.maxout(6, 3, 2), normal([4, 6]))
  layerCase('relu', nn.relu, normal([4, 7]))
  layerCase('sigmoid', nn.sigmoid, normal([4, 7], 3))
  layerCase('tanh', nn.tanh, normal([4, 7], 2))
  layerCase('leakyRelu', nn.leakyRelu(0.1), normal([4, 7]))
  layerCase('softmax', nn.softmax, normal([4, 7], 3))
  layerCase('sparsemax', nn.sparsemax, normal([4, 7]))
  layerCase('flatten', nn.flatten, normal([2, 3, 4, 2]))
  layerCase(
    'embedding',
    nn.embedding(9, 4),
    tensor(
      [
        [1, 8, 1],
        [0, 3, 1],
      ],
      { dtype: 'i32' },
    ) as AnyT,
  )
  layerCase('conv2d 3×3, stride 2, SAME', nn.conv2d(3, 4, 3, { stride: 2, padding: 'SAME' }), normal([2, 7, 6, 3]))
  layerCase('conv2d 2×3, dilation 2, VALID', nn.conv2d(2, 3, [2, 3], { dilation: 2 }), normal([1, 6, 7, 2]))
  layerCase(
    'conv2dTranspose 3×3, stride 2, SAME',
    nn.conv2dTranspose(3, 2, 3, { stride: 2, padding: 'SAME' }),
    normal([2, 3, 4, 3]),
  )
  layerCase('maxPool2d 3×3, stride 2, SAME', nn.maxPool2d(3, { stride: 2, padding: 'SAME' }), normal([2, 7, 6, 3]))
  layerCase('avgPool2d 2×2, SAME', nn.avgPool2d(2, { stride: 1, padding: 'SAME' }), normal([2, 5, 5, 2]))
  layerCase('globalAvgPool2d', nn.globalAvgPool2d, normal([2, 4, 3, 5]))
  layerCase('globalMaxPool2d', nn.globalMaxPool2d, normal([2, 4, 3, 5]))
  it('dropout in training mode', () => {
    const layer = nn.dropout(0.3)
    return compiledMatches('dropout', (p, v) => layer.forward(p, null, v, nn.training(key))[0], null, normal([4, 8]))
  })
  it('batchNorm, training and evaluation', async () => {
    const layer = nn.batchNorm(5)
    const p = { scale: normal([5]), offset: normal([5]) }
    const x = ops.add(normal([6, 2, 2, 5], 2), 3) as AnyT
    await compiledMatches(
      'batchNorm (training)',
      (q, v) => layer.forward(q, layer.initState(), v, nn.training())[0],
      p,
      x,
    )
    const [, state] = layer.forward(p, layer.initState(), x, nn.training())
    await compiledMatches('batchNorm (evaluation)', (q, v) => layer.forward(q, state, v, nn.evaluation)[0], p, x)
    const newState = await jit((q: typeof p, v: AnyT) => layer.forward(q, layer.initState(), v, nn.training())[1], {
      backend: backend!,
    })(p, x)
    expectClose(await newState.mean.data(), state.mean.dataSync(), ofLargest(VALUE_TOLERANCE), 'batchNorm running mean')
    expectClose(
      await newState.variance.data(),
      state.variance.dataSync(),
      ofLargest(VALUE_TOLERANCE),
      'batchNorm running variance',
    )
  })
})

describe.skipIf(backend === null)('nn combinators compiled = interpreted', () => {
  layerCase('sequential MLP', nn.sequential(nn.dense(6, 8), nn.tanh, nn.dense(8, 3), nn.softmax), normal([5, 6]))
  layerCase('residual', nn.residual(nn.sequential(nn.dense(5, 5), nn.relu)), normal([3, 5]))
  layerCase('parallel', nn.parallel(nn.dense(4, 3), nn.sigmoid), normal([3, 4]))
  layerCase('parallelAdd', nn.parallelAdd(nn.dense(4, 4), nn.tanh), normal([3, 4]))
  layerCase(
    'tie',
    nn.tie(nn.dense(4, 4), (d) => nn.sequential(d, nn.tanh, d)),
    normal([3, 4]),
  )
  layerCase(
    'a CNN',
    nn.sequential(
      nn.input(['B', 8, 8, 1]),
      nn.conv2d(1, 4, 3, { padding: 'SAME' }),
      nn.batchNorm(4),
      nn.relu,
      nn.maxPool2d(2),
      nn.conv2d(4, 6, 3),
      nn.relu,
      nn.flatten,
      nn.dense(24, 3),
    ),
    normal([2, 8, 8, 1]),
  )
})

describe.skipIf(backend === null)('nn losses compiled = interpreted', () => {
  const labels = tensor([2, 0, 3, 3, 1], { dtype: 'i32' }) as AnyT
  const logits = normal([5, 4], 2)
  const lossCase = (label: string, f: Fn, p: unknown, x: AnyT) => it(label, () => compiledMatches(label, f, p, x))
  lossCase('softmaxCrossEntropy, labels', (y, z) => nn.softmaxCrossEntropy(z, y), labels, logits)
  lossCase(
    'softmaxCrossEntropy, logits of magnitude 1e4',
    (y, z) => nn.softmaxCrossEntropy(z, y),
    labels,
    normal([5, 4], 1e4),
  )
  lossCase('sparsemaxLoss', (y, z) => nn.sparsemaxLoss(z, y), labels, logits)
  lossCase(
    'crossEntropy',
    (q, p) => nn.crossEntropy(p, q),
    nn.functional.softmax(normal([5, 4])),
    nn.functional.softmax(logits),
  )
  lossCase('sigmoidCrossEntropy', (y, z) => nn.sigmoidCrossEntropy(z, y), ops.sigmoid(normal([6])), normal([6], 3))
  lossCase(
    'binaryCrossEntropy',
    (y, p) => nn.binaryCrossEntropy(p, y),
    ops.sigmoid(normal([6])),
    ops.sigmoid(normal([6])),
  )
  lossCase('squaredError', (t, f) => nn.squaredError(f, t), normal([4, 3]), normal([4, 3]))
  const bias = normal([3])
  lossCase(
    'l1Penalty + l2Penalty (the bias skipped)',
    (_q, w) => ops.add(nn.l1Penalty({ w, b: bias }), nn.l2Penalty({ w, b: bias })),
    null,
    normal([4, 3]),
  )
})
