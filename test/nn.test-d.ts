/**
 * Compile-time shapes of layers and combinators. Every `@ts-expect-error`
 * is a network that must not compile (an unused directive is itself an
 * error); the `expectTypeOf` lines pin the shapes, parameters and messages
 * the types compute, including the named batch dim 'B' flowing through.
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { Tensor } from '../src/index.ts'
import * as nn from '../src/nn/index.ts'
import type { random } from '../src/index.ts'
import type { CheckIo, ChainIo, OutShape, WindowIo } from '../src/nn/layer.ts'
import type { WindowOut, WindowTransposeOut } from '../src/shape/conv.ts'

declare const key: random.Key
declare const x784: Tensor<['B', 784], 'f32'>
declare const x32: Tensor<[32, 784], 'f32'>
declare const x100: Tensor<['B', 100], 'f32'>
declare const images: Tensor<['B', 28, 28, 1], 'f32'>
declare const rgb: Tensor<['B', 32, 32, 3], 'f32'>
declare const tokens: Tensor<['B', 'T'], 'i32'>
declare const labels: Tensor<['B'], 'i32'>
declare const logits: Tensor<['B', 10], 'f32'>
declare const untyped: Tensor

describe('layers', () => {
  it('dense maps [B, nIn] to [B, nOut] and holds {w, b}', () => {
    const d = nn.dense(784, 256)
    expectTypeOf(d).toEqualTypeOf<nn.Layer<['B', 784], ['B', 256], nn.DenseParams<784, 256>, null>>()
    expectTypeOf<nn.ParamsOf<typeof d>>().toEqualTypeOf<{ readonly w: Tensor<[784, 256]>; readonly b: Tensor<[256]> }>()
    expectTypeOf(d.apply(d.init(key), x784)).toEqualTypeOf<Tensor<['B', 256]>>()
    // A batch of 32 is a B.
    expectTypeOf(d.apply(d.init(key), x32)).toEqualTypeOf<Tensor<['B', 256]>>()
    // @ts-expect-error a [B, 100] input where [B, 784] is expected
    d.apply(d.init(key), x100)
  })
  it('activations keep any shape and dtype', () => {
    expectTypeOf(nn.relu.apply(null, images)).toEqualTypeOf<Tensor<['B', 28, 28, 1], 'f32'>>()
    expectTypeOf(nn.softmax.apply(null, logits)).toEqualTypeOf<Tensor<['B', 10], 'f32'>>()
    expectTypeOf(nn.leakyRelu(0.2)).toEqualTypeOf<nn.Activation>()
    expectTypeOf(nn.dropout(0.5).forward(null, null, x784, nn.training(key))).toEqualTypeOf<
      readonly [Tensor<['B', 784], 'f32'>, null]
    >()
  })
  it("conv2d computes its output size by the COMP613 notes' formula where sizes are literals", () => {
    const same = nn.conv2d(1, 8, 3, { padding: 'SAME' })
    expectTypeOf(same.apply(same.init(key), images)).toEqualTypeOf<Tensor<['B', 28, 28, 8], 'f32'>>()
    const valid = nn.conv2d(3, 16, 5)
    expectTypeOf(valid.apply(valid.init(key), rgb)).toEqualTypeOf<Tensor<['B', 28, 28, 16], 'f32'>>()
    const strided = nn.conv2d(3, 4, [3, 5], { stride: [2, 1], dilation: 2, padding: 1 })
    // H: floor((32 + 2 − 5)/2) + 1 = 15; W: R′ = 9, floor((32 + 2 − 9)/1) + 1 = 26
    expectTypeOf(strided.apply(strided.init(key), rgb)).toEqualTypeOf<Tensor<['B', 15, 26, 4], 'f32'>>()
    expectTypeOf<nn.ParamsOf<typeof strided>['w']>().toEqualTypeOf<Tensor<[3, 5, 3, 4]>>()
    const up = nn.conv2dTranspose(8, 1, 3, { stride: 2, padding: 'SAME' })
    expectTypeOf(up.apply(up.init(key), null as unknown as Tensor<['B', 14, 14, 8], 'f32'>)).toEqualTypeOf<
      Tensor<['B', 28, 28, 1], 'f32'>
    >()
    expectTypeOf<nn.ParamsOf<typeof up>['w']>().toEqualTypeOf<Tensor<[3, 3, 1, 8]>>()
    // @ts-expect-error conv2d(1 → 8) on 3 channels
    same.apply(same.init(key), rgb)
  })
  it('pooling: the stride is the window unless given', () => {
    expectTypeOf(nn.maxPool2d(2).apply(null, images)).toEqualTypeOf<Tensor<['B', 14, 14, 1], 'f32'>>()
    expectTypeOf(nn.avgPool2d(3, { stride: 2, padding: 'SAME' }).apply(null, rgb)).toEqualTypeOf<
      Tensor<['B', 16, 16, 3], 'f32'>
    >()
    expectTypeOf(nn.globalAvgPool2d.apply(null, rgb)).toEqualTypeOf<Tensor<['B', 3], 'f32'>>()
    expectTypeOf(nn.functional.maxPool2d(rgb, [2, 4])).toEqualTypeOf<Tensor<['B', 16, 8, 3], 'f32'>>()
  })
  it('flatten, embedding and batch norm', () => {
    expectTypeOf(nn.flatten.apply(null, images)).toEqualTypeOf<Tensor<['B', 784], 'f32'>>()
    const e = nn.embedding(1000, 64)
    expectTypeOf(e.apply(e.init(key), tokens)).toEqualTypeOf<Tensor<['B', 'T', 64]>>()
    // @ts-expect-error ids must be i32
    e.apply(e.init(key), x784)
    const bn = nn.batchNorm(3)
    expectTypeOf<nn.StateOf<typeof bn>>().toEqualTypeOf<nn.BatchNormLayerState<3>>()
    expectTypeOf(bn.forward(bn.init(key), bn.initState(), rgb, nn.training())).toEqualTypeOf<
      readonly [Tensor<['B', 32, 32, 3], 'f32'>, nn.BatchNormLayerState<3>]
    >()
    // @ts-expect-error batchNorm(3) on 784 features
    bn.apply(bn.init(key), x784)
  })
  it('functional forms', () => {
    expectTypeOf(
      nn.functional.conv2d(rgb, null as unknown as Tensor<[3, 3, 3, 8]>, { padding: 'SAME', stride: 2 }),
    ).toEqualTypeOf<Tensor<['B', 16, 16, 8], 'f32'>>()
    expectTypeOf(
      nn.functional.conv2dTranspose(
        null as unknown as Tensor<['B', 4, 4, 8]>,
        null as unknown as Tensor<[3, 3, 2, 8]>,
        { stride: 2, outputSize: [7, 7] },
      ),
    ).toEqualTypeOf<Tensor<['B', 7, 7, 2]>>()
    expectTypeOf(nn.functional.sparsemax(logits)).toEqualTypeOf<Tensor<['B', 10], 'f32'>>()
  })
})

describe('sequential', () => {
  it('the sketch of the design: Layer<[B, 784], [B, 10]>', () => {
    const mlp = nn.sequential(nn.dense(784, 256), nn.relu, nn.dense(256, 10))
    expectTypeOf(mlp).toEqualTypeOf<
      nn.Layer<['B', 784], ['B', 10], [nn.DenseParams<784, 256>, null, nn.DenseParams<256, 10>], [null, null, null]>
    >()
    expectTypeOf(mlp).toExtend<nn.Layer<['B', 784], ['B', 10]>>()
    expectTypeOf(mlp.apply(mlp.init(key), x784)).toEqualTypeOf<Tensor<['B', 10]>>()
    const loss = (p: nn.ParamsOf<typeof mlp>, x: Tensor<['B', 784]>, y: Tensor<['B'], 'i32'>) =>
      nn.softmaxCrossEntropy(mlp.apply(p, x), y)
    expectTypeOf(loss).returns.toEqualTypeOf<Tensor<[]>>()
  })
  it('a CNN whose input is pinned by nn.input: sizes flow to the dense layer', () => {
    const cnn = nn.sequential(
      nn.input(['B', 28, 28, 1]),
      nn.conv2d(1, 8, 3, { padding: 'SAME' }),
      nn.relu,
      nn.maxPool2d(2),
      nn.conv2d(8, 16, 3),
      nn.relu,
      nn.flatten,
      nn.dense(2304, 10),
    )
    expectTypeOf(cnn).toExtend<nn.Layer<['B', 28, 28, 1], ['B', 10]>>()
    expectTypeOf(cnn.apply(cnn.init(key), images)).toEqualTypeOf<Tensor<['B', 10]>>()
    // 28 → SAME 28 → pool 14 → VALID 12: 12·12·16 = 2304, not 2704
    // The error spans the arguments, so the call stays on the one line that @ts-expect-error covers.
    // biome-ignore format: see above
    // @ts-expect-error sequential: layer 7: expected input [B, 2704], got [B, 2304]
    nn.sequential(nn.input(['B', 28, 28, 1]), nn.conv2d(1, 8, 3, { padding: 'SAME' }), nn.relu, nn.maxPool2d(2), nn.conv2d(8, 16, 3), nn.relu, nn.flatten, nn.dense(2704, 10))
  })
  it('without a pinned input the chain is a ShapeLayer, generic in its input', () => {
    const features = nn.sequential(
      nn.conv2d(3, 8, 3, { padding: 'SAME' }),
      nn.relu,
      nn.maxPool2d(2),
      nn.globalAvgPool2d,
    )
    expectTypeOf(features.apply(features.init(key), rgb)).toEqualTypeOf<Tensor<['B', 8], 'f32'>>()
    // @ts-expect-error sequential: layer 0: expected 3 input channels, got [B, 28, 28, 1]
    features.apply(features.init(key), images)
  })
  it('layers that do not fit do not compile, and the message names the layer and both shapes', () => {
    // @ts-expect-error sequential: layer 2: expected input [B, 100], got [B, 256]
    nn.sequential(nn.dense(784, 256), nn.relu, nn.dense(100, 10))
    // @ts-expect-error sequential: layer 1: expected 4 input channels, got [B, number, number, 8]
    nn.sequential(nn.conv2d(1, 8, 3), nn.conv2d(4, 16, 3))
    // @ts-expect-error sequential: layer 1: the window does not fit the height 5
    nn.sequential(nn.input(['B', 5, 5, 1]), nn.conv2d(1, 8, 7))
    // @ts-expect-error sequential: layer 1: expected an input whose last axis is 3, got [B, 256]
    nn.sequential(nn.dense(784, 256), nn.batchNorm(3))
    // @ts-expect-error sequential: layer 1: expected an NHWC input [B, H, W, C], got [B, 256]
    nn.sequential(nn.dense(784, 256), nn.maxPool2d(2))
  })
  it('pins the message text', () => {
    type Bad = [
      nn.Layer<['B', 784], ['B', 256], unknown, null>,
      nn.Activation,
      nn.Layer<['B', 100], ['B', 10], unknown, null>,
    ]
    expectTypeOf<
      OutShape<ChainIo<Bad>, ['B', 784]>
    >().toEqualTypeOf<'sequential: layer 2: expected input [B, 100], got [B, 256]: shapes [B, 100] and [B, 256] differ at axis 1: 100 vs 256'>()
    expectTypeOf<
      CheckIo<WindowIo<[3, 3], 1, 1, 'VALID', 4, 8, false>, ['B', 9, 9, 3]>
    >().toEqualTypeOf<'expected 4 input channels, got [B, 9, 9, 3]'>()
  })
})

describe('parallel, residual and tie', () => {
  it('parallel concatenates the last axes (their sizes add); parallelAdd keeps the shape', () => {
    const both = nn.parallel(nn.dense(784, 10), nn.dense(784, 6))
    expectTypeOf(both).toExtend<nn.Layer<['B', 784], ['B', 16]>>()
    const inception = nn.parallel(
      nn.conv2d(3, 4, 1),
      nn.conv2d(3, 8, 3, { padding: 'SAME' }),
      nn.maxPool2d(3, { stride: 1, padding: 'SAME' }),
    )
    expectTypeOf(inception.apply(inception.init(key), rgb)).toEqualTypeOf<Tensor<['B', 32, 32, 15], 'f32'>>()
    expectTypeOf(nn.parallelAdd(nn.dense(784, 10), nn.dense(784, 10))).toExtend<nn.Layer<['B', 784], ['B', 10]>>()
    // @ts-expect-error parallel: branch 1: expected input [B, 100], got [B, 784]
    nn.parallel(nn.dense(784, 10), nn.dense(100, 6))
    // @ts-expect-error parallelAdd: branch 1 gives [B, 6], branch 0 gives [B, 10]; added outputs must agree
    nn.parallelAdd(nn.dense(784, 10), nn.dense(784, 6))
  })
  it('residual needs f to keep the shape', () => {
    const block = nn.residual(nn.sequential(nn.dense(64, 64), nn.relu, nn.dense(64, 64)))
    expectTypeOf(block).toExtend<nn.Layer<['B', 64], ['B', 64]>>()
    const convBlock = nn.residual(nn.sequential(nn.conv2d(3, 3, 3, { padding: 'SAME' }), nn.relu))
    expectTypeOf(convBlock.apply(convBlock.init(key), rgb)).toEqualTypeOf<Tensor<['B', 32, 32, 3], 'f32'>>()
    // @ts-expect-error residual: the layer maps [B, 64] to [B, 32]; x + f(x) needs the same shape
    nn.residual(nn.dense(64, 32))
  })
  it('tie: the view has no parameters; the shared ones are held once', () => {
    const tied = nn.tie(nn.dense(8, 8), (d) => nn.sequential(d, nn.tanh, d))
    expectTypeOf<nn.ParamsOf<typeof tied>>().toEqualTypeOf<{
      readonly shared: nn.DenseParams<8, 8>
      readonly network: [null, null, null]
    }>()
    expectTypeOf(tied).toExtend<nn.Layer<['B', 8], ['B', 8]>>()
    // @ts-expect-error sequential: layer 1: expected input [B, 8], got [B, 4]
    nn.tie(nn.dense(8, 4), (d) => nn.sequential(d, d))
  })
})

describe('losses', () => {
  it("take i32 labels of the batch shape or targets of the scores' shape", () => {
    expectTypeOf(nn.softmaxCrossEntropy(logits, labels)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(nn.softmaxCrossEntropy(logits, labels, { reduction: 'none' })).toEqualTypeOf<Tensor<['B'], 'f32'>>()
    expectTypeOf(nn.sparsemaxLoss(logits, logits)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(nn.squaredError(x784, x784, { reduction: 'none' })).toEqualTypeOf<Tensor<['B'], 'f32'>>()
    expectTypeOf(nn.sigmoidCrossEntropy(logits, logits, { reduction: 'none' })).toEqualTypeOf<
      Tensor<['B', 10], 'f32'>
    >()
    // @ts-expect-error labels must have the batch shape [B], not [B, T]
    nn.softmaxCrossEntropy(logits, tokens)
    // @ts-expect-error targets of another shape
    nn.crossEntropy(logits, x100)
    // @ts-expect-error f32 labels of the batch shape are not i32
    nn.sparseSoftmaxCrossEntropy(logits, null as unknown as Tensor<['B'], 'f32'>)
  })
  it('untyped tensors stay permissive', () => {
    expectTypeOf(nn.softmaxCrossEntropy(untyped, untyped)).toExtend<Tensor>()
    expectTypeOf(nn.relu.apply(null, untyped)).toEqualTypeOf<Tensor>()
  })
})

describe('type-level window arithmetic (output size in the COMP613 Deep Learning notes)', () => {
  it('M = floor((N + 2p − R′)/S) + 1, R′ = R + (R − 1)(r − 1); SAME = ceil(N/S)', () => {
    expectTypeOf<WindowOut<28, 3, 1, 1, 'SAME'>>().toEqualTypeOf<28>()
    expectTypeOf<WindowOut<28, 3, 1, 1, 'VALID'>>().toEqualTypeOf<26>()
    expectTypeOf<WindowOut<28, 3, 2, 1, 'SAME'>>().toEqualTypeOf<14>()
    expectTypeOf<WindowOut<7, 3, 2, 2, 'VALID'>>().toEqualTypeOf<2>()
    expectTypeOf<WindowOut<224, 7, 2, 1, 3>>().toEqualTypeOf<112>()
    expectTypeOf<WindowOut<1999, 3, 2, 1, 'VALID'>>().toEqualTypeOf<999>()
    expectTypeOf<WindowOut<2, 3, 1, 1, 'VALID'>>().toEqualTypeOf<never>()
    expectTypeOf<WindowTransposeOut<14, 3, 2, 1, 'SAME'>>().toEqualTypeOf<28>()
    expectTypeOf<WindowTransposeOut<26, 3, 1, 1, 'VALID'>>().toEqualTypeOf<28>()
  })
  it('falls back to number for names, plain numbers and large sizes', () => {
    expectTypeOf<WindowOut<'H', 3, 1, 1, 'SAME'>>().toEqualTypeOf<number>()
    expectTypeOf<WindowOut<number, 3, 1, 1, 'SAME'>>().toEqualTypeOf<number>()
    expectTypeOf<WindowOut<5000, 3, 2, 1, 'VALID'>>().toEqualTypeOf<number>()
    expectTypeOf<WindowOut<28, 3, 1, 1, [[1, 0], [0, 1]]>>().toEqualTypeOf<number>()
  })
})
