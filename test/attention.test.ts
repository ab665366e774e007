/**
 * Attention (src/nn/attention.ts) in f64: values against hand computations
 * and a scalar reference written with plain numbers, the simplex and mask
 * properties of the weights, the exact zeros of sparsemax attention, the
 * law bundle for each kind, and planted bugs that these tests catch.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ops, random, tensor, type Tensor } from '../src/index.ts'
import {
  additiveAttention,
  attend,
  dotProductAttention,
  sparsemaxAttention,
  type Attended,
  type AttentionOptions,
} from '../src/nn/attention.ts'
import * as F from '../src/nn/functional.ts'
import { arb, checkLayer, laws } from '../laws/index.ts'
import { expectClose } from './lib/close.ts'

type AnyT = Tensor<any, any>
type Out = Attended<any, any, any, any, any>
type Impl = (q: AnyT, k: AnyT, v: AnyT, options?: AttentionOptions) => Out

const f64 = { dtype: 'f64' } as const
const t = (data: number[][][]): AnyT => tensor(data, f64) as AnyT
const values = (x: Tensor): number[] => Array.from(x.dataSync())
const nested = (x: Tensor) => x.toArray() as number[][][]
const sigma = (z: number) => 1 / (1 + Math.exp(-z))

const tight = { atol: 1e-12 }

// ---------------------------------------------------------------- a scalar reference

const softmaxRow = (z: number[]) => {
  const m = Math.max(...z)
  const e = z.map((x) => Math.exp(x - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((x) => x / s)
}

/** Sparsemax by sorting (Martins and Astudillo 2016, Alg. 1): the largest k with 1 + k z_(k) > Σ_{j≤k} z_(j). */
const sparsemaxRow = (z: number[]) => {
  const sorted = [...z].sort((a, b) => b - a)
  let k = 0
  let cumulative = 0
  let support = 0
  for (const x of sorted) {
    k++
    cumulative += x
    if (1 + k * x > cumulative) support = k
  }
  const tau = (sorted.slice(0, support).reduce((a, b) => a + b, 0) - 1) / support
  return z.map((x) => Math.max(x - tau, 0))
}

/** Attention with plain numbers, one example and one query at a time. */
function reference(
  q: number[][][],
  k: number[][][],
  v: number[][][],
  score: (s: number[], h: number[]) => number,
  normalise: (z: number[]) => number[],
) {
  const weights = q.map((qb, b) => qb.map((s) => normalise(k[b].map((h) => score(s, h)))))
  const context = weights.map((wb, b) =>
    wb.map((a) => v[b][0].map((_, j) => a.reduce((acc, ai, i) => acc + ai * v[b][i][j], 0))),
  )
  return { weights, context }
}
const scaledDot = (s: number[], h: number[]) => s.reduce((acc, x, i) => acc + x * h[i], 0) / Math.sqrt(s.length)

// ---------------------------------------------------------------- checks shared by the real functions and the planted bugs

/**
 * Queries [[1,1,1,1], [2,0,0,0]] against keys [[1,1,1,1], [0,0,0,0]]: dot
 * products [4, 0] and [2, 0], over √4 = 2: scores [2, 0] and [1, 0]; softmax
 * weights [σ(2), 1 − σ(2)] and [σ(1), 1 − σ(1)]; context a₁(1, 2) + a₂(3, −1).
 */
function matchesHandComputation(impl: Impl): void {
  const q = t([
    [
      [1, 1, 1, 1],
      [2, 0, 0, 0],
    ],
  ])
  const k = t([
    [
      [1, 1, 1, 1],
      [0, 0, 0, 0],
    ],
  ])
  const v = t([
    [
      [1, 2],
      [3, -1],
    ],
  ])
  const { context, weights } = impl(q, k, v)
  expect(weights.aval.shape).toEqual([1, 2, 2])
  expect(context.aval.shape).toEqual([1, 2, 2])
  const [a, b] = [sigma(2), sigma(1)]
  expectClose(values(weights), [a, 1 - a, b, 1 - b], tight)
  expectClose(values(context), [a + 3 * (1 - a), 2 * a - (1 - a), b + 3 * (1 - b), 2 * b - (1 - b)], tight)
}

