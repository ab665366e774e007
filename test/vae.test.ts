/**
 * Variational autoencoders (src/nn/vae.ts) against independent references:
 *  - the closed-form KL[N(μ, σ²) ‖ N(0, I)] of Deep Learning, COMP613
 *    Advanced Topics in Machine Learning (lecture notes), "Variational Latent
 *    Gaussian models", against a Monte Carlo estimate of E_q[log q − log p]
 *    with both densities written here; its gradient against central
 *    differences and the closed form (μ, ½(σ² − 1));
 *  - the bounds ELBO ≤ E[IWAE_k] ≤ E[IWAE_k'] ≤ log p(x) for k ≤ k' (Burda,
 *    Grosse and Salakhutdinov 2016) on two models whose marginal likelihood
 *    is known: a linear-Gaussian decoder, where p(x) = N(b, MᵀM + σ²I) and
 *    the posterior are in closed form (and where q equal to the posterior
 *    makes every importance weight exactly p(x)), and a small Bernoulli
 *    `vaeModel` with a 2-D latent, whose p(x) = ∫ p(x|z) N(z; 0, I) dz is
 *    computed by quadrature on a fine grid;
 *  - the reparameterised gradient of E_q[f(z)] (Kingma and Welling 2014)
 *    against the score-function (REINFORCE, Williams 1992) estimator and the
 *    exact gradient of a quadratic.
 * Each statistical check is also run on a planted bug (a KL with a wrong
 * factor or a missing exp, an IWAE without its −log k, an ELBO with the KL's
 * sign flipped, a score function of an unnormalised density, a sample
 * scaled by σ² instead of σ), which the same check must reject.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { finiteDifferences } from '../laws/index.ts'
import {
  bernoulliLogLikelihood,
  elbo,
  gaussianKl,
  gaussianLogDensity,
  gaussianLogLikelihood,
  iwae,
  logImportanceWeights,
  reparameterize,
  vaeModel,
  type Vae,
} from '../src/nn/vae.ts'
import { grad, ops, random, tensor, type Tensor } from '../src/index.ts'
import { assertProperty, runs } from './lib/property.ts'
import { meanOf, varianceOf } from './lib/stats.ts'

const values = (t: Tensor): number[] => Array.from(t.dataSync())
const f64 = (rows: number[][]): Tensor => tensor(rows, { dtype: 'f64' })
const uniform64 = (seed: number, shape: number[], lo: number, hi: number) =>
  random.uniform(random.key(seed), shape, { lo, hi, dtype: 'f64' })

/** Mean and standard error of a sample. */
function estimate(xs: ArrayLike<number>): { mean: number; se: number } {
  return { mean: meanOf(xs), se: Math.sqrt(varianceOf(xs) / xs.length) }
}

/** log (1/n) Σ exp(a_i), in f64 on the host. */
function logMeanExp(a: readonly number[]): number {
  const m = Math.max(...a)
  return m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0) / a.length)
}

// ---------------------------------------------------------------- the KL term

