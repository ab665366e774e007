/**
 * The layers. Each is a frozen value built by `defineLayer` (layer.ts); its
 * type states the shapes it takes and gives and the parameters it holds.
 * Parameters default to f32; `dtype: 'f64'` gives f64 parameters (the law
 * suites use it for tight tolerances).
 *
 * Layer formulas (Multi-level networks (lecture notes), "Layering and
 * composition" and "Activation Functions"; the layer table of Deep Learning,
 * COMP613 Advanced Topics in Machine Learning (lecture notes), "Neural
 * Networks: Foundations"): dense z = xW + b with
 * ∂L/∂x = ∂L/∂z Wᵀ, ∂L/∂W = xᵀ ∂L/∂z, ∂L/∂b = Σ_batch ∂L/∂z; maxout
 * max_k(x W_k + b_k) (Goodfellow et al. 2013); embedding E[ids] (a gather,
 * whose gradient is a scatter-add of the output cotangents into the rows of E).
 */
import type { DType, FloatDType } from '../dtype.ts'
import * as ops from '../ops.ts'
import type * as random from '../random.ts'
import type { PairOf } from '../shape/conv.ts'
import type { Dim, Shape, Tuple } from '../shape/types.ts'
import { formatAval, formatShape, type Tensor } from '../tensor.ts'
import {
  avgPool2d as avgPoolFn,
  conv2d as convFn,
  conv2dTranspose as convTransposeFn,
  maxPool2d as maxPoolFn,
  pairOf,
  type ConvIo,
  type Pool2d,
  type PoolIo,
  type PoolOptions,
  type WindowOptions,
} from './conv.ts'
import * as F from './functional.ts'
import { glorotUniform, ones, uniform, zeros, type Initializer } from './init.ts'
import {
  defineLayer,
  expectLast,
  expectParams,
  expectParamShape,
  expectShape,
  statelessLayer,
  type AppendIo,
  type Context,
  type OutOf,
  type FlattenIo,
  type GlobalPoolIo,
  type Layer,
  type SameIo,
  type ShapeLayer,
  type Stateless,
} from './layer.ts'

const untyped = (x: Tensor): Tensor<any, any> => x as Tensor<any, any>
const noParams = () => null

/** Options of a layer's parameters: their initialiser and dtype. */
export interface ParamOptions {
  /** The initialiser of the weights (default: Glorot uniform). */
  readonly init?: Initializer
  /** The dtype of the parameters (default f32). */
  readonly dtype?: FloatDType
}

function checkSize(op: string, what: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw new Error(`${op}: ${what} must be a positive integer, got ${String(n)}`)
}

// ---------------------------------------------------------------- dense and maxout

/** The parameters of `dense(I, O)`: the weights w [I, O] and the bias b [O]. */
export type DenseParams<I extends number, O extends number> = { readonly w: Tensor<[I, O]>; readonly b: Tensor<[O]> }

/**
 * z = xW + b: [B, nIn] → [B, nOut]; W from `init` (Glorot uniform), b zeros.
 *
 * @example
 * const layer = nn.dense(784, 10)
 * const x = zeros([32, 784])
 * const y = layer.apply(layer.init(random.key(0)), x) // x [B, 784] → y [B, 10]
 */
export function dense<const I extends number, const O extends number>(
  nIn: I,
  nOut: O,
  options: ParamOptions = {},
): Layer<['B', I], ['B', O], DenseParams<I, O>, Stateless> {
  const name = `dense(${nIn} → ${nOut})`
  checkSize(name, 'the input size', nIn)
  checkSize(name, 'the output size', nOut)
  const { init = glorotUniform, dtype = 'f32' } = options
  return statelessLayer(
    name,
    (key) => ({ w: init(key, [nIn, nOut], { dtype }), b: zeros(key, [nOut], { dtype }) }),
    (p, x) => {
      expectLast(name, x, nIn)
      expectParams(name, p, ['w', 'b'])
      expectParamShape(name, 'w', p.w, [nIn, nOut])
      expectParamShape(name, 'b', p.b, [nOut])
      return ops.add(ops.matmul(untyped(x), untyped(p.w)), untyped(p.b))
    },
  )
}

/** The parameters of a maxout layer: the weights of all pieces side by side, and their biases. */
export type MaxoutParams<I extends number> = { readonly w: Tensor<[I, number]>; readonly b: Tensor<[number]> }

