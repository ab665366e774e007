/**
 * Goodness-of-fit statistics for the samplers' tests, written from their
 * definitions (independent of the library): the Kolmogorov–Smirnov distance
 * to a distribution function, the standard normal CDF from erf's series and
 * continued fraction, and Pearson's χ² over counts.
 */

/** sup |F_n(x) − F(x)| over the sample (Kolmogorov–Smirnov). */
export function ksDistance(samples: ArrayLike<number>, cdf: (x: number) => number): number {
  const xs = Float64Array.from(samples).sort()
  const n = xs.length
  let d = 0
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i])
    d = Math.max(d, (i + 1) / n - f, f - i / n)
  }
  return d
}

/** The KS distance that a true sample of size n exceeds with probability α (asymptotic: c(α)/√n). */
export const ksCritical = (n: number, alpha: 0.01 | 0.001): number => (alpha === 0.01 ? 1.628 : 1.949) / Math.sqrt(n)

/** erf(x) to about 1e-15: its Maclaurin series for |x| < 1, else 1 − erfc from a continued fraction. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN
  const a = Math.abs(x)
  if (a < 1) {
    let term = a
    let sum = a
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n
      const next = term / (2 * n + 1)
      sum += next
      if (Math.abs(next) < 1e-17 * Math.abs(sum)) break
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum)
  }
  // erfc(a) = exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated from the tail.
  let f = a
  for (let k = 400; k >= 1; k--) f = a + k / 2 / f
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f
  return Math.sign(x) * (1 - erfc)
}

/** Φ, the standard normal distribution function. */
export const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2))

/** Pearson's χ² of observed counts against expected counts. */
export function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((s, o, i) => s + (o - expected[i]) ** 2 / expected[i], 0)
}

/**
 * The χ² value exceeded with probability 0.001 for `dof` degrees of freedom
 * (Wilson–Hilferty: dof·(1 − 2/(9 dof) + z·√(2/(9 dof)))³ with z = 3.0902).
 */
export const chiSquareCritical = (dof: number): number =>
  dof * (1 - 2 / (9 * dof) + 3.0902 * Math.sqrt(2 / (9 * dof))) ** 3

export const meanOf = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length
export const varianceOf = (xs: ArrayLike<number>): number => {
  const m = meanOf(xs)
  return Array.from(xs).reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)
}
