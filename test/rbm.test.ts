/**
 * Restricted Boltzmann machines (src/energy/rbm.ts) against references that
 * do not share its code: energies, the partition function and log p(v)
 * summed in plain JavaScript over every (v, h) of a small machine; the exact
 * gradient against `grad` of the exact log-likelihood and central
 * differences; CD-k (Hinton 2002) against the exact gradient as k grows;
 * training against the exact log-likelihood and an independent-bits model.
 * Formulas: A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter
 * School 2018, section "Generative Models" ("Restricted Boltzmann
 * Machines"); Neural Networks II (lecture notes), section "Dynamic neural
 * networks".
 *
 * Each hand-written gradient and estimator has a planted bug that the same
 * check rejects: a CD estimate with the sign of its negative phase flipped,
 * one with sampled hidden units in place of their probabilities, and an
 * exact gradient with its model term's sign flipped.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, ops, random, tensor, type Tensor } from '../src/index.ts'
import * as rbm from '../src/energy/rbm.ts'
import { expectClose, within } from './lib/close.ts'
import { assertProperty } from './lib/property.ts'

type P = rbm.Params
/** A batch of rows. */
type Batch = Tensor<[number, number]>
const asParams = (W: Tensor, b: Tensor, c: Tensor): P => ({ W, b, c }) as unknown as P
const f64Batch = (x: Tensor): Batch => ops.astype(x, 'f64') as Batch
const backend = cpuBackend()

/** A machine with W ~ N(0, scale²) and biases ~ N(0, 0.5²), in f64. */
function randomParams(seed: number, V: number, H: number, scale = 1): P {
  const [kw, kb, kc] = random.split(random.key(seed), 3)
  return {
    W: random.normal(kw, [V, H], { stddev: scale, dtype: 'f64' }),
    b: random.normal(kb, [V], { stddev: 0.5, dtype: 'f64' }),
    c: random.normal(kc, [H], { stddev: 0.5, dtype: 'f64' }),
  }
}

const flat = (g: P): number[] => [g.W, g.b, g.c].flatMap((t) => Array.from(t.dataSync()))
const distance = (a: P, b: P): number => {
  const [x, y] = [flat(a), flat(b)]
  return Math.hypot(...x.map((xi, i) => xi - y[i]))
}
const bitsOf = (r: number, n: number): number[] => Array.from({ length: n }, (_, j) => (r >> j) & 1)

// ---------------------------------------------------------------- plain-JavaScript references

/** E(v, h) = −vᵀWh − bᵀv − cᵀh, from the numbers. */
function energyJs(p: P, v: number[], h: number[]): number {
  const [W, b, c] = [p.W.dataSync(), p.b.dataSync(), p.c.dataSync()]
  const H = h.length
  let e = 0
  for (let i = 0; i < v.length; i++) {
    e -= b[i] * v[i]
    for (let j = 0; j < H; j++) e -= v[i] * W[i * H + j] * h[j]
  }
  for (let j = 0; j < H; j++) e -= c[j] * h[j]
  return e
}

/** The unnormalised p(v) = Σ_h e^{−E(v,h)} for every v (indexed by its bits), and Z, summing all 2^V·2^H states. */
function bruteForce(p: P): { weight: number[]; Z: number } {
  const [V, H] = p.W.shape
  const weight = Array.from({ length: 2 ** V }, (_, r) => {
    let s = 0
    for (let q = 0; q < 2 ** H; q++) s += Math.exp(-energyJs(p, bitsOf(r, V), bitsOf(q, H)))
    return s
  })
  return { weight, Z: weight.reduce((a, b) => a + b, 0) }
}

// ---------------------------------------------------------------- the model's parts