/** Every query's weights are non-negative and sum to 1, on a batch of several queries and keys. */
function weightsAreDistributions(impl: Impl): void {
  const [kq, kk, kv] = random.split(random.key(11), 3)
  const q = random.normal(kq, [2, 3, 4], f64) as AnyT
  const k = random.normal(kk, [2, 5, 4], f64) as AnyT
  const v = random.normal(kv, [2, 5, 3], f64) as AnyT
  const w = nested(impl(q, k, v).weights)
  for (const rows of w)
    for (const row of rows) {
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0)
      expect(Math.abs(row.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-12)
    }
}

const draw = (seed: number, shape: number[]) => random.normal(random.key(seed), shape, f64) as AnyT

// ---------------------------------------------------------------- values

describe('dot-product attention', () => {
  it('matches the hand computation', () => matchesHandComputation(dotProductAttention))

  it('gives a distribution over the keys for each query', () => weightsAreDistributions(dotProductAttention))

  it('matches the scalar reference on a batch, example by example', () => {
    const [q, k, v] = [draw(1, [2, 3, 4]), draw(2, [2, 5, 4]), draw(3, [2, 5, 3])]
    const out = dotProductAttention(q, k, v)
    const ref = reference(nested(q), nested(k), nested(v), scaledDot, softmaxRow)
    expectClose(values(out.weights), ref.weights.flat(2), tight)
    expectClose(values(out.context), ref.context.flat(2), tight)
  })

  it('gives masked keys weight exactly 0 and renormalises over the others', () => {
    const [q, k, v] = [draw(4, [2, 2, 3]), draw(5, [2, 3, 3]), draw(6, [2, 3, 2])]
    // Example 0 sees every key; example 1 does not see its last key (a padding mask [B, 1, K]).
    const mask = tensor([[[true, true, true]], [[true, true, false]]], { dtype: 'bool' }) as Tensor<any, 'bool'>
    const out = dotProductAttention(q, k, v, { mask })
    const w = nested(out.weights)
    expect(w[1].map((row) => row[2])).toEqual([0, 0])
    for (const rows of w)
      for (const row of rows) expect(Math.abs(row.reduce((x, y) => x + y, 0) - 1)).toBeLessThan(1e-12)
    // The masked example attends as if its last key were not there; the other is unchanged.
    const cut = (x: AnyT) => ops.slice(x, [1, 0, 0], [1, 2, x.aval.shape[2]]) as AnyT
    const shorter = dotProductAttention(cut(q), cut(k), cut(v))
    expectClose(values(out.context).slice(4), values(shorter.context), tight)
    expectClose(
      w[1].flatMap((row) => row.slice(0, 2)),
      values(shorter.weights),
      tight,
    )
    const unmasked = dotProductAttention(q, k, v)
    expectClose(values(out.context).slice(0, 4), values(unmasked.context).slice(0, 4), tight)
  })

  it('applies a causal mask [Q, K] to every example, and gives a fully masked query zeros', () => {
    const [q, k, v] = [draw(7, [2, 3, 2]), draw(8, [2, 3, 2]), draw(9, [2, 3, 2])]
    const causal = tensor(
      [
        [true, false, false],
        [true, true, false],
        [true, true, true],
      ],
      { dtype: 'bool' },
    ) as Tensor<any, 'bool'>
    const w = nested(dotProductAttention(q, k, v, { mask: causal }).weights)
    for (const rows of w) {
      expect([rows[0][1], rows[0][2], rows[1][2]]).toEqual([0, 0, 0])
      expect(rows[0][0]).toBe(1)
    }
    const none = tensor(
      [
        [false, false, false],
        [true, true, true],
        [true, true, true],
      ],
      { dtype: 'bool' },
    ) as Tensor<any, 'bool'>
    const out = dotProductAttention(q, k, v, { mask: none })
    expect(nested(out.weights).map((rows) => rows[0])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ])
    expect(nested(out.context).map((rows) => rows[0])).toEqual([
      [0, 0],
      [0, 0],
    ])
  })

  it('rejects mismatched shapes and masks with messages', () => {
    const [q, k, v] = [draw(1, [2, 3, 4]), draw(2, [2, 5, 4]), draw(3, [2, 5, 3])]
    expect(() => dotProductAttention(q, draw(2, [2, 5, 3]), v)).toThrow(/sizes of the queries and keys must agree/)
    expect(() => dotProductAttention(q, k, draw(3, [2, 4, 3]))).toThrow(/numbers of keys and values must agree/)
    expect(() =>
      dotProductAttention(q, k, v, { mask: tensor([[true, false]], { dtype: 'bool' }) as Tensor<any, 'bool'> }),
    ).toThrow(/do not broadcast/)
    expect(() => dotProductAttention(q, k, v, { mask: ops.ones([4, 2, 3, 5], 'bool') as AnyT })).toThrow(
      /must broadcast to the scores/,
    )
  })
})

