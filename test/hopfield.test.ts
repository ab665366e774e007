/**
 * Hopfield networks (Hopfield 1982; *Neural Networks II* (lecture notes),
 * section "Dynamic neural networks"): the energy never rises under
 * asynchronous single-unit updates and falls strictly at every flip; stored
 * patterns below capacity are fixed points; the library's asynchronous loop
 * equals a plain-JS reference (which rejects a synchronous and a
 * diagonal-including mutant); synchronous updates can 2-cycle where
 * asynchronous ones converge.
 *
 * Exact arithmetic throughout: integer weights, or Hebbian weights k/N with N
 * a power of two, so f32 sums are exact and a local field of exactly 0 (the
 * tie, which keeps the unit) means the same thing here as in the library.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as hopfield from '../src/energy/hopfield.ts'
import { cpuBackend, jit, ops, random, tensor, type Tensor } from '../src/index.ts'
import { lawRuns } from '../laws/index.ts'
import { assertProperty } from './lib/property.ts'

type Matrix = number[][]

// ---------------------------------------------------------------- plain-JS reference

const field = (W: Matrix, b: readonly number[], s: readonly number[], i: number): number =>
  W[i].reduce((acc, w, j) => acc + w * s[j], b[i])

/** E(s) = −½ Σ_ij w_ij s_i s_j − Σ_i b_i s_i, in f64. */
const energyJs = (W: Matrix, b: readonly number[], s: readonly number[]): number => {
  let e = 0
  for (let i = 0; i < s.length; i++) {
    for (let j = 0; j < s.length; j++) e -= 0.5 * W[i][j] * s[i] * s[j]
    e -= b[i] * s[i]
  }
  return e
}

/** One unit's update, sgn(h_i) with sgn(0) keeping s_i. */
type UnitUpdate = (W: Matrix, b: readonly number[], s: readonly number[], i: number) => number[]

const unitReference: UnitUpdate = (W, b, s, i) => {
  const h = field(W, b, s, i)
  const out = [...s]
  out[i] = h > 0 ? 1 : h < 0 ? -1 : s[i]
  return out
}

/** Units updated one after another in `order`, each seeing the updates before it. */
const asyncReference = (W: Matrix, b: readonly number[], s: readonly number[], order: readonly number[]): number[] =>
  order.reduce<number[]>((state, i) => unitReference(W, b, state, i), [...s])

const hebbianJs = (patterns: Matrix): Matrix => {
  const n = patterns[0].length
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 0 : patterns.reduce((acc, xi) => acc + xi[i] * xi[j], 0) / n)),
  )
}

const zerosJs = (n: number) => new Array<number>(n).fill(0)
const rowsOf = (x: Tensor): Matrix => {
  const [r, c] = x.shape as number[]
  const v = [...x.dataSync()]
  return Array.from({ length: r }, (_, i) => v.slice(i * c, (i + 1) * c))
}
const vec = (x: readonly number[]) => tensor([...x])
const mat = (x: Matrix) => tensor(x.map((r) => [...r]))
const idx = (x: readonly number[]) => tensor([...x], { dtype: 'i32' })

// ---------------------------------------------------------------- arbitraries

const spin = fc.constantFrom(-1, 1)
const spins = (n: number) => fc.array(spin, { minLength: n, maxLength: n })

/** A random symmetric integer W with zero diagonal, an integer bias (or none), a state and an order. */
const integerNetwork = fc.integer({ min: 2, max: 9 }).chain((n) =>
  fc.record({
    W: fc
      .array(fc.integer({ min: -3, max: 3 }), { minLength: n * n, maxLength: n * n })
      .map((v) =>
        Array.from({ length: n }, (_, i) =>
          Array.from({ length: n }, (_, j) => (i === j ? 0 : i < j ? v[i * n + j] : v[j * n + i])),
        ),
      ),
    b: fc.option(fc.array(fc.integer({ min: -1, max: 1 }), { minLength: n, maxLength: n }), { nil: undefined }),
    s: spins(n),
    order: fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 3 * n }),
  }),
)

/** Hebbian weights of P random patterns, N a power of two so that k/N is exact in f32. */
const hebbianNetwork = fc.constantFrom(4, 8, 16, 32).chain((n) =>
  fc.integer({ min: 1, max: n }).chain((p) =>
    fc.record({
      patterns: fc.array(spins(n), { minLength: p, maxLength: p }),
      s: spins(n),
      order: fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 2 * n }),
    }),
  ),
)

// ---------------------------------------------------------------- energy descent