describe('energy, free energy and the partition function against sums over every state', () => {
  const p = randomParams(1, 4, 3)
  const vs = rbm.allStates(4)
  const { weight, Z } = bruteForce(p)

  it('allStates lists every binary vector once', () => {
    const rows = vs.toArray() as number[][]
    expect(rows.length).toBe(16)
    expect(new Set(rows.map((r) => r.join(''))).size).toBe(16)
    rows.forEach((r, i) => expect(r).toEqual(bitsOf(i, 4)))
  })

  it('energy(v, h) is −vᵀWh − bᵀv − cᵀh', () => {
    const pairs = Array.from({ length: 16 * 8 }, (_, n) => [bitsOf(n >> 3, 4), bitsOf(n & 7, 3)] as const)
    const v = tensor(
      pairs.map(([a]) => a),
      { dtype: 'f64' },
    )
    const h = tensor(
      pairs.map(([, b]) => b),
      { dtype: 'f64' },
    )
    expectClose(
      rbm.energy(p, v, h),
      pairs.map(([a, b]) => energyJs(p, a, b)),
      within(1e-12),
    )
  })

  it('F(v) = −log Σ_h e^{−E(v,h)}', () => {
    expectClose(
      rbm.freeEnergy(p, vs),
      weight.map((w) => -Math.log(w)),
      within(1e-12),
    )
  })

  it('logPartition is log Z of the brute-force sum, enumerating either layer (4×3 and 3×4)', () => {
    for (const over of ['visible', 'hidden', 'smaller'] as const)
      expectClose(rbm.logPartition(p, { over }), [Math.log(Z)], within(1e-12), over)
    const q = randomParams(2, 3, 4)
    for (const over of ['visible', 'hidden', 'smaller'] as const)
      expectClose(rbm.logPartition(q, { over }), [Math.log(bruteForce(q).Z)], within(1e-12), `3×4 ${over}`)
  })

  it('log p(v) = −F(v) − log Z, and the probabilities sum to 1', () => {
    const logp = Array.from({ length: 16 }, (_, r) =>
      rbm.exactLogLikelihood(p, tensor([bitsOf(r, 4)], { dtype: 'f64' })).item(),
    )
    expectClose(
      logp,
      weight.map((w) => Math.log(w / Z)),
      within(1e-12),
    )
    expect(logp.reduce((s, l) => s + Math.exp(l), 0)).toBeCloseTo(1, 12)
    // The mean over a batch is the mean of the rows' log-likelihoods.
    expect(rbm.exactLogLikelihood(p, vs).item()).toBeCloseTo(logp.reduce((a, b) => a + b, 0) / 16, 12)
  })

  it('in f32 the enumeration is still done in f64', () => {
    const p32 = { W: ops.astype(p.W, 'f32'), b: ops.astype(p.b, 'f32'), c: ops.astype(p.c, 'f32') }
    const z = rbm.logPartition(p32)
    expect(z.dtype).toBe('f64')
    expect(z.item()).toBeCloseTo(Math.log(bruteForce(p32).Z), 10)
    expect(rbm.exactGradient(p32, ops.astype(vs, 'f32')).W.dtype).toBe('f32')
  })

  it('conditionals: p(h|v) and p(v|h) are the logistic functions of the energy gaps, and samples follow them', () => {
    const v = tensor([[1, 0, 1, 1]], { dtype: 'f64' })
    const h = tensor([[0, 1, 1]], { dtype: 'f64' })
    // p(h_j = 1 | v) = 1 / (1 + e^{E(v, h with h_j = 1) − E(v, h with h_j = 0)}), from the energies.
    const gap = (on: number[], off: number[], e: (x: number[]) => number) => 1 / (1 + Math.exp(e(on) - e(off)))
    const vBits = [1, 0, 1, 1]
    const hBits = [0, 1, 1]
    expectClose(
      rbm.hiddenProbs(p, v),
      [0, 1, 2].map((j) =>
        gap(
          hBits.map((x, i) => (i === j ? 1 : x)),
          hBits.map((x, i) => (i === j ? 0 : x)),
          (hh) => energyJs(p, vBits, hh),
        ),
      ),
      within(1e-12),
    )
    expectClose(
      rbm.visibleProbs(p, h),
      [0, 1, 2, 3].map((i) =>
        gap(
          vBits.map((x, k) => (k === i ? 1 : x)),
          vBits.map((x, k) => (k === i ? 0 : x)),
          (vv) => energyJs(p, vv, hBits),
        ),
      ),
      within(1e-12),
    )
    // 4000 draws of h given the same v: each frequency within 5 standard errors of its probability.
    const rows = ops.broadcastTo(v, [4000, 4])
    const draws = rbm.sampleHidden(random.key(3), p, rows)
    const freq = ops.mean(draws, 0).dataSync()
    const probs = rbm.hiddenProbs(p, v).dataSync()
    probs.forEach((q, j) => expect(Math.abs(freq[j] - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / 4000)))
    expect(new Set(draws.dataSync()).size).toBe(2)
    // Zero Gibbs steps leave v as it is.
    expect(rbm.gibbs(random.key(4), p, rows, 0).dataSync()).toEqual(rows.dataSync())
  })

  it('refuses what is not an RBM batch', () => {
    expect(() => rbm.freeEnergy(p, tensor([[1, 0, 1]], { dtype: 'f64' }) as never)).toThrow(
      'rbm.freeEnergy: v must be f64[B,4], got f64[1,3]',
    )
    expect(() => rbm.gibbs(random.key(0), p, vs, 1.5)).toThrow('k must be a non-negative integer')
    expect(() => rbm.logPartition(randomParams(0, 30, 25))).toThrow('2^25 states')
  })
})

