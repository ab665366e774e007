/**
 * Orthogonal initialisation (Saxe et al. 2014; A. Martins, Deep Learning: A
 * Shallow Tutorial, NLPL Winter School 2018, "Implementation Tricks": "use
 * random orthogonal matrices to initialize the square matrices"). For a
 * recurrent matrix W, the backpropagated error is multiplied at each step by
 * Diag(g′(z))·W (Martins, "Backpropagation Through Time"); an orthogonal W
 * has every singular value and every eigenvalue modulus equal to 1, so at
 * initialisation that product neither shrinks nor grows a vector by itself.
 * `orthogonal(gain)` scales it: gain·Q has spectral radius exactly `gain`.
 */
import type { FloatDType } from '../dtype.ts'
import type { InitOptions, Initializer } from '../nn/init.ts'
import * as random from '../random.ts'
import { tensor } from '../ops.ts'
import { formatShape, type Tensor } from '../tensor.ts'
import type { Tuple } from '../shape/types.ts'

/**
 * Rows (or columns, whichever are fewer) of a standard normal [n, m] draw made
 * orthonormal by modified Gram–Schmidt in f64: QR's Q, up to the signs of
 * its columns, and distributed uniformly (Haar) like Q.
 */
function orthonormal(key: random.Key, n: number, m: number): Float64Array {
  const rows = n <= m
  const count = Math.min(n, m)
  const len = Math.max(n, m)
  const draw = random.normal(key, [count, len], { dtype: 'f64' }).dataSync()
  const vs = Array.from({ length: count }, (_, i) => Float64Array.from(draw.subarray(i * len, (i + 1) * len)))
  for (let i = 0; i < count; i++) {
    const v = vs[i]
    for (let j = 0; j < i; j++) {
      let d = 0
      for (let k = 0; k < len; k++) d += v[k] * vs[j][k]
      for (let k = 0; k < len; k++) v[k] -= d * vs[j][k]
    }
    let norm = 0
    for (let k = 0; k < len; k++) norm += v[k] * v[k]
    norm = Math.sqrt(norm)
    // A normal draw is linearly dependent on the earlier ones with probability 0.
    if (!(norm > 1e-12)) throw new Error('orthogonal: a degenerate draw; use another key')
    for (let k = 0; k < len; k++) v[k] /= norm
  }
  const out = new Float64Array(n * m)
  for (let i = 0; i < count; i++)
    for (let k = 0; k < len; k++) {
      if (rows) out[i * m + k] = vs[i][k]
      else out[k * m + i] = vs[i][k]
    }
  return out
}

/**
 * gain·Q with Q orthogonal: QQᵀ = I (n ≤ m) or QᵀQ = I (n ≥ m) for a weight
 * [n, m]; a weight of rank > 2 is treated as [product of all but the last, last].
 */
export const orthogonal =
  (gain = 1): Initializer =>
  <const S extends readonly number[]>(
    key: random.Key,
    shape: S,
    options: InitOptions = {},
  ): Tensor<Tuple<S>, FloatDType> => {
    if (!Number.isFinite(gain)) throw new Error(`orthogonal: gain must be a finite number, got ${gain}`)
    if (shape.length < 2 || !shape.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`orthogonal: expected a weight shape of rank ≥ 2 with positive sizes, got ${formatShape(shape)}`)
    const m = shape[shape.length - 1]
    const n = shape.slice(0, -1).reduce((a, b) => a * b, 1)
    const q = orthonormal(key, n, m).map((v) => gain * v)
    const dtype = options.dtype ?? 'f32'
    return tensor(q, { shape, dtype }) as Tensor as Tensor<Tuple<S>, FloatDType>
  }
