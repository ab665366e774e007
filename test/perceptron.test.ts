/**
 * The perceptron (Rosenblatt 1958) and Novikoff's (1962) mistake bound, as
 * A. Martins states them (Deep Learning: A Shallow Tutorial, NLPL Winter
 * School 2018, "Perceptron Algorithm", "Perceptron's Mistake Bound"):
 *
 *  - on data separable by a unit u* with margin γ, the perceptron makes at
 *    most R²/γ² mistakes and then separates the data (a property over
 *    random d, n, γ and seeds, with R and γ measured on the data);
 *  - on XOR, which no hyperplane separates, every epoch has a mistake;
 *  - the library's run equals an independent loop in plain JavaScript, step
 *    for step (mistakes per epoch, final and averaged weights), on integer
 *    points where f32 arithmetic is exact and ties (a score of exactly 0)
 *    are frequent; wrong variants of the loop (a strict < for the mistake
 *    test, updates on correct predictions, the wrong sign, a frozen bias, an
 *    average taken before the update) fail the same comparison.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, random, tensor } from '../src/index.ts'
import { mistakeBound, perceptron, perceptronPredict, type PerceptronResult } from '../src/nn/perceptron.ts'
import { separableData, xorData } from '../examples/lib/linear-data.ts'
import { assertProperty } from './lib/property.ts'

const backend = cpuBackend()

// ---------------------------------------------------------------- the reference loop

/** How the reference loop may be wrong: each a plausible slip in writing the perceptron. */
type Variant = 'correct' | 'strictMistake' | 'updateOnCorrect' | 'wrongSign' | 'frozenBias' | 'averageBeforeUpdate'

interface ReferenceRun {
  readonly mistakesPerEpoch: number[]
  readonly w: number[]
  readonly b: number
  readonly averagedW: number[]
  readonly averagedB: number
}

/**
 * The perceptron written out in plain JavaScript: for each epoch, the
 * examples in `orders[e]`; a mistake when y·(w·x + b) ≤ 0, then w += y·x
 * (and b += y with a bias); the average of w and b after every example.
 */
function referencePerceptron(
  x: readonly (readonly number[])[],
  y: readonly number[],
  orders: readonly (readonly number[])[],
  bias: boolean,
  variant: Variant = 'correct',
): ReferenceRun {
  const d = x[0].length
  const w = new Array<number>(d).fill(0)
  let b = 0
  const sumW = new Array<number>(d).fill(0)
  let sumB = 0
  let steps = 0
  const mistakesPerEpoch: number[] = []
  for (const order of orders) {
    let mistakes = 0
    for (const i of order) {
      if (variant === 'averageBeforeUpdate') {
        for (let j = 0; j < d; j++) sumW[j] += w[j]
        sumB += b
      }
      let score = b
      for (let j = 0; j < d; j++) score += w[j] * x[i][j]
      const margin = y[i] * score
      const mistake =
        variant === 'strictMistake' ? margin < 0 : variant === 'updateOnCorrect' ? margin > 0 : margin <= 0
      if (mistake) {
        const sign = variant === 'wrongSign' ? -1 : 1
        for (let j = 0; j < d; j++) w[j] += sign * y[i] * x[i][j]
        if (bias && variant !== 'frozenBias') b += sign * y[i]
        mistakes++
      }
      if (variant !== 'averageBeforeUpdate') {
        for (let j = 0; j < d; j++) sumW[j] += w[j]
        sumB += b
      }
      steps++
    }
    mistakesPerEpoch.push(mistakes)
  }
  return { mistakesPerEpoch, w, b, averagedW: sumW.map((s) => s / steps), averagedB: sumB / steps }
}

/** The orders the library uses: 0…N−1, or random.permutation(random.foldIn(key, e), N) in epoch e. */
function epochOrders(n: number, epochs: number, key: random.Key | null): number[][] {
  return Array.from({ length: epochs }, (_, e) =>
    key === null
      ? Array.from({ length: n }, (_, i) => i)
      : Array.from(random.permutation(random.foldIn(key, e), n).dataSync()),
  )
}

/**
 * The library's run against the reference's: the same mistakes in every
 * epoch, the same final w and b (exactly: the points are small integers), and
 * the same averages (exactly in f64; in f32 to its rounding).
 */
