/**
 * The special functions and statistics beside the core operations, against
 * independent references: erf from its Maclaurin series and continued
 * fraction (test/lib/stats.ts, a different expansion from the library's),
 * log1p and expm1 from their Taylor series where the naive forms lose every
 * digit, closed-form derivatives, NumPy's conventions for var/std (ddof) and
 * argmax/argmin (the first of ties; a NaN wins), and the law bundle on the
 * compositions.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { grad, jit, nn, ops, tensor, vmap, cpuBackend, type Tensor } from '../src/index.ts'
import { arb, laws } from '../laws/index.ts'
import { expectClose, within } from './lib/close.ts'
import { erf as erfReference, normalCdf } from './lib/stats.ts'

const f64 = (data: number[] | number[][]) => tensor(data as number[], { dtype: 'f64' }) as Tensor
const values = (t: Tensor) => Array.from(t.dataSync())
const sigma = (x: number) => 1 / (1 + Math.exp(-x))

describe('special functions', () => {
  it('erf agrees with its series and continued fraction to 1e-14, with erf(±∞) = ±1 and NaN kept', () => {
    const xs = [-6, -3.2, -2.5, -1.3, -0.7, -1e-8, 0, 1e-8, 0.2, 0.5, 0.9, 1.2247, 1.3, 2, 2.9, 3.5, 5, 27]
    expectClose(values(ops.erf(f64(xs))), xs.map(erfReference), { atol: 1e-16, rtol: 1e-14 })
    expect(values(ops.erf(f64([Infinity, -Infinity, Number.NaN])))).toEqual([1, -1, Number.NaN])
  })

  it('log1p and expm1 keep the digits that log(1 + x) and exp(x) − 1 lose', () => {
    const tiny = [1e-12, -3e-10, 2.5e-8, 1e-5]
    const log1pSeries = tiny.map((x) => x - x ** 2 / 2 + x ** 3 / 3 - x ** 4 / 4)
    const expm1Series = tiny.map((x) => x + x ** 2 / 2 + x ** 3 / 6 + x ** 4 / 24)
    expectClose(values(ops.log1p(f64(tiny))), log1pSeries, { rtol: 1e-15 })
    expectClose(values(ops.expm1(f64(tiny))), expm1Series, { rtol: 1e-15 })
    // The naive forms are off by far more than that at 1e-12.
    expect(Math.abs(Math.log(1 + 1e-12) - 1e-12) / 1e-12).toBeGreaterThan(1e-5)
    expect(values(ops.log1p(f64([-1, -2])))).toEqual([-Infinity, Number.NaN])
  })

  it('their derivatives: 1/(1 + x), eˣ, 2/√π e^{−x²}', () => {
    const x = f64([-0.5, 0.1, 2])
    const xs = values(x)
    expectClose(
      values(grad((v: Tensor) => ops.sum(ops.log1p(v)))(x)),
      xs.map((v) => 1 / (1 + v)),
      within(1e-15),
    )
    expectClose(values(grad((v: Tensor) => ops.sum(ops.expm1(v)))(x)), xs.map(Math.exp), within(1e-15))
    expectClose(
      values(grad((v: Tensor) => ops.sum(ops.erf(v)))(x)),
      xs.map((v) => (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v)),
      within(1e-15),
    )
  })

  it('softplus is log(1 + eˣ) without overflow, and its derivative is σ(x), ½ at 0', () => {
    const xs = [-800, -30, -2, 0, 0.5, 3, 40, 800]
    const expected = xs.map((x) => (x > 30 ? x + Math.exp(-x) : Math.log1p(Math.exp(x))))
    expectClose(values(ops.softplus(f64(xs))), expected, within(1e-15))
    expectClose(values(grad((v: Tensor) => ops.sum(ops.softplus(v)))(f64(xs))), xs.map(sigma), within(1e-15))
  })

  it('gelu: exact x·Φ(x), and the tanh form within 1e-3 of it', () => {
    const xs = [-4, -1.5, -0.3, 0, 0.7, 2, 5]
    const exact = xs.map((x) => x * normalCdf(x))
    // Φ(−4) ≈ 3e-5 loses digits to cancellation in the reference: compare within 1e-13.
    expectClose(values(ops.gelu(f64(xs), { approximate: false })), exact, within(1e-13))
    const tanhForm = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))))
    expectClose(values(ops.gelu(f64(xs))), tanhForm, within(1e-15))
    expectClose(tanhForm, exact, { atol: 1e-3 })
    // d/dx x·Φ(x) = Φ(x) + x·φ(x)
    const slope = xs.map((x) => normalCdf(x) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI))
    expectClose(
      values(grad((v: Tensor) => ops.sum(ops.gelu(v, { approximate: false })))(f64(xs))),
      slope,
      within(1e-13),
    )
  })

  it('clip limits to [lo, hi]; its derivative is 1 inside and 0 outside', () => {
    const x = f64([-3, -1, 0.5, 2, 9])
    expect(values(ops.clip(x, -1.5, 2.5))).toEqual([-1.5, -1, 0.5, 2, 2.5])
    expect(values(ops.clip(x, undefined, 0))).toEqual([-3, -1, 0, 0, 0])
    expect(values(grad((v: Tensor) => ops.sum(ops.clip(v, -1.5, 2.5)))(x))).toEqual([0, 1, 1, 1, 0])
    expect(values(ops.clip(x, f64([0, 0, 0, 0, 1]), 5))).toEqual([0, 0, 0.5, 2, 5])
    expect(() => ops.clip(x, 2, 1)).toThrow('clip: expected lo ≤ hi, got lo = 2, hi = 1')
  })

  it('obey the laws (softplus, exact and tanh gelu, clip away from its bounds)', () => {
    const input = arb.f64([2, 3])
    laws.layer((_: null, x: Tensor) => ops.softplus(x), { params: fc.constant(null), input }, { name: 'softplus' })
    laws.layer((_: null, x: Tensor) => ops.gelu(x), { params: fc.constant(null), input }, { name: 'gelu' })
    laws.layer(
      (_: null, x: Tensor) => ops.gelu(x, { approximate: false }),
      { params: fc.constant(null), input },
      { name: 'gelu exact' },
    )
    laws.layer((_: null, x: Tensor) => ops.clip(x, -5, 5), { params: fc.constant(null), input }, { name: 'clip' })
    laws.layer(
      (_: null, x: Tensor) => nn.gelu().apply(null, x),
      { params: fc.constant(null), input },
      { name: 'nn.gelu' },
    )
  })
})

describe('statistics', () => {
  const rows = [
    [1, 4, 2, 8],
    [-3, 0.5, 7, 7],
    [2, 2, 2, 2],
  ]
  const x = f64(rows)
  const varOf = (r: number[], ddof = 0) => {
    const m = r.reduce((a, b) => a + b, 0) / r.length
    return r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - ddof)
  }

  it('var and std over an axis, all axes, with ddof and keepDims', () => {
    expectClose(
      values(ops.var(x, 1)),
      rows.map((r) => varOf(r)),
      within(1e-15),
    )
    expectClose(
      values(ops.std(x, -1, { ddof: 1 })),
      rows.map((r) => Math.sqrt(varOf(r, 1))),
      within(1e-15),
    )
    expectClose(values(ops.var(x)), [varOf(rows.flat())], within(1e-15))
    expect(ops.var(x, 0, { keepDims: true }).shape).toEqual([1, 4])
    expect(() => ops.var(x, 1, { ddof: -1 })).toThrow('var: ddof must be a non-negative integer, got -1')
  })

  it('the gradient of var is 2(x − mean)/N', () => {
    const g = grad((v: Tensor) => ops.sum(ops.var(v, 1)))(x)
    const expected = rows.flatMap((r) => {
      const m = r.reduce((a, b) => a + b, 0) / r.length
      return r.map((v) => (2 * (v - m)) / r.length)
    })
    expectClose(values(g), expected, within(1e-15))
    // Rows of distinct values: std is not differentiable where a row is constant (std = 0).
    laws.layer(
      (_: null, v: Tensor) => ops.std(v, 1),
      { params: fc.constant(null), input: arb.f64([2, 3], 'distinct') },
      { name: 'std' },
    )
  })

  it('argmax and argmin: the first of ties, a NaN wins, along an axis or flattened', () => {
    expect(values(ops.argmax(x, 1))).toEqual([3, 2, 0])
    expect(values(ops.argmin(x, 1))).toEqual([0, 0, 0])
    expect(values(ops.argmax(x, 0))).toEqual([2, 0, 1, 0])
    expect(values(ops.argmax(x))).toEqual([3])
    expect(ops.argmax(x, 1, { keepDims: true }).shape).toEqual([3, 1])
    expect(ops.argmax(x, 1).dtype).toBe('i32')
    const withNaN = f64([
      [1, Number.NaN, 5, Number.NaN],
      [Number.NaN, 0, -1, 2],
    ])
    expect(values(ops.argmax(withNaN, 1))).toEqual([1, 0])
    expect(values(ops.argmin(withNaN, 1))).toEqual([1, 0])
    expect(values(ops.argmax(tensor([3, 9, 9, -2], { dtype: 'i32' }) as Tensor))).toEqual([1])
    expect(() => ops.argmax(ops.zeros([2, 0]), 1)).toThrow('argmax: axis 1 has size 0')
  })

  it('argmax against a plain loop on random rows, compiled and under vmap', async () => {
    const draws = fc.sample(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 9 }), {
      numRuns: 30,
      seed: 5,
    })
    const first = (r: number[]) => r.indexOf(Math.max(...r))
    for (const r of draws) expect(values(ops.argmax(f64(r)))).toEqual([first(r)])
    const m = f64(draws.filter((r) => r.length === draws[0].length).slice(0, 5))
    const f = jit((v: Tensor) => ops.argmax(v, 1), { backend: cpuBackend() })
    expect(values(await f(m))).toEqual(values(vmap((row: Tensor) => ops.argmax(row))(m)))
  })
})