describe('gaussianKl', () => {
  const L = 3
  const N = 4
  const S = 20_000
  const mu = uniform64(1, [N, L], -1.5, 1.5)
  const logVar = uniform64(2, [N, L], -1.5, 1.5)

  /**
   * The largest |KL(row) − Monte Carlo estimate| in standard errors, where the
   * estimate is the mean over S draws z = μ + σε of log q(z) − log N(z; 0, I),
   * both log densities written out here: Σ_i (−½ log σ_i² − (z_i − μ_i)²/2σ_i² + z_i²/2).
   */
  function worstZScore(kl: (mu: Tensor, logVar: Tensor) => Tensor): number {
    const z = values(reparameterize(random.key(3), mu, logVar, S))
    const [m, v] = [values(mu), values(logVar)]
    const closed = values(kl(mu, logVar))
    let worst = 0
    for (let n = 0; n < N; n++) {
      const terms = new Float64Array(S)
      for (let s = 0; s < S; s++)
        for (let i = 0; i < L; i++) {
          const zi = z[(s * N + n) * L + i]
          const [mi, vi] = [m[n * L + i], v[n * L + i]]
          terms[s] += -0.5 * vi - (zi - mi) ** 2 / (2 * Math.exp(vi)) + zi ** 2 / 2
        }
      const { mean, se } = estimate(terms)
      worst = Math.max(worst, Math.abs(closed[n] - mean) / se)
    }
    return worst
  }

  it('equals a Monte Carlo estimate of E_q[log q(z) − log p(z)] (20,000 draws, f64)', () => {
    expect(worstZScore(gaussianKl)).toBeLessThan(4)
  })

  it('rejects a KL with a wrong factor or a missing exp by the same check', () => {
    // ½ Σ (log σ² + μ² − 1 − log σ²): the exp of σ² = exp(log σ²) forgotten.
    const missingExp = (m: Tensor, v: Tensor) =>
      ops.mul(ops.sum(ops.sub(ops.add(v, ops.square(m)), ops.add(v, 1)), -1), 0.5)
    // Σ (σ² + μ² − 1 − log σ²): the ½ forgotten.
    const noHalf = (m: Tensor, v: Tensor) => ops.mul(gaussianKl(m, v), 2)
    // ½ Σ (σ² + μ² − 1 − ½ log σ²): log σ where log σ² belongs.
    const logSigma = (m: Tensor, v: Tensor) => ops.sub(gaussianKl(m, v), ops.mul(ops.sum(v, -1), -0.25))
    for (const bug of [missingExp, noHalf, logSigma]) expect(worstZScore(bug)).toBeGreaterThan(10)
  })

  it('is ≥ 0, 0 exactly at μ = 0, log σ² = 0, and ½ Σ (σ² + μ² − 1 − log σ²) elsewhere', () => {
    expect(values(gaussianKl(ops.zeros([2, 5], 'f64'), ops.zeros([2, 5], 'f64')))).toEqual([0, 0])
    const pair = fc.array(
      fc.tuple(fc.double({ min: -6, max: 6, noNaN: true }), fc.double({ min: -8, max: 8, noNaN: true })),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    assertProperty(
      fc.property(pair, (coords) => {
        const m = f64([coords.map((c) => c[0])])
        const v = f64([coords.map((c) => c[1])])
        const [kl] = values(gaussianKl(m, v))
        const expected = coords.reduce((s, [a, b]) => s + 0.5 * (Math.exp(b) + a * a - 1 - b), 0)
        expect(kl).toBeGreaterThanOrEqual(0)
        expect(Math.abs(kl - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, expected))
      }),
      { ...runs(1), seed: 41 },
    )
  })

  it('has gradient (μ, ½(σ² − 1)), which central differences confirm; a wrong closed form is rejected', () => {
    const total = (m: Tensor, v: Tensor) => ops.sum(gaussianKl(m, v))
    const [gm, gv] = grad(total, { argnums: [0, 1] })(mu, logVar) as [Tensor, Tensor]
    const [m, v] = [values(mu), values(logVar)]
    const h = 1e-6
    const central = (i: number, which: 'mu' | 'logVar') => {
      const bump = (d: number) => {
        const mm = [...m]
        const vv = [...v]
        if (which === 'mu') mm[i] += d
        else vv[i] += d
        return values(
          total(tensor(mm, { shape: [N, L], dtype: 'f64' }), tensor(vv, { shape: [N, L], dtype: 'f64' })),
        )[0]
      }
      return (bump(h) - bump(-h)) / (2 * h)
    }
    const closeToCentral = (g: number[], which: 'mu' | 'logVar') =>
      g.every((gi, i) => Math.abs(gi - central(i, which)) < 1e-7 * Math.max(1, Math.abs(gi)))
    expect(closeToCentral(values(gm), 'mu')).toBe(true)
    expect(closeToCentral(values(gv), 'logVar')).toBe(true)
    values(gm).forEach((g, i) => expect(g).toBeCloseTo(m[i], 14))
    values(gv).forEach((g, i) => expect(g).toBeCloseTo(0.5 * (Math.exp(v[i]) - 1), 14))
    // The planted bug: ∂KL/∂log σ² = σ² − 1 (the ½ forgotten).
    expect(
      closeToCentral(
        v.map((vi) => Math.exp(vi) - 1),
        'logVar',
      ),
    ).toBe(false)
    // The library's law: jvp against central differences in a random direction.
    const law = finiteDifferences(gaussianKl, [mu, logVar], [uniform64(4, [N, L], -1, 1), uniform64(5, [N, L], -1, 1)])
    expect(law.ok, law.detail).toBe(true)
  })
})

// ---------------------------------------------------------------- densities and samples

describe('densities and the reparameterised sample', () => {
  it('gaussianLogDensity and gaussianLogLikelihood are −½ Σ (log 2π + log σ² + (z − μ)²/σ²)', () => {
    const z = uniform64(6, [3, 4], -2, 2)
    const mu = uniform64(7, [3, 4], -1, 1)
    const logVar = uniform64(8, [3, 4], -1, 1)
    const [zs, ms, vs] = [values(z), values(mu), values(logVar)]
    const expected = [0, 1, 2].map((n) =>
      [0, 1, 2, 3].reduce((s, i) => {
        const k = n * 4 + i
        return s - 0.5 * (Math.log(2 * Math.PI) + vs[k] + (zs[k] - ms[k]) ** 2 / Math.exp(vs[k]))
      }, 0),
    )
    values(gaussianLogDensity(z, mu, logVar)).forEach((d, n) => expect(d).toBeCloseTo(expected[n], 12))
    // The standard normal: log N(z; 0, I) = −½ Σ (log 2π + z²).
    values(gaussianLogDensity(z, 0, 0)).forEach((d, n) =>
      expect(d).toBeCloseTo(
        [0, 1, 2, 3].reduce((s, i) => s - 0.5 * (Math.log(2 * Math.PI) + zs[n * 4 + i] ** 2), 0),
        12,
      ),
    )
    // A likelihood with one x for two samples of the mean: [2, 3, 4] against [3, 4].
    const means = ops.stack([mu, z], 0)
    const ll = values(gaussianLogLikelihood(means, z, logVar))
    values(gaussianLogDensity(z, mu, logVar)).forEach((d, n) => expect(ll[n]).toBeCloseTo(d, 12))
    expect(() => gaussianLogDensity(z, ops.zeros([5], 'f64'), 0)).toThrow(/broadcast/)
  })

  it('bernoulliLogLikelihood is Σ x log σ(l) + (1 − x) log(1 − σ(l)), finite for logits of any size', () => {
    const logits = f64([
      [-3, 0.5, 2, -0.1],
      [100, -100, 40, -40],
    ])
    const x = f64([
      [1, 0, 1, 0.25],
      [1, 0, 0, 1],
    ])
    const sig = (l: number) => 1 / (1 + Math.exp(-l))
    const l0 = [-3, 0.5, 2, -0.1]
    const x0 = [1, 0, 1, 0.25]
    const row0 = l0.reduce((s, l, i) => s + x0[i] * Math.log(sig(l)) + (1 - x0[i]) * Math.log(1 - sig(l)), 0)
    const [a, b] = values(bernoulliLogLikelihood(logits, x))
    expect(a).toBeCloseTo(row0, 12)
    // log σ(100) ≈ −e⁻¹⁰⁰, log(1 − σ(−100)) ≈ −e⁻¹⁰⁰, log(1 − σ(40)) = −40 − log(1 + e⁻⁴⁰), log σ(−40) likewise.
    expect(b).toBeCloseTo(-80, 10)
    // x broadcast against two samples of logits.
    const two = values(bernoulliLogLikelihood(ops.stack([logits, logits], 0), x))
    expect(two).toEqual([a, b, a, b])
  })

  it('reparameterize draws N(μ, σ²) and passes gradients 1 and ½(z − μ) to μ and log σ²', () => {
    const mu = f64([[0.3, -1.2]])
    const logVar = f64([[-0.7, 0.9]])
    const S = 20_000
    const z = values(reparameterize(random.key(9), mu, logVar, S))
    for (let i = 0; i < 2; i++) {
      const zi = Array.from({ length: S }, (_, s) => z[s * 2 + i])
      const { mean, se } = estimate(zi)
      const m = values(mu)[i]
      const v = Math.exp(values(logVar)[i])
      expect(Math.abs(mean - m)).toBeLessThan(4 * se)
      // The sample variance has standard error σ²·√(2/(S − 1)).
      expect(Math.abs(varianceOf(zi) - v)).toBeLessThan(4 * v * Math.sqrt(2 / (S - 1)))
    }
    const zOne = (m: Tensor, v: Tensor) => ops.sum(reparameterize(random.key(10), m, v))
    const [gm, gv] = grad(zOne, { argnums: [0, 1] })(mu, logVar) as [Tensor, Tensor]
    const drawn = values(reparameterize(random.key(10), mu, logVar))
    expect(values(gm)).toEqual([1, 1])
    values(gv).forEach((g, i) => expect(g).toBeCloseTo(0.5 * (drawn[i] - values(mu)[i]), 14))
  })
})

// ---------------------------------------------------------------- bounds on models with a known p(x)

/**
 * A linear-Gaussian model: z ~ N(0, I_L), x | z ~ N(zM + b, σ²I_D) with M
 * [L, D], so p(x) = N(x; b, MᵀM + σ²I) and the posterior is N(μ_post, Σ_post)
 * with Σ_post = (I + MMᵀ/σ²)⁻¹, μ_post = (x − b)MᵀΣ_post/σ² (rows). The
 * encoder is linear: μ = xA + a, log σ² = s for every x.
 */
type LinearParams = {
  readonly M: Tensor
  readonly b: Tensor
  readonly A: Tensor
  readonly a: Tensor
  readonly s: Tensor
}
const NOISE = 0.25
const linearGaussian: Vae<LinearParams> = {
  encode: (p, x) => ({
    mu: ops.add(ops.matmul(x as Tensor<any>, p.A as Tensor<any>), p.a as Tensor<any>),
    logVar: ops.broadcastTo(p.s as Tensor<any>, [x.aval.shape[0], p.s.aval.shape[0]]),
  }),
  decode: (p, z) => ops.add(ops.matmul(z as Tensor<any>, p.M as Tensor<any>), p.b as Tensor<any>),
  logLikelihood: (mean, x) =>
    gaussianLogLikelihood(mean as Tensor<any, 'f64'>, x as Tensor<any, 'f64'>, Math.log(NOISE)),
}

/** Small dense linear algebra in f64 for the references. */
const matmulHost = (a: number[][], b: number[][]) =>
  a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)))
