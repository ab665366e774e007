/**
 * Initialisers: parameters drawn from an explicit key (no global generator).
 * Each takes the key, the shape and the fans, the numbers of inputs and
 * outputs a weight connects (`fans(shape)` by default: a dense weight
 * [n_in, n_out]; a convolution kernel [Kh, Kw, Cin, Cout] has fan-in
 * Kh·Kw·Cin and fan-out Kh·Kw·Cout).
 *
 * - Glorot/Xavier uniform (Glorot and Bengio 2010; A. Martins, Deep Learning: A Shallow Tutorial,
 *   NLPL Winter School 2018, "Initialization"): U[−t, t], t = √6 / √(n_in + n_out),
 *   variance 2/(n_in + n_out); for tanh and sigmoid.
 * - He normal (He et al. 2015; Neural Networks II (lecture notes), "Weight Initialisation"):
 *   N(0, 2/n_in), so that ½·n_in·Var[w] = 1 and the
 *   variance of ReLU activations neither grows nor shrinks with depth.
 * - Zeros: for biases (Martins, "Initialization": "initialize all biases to zero").
 */
import type { FloatDType } from '../dtype.ts'
import { full } from '../ops.ts'
import * as random from '../random.ts'
import type { Tuple } from '../shape/types.ts'
import { checkShape, formatShape, type Tensor } from '../tensor.ts'

export interface Fans {
  readonly fanIn: number
  readonly fanOut: number
}

export interface InitOptions extends Partial<Fans> {
  readonly dtype?: FloatDType
}

export type Initializer = <const S extends readonly number[]>(
  key: random.Key,
  shape: S,
  options?: InitOptions,
) => Tensor<Tuple<S>, FloatDType>

/** The fans of a weight of this shape: the last axis is the output, the one before it the input, the rest the receptive field. */
export function fans(shape: readonly number[]): Fans {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 }
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] }
  const field = shape.slice(0, -2).reduce((a, b) => a * b, 1)
  return { fanIn: field * shape[shape.length - 2], fanOut: field * shape[shape.length - 1] }
}

function resolveFans(name: string, shape: readonly number[], options: InitOptions): Fans {
  checkShape(name, shape)
  const base = fans(shape)
  const f = { fanIn: options.fanIn ?? base.fanIn, fanOut: options.fanOut ?? base.fanOut }
  if (!(f.fanIn > 0 && f.fanOut > 0))
    throw new Error(
      `${name}: fans must be positive, got fanIn ${f.fanIn}, fanOut ${f.fanOut} for shape ${formatShape(shape)}`,
    )
  return f
}

/** U[−t, t] with t = √(6 / (n_in + n_out)) (Glorot and Bengio 2010). */
export const glorotUniform: Initializer = (key, shape, options = {}) => {
  const { fanIn, fanOut } = resolveFans('glorotUniform', shape, options)
  const t = Math.sqrt(6 / (fanIn + fanOut))
  return random.uniform(key, shape, { lo: -t, hi: t, dtype: options.dtype ?? 'f32' }) as Tensor as Tensor<
    Tuple<typeof shape>,
    FloatDType
  >
}

/** N(0, 2/(n_in + n_out)): Glorot's variance with normal draws. */
export const glorotNormal: Initializer = (key, shape, options = {}) => {
  const { fanIn, fanOut } = resolveFans('glorotNormal', shape, options)
  return random.normal(key, shape, {
    stddev: Math.sqrt(2 / (fanIn + fanOut)),
    dtype: options.dtype ?? 'f32',
  }) as Tensor as Tensor<Tuple<typeof shape>, FloatDType>
}

/** N(0, 2/n_in) (He et al. 2015): for ReLU networks. */
export const heNormal: Initializer = (key, shape, options = {}) => {
  const { fanIn } = resolveFans('heNormal', shape, options)
  return random.normal(key, shape, { stddev: Math.sqrt(2 / fanIn), dtype: options.dtype ?? 'f32' }) as Tensor as Tensor<
    Tuple<typeof shape>,
    FloatDType
  >
}

/** U[−t, t] with t = √(6 / n_in): He's variance 2/n_in with uniform draws. */
export const heUniform: Initializer = (key, shape, options = {}) => {
  const { fanIn } = resolveFans('heUniform', shape, options)
  const t = Math.sqrt(6 / fanIn)
  return random.uniform(key, shape, { lo: -t, hi: t, dtype: options.dtype ?? 'f32' }) as Tensor as Tensor<
    Tuple<typeof shape>,
    FloatDType
  >
}

/** N(0, stddev²), whatever the fans. */
export const normal =
  (stddev = 1): Initializer =>
  (key, shape, options = {}) =>
    random.normal(key, shape, { stddev, dtype: options.dtype ?? 'f32' }) as Tensor as Tensor<
      Tuple<typeof shape>,
      FloatDType
    >

/** U[−t, t], whatever the fans. */
export const uniform =
  (t: number): Initializer =>
  (key, shape, options = {}) =>
    random.uniform(key, shape, { lo: -t, hi: t, dtype: options.dtype ?? 'f32' }) as Tensor as Tensor<
      Tuple<typeof shape>,
      FloatDType
    >

/** A constant (the key is not used): zeros for biases, ones for batch-norm scales. */
export const constant =
  (value: number): Initializer =>
  (_key, shape, options = {}) =>
    full(shape, value, options.dtype ?? 'f32') as Tensor as Tensor<Tuple<typeof shape>, FloatDType>

export const zeros: Initializer = constant(0)
export const ones: Initializer = constant(1)