// ---------------------------------------------------------------- the exact gradient

/** ⟨v p(h|v)ᵀ⟩, ⟨v⟩, ⟨p(h|v)⟩ over the rows of `data`: the data term, from the library's conditionals. */
function dataTerm(p: P, data: Batch): P {
  const h = rbm.hiddenProbs(p, data)
  return asParams(ops.div(ops.matmul(ops.transpose(data), h), data.shape[0]), ops.mean(data, 0), ops.mean(h, 0))
}

/** Planted bug: the exact gradient with its model term's sign flipped (data term + model term). */
function modelTermSignFlipped(p: P, data: Batch): P {
  const [g, d] = [rbm.exactGradient(p, data), dataTerm(p, data)]
  const flip = (gx: Tensor, dx: Tensor) => ops.sub(ops.mul(dx, 2), gx)
  return asParams(flip(g.W, d.W), flip(g.b, d.b), flip(g.c, d.c))
}

describe('exactGradient is the gradient of exactLogLikelihood', () => {
  const sized = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.nat(10_000))

  /** How far a gradient function is from `grad` of the exact log-likelihood, for one machine and data set. */
  function fromGrad(gradient: (p: P, data: Batch) => P, V: number, H: number, seed: number): number {
    const p = randomParams(seed, V, H)
    const data = f64Batch(random.bernoulli(random.key(seed + 1), 0.5, [5, V]))
    const reference = grad((q: P) => rbm.exactLogLikelihood(q, data))(p)
    return distance(gradient(p, data), reference) / (1 + Math.hypot(...flat(reference)))
  }

  it('equals grad of the exact log-likelihood, enumerating either layer (property, f64)', () => {
    assertProperty(
      fc.property(sized, ([V, H, seed]) => {
        for (const over of ['visible', 'hidden'] as const)
          expect(fromGrad((p, d) => rbm.exactGradient(p, d, { over }), V, H, seed)).toBeLessThan(1e-12)
      }),
      { numRuns: 25 },
    )
  })

  it('equals central differences of the exact log-likelihood', () => {
    const p = randomParams(5, 5, 3)
    const data = tensor(
      [
        [1, 0, 1, 1, 0],
        [0, 0, 1, 0, 1],
        [1, 1, 1, 1, 1],
      ],
      { dtype: 'f64' },
    )
    const g = rbm.exactGradient(p, data)
    const eps = 1e-5
    const ll = (q: P) => rbm.exactLogLikelihood(q, data).item()
    for (const name of ['W', 'b', 'c'] as const) {
      const base = Array.from(p[name].dataSync())
      const numeric = base.map((_, i) => {
        const at = (d: number) =>
          ll({
            ...p,
            [name]: tensor(
              base.map((x, j) => (j === i ? x + d : x)),
              { shape: p[name].shape, dtype: 'f64' },
            ),
          })
        return (at(eps) - at(-eps)) / (2 * eps)
      })
      expectClose(g[name], numeric, within(1e-8), name)
    }
  })

  it('planted bug: a model term with the wrong sign is rejected by the same check', () => {
    expect(fromGrad(modelTermSignFlipped, 4, 3, 7)).toBeGreaterThan(0.05)
    expect(fromGrad(rbm.exactGradient, 4, 3, 7)).toBeLessThan(1e-12)
  })
})