/**
 * Maxout (Goodfellow et al. 2013; Multi-level networks notes, "Activation
 * Functions"): output unit j is max_k (x·w_{jk} + b_{jk}) over `pieces`
 * affine pieces; W is [nIn, nOut·pieces], the pieces of unit j consecutive.
 */
export function maxout<const I extends number, const O extends number>(
  nIn: I,
  nOut: O,
  pieces: number,
  options: ParamOptions = {},
): Layer<['B', I], ['B', O], MaxoutParams<I>, Stateless> {
  const name = `maxout(${nIn} → ${nOut}, ${pieces} pieces)`
  checkSize(name, 'the input size', nIn)
  checkSize(name, 'the output size', nOut)
  checkSize(name, 'pieces', pieces)
  const { init = glorotUniform, dtype = 'f32' } = options
  const width = nOut * pieces
  return statelessLayer(
    name,
    (key) => ({ w: init(key, [nIn, width], { dtype, fanOut: nOut }), b: zeros(key, [width], { dtype }) }),
    (p, x) => {
      expectLast(name, x, nIn)
      expectParams(name, p, ['w', 'b'])
      expectParamShape(name, 'w', p.w, [nIn, width])
      return F.maxoutUnits(ops.add(ops.matmul(untyped(x), untyped(p.w)), untyped(p.b)), pieces)
    },
  )
}

// ---------------------------------------------------------------- activations

/** A layer without parameters that keeps the shape of its input. */
export type Activation = ShapeLayer<SameIo, Stateless, Stateless>

const activation = (name: string, f: (x: Tensor) => Tensor): Activation =>
  statelessLayer(name, noParams, (_p, x) => f(x))

/**
 * max(x, 0), elementwise, as a layer without parameters.
 *
 * @example
 * const net = nn.sequential(nn.dense(4, 8), nn.relu, nn.dense(8, 1))
 */
export const relu: Activation = activation('relu', F.relu)
/** The logistic sigmoid 1/(1 + e⁻ˣ), elementwise, as a layer without parameters. */
export const sigmoid: Activation = activation('sigmoid', F.sigmoid)
/** The hyperbolic tangent, elementwise, as a layer without parameters. */
export const tanh: Activation = activation('tanh', F.tanh)
/** log(1 + eᶻ). */
export const softplus: Activation = activation('softplus', F.softplus)
/** z·Φ(z), in the tanh form unless `approximate` is false (then through erf). */
export const gelu = (opts: { approximate?: boolean } = {}): Activation =>
  activation(opts.approximate === false ? 'gelu(exact)' : 'gelu', (x) => F.gelu(x, opts))
/** Softmax over the last axis. */
export const softmax: Activation = activation('softmax', (x) => F.softmax(x))
/** Sparsemax over the last axis. */
export const sparsemax: Activation = activation('sparsemax', F.sparsemax)
/** z for z > 0, αz otherwise (default α = 0.01). */
export const leakyRelu = (alpha = 0.01): Activation => {
  if (!Number.isFinite(alpha)) throw new Error(`leakyRelu: alpha must be a finite number, got ${alpha}`)
  return activation(`leakyRelu(${alpha})`, (x) => F.leakyRelu(x, alpha))
}

/**
 * Inverted dropout with the given rate: in training mode each unit is kept
 * with probability 1 − rate and scaled by 1/(1 − rate), from the context's
 * key (which training mode must give); in evaluation mode the identity.
 *
 * @example
 * nn.sequential(nn.dense(784, 128), nn.relu, nn.dropout(0.5), nn.dense(128, 10))
 */
