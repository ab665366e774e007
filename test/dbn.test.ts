/**
 * Deep belief networks (src/energy/dbn.ts; Hinton, Osindero and Teh 2006)
 * against references that do not share its code: the MLP a stack
 * initialises against the hidden probabilities of `rbm.hiddenProbs` composed
 * layer by layer and against σ(c + xW) computed in plain JavaScript; greedy
 * pre-training against the exact objective of each layer by enumeration
 * (the log-likelihood of the first RBM, and the expected log-likelihood of
 * the second under the aggregate posterior of the first); and the
 * variational bound of Hinton et al. (2006, section 4), computed exactly for
 * a two-layer DBN small enough to enumerate, which starts tight (equal to
 * the first RBM's log-likelihood) when the second RBM starts as the first
 * transposed and does not fall when the second RBM is trained. Formulas:
 * A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School 2018,
 * section "Generative Models" ("Deep Belief Networks"); Neural Networks II
 * (lecture notes), sections "Dynamic neural networks" and "Internal
 * representations".
 *
 * Planted bugs the same checks reject: an MLP whose hidden layers take the
 * visible biases b in place of the hidden ones c, one with W transposed, a
 * second layer trained on the wrong input (1 − p(h|v), the probabilities of
 * the units being off), and a "tied" start whose biases are not carried over.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, nn, ops, random, type Tensor } from '../src/index.ts'
import * as dbn from '../src/energy/dbn.ts'
import * as rbm from '../src/energy/rbm.ts'
import { expectClose, within } from './lib/close.ts'
import { assertProperty } from './lib/property.ts'

type Rows = Tensor<[number, number]>
const backend = cpuBackend()

/** An RBM with W ~ N(0, 1) and biases ~ N(0, 1), in f64. */
function randomRbm(seed: number, V: number, H: number): rbm.Params {
  const [kw, kb, kc] = random.split(random.key(seed), 3)
  return {
    W: random.normal(kw, [V, H], { dtype: 'f64' }),
    b: random.normal(kb, [V], { dtype: 'f64' }),
    c: random.normal(kc, [H], { dtype: 'f64' }),
  }
}
const randomStack = (seed: number, sizes: number[]): rbm.Params[] =>
  sizes.slice(1).map((H, i) => randomRbm(seed * 100 + i, sizes[i], H))

/** N binary rows [N, V] in f64: each row one of `prototypes`, each bit flipped with probability `noise`. */
function noisyPrototypes(seed: number, N: number, prototypes: number[][], noise: number): Rows {
  const V = prototypes[0].length
  const u = random.uniform(random.key(seed), [N, V]).dataSync()
  const rows = Array.from({ length: N }, (_, n) =>
    prototypes[n % prototypes.length].map((x, i) => (u[n * V + i] < noise ? 1 - x : x)),
  )
  return ops.tensor(rows.flat(), { shape: [N, V], dtype: 'f64' }) as Rows
}

// ---------------------------------------------------------------- the stack as an MLP

/** σ(c + xW) row by row, from the numbers. */
function hiddenJs(p: rbm.Params, x: number[][]): number[][] {
  const [W, c] = [p.W.dataSync(), p.c.dataSync()]
  const [V, H] = p.W.shape
  return x.map((row) =>
    Array.from({ length: H }, (_, j) => {
      let s = c[j]
      for (let i = 0; i < V; i++) s += row[i] * W[i * H + j]
      return 1 / (1 + Math.exp(-s))
    }),
  )
}
const rowsOf = (t: Tensor): number[][] => {
  const [N, n] = t.shape
  const v = t.dataSync()
  return Array.from({ length: N }, (_, r) => Array.from(v.subarray(r * n, (r + 1) * n)))
}

/**
 * The largest difference between what the first 2ℓ layers of the MLP (dense,
 * sigmoid, …) compute from `params` and the ℓ-fold composition of
 * rbm.hiddenProbs, over every ℓ; and between the whole MLP's output and the
 * top representation times the output layer.
 */