// ---------------------------------------------------------------- CD-k and PCD

interface Mutations {
  /** +1 for the bug that adds the negative phase instead of subtracting it. */
  readonly negativeSign?: -1 | 1
  /** Sampled hidden units in the positive phase, where the probabilities are required. */
  readonly sampledHidden?: boolean
}

/** CD-k written again, from the model's parts, with switches for planted bugs. */
function cdEstimate(key: random.Key, p: P, v: Batch, k: number, bugs: Mutations = {}): P {
  const vk = rbm.gibbs(key, p, v, k)
  const hPos = bugs.sampledHidden ? rbm.sampleHidden(random.foldIn(key, 99), p, v) : rbm.hiddenProbs(p, v)
  const hNeg = rbm.hiddenProbs(p, vk)
  const s = bugs.negativeSign ?? -1
  const n = v.shape[0]
  const combine = (pos: Tensor, neg: Tensor) => ops.add(pos, ops.mul(neg, s))
  return asParams(
    combine(ops.div(ops.matmul(ops.transpose(v), hPos), n), ops.div(ops.matmul(ops.transpose(vk), hNeg), n)),
    combine(ops.mean(v, 0), ops.mean(vk, 0)),
    combine(ops.mean(hPos, 0), ops.mean(hNeg, 0)),
  )
}

/** The CD-k estimate `estimate` gives from key, p and v, beside grad of the free-energy gap with the same samples. */
function againstFreeEnergyGap(estimate: (key: random.Key, p: P, v: Batch) => P, k: number): number {
  const p = randomParams(11, 6, 4)
  const v = f64Batch(random.bernoulli(random.key(12), 0.4, [32, 6]))
  const key = random.key(13)
  const samples = rbm.gibbs(key, p, v, k)
  const reference = grad((q: P) => rbm.freeEnergyGap(q, v, samples))(p)
  return distance(estimate(key, p, v), reference)
}

describe('the CD-k estimate is the gradient of the free-energy gap with the samples held fixed', () => {
  it('cdGradient, and its rewrite in the test, equal −grad of ⟨F(ṽ)⟩ − ⟨F(v)⟩ exactly for the same samples (f64)', () => {
    for (const k of [1, 4]) {
      expect(againstFreeEnergyGap((key, p, v) => rbm.cdGradient(key, p, v, k), k)).toBeLessThan(1e-13)
      expect(againstFreeEnergyGap((key, p, v) => cdEstimate(key, p, v, k), k)).toBeLessThan(1e-13)
    }
  })

  it('planted bugs: a flipped negative phase, or sampled h in the positive phase, are rejected by the same check', () => {
    expect(againstFreeEnergyGap((key, p, v) => cdEstimate(key, p, v, 1, { negativeSign: 1 }), 1)).toBeGreaterThan(0.1)
    expect(againstFreeEnergyGap((key, p, v) => cdEstimate(key, p, v, 1, { sampledHidden: true }), 1)).toBeGreaterThan(
      0.05,
    )
  })

  it('pcdGradient advances the chains k steps and contrasts the data with them', () => {
    const p = randomParams(21, 6, 4)
    const v = f64Batch(random.bernoulli(random.key(22), 0.4, [8, 6]))
    const chains = f64Batch(random.bernoulli(random.key(23), 0.5, [20, 6]))
    const key = random.key(24)
    const [g, next] = rbm.pcdGradient(key, p, v, chains, 3)
    expect(next.dataSync()).toEqual(rbm.gibbs(key, p, chains, 3).dataSync())
    expect(distance(g, grad((q: P) => rbm.freeEnergyGap(q, v, next))(p))).toBeLessThan(1e-13)
  })
})

