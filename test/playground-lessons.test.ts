/**
 * The playground's lessons (playground/src/lessons-math.ts) against
 * references of their own: an Elman RNN written out in plain numbers, with
 * central differences for its derivatives; the geometric decay ρ per step of
 * D. Barber's and A. Martins's analyses; and Barber's closed forms for
 * parameter tying, themselves checked by differences.
 */
import { describe, expect, test } from 'vitest'
import {
  rtrlVsBptt,
  sequentialJacobian,
  tyingLesson,
  vanishingGradients,
  type ElmanGradient,
  type ElmanProblem,
} from '../playground/src/lessons-math.ts'

// ------------------------------------------------- the plain-number reference

interface Weights {
  wx: number[]
  wh: number[]
  b: number[]
  h0: number[]
}

/** The states h_1 … h_T of h_t = tanh(x_t·Wx + h_{t−1}·Wh + b), row vectors, each of length H. */
function states(p: ElmanProblem, w: Weights, xs: readonly number[] = p.xs): number[][] {
  const { inputSize: I, hidden: H, length: T } = p
  let h = w.h0
  const out: number[][] = []
  for (let t = 0; t < T; t++) {
    const next = new Array<number>(H)
    for (let j = 0; j < H; j++) {
      let z = w.b[j]
      for (let i = 0; i < I; i++) z += xs[t * I + i] * w.wx[i * H + j]
      for (let k = 0; k < H; k++) z += h[k] * w.wh[k * H + j]
      next[j] = Math.tanh(z)
    }
    out.push(next)
    h = next
  }
  return out
}

/** E = Σ_t ½‖h_t − y_t‖². */
function energy(p: ElmanProblem, w: Weights): number {
  const ys = p.ys as number[]
  return states(p, w).reduce((s, h, t) => s + h.reduce((a, v, j) => a + 0.5 * (v - ys[t * p.hidden + j]) ** 2, 0), 0)
}

/** dE/d(every entry of Wx, Wh, b and h₀) by central differences. */
function differences(p: ElmanProblem, eps = 1e-6): ElmanGradient {
  const base: Weights = { wx: p.wx, wh: p.wh, b: p.b, h0: new Array(p.hidden).fill(0) }
  const of = (name: keyof Weights) =>
    base[name].map((v, i) => {
      const at = (d: number) => {
        const moved = [...base[name]]
        moved[i] = v + d
        return energy(p, { ...base, [name]: moved })
      }
      return (at(eps) - at(-eps)) / (2 * eps)
    })
  return { wx: of('wx'), wh: of('wh'), b: of('b'), h0: of('h0') }
}

const flat = (g: ElmanGradient) => [...g.wx, ...g.wh, ...g.b, ...g.h0]
/** max |a − b| / max |b|. */
function relativeError(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`relativeError: ${a.length} values against ${b.length}`)
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / Math.max(...b.map(Math.abs))
}

// ------------------------------------------------------------ RTRL vs BPTT