function mlpMismatch(stack: rbm.Params[], params: dbn.MlpParams, x: Rows): number {
  const sizes = dbn.layerSizes(stack)
  let worst = 0
  let expected: Rows = x
  for (let l = 1; l <= stack.length; l++) {
    expected = rbm.hiddenProbs(stack[l - 1], expected) as Rows
    const layers = sizes.slice(1, l + 1).flatMap((H, i) => [nn.dense(sizes[i], H, { dtype: 'f64' }), nn.sigmoid])
    const prefix = (nn.sequential as (...ls: unknown[]) => { apply(p: unknown, x: Tensor): Tensor })(...layers)
    const got = prefix.apply(params.slice(0, 2 * l), x).dataSync()
    const want = expected.dataSync()
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]))
  }
  return worst
}

describe('toMlp: the network a stack initialises', () => {
  const sizes = [8, 8, 6]
  const stack = randomStack(1, sizes)
  const x = ops.astype(random.bernoulli(random.key(2), 0.5, [5, 8]), 'f64') as Rows

  it('its hidden layers compute the composition of rbm.hiddenProbs, and σ(c + xW) in plain JavaScript', () => {
    const mlp = dbn.toMlp(stack, 3, { key: random.key(3) })
    expect(mlpMismatch(stack, mlp.params, x)).toBeLessThan(1e-12)
    // Independent of rbm.ts: layer by layer from the numbers.
    const h1 = hiddenJs(stack[0], rowsOf(x))
    const h2 = hiddenJs(stack[1], h1)
    const props = dbn.propagate(stack, x)
    expectClose(props[0], h1.flat(), within(1e-12), 'h¹')
    expectClose(props[1], h2.flat(), within(1e-12), 'h²')
    // The whole network: h² times the new output layer, whose weights are small and biases zero.
    const out = mlp.params[4] as dbn.DenseParams
    expect(out.w.shape).toEqual([6, 3])
    expect(Math.max(...Array.from(out.w.dataSync(), Math.abs))).toBeLessThan(0.1)
    expect(Array.from(out.b.dataSync())).toEqual([0, 0, 0])
    const logits = mlp.model.apply(mlp.params, x)
    const w = out.w.dataSync()
    const expected = h2.map((row) => [0, 1, 2].map((k) => row.reduce((s, h, j) => s + h * w[j * 3 + k], 0)))
    expectClose(logits, expected.flat(), within(1e-12), 'logits')
  })

  it('planted bugs: visible biases for hidden ones, or W transposed, are rejected by the same check', () => {
    const good = dbn.toMlp(stack, 3).params
    expect(mlpMismatch(stack, good, x)).toBeLessThan(1e-12)
    const first = good[0] as dbn.DenseParams
    const visibleBiases: dbn.MlpParams = [{ w: first.w, b: stack[0].b }, ...good.slice(1)]
    const transposed: dbn.MlpParams = [{ w: ops.transpose(first.w) as Rows, b: first.b }, ...good.slice(1)]
    expect(mlpMismatch(stack, visibleBiases, x)).toBeGreaterThan(1e-2)
    expect(mlpMismatch(stack, transposed, x)).toBeGreaterThan(1e-2)
  })

  it('for any sizes and seed, model.apply on toMlp params matches the composition (property)', () => {
    assertProperty(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (layers, seed) => {
          const st = randomStack(seed, layers)
          const input = ops.astype(random.bernoulli(random.key(seed), 0.5, [3, layers[0]]), 'f64') as Rows
          expect(mlpMismatch(st, dbn.toMlp(st, 2).params, input)).toBeLessThan(1e-12)
          // model.init gives the same architecture: its parameters fit the model.
          const fresh = dbn.toMlp(st, 2).model.init(random.key(seed))
          expect(fresh.map((p) => (p === null ? null : p.w.shape))).toEqual(
            dbn.toMlp(st, 2).params.map((p) => (p === null ? null : p.w.shape)),
          )
        },
      ),
      { numRuns: 20 },
    )
  })

  it('refuses stacks whose layers do not chain, and bad output sizes', () => {
    expect(() => dbn.toMlp([randomRbm(1, 4, 3), randomRbm(2, 4, 2)], 2)).toThrow(/3 hidden units but layer 1 has 4/)
    expect(() => dbn.toMlp([], 2)).toThrow(/non-empty/)
    expect(() => dbn.toMlp(stack, 0)).toThrow(/outputs/)
  })
})

// ---------------------------------------------------------------- exact objectives of a tiny stack

/** All 2^n binary vectors [2^n, n] in f64. */
const states = (n: number): Rows => rbm.allStates(n) as Rows