describe('CD-k approaches the exact gradient as k grows (8 visible × 5 hidden)', () => {
  // W ~ N(0, 2²): strong enough couplings that the chain mixes slowly and CD-1 is visibly biased.
  const p = randomParams(2002, 8, 5, 2)
  const prototypes = [
    [1, 1, 1, 1, 0, 0, 0, 0],
    [0, 0, 1, 1, 1, 1, 0, 0],
  ]
  const flips = random.uniform(random.key(2003), [16, 8]).dataSync()
  const rows = Array.from({ length: 16 }, (_, n) =>
    prototypes[n % 2].map((x, i) => (flips[n * 8 + i] < 0.1 ? 1 - x : x)),
  )
  const data = tensor(rows, { dtype: 'f64' })
  // Each data vector starts 256 chains: the estimate's mean over 4096 chains.
  const REPEATS = 256
  const replicated = tensor(Array.from({ length: REPEATS }, () => rows).flat(), { dtype: 'f64' })
  const exact = rbm.exactGradient(p, data)
  const KS = [1, 3, 10, 100]

  /** ‖CD-k − exact‖ for each k in KS, of the estimator `estimate`, jitted on the CPU, with one fixed key. */
  async function errors(estimate: (key: random.Key, q: P, v: Batch, k: number) => P): Promise<number[]> {
    const out: number[] = []
    for (const k of KS) {
      const f = jit((key: random.Key, q: P, v: Batch) => estimate(key, q, v, k), { backend })
      out.push(distance(await f(random.key(7), p, replicated), exact))
    }
    return out
  }

  /**
   * The check: the error falls from k = 1 to 3 to 10, and at k = 100 it is below a tenth of CD-1's. (From
   * k = 10 on it is at the Monte Carlo floor, so 10 against 100 is not ordered.)
   */
  const converges = (e: number[]) => e[1] < 0.6 * e[0] && e[2] < e[1] && e[3] < 0.1 * e[0]

  it('‖CD-k − exact‖ falls with k, to under a tenth of CD-1’s at k = 100', async () => {
    const e = await errors((key, q, v, k) => rbm.cdGradient(key, q, v, k))
    console.log(
      `‖CD-k − exact‖ (‖exact‖ = ${Math.hypot(...flat(exact)).toFixed(3)}), 4096 chains: ${KS.map((k, i) => `k=${k} ${e[i].toFixed(4)}`).join(', ')}`,
    )
    expect(converges(e)).toBe(true)
    // At k = 100 what is left is Monte Carlo noise: a mean over 4096 chains of 53 statistics each of variance
    // at most ¼ has an RMS error of at most √(53/4/4096) ≈ 0.057.
    expect(e[3]).toBeLessThan(0.06)
  })

  it('PCD with chains run 100 steps from noise also meets the exact gradient', () => {
    const chains = f64Batch(random.bernoulli(random.key(8), 0.5, [4096, 8]))
    const [g] = rbm.pcdGradient(random.key(9), p, data, chains, 100)
    expect(distance(g, exact)).toBeLessThan(0.06)
  })

  it('planted bug: the estimate with its negative phase added does not pass the same check', async () => {
    const e = await errors((key, q, v, k) => cdEstimate(key, q, v, k, { negativeSign: 1 }))
    console.log(`flipped negative phase: ${KS.map((k, i) => `k=${k} ${e[i].toFixed(4)}`).join(', ')}`)
    expect(converges(e)).toBe(false)
  })
})

// ---------------------------------------------------------------- training