describe('sparsemax attention', () => {
  it('matches the hand computation, with an exact zero for a dominated key', () => {
    // d = 1: scores [1, 0.5, −2]; τ = (1 + 0.5 − 1)/2 = 0.25 keeps the first two (1 + 2·0.5 > 1.5), drops −2 ≤ τ.
    const q = t([[[1]]])
    const k = t([[[1], [0.5], [-2]]])
    const v = t([
      [
        [1, 0],
        [0, 1],
        [5, 5],
      ],
    ])
    const out = sparsemaxAttention(q, k, v)
    expect(values(out.weights)).toEqual([0.75, 0.25, 0])
    expectClose(values(out.context), [0.75, 0.25], tight)
    // Softmax attention on the same scores gives the dominated key a positive weight.
    expect(values(dotProductAttention(q, k, v).weights)[2]).toBeGreaterThan(0)
  })

  it('gives a distribution over the keys for each query', () => weightsAreDistributions(sparsemaxAttention))

  it('matches the scalar reference (sparsemax by sorting)', () => {
    const [q, k, v] = [ops.mul(draw(12, [2, 3, 4]), 2) as AnyT, draw(13, [2, 5, 4]), draw(14, [2, 5, 3])]
    const out = sparsemaxAttention(q, k, v)
    const ref = reference(nested(q), nested(k), nested(v), scaledDot, sparsemaxRow)
    expectClose(values(out.weights), ref.weights.flat(2), tight)
    expectClose(values(out.context), ref.context.flat(2), tight)
    expect(values(out.weights).filter((a) => a === 0).length).toBeGreaterThan(0)
  })

  it('gives masked keys weight 0 even where they would dominate', () => {
    const q = t([[[1]]])
    const k = t([[[5], [0.5], [0]]])
    const v = t([
      [
        [1, 0],
        [0, 1],
        [5, 5],
      ],
    ])
    const mask = tensor([[[false, true, true]]], { dtype: 'bool' }) as Tensor<any, 'bool'>
    // Without key 0 the scores are [0.5, 0]: τ = (0.5 − 1)/2 = −0.25, weights [0.75, 0.25].
    expect(values(sparsemaxAttention(q, k, v, { mask }).weights)).toEqual([0, 0.75, 0.25])
  })
})