/**
 * The aggregate posterior Q(h) = (1/N) Σ_n Π_j q_nj^{h_j} (1 − q_nj)^{1−h_j}
 * of the first RBM over every h, [2^H]: the distribution the notes' "sampling
 * the hidden units of the first RBM" defines.
 */
function aggregatePosterior(p: rbm.Params, data: Rows): Float64Array {
  const q = rowsOf(rbm.hiddenProbs(p, data))
  const H = p.W.shape[1]
  const Q = new Float64Array(2 ** H)
  for (let s = 0; s < Q.length; s++) {
    for (const row of q) {
      let prob = 1
      for (let j = 0; j < H; j++) prob *= (s >> j) & 1 ? row[j] : 1 - row[j]
      Q[s] += prob / q.length
    }
  }
  return Q
}

/** log p(x) = −F(x) − log Z of an RBM for every binary x of its visible layer, [2^V], in f64. */
function logMarginal(p: rbm.Params): Float64Array {
  const V = p.W.shape[0]
  const logZ = rbm.logPartition(p).dataSync()[0]
  return Float64Array.from(rbm.freeEnergy(p, states(V)).dataSync(), (f) => -f - logZ)
}

/** Σ_h Q(h) log p(h): the expected log-likelihood of an RBM under Q. */
const expectedLogLikelihood = (p: rbm.Params, Q: Float64Array): number => {
  const logp = logMarginal(p)
  return Q.reduce((s, q, i) => s + q * logp[i], 0)
}

/** The objective rose during training: by 0.5 nats overall, and the last five epochs all beat the first five. */
const rises = (xs: number[]): boolean =>
  xs[xs.length - 1] > xs[0] + 0.5 && Math.min(...xs.slice(-5)) > Math.max(...xs.slice(0, 5))

describe('greedy pre-training raises each layer’s exact objective (10 → 8 → 6)', () => {
  const data = noisyPrototypes(
    5,
    120,
    [
      [1, 1, 1, 1, 0, 0, 0, 0, 1, 0],
      [0, 0, 1, 1, 1, 1, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 1, 1, 1, 1, 0],
    ],
    0.05,
  )
  const options = { epochs: 60, batchSize: 20, lr: 0.3, momentum: 0.5, k: 1, backend }

  it('layer 0: log p(v) of the data; layer 1: Σ Q(h) log p₂(h) under the first layer’s aggregate posterior', async () => {
    const first: number[] = []
    const second: number[] = []
    let below: rbm.Params | undefined // the first layer as last reported
    let Q: Float64Array | undefined
    const { stack, errors } = await dbn.pretrain(random.key(11), data, [8, 6], {
      ...options,
      upward: 'samples',
      onEpoch: ({ layer, params, input }) => {
        if (layer === 0) {
          below = params
          first.push(rbm.exactLogLikelihood(params, input).dataSync()[0])
        } else {
          Q ??= aggregatePosterior(below as rbm.Params, data)
          second.push(expectedLogLikelihood(params, Q))
        }
      },
    })
    expect(stack.map((p) => p.W.shape)).toEqual([
      [10, 8],
      [8, 6],
    ])
    expect(errors.map((e) => e.length)).toEqual([61, 61]) // epoch 0 (before training) and 60 epochs
    // The untrained first layer already has the data's marginals in its visible biases; training must add to that.
    expect(rises(first)).toBe(true)
    expect(rises(second)).toBe(true)
    // The reconstruction error falls too.
    for (const e of errors) expect(e[e.length - 1]).toBeLessThan(e[0])

    // Planted bug: a second layer trained on the wrong input, 1 − p(h|v) (the units being off), fails the same check.
    const wrong: number[] = []
    const off = ops.sub(1, rbm.hiddenProbs(stack[0], data)) as Rows
    await dbn.pretrain(random.key(11), off, [6], {
      ...options,
      onEpoch: ({ params }) => {
        wrong.push(expectedLogLikelihood(params, Q as Float64Array))
      },
    })
    expect(rises(wrong)).toBe(false)
  })
})

// ---------------------------------------------------------------- the variational bound (Hinton et al. 2006)

/** log σ(z) and log(1 − σ(z)) = log σ(−z), without overflow. */
const logSigmoid = (z: number): number => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)))
const logSumExp = (xs: number[]): number => {
  const m = Math.max(...xs)
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0))
}