const transposeHost = (a: number[][]) => a[0].map((_, j) => a.map((r) => r[j]))
function inverse2(a: number[][]): number[][] {
  const det = a[0][0] * a[1][1] - a[0][1] * a[1][0]
  return [
    [a[1][1] / det, -a[0][1] / det],
    [-a[1][0] / det, a[0][0] / det],
  ]
}
/** log N(x; m, C) by a Cholesky factor of C. */
function logNormal(x: number[], m: number[], c: number[][]): number {
  const d = x.length
  const l = c.map((r) => r.map(() => 0))
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) {
      let s = c[i][j]
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k]
      l[i][j] = i === j ? Math.sqrt(s) : s / l[j][j]
    }
  const y = new Array<number>(d).fill(0)
  for (let i = 0; i < d; i++) {
    let s = x[i] - m[i]
    for (let k = 0; k < i; k++) s -= l[i][k] * y[k]
    y[i] = s / l[i][i]
  }
  const logDet = 2 * l.reduce((s, r, i) => s + Math.log(r[i]), 0)
  return -0.5 * (d * Math.log(2 * Math.PI) + logDet + y.reduce((s, v) => s + v * v, 0))
}

/** Exact log p(x), the posterior, and the exact ELBO of q = N(xA + a, diag e^s) for each row of xs. */
function linearReference(M: number[][], b: number[], xs: number[][], A: number[][], a: number[], s: number[]) {
  const D = b.length
  const covariance = matmulHost(transposeHost(M), M).map((r, i) => r.map((v, j) => v + (i === j ? NOISE : 0)))
  const logP = xs.map((x) => logNormal(x, b, covariance))
  const precision = matmulHost(M, transposeHost(M)).map((r, i) => r.map((v, j) => v / NOISE + (i === j ? 1 : 0)))
  const posteriorCov = inverse2(precision)
  const posteriorA = matmulHost(transposeHost(M), posteriorCov).map((r) => r.map((v) => v / NOISE))
  const exactElbo = xs.map((x) => {
    const mu = matmulHost([x], A)[0].map((v, i) => v + a[i])
    const variance = s.map(Math.exp)
    // E_q log N(x; zM + b, σ²I) = −½[D log 2πσ² + (‖x − b − μM‖² + Σ_l var_l ‖M_l‖²)/σ²].
    const mean = matmulHost([mu], M)[0].map((v, j) => v + b[j])
    const residual = x.reduce((t, xj, j) => t + (xj - mean[j]) ** 2, 0)
    const spread = variance.reduce((t, vl, l) => t + vl * M[l].reduce((u, w) => u + w * w, 0), 0)
    const expectedLl = -0.5 * (D * Math.log(2 * Math.PI * NOISE) + (residual + spread) / NOISE)
    const kl = 0.5 * mu.reduce((t, m, l) => t + variance[l] + m * m - 1 - s[l], 0)
    return expectedLl - kl
  })
  return { logP, posteriorCov, posteriorA, exactElbo }
}