/** Null if the trajectory of single-unit updates never raises the energy and lowers it at every flip, else why not. */
function descentFailure(
  W: Matrix,
  b: readonly number[],
  s0: readonly number[],
  order: readonly number[],
  update: UnitUpdate,
) {
  let s = [...s0]
  for (const [k, i] of order.entries()) {
    const next = update(W, b, s, i)
    const changed = next.flatMap((v, j) => (v !== s[j] ? [j] : []))
    const before = energyJs(W, b, s)
    const after = energyJs(W, b, next)
    if (changed.some((j) => j !== i)) return `step ${k} (unit ${i}) changed units ${changed}`
    if (after > before) return `step ${k} (unit ${i}): the energy rose from ${before} to ${after}`
    if (changed.length > 0 && !(after < before))
      return `step ${k} (unit ${i}) flipped without lowering the energy (${before})`
    s = next
  }
  return null
}

/** The library's single-unit update: updateAsync with a one-element order. */
const unitLibrary: UnitUpdate = (W, b, s, i) => [...hopfield.updateAsync(mat(W), vec(s), idx([i]), vec(b)).dataSync()]

describe('hopfield energy', () => {
  it('equals −½ sᵀWs − bᵀs, over a batch', () => {
    assertProperty(
      fc.property(integerNetwork, fc.array(spin, { minLength: 9, maxLength: 9 }), ({ W, b, s }, t) => {
        const n = s.length
        const bias = b ?? zerosJs(n)
        const other = t.slice(0, n)
        const e = hopfield.energy(mat(W), tensor([s, other]), vec(bias)).dataSync()
        // + 0 turns −0 into 0 on both sides.
        expect([...e].map((v) => v + 0)).toEqual([energyJs(W, bias, s) + 0, energyJs(W, bias, other) + 0])
        expect(hopfield.energy(mat(W), vec(s)).dataSync()[0] + 0).toBe(energyJs(W, zerosJs(n), s) + 0)
      }),
      { numRuns: lawRuns() },
    )
  })

  it('never rises under single asynchronous unit updates, and falls at every flip (random symmetric W)', () => {
    assertProperty(
      fc.property(integerNetwork, ({ W, b, s, order }) => {
        expect(descentFailure(W, b ?? zerosJs(s.length), s, order, unitLibrary)).toBeNull()
      }),
      { numRuns: lawRuns() },
    )
  })

  it('never rises under single asynchronous unit updates, and falls at every flip (Hebbian W)', () => {
    assertProperty(
      fc.property(hebbianNetwork, ({ patterns, s, order }) => {
        const W = rowsOf(hopfield.hebbian(mat(patterns)))
        expect(W).toEqual(hebbianJs(patterns))
        expect(descentFailure(W, zerosJs(s.length), s, order, unitLibrary)).toBeNull()
      }),
      { numRuns: lawRuns() },
    )
  })

  it('the same check rejects a tie rule sgn(0) = +1 and a sign-reversed update (planted bugs)', () => {
    const tieUp: UnitUpdate = (W, b, s, i) => {
      const out = [...s]
      out[i] = field(W, b, s, i) >= 0 ? 1 : -1
      return out
    }
    const reversed: UnitUpdate = (W, b, s, i) => {
      const out = [...s]
      const h = field(W, b, s, i)
      out[i] = h > 0 ? -1 : h < 0 ? 1 : s[i]
      return out
    }
    for (const mutant of [tieUp, reversed]) {
      const run = fc.check(
        fc.property(
          integerNetwork,
          ({ W, b, s, order }) => descentFailure(W, b ?? zerosJs(s.length), s, order, mutant) === null,
        ),
        { numRuns: 200, seed: 7 },
      )
      expect(run.failed).toBe(true)
    }
    // The tie, by hand: no field at all, so the mutant flips at no change of energy.
    expect(
      descentFailure(
        [
          [0, 0],
          [0, 0],
        ],
        [0, 0],
        [-1, -1],
        [0],
        tieUp,
      ),
    ).toMatch(/without lowering/)
    expect(
      descentFailure(
        [
          [0, 0],
          [0, 0],
        ],
        [0, 0],
        [-1, -1],
        [0, 1],
        unitLibrary,
      ),
    ).toBeNull()
    expect([
      ...hopfield
        .updateAsync(
          mat([
            [0, 0],
            [0, 0],
          ]),
          vec([-1, -1]),
          idx([0, 1]),
        )
        .dataSync(),
    ]).toEqual([-1, -1])
  })
})

