/**
 * Special functions and the activations built from them: log1p, expm1 and
 * erf are primitives (accurate where the compositions would lose digits);
 * softplus, GELU and clip are compositions, so every transform and backend
 * handles them through their parts.
 */
import * as lax from '../core/lax.ts'
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import type { Shape } from '../shape/types.ts'
import type { Tensor } from '../tensor.ts'
import { customJvp } from '../control/derivatives.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
type Unary = <S extends Shape, D extends DType>(x: T<S, D>) => T<S, D>

/** log(1 + x), accurate for small x. */
export const log1p: Unary = (x) => lax.log1p(x)
/** eˣ − 1, accurate for small x. */
export const expm1: Unary = (x) => lax.expm1(x)
/** The error function 2/√π ∫₀ˣ e^{−t²} dt. */
export const erf: Unary = (x) => lax.erf(x)

/**
 * The inverse of erf on (−1, 1), ±∞ at ±1: Giles's single-precision
 * approximation ("Approximating the erfinv function", GPU Computing Gems,
 * 2011), a polynomial in w = −log(1 − x²) on two ranges, accurate to a few
 * f32 ulps (about 1e-7 relative in f64 too: not a double-precision inverse).
 */
export const erfinv: Unary = (x) => {
  const t = x as Tensor
  const c = (v: number) => lax.fullLike(t, v)
  const horner = (w: Tensor, coefficients: readonly number[]) =>
    coefficients.slice(1).reduce<Tensor>((p, k) => lax.add(c(k), lax.mul(p, w)), c(coefficients[0]))
  const w = lax.neg(lax.log(lax.mul(lax.sub(c(1), t), lax.add(c(1), t))))
  const central = horner(
    lax.sub(w, c(2.5)),
    [
      2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164,
      0.246640727, 1.50140941,
    ],
  )
  const tail = horner(
    lax.sub(lax.sqrt(w), c(3)),
    [
      -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
      1.00167406, 2.83297682,
    ],
  )
  const inside = lax.mul(lax.select(lax.compare(w, c(5), 'lt'), central, tail), t)
  // At ±1 the polynomial's leading term decides the sign of ∞ wrongly: erfinv(±1) = ±∞.
  return lax.select(lax.compare(lax.abs(t), c(1), 'eq'), lax.mul(t, c(Infinity)), inside) as never
}

const softplusValue = (t: Tensor) => lax.add(lax.max(t, lax.fullLike(t, 0)), lax.log1p(lax.exp(lax.neg(lax.abs(t)))))
const stableSoftplus = customJvp(
  softplusValue,
  ([t], [dt]) => [softplusValue(t), lax.mul(dt, lax.logistic(t))] as const,
)

/**
 * softplus(x) = log(1 + eˣ), computed as max(x, 0) + log1p(e^{−|x|}): no
 * overflow for large |x|; its derivative is given by a custom rule, σ(x),
 * rather than differentiated through the maximum and |x|.
 */
export const softplus: Unary = (x) => stableSoftplus(x as Tensor) as never

/**
 * The Euclidean norm √Σx² over `axis` (all axes when omitted), with a custom
 * derivative that is safe at the zero vector: Σ x·dx / ‖x‖ where ‖x‖ > 0,
 * and 0 there (the composition would give 0/0 = NaN).
 */
export function norm<S extends Shape, D extends DType>(
  x: T<S, D>,
  axis?: number | readonly number[],
  opts: { readonly keepDims?: boolean } = {},
): T<Shape, D> {
  const keepDims = opts.keepDims ?? false
  const value = (v: Tensor) => ops.sqrt(ops.sum(ops.square(v), axis as number, { keepDims }))
  const safe = customJvp(value, ([v], [dv]) => {
    const y = value(v)
    const dot = ops.sum(ops.mul(v, dv), axis as number, { keepDims })
    const positive = ops.greater(y, 0)
    return [y, ops.where(positive, ops.div(dot, ops.where(positive, y, 1)), 0)] as const
  })
  return safe(x as Tensor) as T<Shape, D>
}

/**
 * The Gaussian error linear unit x·Φ(x) (Hendrycks and Gimpel, 2016): exact,
 * ½x(1 + erf(x/√2)), or with `approximate` (the default, as in JAX) the
 * tanh form ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */
export function gelu<S extends Shape, D extends DType>(x: T<S, D>, opts: { approximate?: boolean } = {}): T<S, D> {
  const t = x as Tensor
  const c = (v: number) => lax.fullLike(t, v)
  const inner =
    opts.approximate === false
      ? lax.erf(lax.mul(t, c(Math.SQRT1_2)))
      : lax.tanh(lax.mul(c(Math.sqrt(2 / Math.PI)), lax.add(t, lax.mul(c(0.044715), lax.mul(t, lax.mul(t, t))))))
  return lax.mul(lax.mul(c(0.5), t), lax.add(c(1), inner)) as T<S, D>
}

/**
 * x limited to [lo, hi] (either bound may be omitted, or a tensor that
 * broadcasts against x): min(max(x, lo), hi). At a bound the derivative is
 * split as the maximum's and minimum's ties split it.
 */
export function clip<S extends Shape, D extends DType>(
  x: T<S, D>,
  lo?: number | T<Shape, D>,
  hi?: number | T<Shape, D>,
): T<S, D> {
  if (typeof lo === 'number' && typeof hi === 'number' && !(lo <= hi))
    throw new Error(`clip: expected lo ≤ hi, got lo = ${lo}, hi = ${hi}`)
  let y: Tensor = x
  if (lo !== undefined) y = ops.maximum(y, lo as Tensor)
  if (hi !== undefined) y = ops.minimum(y, hi as Tensor)
  if (y.aval.shape.length !== x.aval.shape.length || y.aval.shape.some((d, i) => d !== x.aval.shape[i]))
    throw new Error(`clip: the bounds must broadcast to the shape of x, [${x.aval.shape.join(', ')}]`)
  return y as T<S, D>
}