const K_POOL = 50_000
const KS = [1, 5, 50, 500] as const

/** IWAE_k from a pool of log weights of example n: one value per disjoint group of k draws (K_POOL/k of them). */
function iwaeGroups(logW: number[], n: number, N: number, k: number, withLogK = true): number[] {
  return Array.from({ length: K_POOL / k }, (_, g) => {
    const group = Array.from({ length: k }, (_, i) => logW[(g * k + i) * N + n])
    return logMeanExp(group) + (withLogK ? 0 : Math.log(k))
  })
}

/**
 * The bounds as a predicate of Monte Carlo estimates, each step beyond a few
 * standard errors: the ELBO agrees with IWAE_1; IWAE_k rises along KS, judged
 * by paired differences (each group of k′ against the mean of its k′/k
 * subgroups of k, the same draws); every IWAE_k stays below log p(x).
 */
function boundsHold(elboEstimate: { mean: number; se: number }, ladder: number[][], logP: number): boolean {
  const first = estimate(ladder[0])
  const close = Math.abs(elboEstimate.mean - first.mean) < 4 * (elboEstimate.se + first.se)
  const rising = ladder.every((groups, i) => {
    if (i === 0) return true
    const r = KS[i] / KS[i - 1]
    const gain = estimate(groups.map((v, g) => v - meanOf(ladder[i - 1].slice(g * r, (g + 1) * r))))
    return gain.mean > 3 * gain.se
  })
  const below = ladder.every((groups) => {
    const e = estimate(groups)
    return e.mean < logP + 4 * e.se
  })
  return close && rising && below
}