describe('rtrlVsBptt', async () => {
  const result = await rtrlVsBptt({ hidden: [3, 5], lengths: [4, 8, 16], repeats: 1, seed: 1 })
  const { rows } = result

  test('measures every (H, T) of the grid on the CPU interpreter', () => {
    expect(result.backend).toBe('cpu')
    expect(rows.map((r) => [r.hidden, r.length])).toEqual([
      [3, 4],
      [3, 8],
      [3, 16],
      [5, 4],
      [5, 8],
      [5, 16],
    ])
    for (const r of rows) {
      expect(r.parameters).toBe(r.hidden * r.hidden + 4 * r.hidden + r.hidden)
      expect(r.rtrlMs).toBeGreaterThan(0)
      expect(r.bpttMs).toBeGreaterThan(0)
    }
  })

  test('RTRL and BPTT give the same gradient, and so do central differences', () => {
    for (const r of rows) {
      expect(relativeError(flat(r.rtrl), flat(r.bptt))).toBeLessThan(1e-12)
      expect(r.disagreement).toBeLessThan(1e-12)
      expect(r.loss).toBeCloseTo(energy(r.problem, { ...r.problem, h0: new Array(r.hidden).fill(0) }), 12)
    }
    const row = rows.find((r) => r.hidden === 5 && r.length === 8)!
    const reference = differences(row.problem)
    expect(relativeError(flat(row.rtrl), flat(reference))).toBeLessThan(1e-7)
    expect(relativeError(flat(row.bptt), flat(reference))).toBeLessThan(1e-7)
    // The check can fail: one entry of the gradient off by 1e-4 of the largest is seen.
    const planted = flat(row.bptt)
    const scale = Math.max(...planted.map(Math.abs))
    planted[7] += 1e-4 * scale
    expect(relativeError(planted, flat(reference))).toBeGreaterThan(1e-5)
  })

  test('RTRL memory is the same for every T, BPTT memory proportional to T', () => {
    for (const H of [3, 5]) {
      const of = rows.filter((r) => r.hidden === H)
      expect(new Set(of.map((r) => r.rtrlBytes)).size).toBe(1)
      for (const r of of) expect(r.bpttBytes / r.length).toBe(of[0].bpttBytes / of[0].length)
      expect(of[2].bpttBytes).toBe(4 * of[0].bpttBytes)
      // RTRL holds S = dh/d(θ, h₀), H·(|θ| + H) values of 8 bytes, and that is most of what it holds.
      const sensitivity = 8 * H * (of[0].parameters + H)
      expect(of[0].rtrlBytes).toBeGreaterThanOrEqual(sensitivity)
      expect(of[0].rtrlBytes).toBeLessThan(2 * sensitivity)
    }
  })

  test('bad options are refused, naming what was expected', async () => {
    await expect(rtrlVsBptt({ hidden: [] })).rejects.toThrow(
      /hidden must be a non-empty list of integers ≥ 1, got \[\]/,
    )
    await expect(rtrlVsBptt({ lengths: [4, 2.5] })).rejects.toThrow(/lengths .* got \[4,2.5\]/)
    await expect(rtrlVsBptt({ repeats: 0 })).rejects.toThrow(/repeats must be an integer ≥ 1, got 0/)
  })
})

// ------------------------------------------------------ vanishing gradients

/** The least-squares slope of log g_k against k. */
function logSlope(g: readonly number[]): number {
  const n = g.length
  const ks = g.map((_, k) => k)
  const ls = g.map(Math.log)
  const [mk, ml] = [ks.reduce((a, b) => a + b) / n, ls.reduce((a, b) => a + b) / n]
  const cov = ks.reduce((s, k, i) => s + (k - mk) * (ls[i] - ml), 0)
  return cov / ks.reduce((s, k) => s + (k - mk) ** 2, 0)
}

describe('vanishingGradients', () => {
  const result = vanishingGradients()

  test('one norm per step k = 0 … T for each ρ', () => {
    expect(result.radii).toEqual([0.5, 0.9, 1, 1.1, 1.5])
    for (const g of result.norms) {
      expect(g).toHaveLength(result.length + 1)
      for (const v of g) expect(v).toBeGreaterThan(0)
    }
  })

  test('near linear, ‖∂L/∂h_k‖ changes by ρ per step: the log-slope against k is −log ρ within 10 %', () => {
    for (const rho of [0.5, 1.5]) {
      const g = result.norms[result.radii.indexOf(rho)]
      const slope = logSlope(g)
      expect(Math.abs(-slope - Math.log(rho))).toBeLessThan(0.1 * Math.abs(Math.log(rho)))
      // The check can fail: a radius 20 % off is outside the band.
      expect(Math.abs(-slope - Math.log(rho * 1.2))).toBeGreaterThan(0.1 * Math.abs(Math.log(rho * 1.2)))
    }
    const factor = result.factorPerStep[result.radii.indexOf(1)]
    expect(Math.abs(factor - 1)).toBeLessThan(1e-3)
  })

  test('unit inputs saturate the state, and the gradient then vanishes even for ρ = 1.5', () => {
    const unit = vanishingGradients({ inputScale: 1, radii: [1.5] })
    expect(unit.saturation[0]).toBeGreaterThan(0.99)
    expect(unit.factorPerStep[0]).toBeLessThan(1)
    expect(result.saturation[result.radii.indexOf(1.5)]).toBeLessThan(0.2)
  })

  test('bad options are refused', () => {
    expect(() => vanishingGradients({ radii: [0.5, 0] })).toThrow(/spectral radius must be a finite number > 0, got 0/)
    expect(() => vanishingGradients({ radii: [] })).toThrow(/radii must be a non-empty list/)
    expect(() => vanishingGradients({ length: 0 })).toThrow(/length must be an integer ≥ 1, got 0/)
  })
})

// ------------------------------------------------------ sequential Jacobian