function expectSameRun(run: PerceptronResult, ref: ReferenceRun): void {
  expect(run.mistakesPerEpoch).toEqual(ref.mistakesPerEpoch)
  expect(Array.from(run.w.dataSync())).toEqual(ref.w)
  expect(run.b.item()).toBe(ref.b)
  const averaged = run.averaged
  if (averaged === undefined) throw new Error('expected the averaged weights')
  const f32 = run.w.dtype === 'f32'
  const same = (a: number, b: number) =>
    f32 ? Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)) : Object.is(a, b) || a === b
  const avgW = Array.from(averaged.w.dataSync())
  if (!avgW.every((v, j) => same(v, ref.averagedW[j])) || !same(averaged.b.item(), ref.averagedB))
    throw new Error(
      `averaged weights differ: ${JSON.stringify([avgW, averaged.b.item()])} vs ${JSON.stringify([ref.averagedW, ref.averagedB])}`,
    )
}

/** Small integer points and labels: sums are exact in f32, and many scores are exactly 0. */
const integerData = fc
  .record({
    n: fc.integer({ min: 2, max: 24 }),
    d: fc.integer({ min: 1, max: 5 }),
    seed: fc.integer({ min: 0, max: 1e6 }),
  })
  .chain(({ n, d, seed }) =>
    fc.record({
      x: fc.array(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: d, maxLength: d }), {
        minLength: n,
        maxLength: n,
      }),
      y: fc.array(fc.constantFrom(-1, 1), { minLength: n, maxLength: n }),
      seed: fc.constant(seed),
      shuffled: fc.boolean(),
      bias: fc.boolean(),
      dtype: fc.constantFrom('f32' as const, 'f64' as const),
      epochs: fc.integer({ min: 1, max: 6 }),
    }),
  )

async function libraryRun(
  x: readonly (readonly number[])[],
  y: readonly number[],
  o: { seed: number; shuffled: boolean; bias: boolean; dtype: 'f32' | 'f64'; epochs: number },
): Promise<PerceptronResult> {
  return perceptron(tensor(x as number[][], { dtype: o.dtype }), tensor(y as number[], { dtype: o.dtype }), {
    epochs: o.epochs,
    order: o.shuffled ? random.key(o.seed) : 'fixed',
    bias: o.bias,
    averaged: true,
    stopWhenConverged: false,
    backend,
  })
}

describe('perceptron against a plain JavaScript loop', () => {
  it('makes the same mistakes and ends with the same weights and averages, in a fixed or shuffled order', async () => {
    await fc.assert(
      fc.asyncProperty(integerData, async (c) => {
        const run = await libraryRun(c.x, c.y, c)
        const orders = epochOrders(c.x.length, c.epochs, c.shuffled ? random.key(c.seed) : null)
        expectSameRun(run, referencePerceptron(c.x, c.y, orders, c.bias))
      }),
      { numRuns: 25 },
    )
  })

  it('rejects every wrong variant of the loop with the same comparison', async () => {
    // Ties at w = 0 (every first example), labels that need a bias, and enough epochs to average over.
    const x = [
      [1, 0],
      [0, 1],
      [2, 2],
      [-1, 1],
      [1, -2],
      [0, 0],
    ]
    const y = [1, 1, -1, 1, -1, 1]
    for (const dtype of ['f32', 'f64'] as const)
      for (const shuffled of [false, true]) {
        const o = { seed: 5, shuffled, bias: true, dtype, epochs: 4 }
        const run = await libraryRun(x, y, o)
        const orders = epochOrders(x.length, o.epochs, shuffled ? random.key(o.seed) : null)
        expectSameRun(run, referencePerceptron(x, y, orders, true))
        for (const variant of [
          'strictMistake',
          'updateOnCorrect',
          'wrongSign',
          'frozenBias',
          'averageBeforeUpdate',
        ] as const)
          expect(
            () => expectSameRun(run, referencePerceptron(x, y, orders, true, variant)),
            `${variant} (${dtype}, ${shuffled ? 'shuffled' : 'fixed'})`,
          ).toThrow()
      }
  })
})

// ---------------------------------------------------------------- Novikoff's bound