describe('ELBO ≤ IWAE_k ≤ IWAE_k′ ≤ log p(x)', () => {
  const b = [0.5, -0.3, 0.2, 1]
  const xs = [
    [1.2, -0.4, 0.9, 2.1],
    [-0.6, 0.8, -1.1, 0.3],
    [0.4, 0.1, 0.6, 1.5],
  ]
  const x = f64(xs)
  const N = xs.length
  const params = (M: number[][], A: number[][], a: number[], s: number[]): LinearParams => ({
    M: f64(M),
    b: tensor(b, { dtype: 'f64' }),
    A: f64(A),
    a: tensor(a, { dtype: 'f64' }),
    s: tensor(s, { dtype: 'f64' }),
  })

  it('every importance weight is exactly p(x) when q is the posterior (rows of M orthogonal)', () => {
    const M = [
      [1, 0.5, -0.5, 0.2],
      [0.5, -1, 0, 0],
    ]
    const ref = linearReference(M, b, xs, [[0], [0], [0], [0]], [0], [0])
    const A = ref.posteriorA
    const a = matmulHost([b], A)[0].map((v) => -v)
    const s = [Math.log(ref.posteriorCov[0][0]), Math.log(ref.posteriorCov[1][1])]
    expect(Math.abs(ref.posteriorCov[0][1])).toBeLessThan(1e-15)
    const p = params(M, A, a, s)
    const logW = values(logImportanceWeights(random.key(11), linearGaussian, p, x, 64))
    logW.forEach((w, i) => expect(w).toBeCloseTo(ref.logP[i % N], 10))
    values(iwae(random.key(13), linearGaussian, p, x, 5)).forEach((e, n) => expect(e).toBeCloseTo(ref.logP[n], 10))
  })

  it('a mean-field q of a correlated posterior: the ladder of bounds, IWAE_500 closes 90 % of the gap to log p(x)', () => {
    // Rows of M not orthogonal: the posterior is correlated and no diagonal q equals it.
    const M = [
      [1, 0.5, -0.5, 0.2],
      [0.8, 0.4, 0.3, -0.1],
    ]
    const exact = linearReference(M, b, xs, [[0], [0], [0], [0]], [0], [0])
    // The exact posterior mean, with a variance per latent a little off the mean-field optimum 1/precision_ll.
    const A = exact.posteriorA
    const a = matmulHost([b], A)[0].map((v) => -v)
    const precision = inverse2(exact.posteriorCov)
    const s = [Math.log(1.3 / precision[0][0]), Math.log(0.8 / precision[1][1])]
    const ref = linearReference(M, b, xs, A, a, s)
    const p = params(M, A, a, s)

    const logW = values(logImportanceWeights(random.key(14), linearGaussian, p, x, K_POOL))
    const elbos = values(elbo(random.key(15), linearGaussian, p, x, { samples: K_POOL }))
    for (let n = 0; n < N; n++) {
      const ladder = KS.map((k) => iwaeGroups(logW, n, N, k))
      const [iwae1, iwae500] = [estimate(ladder[0]), estimate(ladder[3])]
      // The closed-form ELBO against its two Monte Carlo forms (KL in closed form, KL sampled).
      expect(Math.abs(elbos[n] - ref.exactElbo[n])).toBeLessThan(4 * iwae1.se)
      expect(Math.abs(iwae1.mean - ref.exactElbo[n])).toBeLessThan(4 * iwae1.se)
      const gap = ref.logP[n] - ref.exactElbo[n]
      expect(gap).toBeGreaterThan(0.05)
      expect(boundsHold({ mean: ref.exactElbo[n], se: 0 }, ladder, ref.logP[n])).toBe(true)
      expect(ref.logP[n] - iwae500.mean).toBeLessThan(0.1 * gap)
      // Planted bugs: an IWAE without −log k passes log p(x); an ELBO with the KL's sign flipped is above IWAE_1.
      const noLogK = KS.map((k) => iwaeGroups(logW, n, N, k, false))
      expect(boundsHold({ mean: ref.exactElbo[n], se: 0 }, noLogK, ref.logP[n])).toBe(false)
      const kl = values(gaussianKl(f64([matmulHost([xs[n]], A)[0].map((v, i) => v + a[i])]), f64([s])))[0]
      expect(boundsHold({ mean: ref.exactElbo[n] + 2 * kl, se: 0 }, ladder, ref.logP[n])).toBe(false)
    }
    // iwae itself is the log-mean-exp of the weights drawn from the same key.
    const w = values(logImportanceWeights(random.key(16), linearGaussian, p, x, 50))
    values(iwae(random.key(16), linearGaussian, p, x, 50)).forEach((v, n) =>
      expect(v).toBeCloseTo(logMeanExp(Array.from({ length: 50 }, (_, i) => w[i * N + n])), 12),
    )
  })

  it('a random Bernoulli vaeModel with a 2-D latent: the ladder below log p(x) from quadrature', () => {
    const model = vaeModel({ input: 6, hidden: 8, latent: 2 }, { dtype: 'f64' })
    const p = model.init(random.key(17))
    const xb = f64([
      [1, 0, 1, 1, 0, 0],
      [0, 0, 1, 0, 1, 1],
    ])
    // log p(x) = log Σ_grid p(x|z) N(z; 0, I) h² over z ∈ [−8, 8]², h = 0.05.
    const h = 0.05
    const side = Math.round(16 / h) + 1
    const grid = Array.from({ length: side * side }, (_, g) => [-8 + h * Math.floor(g / side), -8 + h * (g % side)])
    const z = f64(grid)
    const logPrior = values(gaussianLogDensity(z, 0, 0))
    const logP = [0, 1].map((n) => {
      const ll = values(
        bernoulliLogLikelihood(model.decode(p, z), ops.broadcastTo(ops.slice(xb, [n, 0], [1, 6]), [side * side, 6])),
      )
      return logMeanExp(ll.map((v, g) => v + logPrior[g])) + Math.log(side * side * h * h)
    })
    const logW = values(logImportanceWeights(random.key(18), model, p, xb, K_POOL))
    const elbos = values(elbo(random.key(19), model, p, xb, { samples: K_POOL }))
    for (let n = 0; n < 2; n++) {
      const ladder = KS.map((k) => iwaeGroups(logW, n, 2, k))
      const elboEstimate = { mean: elbos[n], se: estimate(ladder[0]).se }
      expect(boundsHold(elboEstimate, ladder, logP[n])).toBe(true)
      expect(logP[n] - estimate(ladder[3]).mean).toBeLessThan(0.1 * (logP[n] - elbos[n]))
      const noLogK = KS.map((k) => iwaeGroups(logW, n, 2, k, false))
      expect(boundsHold(elboEstimate, noLogK, logP[n])).toBe(false)
    }
  })
})