/**
 * For a two-layer DBN (first RBM `p1`, top RBM `p2` over h¹) and binary data,
 * the mean over the data of the variational bound
 *   B(v) = Σ_h q(h|v) [log p(v|h) + log p₂(h) − log q(h|v)],   q(h|v) = Π_j σ(c + vᵀW)_j^{h_j} …,
 * and of the DBN's exact log-likelihood log Σ_h p₂(h) p(v|h), enumerating every h;
 * the conditionals from the numbers of p1, the prior p₂(h) = e^{−F₂(h)}/Z₂ by enumeration.
 */
function dbnBound(p1: rbm.Params, p2: rbm.Params, data: Rows): { bound: number; logLikelihood: number } {
  const [V, H] = p1.W.shape
  const [W, b, c] = [p1.W.dataSync(), p1.b.dataSync(), p1.c.dataSync()]
  const logPrior = logMarginal(p2)
  const hs = Array.from({ length: 2 ** H }, (_, s) => Array.from({ length: H }, (_, j) => (s >> j) & 1))
  let [bound, ll] = [0, 0]
  const rows = rowsOf(data)
  for (const v of rows) {
    const a = Array.from({ length: H }, (_, j) => c[j] + v.reduce((s, vi, i) => s + vi * W[i * H + j], 0))
    const joint: number[] = []
    for (const [s, h] of hs.entries()) {
      let logLik = 0
      for (let i = 0; i < V; i++) {
        const z = b[i] + h.reduce((t, hj, j) => t + W[i * H + j] * hj, 0)
        logLik += v[i] === 1 ? logSigmoid(z) : logSigmoid(-z)
      }
      const logQ = h.reduce((t, hj, j) => t + (hj === 1 ? logSigmoid(a[j]) : logSigmoid(-a[j])), 0)
      bound += (Math.exp(logQ) * (logLik + logPrior[s] - logQ)) / rows.length
      joint.push(logLik + logPrior[s])
    }
    ll += logSumExp(joint) / rows.length
  }
  return { bound, logLikelihood: ll }
}