describe("Novikoff's mistake bound", () => {
  it('R, γ and R²/γ² of a small set by hand', () => {
    const x = tensor([
      [3, 4],
      [-1, 0],
    ])
    const y = tensor([1, -1])
    expect(mistakeBound(x, y, [2, 0])).toEqual({ R: 5, gamma: 1, bound: 25, separable: true })
    // With a bias the points are (3, 4, 1) and (−1, 0, 1); u = (1, 0, 0) keeps γ = 1.
    const withBias = mistakeBound(x, y, [1, 0, 0], { bias: true })
    expect(withBias.R).toBeCloseTo(Math.sqrt(26), 12)
    expect(withBias.gamma).toBe(1)
    expect(withBias.bound).toBeCloseTo(26, 12)
    // A u on which a point lies (γ = 0) or the wrong side (γ < 0) separates nothing.
    expect(mistakeBound(x, y, [0, 1])).toMatchObject({ gamma: 0, bound: Infinity, separable: false })
    expect(mistakeBound(x, y, [-1, 0])).toMatchObject({ gamma: -3, bound: Infinity, separable: false })
    expect(() => mistakeBound(x, y, [1, 0, 0])).toThrow('mistakeBound: u must have 2 entries (D = 2), got 3')
  })

  it('separable data: at most R²/γ² mistakes, convergence within ⌊R²/γ²⌋ + 1 epochs, and w separates the data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          d: fc.integer({ min: 2, max: 12 }),
          n: fc.integer({ min: 10, max: 150 }),
          margin: fc.double({ min: 0.05, max: 0.5, noNaN: true }),
          // Points from γ to γ + depth away from the hyperplane: a small depth crowds them at the margin.
          depth: fc.double({ min: 0.05, max: 1, noNaN: true }),
          seed: fc.integer({ min: 0, max: 1e6 }),
          bias: fc.boolean(),
          offset: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
          shuffled: fc.boolean(),
        }),
        async ({ d, n, margin, depth, seed, bias, offset, shuffled }) => {
          const [dataKey, orderKey] = random.split(random.key(seed))
          const data = separableData(dataKey, { n, d, margin, depth, offset: bias ? offset : 0, dtype: 'f64' })
          // The known separator: u* without a bias; (u*, offset) on the points (x, 1) with one.
          const u = bias ? [...data.u, data.offset] : data.u
          const { R, gamma, bound, separable } = mistakeBound(data.x, data.y, u, { bias })
          expect(separable).toBe(true)
          expect(gamma).toBeGreaterThanOrEqual(margin / Math.hypot(...u) - 1e-12)
          const run = await perceptron(data.x, data.y, {
            epochs: Math.floor(bound) + 1,
            order: shuffled ? orderKey : 'fixed',
            bias,
            backend,
          })
          expect(run.mistakes).toBeLessThanOrEqual(bound)
          expect(run.converged).toBe(true)
          expect(run.mistakesPerEpoch.at(-1)).toBe(0)
          expect(R).toBeGreaterThan(0)
          // Every training point strictly on its side of the learned hyperplane.
          const w = run.w.dataSync()
          const b = run.b.item()
          const xs = data.x.dataSync()
          const ys = data.y.dataSync()
          for (let i = 0; i < n; i++) {
            let score = b
            for (let j = 0; j < d; j++) score += w[j] * xs[i * d + j]
            expect(ys[i] * score).toBeGreaterThan(0)
          }
          expect(Array.from(perceptronPredict(run, data.x).dataSync())).toEqual(Array.from(ys))
        },
      ),
      { numRuns: 30 },
    )
  })

  it('XOR, which no hyperplane separates: a mistake in every epoch, and no u separates it', async () => {
    for (const [d, bias] of [
      [2, false],
      [2, true],
      [6, true],
    ] as const) {
      const data = xorData(random.key(d), { n: 40, d })
      const run = await perceptron(data.x, data.y, { epochs: 60, order: random.key(1), bias, backend })
      expect(run.converged).toBe(false)
      expect(run.mistakesPerEpoch).toHaveLength(60)
      expect(Math.min(...run.mistakesPerEpoch)).toBeGreaterThan(0)
      // The mistakes keep growing: at least one per epoch, so at least 60 in all.
      expect(run.cumulativeMistakes).toHaveLength(60 * 40)
      expect(run.cumulativeMistakes.at(-1)).toBe(run.mistakes)
      expect(run.mistakes).toBeGreaterThanOrEqual(60)
      // Nor does the perceptron's own w (or any other) separate it.
      expect(
        mistakeBound(data.x, data.y, [...run.w.dataSync(), ...(bias ? [run.b.item()] : [])], { bias }).separable,
      ).toBe(false)
    }
    assertProperty(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }), (u) => {
        fc.pre(Math.hypot(...u) > 1e-3)
        const data = xorData(random.key(0), { n: 8 })
        expect(mistakeBound(data.x, data.y, u, { bias: true }).separable).toBe(false)
      }),
      { numRuns: 30 },
    )
  })

  it('refuses labels other than ±1 and a wrong shape, naming them', async () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ])
    await expect(perceptron(x, tensor([1, 0]), { epochs: 1, backend })).rejects.toThrow(
      'perceptron: labels must be −1 or +1, but y[1] is 0',
    )
    await expect(perceptron(x, tensor([1, -1, 1]), { epochs: 1, backend })).rejects.toThrow(
      'perceptron: y must hold one label per example, [2], got f32[3]',
    )
  })
})