// ---------------------------------------------------------------- reparameterised against score-function gradients

describe('∇ E_q[f(z)]: reparameterised against score function', () => {
  // f(z) = Σ (z − c)², so E_q f = Σ (μ − c)² + σ², with gradient 2(μ − c) in μ and σ² in log σ².
  const mu = [0.5, -1, 1.5]
  const logVar = [-0.5, 0.3, 0]
  const c = [2, 1, -0.5]
  const exact = [...mu.map((m, i) => 2 * (m - c[i])), ...logVar.map(Math.exp)]
  const S = 20_000
  const f = (z: Tensor) => ops.sum(ops.square(ops.sub(z as Tensor<any>, f64([c]))), -1)
  // Parameters tiled to one row per sample, so that the gradient of Σ_s f(z_s) in the tiled parameters holds
  // each sample's own gradient in its row.
  const tiled = (v: number[]) => f64(Array.from({ length: S }, () => v))

  type Estimator = (key: random.Key) => [number[], number[]]
  const reparameterised =
    (sample: typeof reparameterize): Estimator =>
    (key) => {
      const total = (m: Tensor, v: Tensor) => ops.sum(f(sample(key, m, v)))
      const [gm, gv] = grad(total, { argnums: [0, 1] })(tiled(mu), tiled(logVar)) as [Tensor, Tensor]
      return [values(gm), values(gv)]
    }
  const scoreFunction =
    (logQ: (z: Tensor, m: Tensor, v: Tensor) => Tensor): Estimator =>
    (key) => {
      const z = ops.stopGradient(reparameterize(key, tiled(mu), tiled(logVar)))
      const fz = f(z)
      // f(z_s) ∇ log q(z_s): the gradient of Σ_s f(z_s)·log q(z_s) with f(z_s) held fixed.
      const surrogate = (m: Tensor, v: Tensor) => ops.sum(ops.mul(fz, logQ(z, m, v)))
      const [gm, gv] = grad(surrogate, { argnums: [0, 1] })(tiled(mu), tiled(logVar)) as [Tensor, Tensor]
      return [values(gm), values(gv)]
    }

  /** Per coordinate (3 of μ, then 3 of log σ²): mean, standard error and variance of the per-sample gradients. */
  function summarise(estimator: Estimator, seed: number) {
    const [gm, gv] = estimator(random.key(seed))
    return [gm, gv].flatMap((g) =>
      [0, 1, 2].map((i) => {
        const column = Array.from({ length: S }, (_, s) => g[s * 3 + i])
        return { ...estimate(column), variance: varianceOf(column) }
      }),
    )
  }
  const unbiased = (stats: ReturnType<typeof summarise>) =>
    stats.every((st, i) => Math.abs(st.mean - exact[i]) < 4 * st.se)

  it('both agree with the exact gradient within standard errors; the reparameterised one varies less', () => {
    const rep = summarise(reparameterised(reparameterize), 20)
    const score = summarise(scoreFunction(gaussianLogDensity), 21)
    expect(unbiased(rep)).toBe(true)
    expect(unbiased(score)).toBe(true)
    rep.forEach((r, i) => expect(r.variance).toBeLessThan(score[i].variance / 5))
  })

  it('rejects a score function of an unnormalised q and a sample scaled by σ² instead of σ', () => {
    // log q without its −½ log σ² (the normaliser depends on φ): E[∇] misses −½ E f in each log σ².
    const unnormalised = (z: Tensor, m: Tensor, v: Tensor) =>
      ops.mul(ops.sum(ops.mul(ops.square(ops.sub(z, m as Tensor<any>)), ops.exp(ops.neg(v))), -1), -0.5)
    expect(unbiased(summarise(scoreFunction(unnormalised), 21))).toBe(false)
    const bySigmaSquared = ((key: random.Key, m: Tensor, v: Tensor) =>
      ops.add(
        m,
        ops.mul(ops.exp(v), random.normal(key, m.aval.shape as number[], { dtype: 'f64' })),
      )) as typeof reparameterize
    expect(unbiased(summarise(reparameterised(bySigmaSquared), 20))).toBe(false)
  })
})