describe('additive (Bahdanau) attention', () => {
  const layer = additiveAttention(1, 1, 2, f64)
  const params = {
    w: tensor([[1, -1]], f64),
    u: tensor([[0.5, 2]], f64),
    b: tensor([0, 0.1], f64),
    v: tensor([1, -2], f64),
  } as unknown as ReturnType<typeof layer.init>

  it('matches the hand computation', () => {
    // z_k = v · tanh(W s + U h_k + b) with s = 1, h = (1, −1): pre-activations (1.5, 1.1) and (0.5, −2.9).
    const z1 = Math.tanh(1.5) - 2 * Math.tanh(1.1)
    const z2 = Math.tanh(0.5) - 2 * Math.tanh(-2.9)
    const a1 = sigma(z1 - z2)
    const out = layer.apply(
      params,
      t([[[1]]]),
      t([[[1], [-1]]]),
      t([
        [
          [2, 0],
          [0, 4],
        ],
      ]),
    )
    expectClose(values(out.weights), [a1, 1 - a1], tight)
    expectClose(values(out.context), [2 * a1, 4 * (1 - a1)], tight)
  })

  it('matches the scalar reference on a batch, with initialised parameters', () => {
    const net = additiveAttention(3, 4, 5, f64)
    const p = net.init(random.key(21))
    const [q, k, v] = [draw(22, [2, 2, 3]), draw(23, [2, 3, 4]), draw(24, [2, 3, 2])]
    const [W, U, b, vv] = [p.w.toArray() as number[][], p.u.toArray() as number[][], values(p.b), values(p.v)]
    const score = (s: number[], h: number[]) =>
      vv.reduce(
        (acc, vj, j) =>
          acc +
          vj *
            Math.tanh(s.reduce((x, si, i) => x + si * W[i][j], 0) + h.reduce((x, hi, i) => x + hi * U[i][j], 0) + b[j]),
        0,
      )
    const out = net.apply(p, q, k, v)
    const ref = reference(nested(q), nested(k), nested(v), score, softmaxRow)
    expectClose(values(out.weights), ref.weights.flat(2), tight)
    expectClose(values(out.context), ref.context.flat(2), tight)
  })

  it('initialises W, U, v by Glorot and b at zero, in the requested dtype', () => {
    const p = additiveAttention(3, 4, 5).init(random.key(0))
    expect([p.w.aval.shape, p.u.aval.shape, p.b.aval.shape, p.v.aval.shape]).toEqual([[3, 5], [4, 5], [5], [5]])
    expect(p.w.dtype).toBe('f32')
    expect(values(p.b)).toEqual([0, 0, 0, 0, 0])
    expect(values(p.v).some((x) => x !== 0)).toBe(true)
  })

  it('masks, and normalises by sparsemax when asked', () => {
    const [q, k, v] = [draw(31, [1, 2, 1]), draw(32, [1, 2, 1]), draw(33, [1, 2, 2])]
    const mask = tensor([[[true, false]]], { dtype: 'bool' }) as Tensor<any, 'bool'>
    expect(values(layer.apply(params, q, k, v, { mask }).weights)).toEqual([1, 0, 1, 0])
    // A score gap above 1 is out of sparsemax's support: |z1 − z2| from the hand case is about 3.2.
    const sparse = additiveAttention(1, 1, 2, { ...f64, normaliser: 'sparsemax' })
    expect(
      values(
        sparse.apply(
          params,
          t([[[1]]]),
          t([[[1], [-1]]]),
          t([
            [
              [2, 0],
              [0, 4],
            ],
          ]),
        ).weights,
      ),
    ).toEqual([0, 1])
  })

  it('rejects parameters and inputs of the wrong shape', () => {
    expect(() =>
      layer.apply(
        { ...params, v: tensor([1, 2, 3], f64) } as unknown as typeof params,
        t([[[1]]]),
        t([[[1]]]),
        t([[[1]]]),
      ),
    ).toThrow(/parameter v must have shape \[2\]/)
    expect(() => layer.apply(params, t([[[1, 2]]]), t([[[1]]]), t([[[1]]]))).toThrow(/expected queries \[B, Q, 1\]/)
    expect(() => additiveAttention(1, 0, 2)).toThrow(/the key size must be a positive integer/)
  })
})

// ---------------------------------------------------------------- laws

const qkv = (b: number, q: number, k: number, d: number, v: number) =>
  fc.record({ q: arb.f64([b, q, d]), k: arb.f64([b, k, d]), v: arb.f64([b, k, v]) })
type Qkv = { q: AnyT; k: AnyT; v: AnyT }
const padding = tensor([[[true, true, false]], [[true, false, true]]], { dtype: 'bool' }) as Tensor<any, 'bool'>