describe('the variational bound: a second layer started tied and trained does not lower it (10 → 8 → 10)', () => {
  const data = noisyPrototypes(
    6,
    120,
    [
      [1, 1, 1, 1, 0, 0, 0, 0, 1, 0],
      [0, 0, 1, 1, 1, 1, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 1, 1, 1, 1, 0],
      [1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
    ],
    0.05,
  )

  it('starts equal to the first RBM’s log p(v), rises with training, and stays below the DBN’s log p(v)', async () => {
    let below: rbm.Params | undefined
    const bounds: { bound: number; logLikelihood: number }[] = []
    let firstLogLikelihood = Number.NaN
    await dbn.pretrain(random.key(21), data, [8, 10], {
      epochs: [60, 60],
      batchSize: 20,
      lr: [0.3, 0.05],
      momentum: 0.5,
      k: 1,
      upward: 'samples',
      init: 'tied',
      backend,
      onEpoch: ({ layer, params, input }) => {
        if (layer === 0) {
          below = params
          firstLogLikelihood = rbm.exactLogLikelihood(params, input).dataSync()[0]
        } else bounds.push(dbnBound(below as rbm.Params, params, data))
      },
    })
    // Tight at the tied start: p₂(h) is the first RBM's own marginal and q its exact posterior.
    expect(bounds[0].bound).toBeCloseTo(firstLogLikelihood, 9)
    expect(bounds[0].logLikelihood).toBeCloseTo(firstLogLikelihood, 9)
    // Jensen: the bound never exceeds the DBN's log-likelihood.
    for (const b of bounds) expect(b.bound).toBeLessThanOrEqual(b.logLikelihood + 1e-9)
    // Training the second layer raises the bound, and with it the DBN's log-likelihood, above the first RBM's:
    // over the last ten epochs, always, and by 0.05 nats on average.
    const lastTen = bounds.slice(-10)
    for (const b of lastTen) expect(b.bound).toBeGreaterThan(firstLogLikelihood)
    expect(lastTen.reduce((s, b) => s + b.bound, 0) / 10).toBeGreaterThan(firstLogLikelihood + 0.05)
    expect(lastTen[9].logLikelihood).toBeGreaterThan(firstLogLikelihood)

    // Planted bug: a "tied" start that transposes W but leaves the biases at zero is not tight, and the
    // same check rejects it.
    const p1 = below as rbm.Params
    const untied = { W: ops.transpose(p1.W), b: ops.zeros([8], 'f64'), c: ops.zeros([10], 'f64') } as rbm.Params
    expect(Math.abs(dbnBound(p1, untied, data).bound - firstLogLikelihood)).toBeGreaterThan(1e-2)
    // dbn.transpose is the right one: exactly tight.
    expect(dbnBound(p1, dbn.transpose(p1), data).bound).toBeCloseTo(firstLogLikelihood, 9)
  })

  it('refuses a tied start whose sizes do not match the layer below', async () => {
    await expect(
      dbn.pretrain(random.key(1), data, [8, 6], { epochs: 1, batchSize: 20, lr: 0.1, init: 'tied', backend }),
    ).rejects.toThrow(/sizes must match/)
  })
})

// ---------------------------------------------------------------- sampling

describe('generate: samples of the DBN as a generative model (4 → 3 → 3 → 3)', () => {
  const stack = randomStack(7, [4, 3, 3, 3])
  const sig = (z: number) => 1 / (1 + Math.exp(-z))
  const softplusJs = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))
  const bits = (n: number) =>
    Array.from({ length: 2 ** n }, (_, k) => Array.from({ length: n }, (_, i) => (k >> i) & 1))
  /** σ(b + W h) for the layer below of an RBM, from the numbers. */
  const down = (p: rbm.Params, h: number[]): number[] => {
    const [W, b] = [p.W.dataSync(), p.b.dataSync()]
    const [V, H] = p.W.shape
    return Array.from({ length: V }, (_, i) => sig(b[i] + h.reduce((s, hj, j) => s + W[i * H + j] * hj, 0)))
  }
  /**
   * p(v_i = 1) of the DBN, summed over every state: h² from the top RBM's marginal ∝ e^{−F(h²)}, then
   * h¹ ~ p(h¹ | h²) of the middle layer, then p(v | h¹), all written here from the weights.
   */
  function exactMarginal(): number[] {
    const [bottom, middle, top] = stack
    const [W, b, c] = [top.W.dataSync(), top.b.dataSync(), top.c.dataSync()]
    const [V, H] = top.W.shape
    const states = bits(V)
    const weights = states.map((h) => {
      let minusF = h.reduce((s, x, i) => s + b[i] * x, 0)
      for (let j = 0; j < H; j++) minusF += softplusJs(c[j] + h.reduce((s, x, i) => s + x * W[i * H + j], 0))
      return Math.exp(minusF)
    })
    const Z = weights.reduce((a, w) => a + w, 0)
    const marginal = [0, 0, 0, 0]
    states.forEach((h2, s) => {
      const q = down(middle, h2)
      for (const h1 of bits(3)) {
        const p1 = h1.reduce((pr, x, i) => pr * (x === 1 ? q[i] : 1 - q[i]), 1)
        down(bottom, h1).forEach((pv, i) => {
          marginal[i] += (weights[s] / Z) * p1 * pv
        })
      }
    })
    return marginal
  }
  const meanOfRows = (t: Tensor): number[] => {
    const rows = rowsOf(t)
    return rows[0].map((_, i) => rows.reduce((s, r) => s + r[i], 0) / rows.length)
  }

  it('the mean of p(v | h¹) over 20,000 samples is the exact marginal p(v = 1) within 4 standard errors', async () => {
    const exact = exactMarginal()
    const generate = jit((key: random.Key) => dbn.generate(key, stack, 30, 20_000), { backend })
    const got = meanOfRows(await generate(random.key(3)))
    // Each row is a probability: its variance is at most ¼, so the standard error is at most 0.0035.
    for (let i = 0; i < 4; i++) expect(Math.abs(got[i] - exact[i])).toBeLessThan(0.015)
    // Planted bug: no Gibbs steps in the top RBM (its chain left at uniform bits) misses the marginal.
    const unmixed = meanOfRows(dbn.generate(random.key(3), stack, 0, 20_000))
    expect(Math.max(...unmixed.map((m, i) => Math.abs(m - exact[i])))).toBeGreaterThan(0.04)
  })

  it('refuses a count or a number of steps that is not a whole number', () => {
    expect(() => dbn.generate(random.key(0), stack, 1, 0)).toThrow(/count must be a positive integer, got 0/)
    expect(() => dbn.generate(random.key(0), stack, -1, 4)).toThrow(/steps must be a non-negative integer, got -1/)
  })
})