// ---------------------------------------------------------------- asynchronous loop against the reference

type AsyncUpdate = (patterns: Tensor, s: Tensor, order: Tensor) => Tensor

const libraryAsync: AsyncUpdate = (patterns, s, order) =>
  hopfield.updateAsync(hopfield.hebbian(patterns as Tensor<['P', 'N']>), s, order as Tensor<['K'], 'i32'>)

/** Mutant: every unit in the order reads the old state (for a sweep, the synchronous update). */
const readsOldState: AsyncUpdate = (patterns, s, order) => {
  const W = hopfield.hebbian(patterns as Tensor<['P', 'N']>)
  const fields = hopfield.localField(W, s)
  const n = s.shape[s.ndim - 1] as number
  const hit = ops.greater(
    ops.sum(ops.astype(ops.equal(ops.expandDims(order, 1), ops.arange(0, n, 1, 'i32')), 'f32'), 0),
    0,
  )
  return ops.where(hit, ops.where(ops.greater(fields, 0), 1, ops.where(ops.less(fields, 0), -1, s)), s) as Tensor
}

/** Mutant: Hebbian weights that keep the self-coupling w_ii = P/N. */
const keepsDiagonal: AsyncUpdate = (patterns, s, order) => {
  const [p, n] = patterns.shape as number[]
  const W = ops.add(hopfield.hebbian(patterns as Tensor<['P', 'N']>), ops.mul(ops.eye(n), p / n))
  return hopfield.updateAsync(W as Tensor<[number, number]>, s, order as Tensor<['K'], 'i32'>)
}

const agreesWithReference = (update: AsyncUpdate) =>
  fc.property(hebbianNetwork, ({ patterns, s, order }) => {
    const got = [...update(mat(patterns), vec(s), idx(order)).dataSync()]
    const expected = asyncReference(hebbianJs(patterns), zerosJs(s.length), s, order)
    return got.every((v, i) => v === expected[i])
  })