describe('sequentialJacobian', () => {
  const result = sequentialJacobian({ rho: 0.9 })
  const { J, problem } = result
  const T = problem.length
  const zero = { wx: problem.wx, wh: problem.wh, b: problem.b, h0: new Array(problem.hidden).fill(0) }

  /** ‖∂h_t/∂x_k‖ by central differences over the I entries of x_k. */
  function entry(t: number, k: number, eps = 1e-6): number {
    let s = 0
    for (let i = 0; i < problem.inputSize; i++) {
      const at = (d: number) => {
        const xs = [...problem.xs]
        xs[k * problem.inputSize + i] += d
        return states(problem, zero, xs)[t]
      }
      const [up, down] = [at(eps), at(-eps)]
      s += up.reduce((a, u, j) => a + ((u - down[j]) / (2 * eps)) ** 2, 0)
    }
    return Math.sqrt(s)
  }

  test('J is T × T and lower triangular: every entry with k > t is exactly 0, the others are not', () => {
    expect(J).toHaveLength(T)
    for (let t = 0; t < T; t++) {
      expect(J[t]).toHaveLength(T)
      for (let k = 0; k < T; k++) {
        if (k > t) expect(J[t][k]).toBe(0)
        else expect(J[t][k]).toBeGreaterThan(0)
      }
    }
  })

  test('entries match central differences of the plain-number network', () => {
    for (const [t, k] of [
      [T - 1, T - 5],
      [3, 0],
      [7, 7],
    ]) {
      const reference = entry(t, k)
      expect(Math.abs(J[t][k] - reference)).toBeLessThan(1e-7 * reference)
      // The check can fail: the neighbouring entry is a different number.
      if (k > 0) expect(Math.abs(J[t][k - 1] - reference)).toBeGreaterThan(1e-3 * reference)
    }
  })

  test('it decays with the distance t − k, and faster for a smaller ρ', () => {
    const d = result.byDistance
    expect(d[10]).toBeLessThan(d[0] * 0.9 ** 10)
    const smaller = sequentialJacobian({ rho: 0.5 }).byDistance
    expect(smaller[10] / smaller[0]).toBeLessThan(d[10] / d[0])
  })

  test('bad options are refused', () => {
    expect(() => sequentialJacobian({ rho: Number.NaN })).toThrow(/spectral radius must be a finite number > 0/)
    expect(() => sequentialJacobian({ length: 1.5 })).toThrow(/length must be an integer ≥ 1, got 1.5/)
  })
})

// ----------------------------------------------------------------- tying

describe('tyingLesson', () => {
  const r = tyingLesson()
  const [x, y] = [0.5, 2]
  /** F(θ₁, θ₂) = [y − tanh(θ₂ sin(xθ₁))]² in plain numbers: θ₁ the inner use, θ₂ the outer. */
  const F = (inner: number, outer: number) => (y - Math.tanh(outer * Math.sin(x * inner))) ** 2
  const central = (f: (v: number) => number, v: number, eps = 1e-6) => (f(v + eps) - f(v - eps)) / (2 * eps)

  test('E uses θ twice, and the untied program takes two copies', () => {
    expect([r.x, r.y, r.theta]).toEqual([0.5, 2, 0.7])
    expect(r.copies).toBe(2)
    expect(r.untiedProgram).toMatch(/^\{ lambda \w+:f64\[\] \w+:f64\[\] \./)
    expect(r.energy).toBeCloseTo(F(0.7, 0.7), 14)
    expect(r.gradProgram).toMatch(/^\{ lambda \w+:f64\[\] \./)
    expect(r.gradProgram).toMatch(/= add /)
  })

  test("the partials sum to grad(E) and equal Barber's closed forms to 1e-12", () => {
    expect(Math.abs(r.inner.computed + r.outer.computed - r.grad.computed)).toBeLessThan(1e-12)
    for (const c of [r.inner, r.outer, r.sum, r.grad]) expect(Math.abs(c.computed - c.closedForm)).toBeLessThan(1e-12)
    // The check can fail: the two partials differ, so swapping them would be seen.
    expect(Math.abs(r.inner.computed - r.outer.closedForm)).toBeGreaterThan(1e-2)
  })

  test('the closed forms are the derivatives of F and E (central differences)', () => {
    const theta = r.theta
    expect(r.inner.closedForm).toBeCloseTo(
      central((v) => F(v, theta), theta),
      8,
    )
    expect(r.outer.closedForm).toBeCloseTo(
      central((v) => F(theta, v), theta),
      8,
    )
    expect(r.grad.closedForm).toBeCloseTo(
      central((v) => F(v, v), theta),
      8,
    )
  })
})
