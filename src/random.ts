/**
 * Random numbers from explicit keys, as in JAX: no hidden global state. A
 * key is an ordinary tensor, i32[2] (two 32-bit words), so it flows through
 * `jit`, `vmap`, `grad` (as an argument that is not differentiated) and
 * `scan` carries like any other value. A key is split into independent keys
 * (`split`), or a new one is derived from it and an integer (`foldIn`), and
 * each draw consumes one key. Bits come from the Threefry-2×32
 * counter-based generator (Salmon et al., 2011) through the `randomBits`
 * primitive, so a draw inside a compiled program costs no host round trip
 * and gives the same bits on every backend:
 *
 * - split(k, n)[i] = threefry(k, (0, i));
 * - foldIn(k, d) = threefry(k, (1, d));
 * - bits(k, shape) word i = word i mod 2 of threefry(k, (2, ⌊i/2⌋));
 * - permutation(k, n) sorts the words of threefry(k, (3, ·));
 * - uniform f64 element i from 53 bits of threefry(k, (2, i)); f32 from the
 *   top 24 bits of its first word (the f64 draw rounded down).
 */
import * as lax from './core/lax.ts'
import type { DType, FloatDType } from './dtype.ts'
import * as ops from './ops.ts'
import * as math from './ops/math.ts'
import * as statistics from './ops/statistics.ts'
import { erfOf } from './primitives/erf.ts'
import { threefry2x32 } from './primitives/random-bits.ts'
import type { Shape } from './shape/types.ts'
import { checkShape, concrete, describeArg, formatAval, formatShape, scalarOf, Tensor } from './tensor.ts'

export { threefry2x32 }

/** A key: two 32-bit words, as i32[2]. */
export type Key = Tensor<[2], 'i32'>

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>

const checkKey = (name: string, k: unknown): Key => {
  if (!(k instanceof Tensor) || k.aval.dtype !== 'i32' || formatShape(k.aval.shape) !== '[2]')
    throw new TypeError(
      `random.${name}: expected a key, i32[2] (from random.key, random.split or random.foldIn), got ` +
        describeArg(k) +
        '. For a batch of keys [n, 2], vmap over it',
    )
  return k as Key
}

const checkShapeOf = (name: string, shape: readonly number[]) => checkShape(`random.${name}`, shape)

const zeroOffset = scalarOf(0, 'i32')

/** A key from an integer seed. */
export const key = (seed: number): Key => {
  if (!Number.isSafeInteger(seed)) throw new Error(`random.key: the seed must be a safe integer, got ${seed}`)
  const hi = Math.floor(seed / 2 ** 32)
  const lo = seed - hi * 2 ** 32
  return concrete([2], 'i32', Int32Array.of(hi | 0, lo | 0)) as unknown as Key
}

/** The words of a key as unsigned numbers (the key must not be traced). */
export const keyData = (k: Key): [number, number] => {
  const [hi, lo] = checkKey('keyData', k).dataSync()
  return [hi >>> 0, lo >>> 0]
}

/** `n` independent keys from one (default 2). For one tensor of keys [n, 2] (to vmap over), `ops.stack` them. */
export function split(k: Key, n = 2): Key[] {
  checkKey('split', k)
  if (!Number.isInteger(n) || n < 0) throw new Error(`random.split: n must be a non-negative integer, got ${n}`)
  const words = lax.randomBits(k, zeroOffset, [n, 2], 0, 'i32')
  return Array.from({ length: n }, (_, i) => lax.reshape(lax.slice(words, [i, 0], [i + 1, 2]), [2]) as Key)
}

/** A key derived from `k` and an integer (a number, or an i32 scalar that may be traced: a step counter in a loop). */
export function foldIn(k: Key, data: number | T<[], 'i32'>): Key {
  checkKey('foldIn', k)
  let d: Tensor
  if (typeof data === 'number') {
    if (!Number.isInteger(data)) throw new Error(`random.foldIn: data must be an integer, got ${data}`)
    d = scalarOf(data | 0, 'i32')
  } else if (data instanceof Tensor && data.aval.dtype === 'i32' && data.aval.shape.length === 0) d = data
  else throw new TypeError(`random.foldIn: data must be an integer or an i32 scalar, got ${describeArg(data)}`)
  return lax.randomBits(k, d, [2], 1, 'i32') as Key
}