describe('attention obeys the laws', () => {
  it('dot product', () => {
    laws.layer(
      (_p: null, x: Qkv) => dotProductAttention(x.q, x.k, x.v),
      { params: fc.constant(null), input: qkv(2, 2, 3, 2, 2) },
      { name: 'dotProductAttention' },
    )
  })
  it('dot product, masked', () => {
    laws.layer(
      (_p: null, x: Qkv) => dotProductAttention(x.q, x.k, x.v, { mask: padding }),
      { params: fc.constant(null), input: qkv(2, 2, 3, 2, 2) },
      { name: 'masked dotProductAttention' },
    )
  })
  it('sparsemax', () => {
    laws.layer(
      (_p: null, x: Qkv) => sparsemaxAttention(x.q, x.k, x.v),
      { params: fc.constant(null), input: qkv(2, 2, 3, 2, 2) },
      { name: 'sparsemaxAttention' },
    )
  })
  it('additive, parameters from init', () => {
    const net = additiveAttention(2, 3, 2, f64)
    laws.layer(
      {
        init: net.init,
        apply: (p: ReturnType<typeof net.init>, x: Qkv) => net.apply(p, x.q, x.k, x.v, { mask: padding }),
      },
      { input: qkv(2, 2, 3, 3, 2).map(({ q, k, v }) => ({ q: ops.slice(q, [0, 0, 0], [2, 2, 2]), k, v })) },
      { name: 'additiveAttention' },
    )
  })
})

// ---------------------------------------------------------------- planted bugs

/** Scores scaled by 1/d instead of 1/√d. */
const scaledByD: Impl = (q, k, v, options) =>
  attend(ops.div(ops.matmul(q, ops.transpose(k, [0, 2, 1])), q.aval.shape[2]) as AnyT, v, options)

/** Softmax over the queries (axis 1) instead of the keys. */
const softmaxOverQueries: Impl = (q, k, v) => {
  const scores = ops.div(ops.matmul(q, ops.transpose(k, [0, 2, 1])), Math.sqrt(q.aval.shape[2]))
  const weights = F.softmax(scores as AnyT, 1)
  return { weights, context: ops.matmul(weights, v) } as Out
}

/** The scores' gradient stopped: right values, no derivative through the weights. */
const detachedScores: Impl = (q, k, v) => {
  const scores = ops.stopGradient(
    ops.div(ops.matmul(q, ops.transpose(k, [0, 2, 1])), Math.sqrt(q.aval.shape[2])) as AnyT,
  )
  return attend(scores, v)
}

describe('planted bugs are caught', () => {
  it('scaling by 1/d: the hand computation fails (d = 4 tells 1/d from 1/√d), though the weights are still distributions', () => {
    expect(() => matchesHandComputation(scaledByD)).toThrow()
    weightsAreDistributions(scaledByD)
  })

  it('softmax over the wrong axis: the weights of a query no longer sum to 1', () => {
    expect(() => weightsAreDistributions(softmaxOverQueries)).toThrow()
    expect(() => matchesHandComputation(softmaxOverQueries)).toThrow()
  })

  it('a detached score: the values pass, finite differences fail', () => {
    matchesHandComputation(detachedScores)
    const reports = checkLayer(
      (_p: null, x: Qkv) => detachedScores(x.q, x.k, x.v),
      { params: fc.constant(null), input: qkv(1, 2, 3, 2, 2) },
      { laws: ['adjoint', 'finiteDifferences'] },
      { endOnFailure: true },
    )
    expect(Object.fromEntries(reports.map((r) => [r.law, r.ok]))).toEqual({ adjoint: true, finiteDifferences: false })
  })
})

// ---------------------------------------------------------------- types

describe('typed shapes', () => {
  it('carry the batch, query, key and value sizes through', () => {
    const q = draw(1, [2, 3, 4]) as Tensor<['B', 3, 4], 'f64'>
    const k = draw(2, [2, 5, 4]) as Tensor<['B', 5, 4], 'f64'>
    const v = draw(3, [2, 5, 6]) as Tensor<['B', 5, 6], 'f64'>
    const out = dotProductAttention(q, k, v)
    const context: Tensor<['B', 3, 6], 'f64'> = out.context
    const weights: Tensor<['B', 3, 5], 'f64'> = out.weights
    expect([context.aval.shape, weights.aval.shape]).toEqual([
      [2, 3, 6],
      [2, 3, 5],
    ])
    const wrongKeys = draw(2, [2, 5, 3]) as Tensor<['B', 5, 3], 'f64'>
    // @ts-expect-error the keys' size (3) differs from the queries' (4)
    expect(() => dotProductAttention(q, wrongKeys, v)).toThrow()
  })
})