describe('hopfield updateAsync', () => {
  it('equals a plain-JS loop of single-unit updates in the given order (Hebbian W)', () => {
    assertProperty(agreesWithReference(libraryAsync), { numRuns: 2 * lawRuns() })
  })

  it('equals the reference with a bias, on a batch of states with two leading axes', () => {
    assertProperty(
      fc.property(integerNetwork, fc.array(spin, { minLength: 54, maxLength: 54 }), ({ W, b, order }, flat) => {
        const n = W.length
        const bias = b ?? zerosJs(n)
        const states = Array.from({ length: 6 }, (_, k) => flat.slice(k * n, (k + 1) * n))
        const batch = tensor(states.flat(), { shape: [2, 3, n] })
        const got = [...hopfield.updateAsync(mat(W), batch, idx(order), vec(bias)).dataSync()]
        expect(got).toEqual(states.flatMap((s) => asyncReference(W, bias, s, order)))
      }),
      { numRuns: lawRuns() },
    )
  })

  it('the same comparison rejects an update from the old state and a diagonal kept in W (planted bugs)', () => {
    for (const mutant of [readsOldState, keepsDiagonal]) {
      const run = fc.check(agreesWithReference(mutant), { numRuns: 100, seed: 11 })
      expect(run.failed).toBe(true)
    }
  })

  it('a sweep in a random order (randomOrder) visits every unit once', () => {
    const order = [...hopfield.randomOrder(random.key(3), 50).dataSync()]
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})

// ---------------------------------------------------------------- stored patterns

describe('hopfield memory', () => {
  const N = 100
  const P = 5
  const patterns = hopfield.randomPatterns(random.key(2024), P, N)
  const xi = rowsOf(patterns)
  const W = hopfield.hebbian(patterns)

  it('Hebbian weights are (1/N) Σ ξξᵀ, symmetric, with a zero diagonal', () => {
    const w = rowsOf(W)
    const ref = hebbianJs(xi)
    w.forEach((row, i) =>
      row.forEach((v, j) => {
        expect(v).toBeCloseTo(ref[i][j], 6)
        expect(v).toBe(w[j][i])
      }),
    )
    expect(w.map((row, i) => row[i])).toEqual(zerosJs(N))
  })

  it('below capacity (N = 100, P = 5) every stored pattern is a fixed point', () => {
    // The exact condition, in plain JS: every unit's local field has the sign of ξ_i.
    const ref = hebbianJs(xi)
    for (const pattern of xi)
      for (let i = 0; i < N; i++) expect(field(ref, zerosJs(N), pattern, i) * pattern[i]).toBeGreaterThan(0)
    // The library agrees: one synchronous update, and an asynchronous recall, leave every pattern as it is.
    expect(rowsOf(hopfield.updateSync(W, patterns))).toEqual(xi)
    const r = hopfield.recall(W, patterns, { key: random.key(1), maxSweeps: 5 })
    expect(rowsOf(r.state)).toEqual(xi)
    expect([...r.sweeps.dataSync()]).toEqual(new Array(P).fill(1))
    expect([...r.converged.dataSync()]).toEqual(new Array(P).fill(1))
  })

  it('recalls each pattern from a cue with 10 % of its units flipped, one jitted call for the batch', async () => {
    const cues = hopfield.flipUnits(random.key(5), patterns, 0.1)
    expect([...hopfield.overlap(cues, patterns).dataSync()].map((m) => Math.round(m * 100) / 100)).toEqual(
      new Array(P).fill(0.8),
    )
    const run = jit(
      (w: Tensor, s: Tensor, k: random.Key) => hopfield.recall(w as hopfield.Weights, s, { key: k, maxSweeps: 20 }),
      {
        backend: cpuBackend(),
      },
    )
    const text = run.lower(W, cues, random.key(9)).toString()
    expect(text).toMatch(/whileLoop/)
    expect(text).toMatch(/scan/)
    const r = await run(W, cues, random.key(9))
    expect([...(await hopfield.overlap(r.state, patterns).data())]).toEqual(new Array(P).fill(1))
    expect([...(await r.converged.data())]).toEqual(new Array(P).fill(1))
    // Eager evaluation gives the same states.
    const eager = hopfield.recall(W, cues, { key: random.key(9), maxSweeps: 20 })
    expect([...eager.state.dataSync()]).toEqual([...(await r.state.data())])
  })

  it('overlap and flipUnits: m = 1 − 2k/N for k flipped units', () => {
    const s = patterns
    expect([...hopfield.overlap(s, s).dataSync()]).toEqual(new Array(P).fill(1))
    expect([...hopfield.overlap(ops.neg(s), s).dataSync()]).toEqual(new Array(P).fill(-1))
    const flipped = rowsOf(hopfield.flipUnits(random.key(8), s, 0.23))
    flipped.forEach((row, m) => expect(row.filter((v, i) => v !== xi[m][i]).length).toBe(23))
  })
})

// ---------------------------------------------------------------- synchronous 2-cycles

describe('hopfield synchronous dynamics', () => {
  // Antiferromagnetic couplings: all units agree, so every field opposes every unit and a synchronous update
  // flips them all, and back again; one unit at a time, the network settles into a balanced state.
  for (const n of [2, 4]) {
    const Wjs = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : -1)))
    const W = mat(Wjs)
    const s = vec(new Array(n).fill(1))

    it(`oscillates with period 2 where asynchronous updates converge (N = ${n})`, () => {
      expect([...hopfield.updateSync(W, hopfield.updateSync(W, s)).dataSync()]).toEqual(new Array(n).fill(1))
      const sync = hopfield.recall(W, s, { mode: 'sync', maxSweeps: 10 })
      expect(sync.cycled.dataSync()[0]).toBe(1)
      expect(sync.converged.dataSync()[0]).toBe(0)
      expect(sync.sweeps.dataSync()[0]).toBe(2)

      const async = hopfield.recall(W, s, { mode: 'async', key: random.key(4), maxSweeps: 10 })
      expect(async.converged.dataSync()[0]).toBe(1)
      expect(async.cycled.dataSync()[0]).toBe(0)
      const fixed = [...async.state.dataSync()]
      // A fixed point by the plain-JS condition: no unit would change.
      for (let i = 0; i < n; i++) expect(unitReference(Wjs, zerosJs(n), fixed, i)).toEqual(fixed)
      expect(fixed.reduce((a, v) => a + v, 0)).toBe(0)
    })
  }

  it('reports convergence for states already fixed and stops at maxSweeps otherwise', () => {
    const W = mat([
      [0, -1],
      [-1, 0],
    ])
    const r = hopfield.recall(
      W,
      tensor([
        [1, 1],
        [1, -1],
      ]),
      { mode: 'sync', maxSweeps: 1 },
    )
    expect([...r.converged.dataSync()]).toEqual([0, 1])
    expect([...r.cycled.dataSync()]).toEqual([0, 0])
    expect([...r.sweeps.dataSync()]).toEqual([1, 1])
  })
})