/** Uniformly random 32-bit words, as i32 (their bit patterns). */
export function bits<const S extends readonly number[]>(k: Key, shape: S): T<S, 'i32'> {
  checkKey('bits', k)
  checkShapeOf('bits', shape)
  return lax.randomBits(k, zeroOffset, shape, 2, 'i32')
}

/** The largest float of `dtype` below `x`. */
function below(x: number, dtype: FloatDType): number {
  if (x === 0) return dtype === 'f64' ? -Number.MIN_VALUE : -(2 ** -149)
  if (dtype === 'f64') {
    const f = new Float64Array([x])
    new BigInt64Array(f.buffer)[0] += x > 0 ? -1n : 1n
    return f[0]
  }
  const f = new Float32Array([x])
  new Int32Array(f.buffer)[0] += x > 0 ? -1 : 1
  return f[0]
}

function checkFloatDtype(name: string, dtype: DType): FloatDType {
  if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`random.${name}: dtype must be f32 or f64, got ${dtype}`)
  return dtype
}

/** Uniform on [lo, hi) (default [0, 1)). */
export function uniform<const S extends readonly number[], D extends FloatDType = 'f32'>(
  k: Key,
  shape: S,
  opts: { lo?: number; hi?: number; dtype?: D } = {},
): T<S, D> {
  checkKey('uniform', k)
  checkShapeOf('uniform', shape)
  const { lo = 0, hi = 1 } = opts
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi))
    throw new Error(`random.uniform: expected finite bounds lo < hi, got [${lo}, ${hi})`)
  const dtype = checkFloatDtype('uniform', opts.dtype ?? 'f32')
  const u = lax.randomBits(k, zeroOffset, shape, 2, dtype)
  if (lo === 0 && hi === 1) return u
  // Rounding can reach hi: keep the interval half-open.
  return ops.minimum(ops.add(ops.mul(u, hi - lo), lo), below(hi, dtype)) as T<S, D>
}

/** Standard normal (Box–Muller on pairs of uniforms), scaled by `stddev` and shifted by `mean`. */
export function normal<const S extends readonly number[], D extends FloatDType = 'f32'>(
  k: Key,
  shape: S,
  opts: { mean?: number; stddev?: number; dtype?: D } = {},
): T<S, D> {
  checkKey('normal', k)
  checkShapeOf('normal', shape)
  const { mean = 0, stddev = 1 } = opts
  const dtype = checkFloatDtype('normal', opts.dtype ?? 'f32')
  const n = shape.reduce((a, b) => a * b, 1)
  const pairs = Math.ceil(n / 2)
  const u = lax.randomBits(k, zeroOffset, [pairs, 2], 2, dtype)
  const u0 = ops.slice(u, [0, 0], [pairs, 1])
  const u1 = ops.slice(u, [0, 1], [pairs, 1])
  const r = ops.sqrt(ops.mul(ops.log(ops.sub(1, u0)), -2))
  const theta = ops.mul(u1, 2 * Math.PI)
  const z = ops.reshape(ops.concat([ops.mul(r, ops.cos(theta)), ops.mul(r, ops.sin(theta))], 1), [2 * pairs])
  const x = ops.reshape(ops.slice(z, [0], [n]), shape) as Tensor
  return (mean === 0 && stddev === 1 ? x : ops.add(ops.mul(x, stddev), mean)) as T<S, D>
}

/** True with probability p (a number, or a tensor broadcast against `shape`). */
export function bernoulli<const S extends readonly number[]>(
  k: Key,
  p: number | T<Shape, FloatDType>,
  shape: S,
): T<S, 'bool'> {
  checkKey('bernoulli', k)
  checkShapeOf('bernoulli', shape)
  const dtype = p instanceof Tensor ? checkFloatDtype('bernoulli', p.aval.dtype) : 'f32'
  const u = uniform(k, shape, { dtype })
  if (typeof p === 'number') {
    if (!(p >= 0 && p <= 1)) throw new Error(`random.bernoulli: p must be in [0, 1], got ${p}`)
    return ops.less(u, p) as T<S, 'bool'>
  }
  const out = ops.less(u, p as Tensor) as Tensor
  if (formatShape(out.aval.shape) !== formatShape(shape))
    throw new Error(`random.bernoulli: p ${formatAval(p.aval)} does not broadcast to the shape ${formatShape(shape)}`)
  return out as T<S, 'bool'>
}

