/**
 * Labelled points for linear classifiers, with what is known about them: a
 * separable set with a known unit separator u* and margin at least γ, the
 * same with labels flipped at random, and XOR, which no hyperplane
 * separates (A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter
 * School 2018, "What a Simple Perceptron Can and Can't Do"; Minsky and
 * Papert 1969). Used by examples/perceptron.ts and test/perceptron.test.ts.
 * Draws come from keys, so a set is fixed by its key and options.
 */
import { random, tensor, type Tensor } from '../../src/index.ts'

export interface LabelledPoints {
  /** The points, [n, d]. */
  readonly x: Tensor<[number, number], 'f32' | 'f64'>
  /** Their labels, −1 or +1, [n]. */
  readonly y: Tensor<[number], 'f32' | 'f64'>
}

export interface SeparableData extends LabelledPoints {
  /** The unit separator u* (d entries): y_i·(u*·x_i + offset) ≥ margin for every i. */
  readonly u: readonly number[]
  readonly offset: number
  readonly margin: number
}

export interface SeparableOptions {
  readonly n: number
  readonly d: number
  /** γ ≥ 0: every point lies at distance ≥ γ from the hyperplane u*·x + offset = 0. */
  readonly margin: number
  /** The hyperplane's offset (default 0: through the origin, for a perceptron without bias). */
  readonly offset?: number
  /** How far beyond the margin the points reach: their distance to the hyperplane is γ + s, s uniform on [0, depth) (default 1). */
  readonly depth?: number
  /** The spread of the points along the hyperplane (standard deviation of each coordinate; default 1/√d). */
  readonly spread?: number
  /** The separator u* (normalised here), to draw more points about the same hyperplane (default: a random direction). */
  readonly u?: readonly number[]
  /** The points' dtype (default f32; the margin then holds up to rounding to f32). */
  readonly dtype?: 'f32' | 'f64'
}

/**
 * n points in d dimensions on both sides of a random hyperplane u*·x + c = 0
 * (‖u*‖ = 1), none within `margin` of it: with y_i = ±1 drawn fairly, the
 * component of x_i along u* is y_i·(γ + s_i) − c with s_i uniform on [0, depth),
 * and the rest is Gaussian noise within the hyperplane, so
 * y_i·(u*·x_i + c) = γ + s_i ≥ γ.
 */
export function separableData(key: random.Key, options: SeparableOptions): SeparableData {
  const { n, d, margin } = options
  const offset = options.offset ?? 0
  const spread = options.spread ?? 1 / Math.sqrt(d)
  const depth = options.depth ?? 1
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(d) && d >= 1))
    throw new Error(`separableData: n and d must be positive integers, got n = ${n}, d = ${d}`)
  if (!(margin >= 0)) throw new Error(`separableData: margin must be ≥ 0, got ${margin}`)
  const [uKey, labelKey, alongKey, noiseKey] = random.split(key, 4)
  const direction = options.u ?? Array.from(random.normal(uKey, [d], { dtype: 'f64' }).dataSync())
  if (direction.length !== d) throw new Error(`separableData: u must have d = ${d} entries, got ${direction.length}`)
  const norm = Math.hypot(...direction)
  const u = direction.map((v) => v / norm)
  const labels = Array.from(random.bernoulli(labelKey, 0.5, [n]).dataSync(), (b) => (b ? 1 : -1))
  const along = random.uniform(alongKey, [n], { dtype: 'f64' }).dataSync()
  const noise = random.normal(noiseKey, [n, d], { dtype: 'f64', stddev: spread }).dataSync()
  const xs: number[] = []
  for (let i = 0; i < n; i++) {
    const g = Array.from({ length: d }, (_, j) => noise[i * d + j])
    const gu = g.reduce((s, v, j) => s + v * u[j], 0)
    const t = labels[i] * (margin + depth * along[i]) - offset
    for (let j = 0; j < d; j++) xs.push(g[j] - gu * u[j] + t * u[j])
  }
  const dtype = options.dtype ?? 'f32'
  return { x: tensor(xs, { shape: [n, d], dtype }), y: tensor(labels, { shape: [n], dtype }), u, offset, margin }
}

/** The same points with each label flipped with probability `rate`: separable no longer, in general. */
export function flipLabels<P extends LabelledPoints>(key: random.Key, data: P, rate: number): P {
  const n = data.y.aval.shape[0]
  const flips = random.bernoulli(key, rate, [n]).dataSync()
  const y = Array.from(data.y.dataSync(), (v, i) => (flips[i] ? -v : v))
  return { ...data, y: tensor(y, { shape: [n], dtype: data.y.dtype }) }
}

/**
 * XOR in d ≥ 2 dimensions: label sign(x₁·x₂), with x₁ and x₂ at least
 * `margin` from 0 (in [−1, −margin] ∪ [margin, 1]) and the other coordinates
 * Gaussian with standard deviation `spread` (default 0.3). The first four
 * points are the corners (±1, ±1, 0, …, 0), so that no hyperplane, with or
 * without offset, separates the set, whatever n and d: one that did would
 * separate XOR's four corners in the plane.
 */
export function xorData(
  key: random.Key,
  options: { readonly n: number; readonly d?: number; readonly margin?: number; readonly spread?: number },
): LabelledPoints {
  const { n, d = 2, margin = 0.1, spread = 0.3 } = options
  if (!(Number.isInteger(n) && n >= 4 && Number.isInteger(d) && d >= 2))
    throw new Error(`xorData: needs n ≥ 4 points in d ≥ 2 dimensions, got n = ${n}, d = ${d}`)
  const [planeKey, signKey, restKey] = random.split(key, 3)
  const plane = random.uniform(planeKey, [n, 2], { dtype: 'f64', lo: margin, hi: 1 }).dataSync()
  const signs = random.bernoulli(signKey, 0.5, [n, 2]).dataSync()
  const rest = random.normal(restKey, [n, d], { dtype: 'f64', stddev: spread }).dataSync()
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i < n; i++) {
    const corner = i < 4
    const a = corner ? (i & 1 ? -1 : 1) : signs[2 * i] ? -plane[2 * i] : plane[2 * i]
    const b = corner ? (i & 2 ? -1 : 1) : signs[2 * i + 1] ? -plane[2 * i + 1] : plane[2 * i + 1]
    xs.push(a, b)
    for (let j = 2; j < d; j++) xs.push(corner ? 0 : rest[i * d + j])
    ys.push(Math.sign(a * b))
  }
  return { x: tensor(xs, { shape: [n, d] }), y: tensor(ys, { shape: [n] }) }
}
