/**
 * Layers, activations, losses, initialisers and combinators, all pure: a
 * layer is a value `{ init(key) => params, apply(params, x) => y }` (with
 * `forward` for state and training mode), and every function of tensors here
 * is written with the typed ops, so that every transform (grad, jvp, vmap,
 * jit) applies to it unchanged.
 *
 *   const mlp = nn.sequential(nn.dense(784, 256), nn.relu, nn.dense(256, 10))
 *   // mlp: Layer<['B', 784], ['B', 10]>
 *   const loss = (p: nn.ParamsOf<typeof mlp>, x: Tensor<['B', 784]>, y: Tensor<['B'], 'i32'>) =>
 *     nn.softmaxCrossEntropy(mlp.apply(p, x), y)
 */
export {
  evaluation,
  training,
  type AnyLayer,
  type AppendIo,
  type ChainIo,
  type CheckIo,
  type Context,
  type FixedIo,
  type FlattenIo,
  type GlobalPoolIo,
  type IoOf,
  type Layer,
  type LayerOf,
  type OutOf,
  type OutShape,
  type ParallelIo,
  type ParamsOf,
  type ResidualIo,
  type SameIo,
  type ShapeLayer,
  type StateOf,
  type Stateless,
  type WindowIo,
} from './layer.ts'
export {
  avgPool2d,
  batchNorm,
  conv2d,
  conv2dTranspose,
  dense,
  dropout,
  embedding,
  flatten,
  gelu,
  globalAvgPool2d,
  globalMaxPool2d,
  input,
  leakyRelu,
  maxPool2d,
  maxout,
  relu,
  sigmoid,
  softmax,
  softplus,
  sparsemax,
  tanh,
  type Activation,
  type BatchNormLayerOptions,
  type BatchNormLayerParams,
  type BatchNormLayerState,
  type ConvLayerOptions,
  type ConvParams,
  type ConvTransposeParams,
  type DenseParams,
  type EmbeddingLayer,
  type EmbeddingParams,
  type MaxoutParams,
  type ParamOptions,
} from './layers.ts'
export {
  parallel,
  parallelAdd,
  residual,
  sequential,
  tie,
  type Parallel,
  type Residual,
  type Sequential,
  type Tied,
  type TiedParams,
} from './combinators.ts'
export {
  binaryCrossEntropy,
  crossEntropy,
  isWeight,
  l1Penalty,
  l2Penalty,
  oneHot,
  sigmoidCrossEntropy,
  softmaxCrossEntropy,
  sparseCrossEntropy,
  sparseSoftmaxCrossEntropy,
  sparseSparsemaxLoss,
  sparsemaxLoss,
  squaredError,
  type LossOptions,
  type PenaltyOptions,
  type Reduced,
  type Reduction,
} from './losses.ts'
export type { ConvIo, PoolIo, PoolOptions, WindowOptions } from './conv.ts'
export type { Padding } from '../shape/conv.ts'
export * as init from './init.ts'
export * as functional from './functional.ts'
export {
  additiveAttention,
  attend,
  dotProductAttention,
  sparsemaxAttention,
  type AdditiveAttention,
  type AdditiveAttentionOptions,
  type AdditiveAttentionParams,
  type Attended,
  type AttentionOptions,
  type Normaliser,
} from './attention.ts'
export {
  perceptron,
  perceptronPredict,
  mistakeBound,
  type PerceptronOptions,
  type PerceptronResult,
  type LinearClassifier,
  type MistakeBound,
} from './perceptron.ts'
/** Variational autoencoders: the Gaussian KL, likelihoods, the reparameterised sample, the ELBO and the IWAE bound. */
export * as vae from './vae.ts'
export {
  discriminatorLoss,
  generatorLoss,
  optimalDiscriminator,
  ganStep,
  type GanStep,
  type GanStepOptions,
  type GanLosses,
  type GeneratorLossOptions,
  type Network,
} from './gan.ts'