/**
 * A normal draw truncated to [lower, upper] (default [−2, 2]), by the
 * inverse distribution function: u uniform on [erf(lower/√2), erf(upper/√2))
 * and x = √2·erfinv(u), kept inside the bounds.
 */
export function truncatedNormal<const S extends readonly number[], D extends FloatDType = 'f32'>(
  k: Key,
  shape: S,
  opts: { lower?: number; upper?: number; dtype?: D } = {},
): T<S, D> {
  checkKey('truncatedNormal', k)
  checkShapeOf('truncatedNormal', shape)
  const { lower = -2, upper = 2 } = opts
  if (!(lower < upper)) throw new Error(`random.truncatedNormal: expected lower < upper, got [${lower}, ${upper}]`)
  const dtype = checkFloatDtype('truncatedNormal', opts.dtype ?? 'f32')
  const [a, b] = [erfOf(lower / Math.SQRT2), erfOf(upper / Math.SQRT2)]
  const u = ops.add(ops.mul(lax.randomBits(k, zeroOffset, shape, 2, dtype), b - a), a)
  const x = ops.mul(math.erfinv(u), Math.SQRT2)
  return math.clip(x, Math.max(lower, -Number.MAX_VALUE), Math.min(upper, Number.MAX_VALUE)) as T<S, D>
}

/**
 * Draws from the categorical distributions whose unnormalised log
 * probabilities are `logits` along `axis` (default: the last), by the
 * Gumbel-max trick: argmax(logits + g) with g = −log(−log u). The result has
 * the logits' shape without `axis`, or `shape` when given (which must end
 * with that batch shape: more draws per distribution).
 */
export function categorical(
  k: Key,
  logits: T<Shape, FloatDType>,
  opts: { axis?: number; shape?: readonly number[] } = {},
): T<Shape, 'i32'> {
  checkKey('categorical', k)
  if (!(logits instanceof Tensor) || (logits.aval.dtype !== 'f32' && logits.aval.dtype !== 'f64') || logits.ndim === 0)
    throw new Error(`random.categorical: expected logits f32 or f64 of rank ≥ 1, got ${describeArg(logits)}`)
  const axis = opts.axis ?? -1
  const a = axis < 0 ? axis + logits.ndim : axis
  if (!Number.isInteger(a) || a < 0 || a >= logits.ndim)
    throw new Error(`random.categorical: axis ${axis} is out of range for logits ${formatAval(logits.aval)}`)
  const last = lax.moveAxis(logits, a, logits.ndim - 1)
  const batch = last.aval.shape.slice(0, -1)
  const n = last.aval.shape[last.ndim - 1]
  const shape = opts.shape ?? batch
  checkShapeOf('categorical', shape)
  if (shape.length < batch.length || batch.some((d, i) => d !== shape[shape.length - batch.length + i]))
    throw new Error(
      `random.categorical: shape ${formatShape(shape)} must end with the logits' batch shape ${formatShape(batch)}`,
    )
  const dtype = logits.aval.dtype
  const u = ops.maximum(
    lax.randomBits(k, zeroOffset, [...shape, n], 2, dtype),
    dtype === 'f32' ? 2 ** -126 : 2 ** -1022,
  )
  const gumbel = ops.neg(ops.log(ops.neg(ops.log(u))))
  return statistics.argmax(ops.add(ops.broadcastTo(last, [...shape, n]), gumbel), -1) as T<Shape, 'i32'>
}

/**
 * A random permutation of 0..n−1 (for a number n), or of `x` along its
 * first axis: the order that sorts n random words (a stable sort, so a tie
 * of two words, rare, keeps their order). Inside a compiled program it costs
 * no host round trip.
 */
export function permutation(k: Key, n: number): T<[number], 'i32'>
export function permutation<S extends Shape, D extends DType>(k: Key, x: T<S, D>): T<S, D>
export function permutation(k: Key, n: number | Tensor): Tensor {
  checkKey('permutation', k)
  if (typeof n === 'number') {
    if (!Number.isInteger(n) || n < 0) throw new Error(`random.permutation: n must be a non-negative integer, got ${n}`)
    return lax.argsort(lax.randomBits(k, zeroOffset, [n], 3, 'i32'), 0, false)
  }
  if (!(n instanceof Tensor) || n.ndim === 0)
    throw new Error(`random.permutation: expected a count or a tensor of rank ≥ 1, got ${describeArg(n)}`)
  return lax.gather(n, permutation(k, n.aval.shape[0]), 0)
}