export function dropout(rate: number): Activation {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`)
  const name = `dropout(${rate})`
  return statelessLayer(name, noParams, (_p, x, ctx) => {
    if (!ctx.training || rate === 0) return x
    if (ctx.key === undefined) throw new Error(`${name}: training mode needs a key: call forward with nn.training(key)`)
    return F.dropout(x, rate, ctx.key)
  })
}

// ---------------------------------------------------------------- reshaping and lookup

/** [B, ...rest] → [B, product of rest]. */
export const flatten: ShapeLayer<FlattenIo, Stateless, Stateless> = statelessLayer('flatten', noParams, (_p, x) => {
  if (x.ndim === 0) throw new Error(`flatten: expected an input with a batch axis, got ${formatAval(x.aval)}`)
  return ops.reshape(untyped(x), [x.aval.shape[0], x.aval.shape.slice(1).reduce((a, b) => a * b, 1)])
})

/**
 * The identity on inputs of the given shape (named dims match any size):
 * pins the input shape of a `sequential` whose first layer (a convolution,
 * say) takes any, and checks the shape of data from outside at run time.
 */
export function input<const S extends Shape>(shape: S): Layer<Tuple<S>, Tuple<S>, Stateless, Stateless> {
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'string' || (Number.isInteger(d) && d >= 0)))
    throw new Error(`input: the shape must list sizes and names, got ${JSON.stringify(shape)}`)
  const name = `input(${formatShape(shape)})`
  return statelessLayer(name, noParams, (_p, x) => {
    expectShape(name, x, shape)
    return x
  })
}

/** The parameters of `embedding(V, E)`: the table of V vectors of size E. */
export type EmbeddingParams<V extends number, E extends number> = { readonly table: Tensor<[V, E]> }

/** An embedding: i32 ids of shape S give rows [...S, E] in the table's dtype. */
export interface EmbeddingLayer<V extends number, E extends number> {
  readonly name: string
  readonly __io?: AppendIo<E>
  init(key: random.Key): EmbeddingParams<V, E>
  initState(): Stateless
  apply<S extends Shape>(params: EmbeddingParams<V, E>, ids: Tensor<S, 'i32'>): Tensor<OutOf<AppendIo<E>, S>>
  forward<S extends Shape>(
    params: EmbeddingParams<V, E>,
    state: Stateless,
    ids: Tensor<S, 'i32'>,
    ctx?: Context,
  ): readonly [Tensor<OutOf<AppendIo<E>, S>>, Stateless]
}

/**
 * Rows of a [vocab, dim] table picked by i32 ids of any shape: ids S → [...S, dim].
 * The table starts uniform on [−0.05, 0.05] unless `init` says otherwise.
 *
 * @example
 * const embed = nn.embedding(1000, 64)
 * const ids = tensor([[1, 2, 3]], { dtype: 'i32' })
 * embed.apply(embed.init(random.key(0)), ids) // ids [B, T] (i32) → [B, T, 64]
 */
export function embedding<const V extends number, const E extends number>(
  vocab: V,
  dim: E,
  options: ParamOptions = {},
): EmbeddingLayer<V, E> {
  const name = `embedding(${vocab} × ${dim})`
  checkSize(name, 'the vocabulary size', vocab)
  checkSize(name, 'the dimension', dim)
  const { init = uniform(0.05), dtype = 'f32' } = options
  return statelessLayer(
    name,
    (key) => ({ table: init(key, [vocab, dim], { dtype }) }),
    (p, ids) => {
      if (ids.dtype !== 'i32') throw new Error(`${name}: expected i32 ids, got ${formatAval(ids.aval)}`)
      expectParams(name, p, ['table'])
      expectParamShape(name, 'table', p.table, [vocab, dim])
      return ops.take(untyped(p.table), ids as Tensor<Shape, 'i32'>, 0)
    },
  )
}

// ---------------------------------------------------------------- convolution and pooling

/**
 * The parameters of a convolution: the kernel w (window K, Cin input and Cout output channels)
 * and the bias b [Cout].
 */
export type ConvParams<K, Cin extends number, Cout extends number> = {
  readonly w: Tensor<[PairOf<K>[0] & Dim, PairOf<K>[1] & Dim, Cin, Cout]>
  readonly b: Tensor<[Cout]>
}
/** The parameters of a transposed convolution: the kernel w and the bias b [Cout]. */
export type ConvTransposeParams<K, Cin extends number, Cout extends number> = {
  readonly w: Tensor<[PairOf<K>[0] & Dim, PairOf<K>[1] & Dim, Cout, Cin]>
  readonly b: Tensor<[Cout]>
}
type KernelOf<K> = [PairOf<K>[0] & number, PairOf<K>[1] & number]

/**
 * Options of a convolution layer: the window's stride, dilation and padding, and the parameters'
 * initialiser and dtype.
 */
export type ConvLayerOptions = WindowOptions & ParamOptions

/**
 * A 2-D convolution on NHWC input, cin → cout channels, with a kernel of
 * `kernel` taps (a number or [Kh, Kw]), stride, dilation and padding
 * (default VALID); weights [Kh, Kw, cin, cout] (Glorot uniform, fans
 * Kh·Kw·cin and Kh·Kw·cout), bias zeros. The output's spatial size is
 * typed by the formula of the COMP613 notes ("Image Recognition with
 * Convolutional Networks") where the input's is a literal.
 *
 * @example
 * nn.conv2d(3, 16, 3, { padding: 'SAME' }) // [B, 32, 32, 3] → [B, 32, 32, 16]
 */
export function conv2d<
  const Cin extends number,
  const Cout extends number,
  const K extends number | readonly [number, number],
  const O extends ConvLayerOptions = Record<never, never>,
>(
  cin: Cin,
  cout: Cout,
  kernel: K,
  options?: O,
): ShapeLayer<ConvIo<[...KernelOf<K>, Cin, Cout], O>, ConvParams<K, Cin, Cout>, Stateless>
export function conv2d(
  cin: number,
  cout: number,
  kernel: number | readonly [number, number],
  options: ConvLayerOptions = {},
): unknown {
  return convLayer('conv2d', cin, cout, kernel, options)
}

/**
 * The transpose of a convolution (deconvolution), cin → cout channels:
 * weights [Kh, Kw, cout, cin] (TensorFlow's layout: the kernel of the
 * convolution cout → cin that it transposes), bias zeros. Output size
 * (H − 1)S + R′ − 2p, or H·S for SAME.
 *
 * @example
 * nn.conv2dTranspose(16, 3, 2, { stride: 2 }) // [B, 8, 8, 16] → [B, 16, 16, 3]
 */
export function conv2dTranspose<
  const Cin extends number,
  const Cout extends number,
  const K extends number | readonly [number, number],
  const O extends ConvLayerOptions = Record<never, never>,
>(
  cin: Cin,
  cout: Cout,
  kernel: K,
  options?: O,
): ShapeLayer<ConvIo<[...KernelOf<K>, Cout, Cin], O, true>, ConvTransposeParams<K, Cin, Cout>, Stateless>
export function conv2dTranspose(
  cin: number,
  cout: number,
  kernel: number | readonly [number, number],
  options: ConvLayerOptions = {},
): unknown {
  return convLayer('conv2dTranspose', cin, cout, kernel, options)
}

/**
 * The layer of conv2d or its transpose: the kernel [Kh, Kw, cin, cout], or
 * for the transpose [Kh, Kw, cout, cin] with the fans of the convolution
 * cin → cout given to the initialiser (the layout alone would swap them).
 */
function convLayer(
  op: 'conv2d' | 'conv2dTranspose',
  cin: number,
  cout: number,
  kernel: number | readonly [number, number],
  options: ConvLayerOptions,
): unknown {
  const [kh, kw] = pairOf(op, 'kernel', kernel, [1, 1])
  const name = `${op}(${cin} → ${cout}, ${kh}×${kw})`
  checkSize(name, 'cin', cin)
  checkSize(name, 'cout', cout)
  const { init = glorotUniform, dtype = 'f32' } = options
  const transposed = op === 'conv2dTranspose'
  const shape = transposed ? [kh, kw, cout, cin] : [kh, kw, cin, cout]
  const fans = transposed ? { fanIn: kh * kw * cin, fanOut: kh * kw * cout } : {}
  const conv: (x: Tensor<any, any>, w: Tensor<any, any>, o: WindowOptions) => Tensor = transposed
    ? convTransposeFn
    : convFn
  return statelessLayer(
    name,
    (key) => ({ w: init(key, shape, { dtype, ...fans }), b: zeros(key, [cout], { dtype }) }),
    (p, x) => {
      if (x.ndim !== 4 || x.aval.shape[3] !== cin)
        throw new Error(`${name}: expected an NHWC input [B, H, W, ${cin}], got ${formatAval(x.aval)}`)
      expectParams(name, p, ['w', 'b'])
      expectParamShape(name, 'w', p.w, shape)
      return ops.add(untyped(conv(untyped(x), untyped(p.w), options)), untyped(p.b))
    },
  )
}

/** The signature of the pooling layers: windows of `size`, typed by `PoolIo`. */
export type PoolLayer = <
  const K extends number | readonly [number, number],
  const O extends PoolOptions = Record<never, never>,
>(
  size: K,
  options?: O,
) => ShapeLayer<PoolIo<PairOf<K>, O>, Stateless, Stateless>

/** The layer of the pooling function `pool`, named `op`. */
const poolLayer = (op: string, pool: Pool2d): PoolLayer =>
  ((size: number | readonly [number, number], options?: PoolOptions) => {
    pairOf(op, 'pool size', size, [1, 1])
    return statelessLayer(`${op}(${JSON.stringify(size)})`, noParams, (_p, x) => pool(untyped(x), size, options ?? {}))
  }) as PoolLayer

/**
 * Max pooling over windows of `size` (stride: the window size unless given; padding VALID unless
 * given).
 *
 * @example
 * nn.maxPool2d(2) // [B, 28, 28, C] → [B, 14, 14, C]
 */
export const maxPool2d = poolLayer('maxPool2d', maxPoolFn)

/** Average pooling over windows of `size`; with SAME padding only the positions inside the input are averaged. */
export const avgPool2d = poolLayer('avgPool2d', avgPoolFn)

/**
 * Mean over the spatial axes: [B, H, W, C] → [B, C] (global pooling, "full invariance to location":
 * COMP613 notes, "Image Recognition with Convolutional Networks").
 */
export const globalAvgPool2d: ShapeLayer<GlobalPoolIo, Stateless, Stateless> = statelessLayer(
  'globalAvgPool2d',
  noParams,
  (_p, x) => F.globalAvgPool2d(untyped(x)),
)
/** Maximum over the spatial axes: [B, H, W, C] → [B, C]. */
export const globalMaxPool2d: ShapeLayer<GlobalPoolIo, Stateless, Stateless> = statelessLayer(
  'globalMaxPool2d',
  noParams,
  (_p, x) => F.globalMaxPool2d(untyped(x)),
)

// ---------------------------------------------------------------- batch normalisation

/** The parameters of batch normalisation over C channels: the scale γ and the offset β. */
export type BatchNormLayerParams<C extends number> = { readonly scale: Tensor<[C]>; readonly offset: Tensor<[C]> }
/** The state of batch normalisation over C channels: the running mean and variance. */
export type BatchNormLayerState<C extends number> = { readonly mean: Tensor<[C]>; readonly variance: Tensor<[C]> }

/** Options of the batch normalisation layer. */
export interface BatchNormLayerOptions {
  /** Weight of the old running average (default 0.99). */
  readonly momentum?: number
  /** Added to the variance (default 1e-3). */
  readonly epsilon?: number
  readonly dtype?: FloatDType
}

/**
 * Batch normalisation of `features` channels (the last axis; every other
 * axis is averaged over): scale ones, offset zeros, running mean zeros and
 * running variance ones. `forward(p, s, x, nn.training())` normalises by the
 * batch's statistics and returns the updated running averages as the new
 * state; evaluation mode (and `apply`) normalises by the running averages
 * in the state it is given.
 *
 * @example
 * const bn = nn.batchNorm(16)
 * const x = random.normal(random.key(1), [8, 16])
 * const [y, state] = bn.forward(bn.init(random.key(0)), bn.initState(), x, nn.training())
 */
export function batchNorm<const C extends number>(
  features: C,
  options: BatchNormLayerOptions = {},
): ShapeLayer<SameIo<C>, BatchNormLayerParams<C>, BatchNormLayerState<C>> {
  const name = `batchNorm(${features})`
  checkSize(name, 'features', features)
  const { momentum, epsilon, dtype = 'f32' } = options
  return defineLayer({
    name,
    init: (key) => ({ scale: ones(key, [features], { dtype }), offset: zeros(key, [features], { dtype }) }),
    initState: () => ({ mean: ops.zeros([features], dtype), variance: ops.ones([features], dtype) }),
    forward(p, s, x, ctx) {
      expectLast(name, x, features)
      expectParams(name, p, ['scale', 'offset'])
      expectParams(`${name} state`, s, ['mean', 'variance'])
      return F.batchNorm(
        x as Tensor<Shape, DType>,
        p as unknown as F.BatchNormParams,
        s as unknown as F.BatchNormState,
        { training: ctx.training, momentum, epsilon },
      )
    },
  })
}