describe('training with CD-1 and PCD raises the exact log-likelihood', () => {
  const V = 8
  const H = 4
  const N = 64
  const prototypes = [
    [1, 1, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1],
    [1, 0, 1, 0, 1, 0, 1, 0],
  ]
  const noise = random.uniform(random.key(11), [N, V]).dataSync()
  const rows = Array.from({ length: N }, (_, n) =>
    prototypes[n % 3].map((x, i) => (noise[n * V + i] < 0.05 ? 1 - x : x)),
  )
  const data = tensor(rows, { dtype: 'f64' })
  // The best model with independent bits (W = 0, b at the data's marginals), and the empirical distribution's
  // log-likelihood, which no model exceeds.
  const marginals = Array.from({ length: V }, (_, i) => rows.reduce((s, r) => s + r[i], 0) / N)
  const independent =
    rows.reduce((s, r) => s + r.reduce((t, x, i) => t + Math.log(x ? marginals[i] : 1 - marginals[i]), 0), 0) / N
  const counts = new Map<string, number>()
  for (const r of rows) counts.set(r.join(''), (counts.get(r.join('')) ?? 0) + 1)
  const empirical = [...counts.values()].reduce((s, c) => s + (c / N) * Math.log(c / N), 0)
  const STEPS = 400

  const p0: P = rbm.init(random.key(3), V, H, { scale: 0.1, dtype: 'f64' })
  const batch = (s: number): Batch => ops.slice(data, [(s % 4) * 16, 0], [16, V])

  async function trainCd(estimate: (key: random.Key, p: P, v: Batch) => P, lr: number): Promise<number> {
    const step = jit(
      (p: P, key: random.Key, v: Batch) => {
        const g = estimate(key, p, v)
        return asParams(ops.add(p.W, ops.mul(g.W, lr)), ops.add(p.b, ops.mul(g.b, lr)), ops.add(p.c, ops.mul(g.c, lr)))
      },
      { backend, donateArgnums: [0] },
    )
    let p = p0
    for (let s = 0; s < STEPS; s++) p = await step(p, random.foldIn(random.key(5), s), batch(s))
    return rbm.exactLogLikelihood(p, data).item()
  }

  it('CD-1 and PCD with momentum beat the independent-bits model; the likelihood stays below the empirical bound', async () => {
    const before = rbm.exactLogLikelihood(p0, data).item()
    const cd = jit(rbm.cdStep({ k: 1, lr: 0.1, momentum: 0.5 }), { backend, donateArgnums: [0, 1] })
    const pcd = jit(rbm.pcdStep({ k: 1, lr: 0.05, momentum: 0.5 }), { backend, donateArgnums: [0, 1, 2] })
    let [p, velocity] = [p0, rbm.initVelocity(p0)]
    let [q, qVelocity, chains] = [p0, rbm.initVelocity(p0), f64Batch(random.bernoulli(random.key(4), 0.5, [16, V]))]
    const errors: number[] = []
    for (let s = 0; s < STEPS; s++) {
      const key = random.foldIn(random.key(5), s)
      let error: Tensor
      ;[p, velocity, error] = await cd(p, velocity, key, batch(s))
      ;[q, qVelocity, chains] = await pcd(q, qVelocity, chains, key, batch(s))
      errors.push(error.item())
    }
    const [afterCd, afterPcd] = [rbm.exactLogLikelihood(p, data).item(), rbm.exactLogLikelihood(q, data).item()]
    console.log(
      `mean log p(v): before ${before.toFixed(3)}, CD-1 ${afterCd.toFixed(3)}, PCD-1 ${afterPcd.toFixed(3)}; ` +
        `independent bits ${independent.toFixed(3)}, empirical bound ${empirical.toFixed(3)}`,
    )
    for (const after of [afterCd, afterPcd]) {
      expect(after).toBeGreaterThan(independent + 1)
      expect(after).toBeLessThan(empirical)
    }
    // The reconstruction error falls too (the mean of the first 20 steps against the last 20).
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(errors.slice(-20))).toBeLessThan(0.5 * mean(errors.slice(0, 20)))
  })

  it('planted bug: gradient ascent on the flipped estimate does not raise the likelihood', async () => {
    const before = rbm.exactLogLikelihood(p0, data).item()
    const right = await trainCd((key, p, v) => cdEstimate(key, p, v, 1), 0.1)
    const wrong = await trainCd((key, p, v) => cdEstimate(key, p, v, 1, { negativeSign: 1 }), 0.1)
    expect(right).toBeGreaterThan(independent + 1)
    expect(wrong).toBeLessThan(before)
  })

  it('the jitted f32 step gives the eager step’s values', async () => {
    const p32 = rbm.init(random.key(6), V, H, { scale: 0.1 })
    const v32 = ops.astype(batch(0), 'f32')
    const f = rbm.cdStep({ k: 2, lr: 0.1, momentum: 0.9, weightDecay: 1e-3 })
    const [eager, eagerVelocity] = f(p32, rbm.initVelocity(p32), random.key(8), v32)
    const [jitted, jittedVelocity] = await jit(f, { backend })(p32, rbm.initVelocity(p32), random.key(8), v32)
    expectClose(flat(jitted), flat(eager), within(1e-6))
    expectClose(flat(jittedVelocity), flat(eagerVelocity), within(1e-6))
    expect(eager.W.dtype).toBe('f32')
  })
})
