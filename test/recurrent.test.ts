/**
 * The laws of the recurrent gradient algorithms (D. Barber, Neural Nets
 * (lecture notes), "Computing the Gradient", "Real Time Recurrent Learning
 * (Williams and Zipser)", "Parameter Tying", "Backprop Through Time"), on
 * random cells (Elman, LSTM, GRU, a stack of two) of
 * random small sizes, random lengths, inputs and targets, in f64:
 *
 *  - agreement:   rtrl(cell, L) = bptt(cell, L) = central differences of E;
 *  - online:      after step t, RTRL's carried gradient is BPTT's on x₁ … x_t;
 *  - batching:    vmap of either over a batch of sequences = each sequence alone;
 *  - tying:       with F = untie(E) on the unrolled loop (step t reads its own
 *                 copies θ_t), M[t][τ] = ∂L_t/∂θ_τ (zero for τ > t) has
 *                 row sums dL_t/dθ, RTRL's increments, and column sums
 *                 ∂E/∂θ_τ, whose total is BPTT's gradient;
 *  - truncation:  bptt with k ≥ T = bptt; with any k = the gradient of the
 *                 unrolled loop with a stop-gradient on the state at every
 *                 chunk start; with k = 1 (Elman) = the one-step gradient
 *                 written out by hand;
 *  - the laws catch a planted bug: RTRL without the ∂f/∂h · S_{t−1} term;
 *  - costs read off the programs: BPTT stacks O(T·H), RTRL carries a fixed
 *    O(H·|θ|) and stacks nothing; rtrl jits.
 *
 * Runs per law: ADJOINT_LAW_RUNS (laws/index.ts), divided by a per-law cost
 * factor, so that 100 runs stay well under a minute.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, makeProgram, ops, random, tree, untie, vmap, type Tensor } from '../src/index.ts'
import {
  bptt,
  rtrl,
  rtrlOnline,
  scanFootprints,
  sequenceLoss,
  type AnyCell,
  type SensitivityUpdate,
} from '../src/recurrent/index.ts'
import { lawRuns } from '../laws/index.ts'
import { kinds, makeCell, type Kind } from './lib/cells.ts'
import {
  axpby,
  compareTrees,
  inner,
  leavesOf,
  previewTree,
  randomLike,
  stackTrees,
  type Tolerance,
} from '../laws/numeric.ts'
import { assertProperty, runs } from './lib/property.ts'

const exact: Tolerance = { rtol: 1e-9, atol: 1e-12 }

// ---------------------------------------------------------------- random cases

/** ½‖y − target‖², one step's loss. */
const squared = (y: Tensor, target: Tensor) => ops.mul(ops.sum(ops.square(ops.sub(y, target))), 0.5) as Tensor<[]>
/** ½ Σ over the state's tensors of ‖h − target‖²: a loss on the final state that reads every part of it (an LSTM's c too). */
const finalSquared = {
  final: (state: unknown, target: unknown) => {
    const [hs] = tree.flatten(state)
    const [ts] = tree.flatten(target)
    return hs.map((h, i) => squared(h, ts[i])).reduce((a, b) => ops.add(a, b)) as Tensor<[]>
  },
}

/** A drawn problem: a cell with perturbed parameters, h₀, a sequence, its targets and a direction. */
class Problem {
  readonly cell: AnyCell
  readonly params: unknown
  readonly h0: unknown
  readonly xs: Tensor
  readonly targets: unknown
  readonly loss: typeof squared | typeof finalSquared
  constructor(
    readonly kind: Kind,
    readonly I: number,
    readonly H: number,
    readonly T: number,
    readonly final: boolean,
    readonly seed: number,
  ) {
    this.cell = makeCell(kind, I, H)
    const keys = random.split(random.key(seed), 4)
    // init gives zero biases; a random perturbation makes every parameter matter.
    const init = this.cell.init(keys[0])
    this.params = axpby(1, init, 0.3, randomLike(init, seed + 1))
    this.h0 = axpby(0.5, randomLike(this.cell.initialState(), seed + 2), 0, this.cell.initialState())
    this.xs = random.normal(keys[1], [T, I], { dtype: 'f64' }) as Tensor
    this.loss = final ? finalSquared : squared
    this.targets = final
      ? randomLike(this.cell.initialState(), seed + 3)
      : (random.normal(keys[2], [T, this.cell.outputSize], { dtype: 'f64' }) as Tensor)
  }
  get args(): [unknown, unknown, Tensor, unknown] {
    return [this.params, this.h0, this.xs, this.targets]
  }
  [fc.toStringMethod](): string {
    return `${this.cell.name}, T = ${this.T}, ${this.final ? 'final-state' : 'per-step'} loss, seed ${this.seed}`
  }
}

const problems = (options: { kinds?: readonly Kind[]; final?: boolean; maxT?: number } = {}) =>
  fc
    .record({
      kind: fc.constantFrom(...(options.kinds ?? kinds)),
      I: fc.integer({ min: 1, max: 3 }),
      H: fc.integer({ min: 1, max: 3 }),
      T: fc.integer({ min: 1, max: options.maxT ?? 5 }),
      final: options.final === undefined ? fc.boolean() : fc.constant(options.final),
      seed: fc.noShrink(fc.integer({ min: 0, max: 2 ** 30 })),
    })
    .map((r) => new Problem(r.kind, r.I, r.H, r.T, r.final, r.seed))

// ---------------------------------------------------------------- predicates

interface Verdict {
  readonly ok: boolean
  readonly detail: string
}

const same = (what: string, expected: unknown, actual: unknown, tol: Tolerance = exact): Verdict => {
  const c = compareTrees(expected, actual, tol)
  return {
    ok: c.ok,
    detail: `${what}: ‖difference‖∞ = ${c.error.toPrecision(3)} vs bound ${c.bound.toPrecision(3)} at ${c.where}; expected ${previewTree(expected)}, got ${previewTree(actual)}`,
  }
}

/** ⟨g, v⟩ against (E(x + εv) − E(x − εv)) / 2ε, x = (θ, h₀), in f64. */
function finiteDifference(p: Problem, g: { params: unknown; h0: unknown }): Verdict {
  const E = sequenceLoss(p.cell, p.loss as never) as (...args: unknown[]) => Tensor
  const v = randomLike([p.params, p.h0], p.seed + 7)
  const x = [p.params, p.h0]
  const eps = 1e-6
  const at = (s: number) => {
    const [q, h] = axpby(1, x, s * eps, v) as [unknown, unknown]
    return E(q, h, p.xs, p.targets).item()
  }
  const numerical = (at(1) - at(-1)) / (2 * eps)
  const { value, scale } = inner([g.params, g.h0], v)
  const bound = 1e-6 * (1 + scale + Math.abs(E(...p.args).item()))
  return {
    ok: Math.abs(numerical - value) <= bound,
    detail: `central difference ${numerical} vs ⟨grad, v⟩ = ${value} (bound ${bound})`,
  }
}

/** rtrl = bptt = central differences, for an RTRL with the given sensitivity update. */
function agreement(p: Problem, sensitivity?: SensitivityUpdate): Verdict {
  const r = rtrl(p.cell, p.loss as never, { sensitivity })(...(p.args as [never, never, never, never]))
  const b = bptt(p.cell, p.loss as never)(...(p.args as [never, never, never, never]))
  const checks = [
    same('loss (rtrl vs bptt)', b.loss, r.loss),
    same('gradient (rtrl vs bptt)', b.grad, r.grad),
    finiteDifference(p, b.grad),
  ]
  return checks.find((c) => !c.ok) ?? { ok: true, detail: '' }
}

const holds = (v: Verdict) => {
  if (!v.ok) throw new Error(v.detail)
}

// ---------------------------------------------------------------- laws

describe('RTRL = BPTT = finite differences', () => {
  it('on random cells, sizes, lengths, inputs and losses (per step and on the final state)', () => {
    assertProperty(
      fc.property(problems(), (p) => holds(agreement(p))),
      runs(1),
    )
  })

  it('online, one step at a time: after step t the carried gradient is BPTT’s on the prefix x₁ … x_t', () => {
    assertProperty(
      fc.property(problems({ final: false, maxT: 4 }), (p) => {
        const online = rtrlOnline(p.cell, squared)
        let carry = online.init(p.params, p.h0 as never)
        for (let t = 0; t < p.T; t++) {
          const x = ops.reshape(ops.slice(p.xs, [t, 0], [1, p.I]), [p.I]) as Tensor
          const y = ops.reshape(ops.slice(p.targets as Tensor, [t, 0], [1, p.cell.outputSize]), [
            p.cell.outputSize,
          ]) as Tensor
          carry = online.step(p.params, carry, x, y)
          const prefix = (z: Tensor) => ops.slice(z, [0, 0], [t + 1, z.shape[1]]) as Tensor
          const b = bptt(p.cell, squared)(
            p.params as never,
            p.h0 as never,
            prefix(p.xs) as never,
            prefix(p.targets as Tensor),
          )
          holds(
            same(
              `step ${t}: online RTRL vs BPTT on the prefix`,
              { loss: b.loss, grad: b.grad },
              { loss: carry.loss, grad: online.gradient(p.params, carry) },
            ),
          )
        }
      }),
      runs(4),
    )
  })

  it('composed with vmap over a batch of sequences: each row is the sequence alone', () => {
    const batches = fc.tuple(problems({ maxT: 4 }), fc.integer({ min: 1, max: 3 })).map(([p, n]) => {
      const others = Array.from(
        { length: n },
        (_, i) => new Problem(p.kind, p.I, p.H, p.T, p.final, p.seed + 100 * (i + 1)),
      )
      return { p, others, toString: () => `${p.cell.name}, T = ${p.T}, batch ${n}, seed ${p.seed}` }
    })
    assertProperty(
      fc.property(batches, ({ p, others }) => {
        const h0s = stackTrees(others.map((q) => q.h0))
        const xss = stackTrees(others.map((q) => q.xs))
        const tgs = stackTrees(others.map((q) => q.targets))
        const axes = [null, 0, 0, 0]
        const vr = vmap(rtrl(p.cell, p.loss as never), axes)(p.params, h0s, xss, tgs)
        const vb = vmap(bptt(p.cell, p.loss as never), axes)(p.params, h0s, xss, tgs)
        holds(same('vmap(rtrl) vs vmap(bptt)', vb, vr))
        const rows = others.map((q) =>
          bptt(p.cell, p.loss as never)(p.params as never, q.h0 as never, q.xs as never, q.targets),
        )
        holds(same('vmap(rtrl) vs each sequence', stackTrees(rows), vr))
      }),
      runs(3),
    )
  })
})

/**
 * The unrolled loop of T steps, E or (with `upTo`) the single term L_upTo,
 * as a function of θ that the staging of `untie` can see every use of.
 */
function unrolled(p: Problem, upTo?: number) {
  return (params: unknown, h0: unknown, xs: Tensor, targets: Tensor): Tensor<[]> => {
    let h = h0
    let e = ops.zeros([], 'f64') as Tensor<[]>
    const steps = upTo === undefined ? p.T : upTo + 1
    for (let t = 0; t < steps; t++) {
      const x = ops.reshape(ops.slice(xs, [t, 0], [1, p.I]), [p.I]) as Tensor
      const [next, y] = p.cell.step(params, h as never, x as never)
      h = next
      const target = ops.reshape(ops.slice(targets, [t, 0], [1, p.cell.outputSize]), [p.cell.outputSize]) as Tensor
      if (upTo === undefined || t === upTo) e = ops.add(e, squared(y as Tensor, target)) as Tensor<[]>
    }
    return e
  }
}

/**
 * ∂F/∂θ_τ per step τ for F = untie(f): the copies of each parameter leaf are
 * numbered in the order of their uses, which the unrolled loop makes the
 * order of the steps, each step using a leaf equally often.
 */
function perStepUntied(f: ReturnType<typeof unrolled>, p: Problem, steps: number): unknown[] {
  const F = untie(f)(p.params, p.h0, p.xs, p.targets as Tensor)
  const copies = Array.from({ length: F.copies }, () => p.params as never)
  const g = grad((cs: never[]) => F.apply(cs, p.params, p.h0, p.xs, p.targets as Tensor))(copies) as unknown[]
  const [leaves, def] = tree.flatten(p.params)
  const perStep = F.uses.map((u, j) => {
    if (u % steps !== 0)
      throw new Error(`leaf ${j} is used ${u} times in ${steps} steps; the steps of the loop must use it alike`)
    return u / steps
  })
  return Array.from({ length: steps }, (_, t) =>
    tree.unflatten(
      def,
      leaves.map((x, j) => {
        let sum = ops.zerosLike(x) as Tensor
        for (let c = t * perStep[j]; c < (t + 1) * perStep[j]; c++)
          sum = ops.add(sum, tree.flatten(g[c])[0][j]) as Tensor
        return sum
      }),
    ),
  )
}

const sumTrees = (ts: readonly unknown[]): unknown => ts.reduce((a, b) => axpby(1, a, 1, b))

describe('RTRL and BPTT are two views of parameter tying across time (Barber, Neural Nets)', () => {
  it('M[t][τ] = ∂L_t/∂θ_τ: rows sum to RTRL’s increments dL_t/dθ, columns to ∂E/∂θ_τ, whose total is BPTT’s gradient', () => {
    assertProperty(
      fc.property(problems({ final: false, maxT: 4 }), (p) => {
        const r = rtrl(p.cell, squared, { history: true })(...(p.args as [never, never, never, never]))
        const b = bptt(p.cell, squared)(...(p.args as [never, never, never, never]))
        const history = r.history as { grad: { params: unknown } }
        const columns = perStepUntied(unrolled(p), p, p.T)
        holds(same('Σ_τ ∂E/∂θ_τ (untied) vs bptt', b.grad.params, sumTrees(columns)))
        holds(same('Σ_τ ∂E/∂θ_τ (untied) vs rtrl', r.grad.params, sumTrees(columns)))
        const rowOf = (t: number) =>
          leavesOf(history.grad.params).map((x) => x.values.slice(t * (x.size / p.T), (t + 1) * (x.size / p.T)))
        for (let t = 0; t < p.T; t++) {
          const row = perStepUntied(unrolled(p, t), p, t + 1)
          const increment = rowOf(t).map((v, j) => (t === 0 ? v : v.map((a, i) => a - rowOf(t - 1)[j][i])))
          const expected = tree.flatten(sumTrees(row))[0].map((x) => Array.from(x.dataSync()))
          const err = Math.max(...increment.flatMap((v, j) => Array.from(v, (a, i) => Math.abs(a - expected[j][i]))))
          const scale = Math.max(1, ...expected.flat().map(Math.abs))
          if (!(err <= 1e-9 * scale))
            throw new Error(`row ${t}: RTRL's increment dL_t/dθ differs from Σ_τ ∂L_t/∂θ_τ by ${err}`)
        }
      }),
      runs(8),
    )
  })
})

// ---------------------------------------------------------------- truncation

/** The unrolled loop with the state a constant at each chunk start t = k, 2k, …: the reference for truncated BPTT. */
function cutEvery(p: Problem, k: number) {
  return (params: unknown, h0: unknown): Tensor<[]> => {
    let h = h0
    let e = ops.zeros([], 'f64') as Tensor<[]>
    for (let t = 0; t < p.T; t++) {
      if (t > 0 && t % k === 0) h = tree.treeMap(h as tree.Tree, (x) => ops.stopGradient(x))
      const x = ops.reshape(ops.slice(p.xs, [t, 0], [1, p.I]), [p.I]) as Tensor
      const [next, y] = p.cell.step(params, h as never, x as never)
      h = next
      if (!p.final)
        e = ops.add(
          e,
          squared(
            y as Tensor,
            ops.reshape(ops.slice(p.targets as Tensor, [t, 0], [1, p.cell.outputSize]), [p.cell.outputSize]) as Tensor,
          ),
        ) as Tensor<[]>
    }
    return p.final ? finalSquared.final(h, p.targets) : e
  }
}

describe('truncated BPTT (chunks of k steps, the state a constant between chunks)', () => {
  it('with k ≥ T it is BPTT', () => {
    const cases = fc.tuple(problems(), fc.integer({ min: 0, max: 3 }))
    assertProperty(
      fc.property(cases, ([p, extra]) => {
        const full = bptt(p.cell, p.loss as never)(...(p.args as [never, never, never, never]))
        const cut = bptt(p.cell, p.loss as never, { truncate: p.T + extra })(
          ...(p.args as [never, never, never, never]),
        )
        holds(same(`truncate ${p.T + extra} vs full`, full, cut))
      }),
      runs(8),
    )
  })

  it('with any k it is the gradient of the loop cut every k steps', () => {
    const cases = problems().chain((p) =>
      fc
        .integer({ min: 1, max: p.T })
        .map((k) => ({ p, k, toString: () => `${String(p[fc.toStringMethod]())}, k = ${k}` })),
    )
    assertProperty(
      fc.property(cases, ({ p, k }) => {
        const cut = bptt(p.cell, p.loss as never, { truncate: k })(...(p.args as [never, never, never, never]))
        const reference = grad(cutEvery(p, k), { argnums: [0, 1] })(p.params, p.h0)
        holds(same(`truncate ${k} vs the loop cut every ${k} steps`, reference, [cut.grad.params, cut.grad.h0]))
        holds(same('loss', cutEvery(p, k)(p.params, p.h0), cut.loss))
      }),
      runs(6),
    )
  })

  it('with k = 1 it is the one-step gradient, written out by hand for the Elman RNN', () => {
    assertProperty(
      fc.property(problems({ kinds: ['elman'], final: false }), (p) => {
        const cut = bptt(p.cell, squared, { truncate: 1 })(...(p.args as [never, never, never, never]))
        const q = p.params as { wx: Tensor; wh: Tensor; b: Tensor }
        const [I, H, T] = [p.I, p.H, p.T]
        const wx = Array.from(q.wx.dataSync())
        const wh = Array.from(q.wh.dataSync())
        const bias = Array.from(q.b.dataSync())
        const xs = Array.from(p.xs.dataSync())
        const ys = Array.from((p.targets as Tensor).dataSync())
        const gwx = new Array(I * H).fill(0)
        const gwh = new Array(H * H).fill(0)
        const gb = new Array(H).fill(0)
        let gh0: number[] = []
        let h = Array.from((p.h0 as Tensor).dataSync())
        for (let t = 0; t < T; t++) {
          // h_t = tanh(x_t Wx + h_{t−1} Wh + b); L_t = ½‖h_t − y_t‖²; δ_t = (h_t − y_t) ⊙ (1 − h_t²), h_{t−1} held fixed.
          const next = Array.from({ length: H }, (_, j) => {
            let z = bias[j]
            for (let i = 0; i < I; i++) z += xs[t * I + i] * wx[i * H + j]
            for (let i = 0; i < H; i++) z += h[i] * wh[i * H + j]
            return Math.tanh(z)
          })
          const delta = next.map((v, j) => (v - ys[t * H + j]) * (1 - v * v))
          for (let i = 0; i < I; i++) for (let j = 0; j < H; j++) gwx[i * H + j] += xs[t * I + i] * delta[j]
          for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) gwh[i * H + j] += h[i] * delta[j]
          delta.forEach((d, j) => (gb[j] += d))
          // ∂L₁/∂h₀ = Wh δ₁ (in rows: δ₁ Whᵀ); no later term reaches h₀.
          if (t === 0) gh0 = Array.from({ length: H }, (_, i) => delta.reduce((s, d, j) => s + wh[i * H + j] * d, 0))
          h = next
        }
        const hand = {
          params: {
            b: ops.tensor(gb, { shape: [H], dtype: 'f64' }),
            wh: ops.tensor(gwh, { shape: [H, H], dtype: 'f64' }),
            wx: ops.tensor(gwx, { shape: [I, H], dtype: 'f64' }),
          },
          h0: ops.tensor(gh0, { shape: [H], dtype: 'f64' }),
        }
        holds(same('truncate 1 vs the one-step gradient by hand', hand, cut.grad))
      }),
      runs(4),
    )
  })
})

// ---------------------------------------------------------------- a planted bug

describe('the laws catch a planted bug', () => {
  it('RTRL that drops ∂f/∂h · S_{t−1} (S_t = ∂f/∂θ only) disagrees with BPTT and finite differences', () => {
    const dropped: SensitivityUpdate = (_dfdh, _S, dfdtheta) => dfdtheta
    const run = fc.check(
      fc.property(problems(), (p) => holds(agreement(p, dropped))),
      { numRuns: Math.max(50, lawRuns()) },
    )
    expect(run.failed, 'the law should find a counterexample').toBe(true)
    expect(String(run.errorInstance)).toMatch(/gradient \(rtrl vs bptt\)|central difference/)
    // The replay information of the counterexample.
    expect(run.seed).toEqual(expect.any(Number))
    expect(run.counterexamplePath).toEqual(expect.any(String))
  })
})

// ---------------------------------------------------------------- programs and costs

describe('costs, read off the programs', () => {
  const p = new Problem('lstm', 2, 3, 4, false, 11)
  const footprint = (f: (...a: never[]) => unknown, T: number) => {
    const xs = random.normal(random.key(T), [T, p.I], { dtype: 'f64' })
    const ys = random.normal(random.key(T + 1), [T, p.H], { dtype: 'f64' })
    return scanFootprints(makeProgram(f as (...a: unknown[]) => unknown)(p.params, p.h0, xs, ys))
  }
  const N = 2 * p.H
  const P = 4 * p.H * (p.I + p.H + 1)

  it('BPTT: a forward scan that stacks residuals linear in T, then a reverse scan that stacks nothing', () => {
    const [at5, at10] = [5, 10].map((T) => footprint(bptt(p.cell, squared) as never, T))
    for (const [fs, T] of [
      [at5, 5],
      [at10, 10],
    ] as const) {
      expect(fs.map((s) => [s.depth, s.length, s.reverse])).toEqual([
        [0, T, false],
        [0, T, true],
      ])
      expect(fs[1].stackedBytes).toBe(0)
    }
    expect(at10[0].stackedBytes).toBe(2 * at5[0].stackedBytes)
    expect(at5[0].stacked.every((a) => a.shape[0] === 5)).toBe(true)
  })

  it('RTRL: one forward scan carrying h, S [N, P + N], the gradient [P + N] and the loss, the same for every T, stacking nothing', () => {
    const [at5, at10] = [5, 10].map((T) => footprint(rtrl(p.cell, squared) as never, T).filter((s) => s.depth === 0))
    expect(at5).toHaveLength(1)
    expect(at5[0].stackedBytes).toBe(0)
    expect(at10[0].carryBytes).toBe(at5[0].carryBytes)
    expect(at5[0].carry.map((a) => a.shape)).toContainEqual([N, P + N])
    expect(at5[0].carryBytes).toBe(8 * (N + N * (P + N) + (P + N) + 1))
  })

  it('truncated BPTT stacks O(k·H) per chunk, whatever T', () => {
    const [at6, at12] = [6, 12].map((T) => footprint(bptt(p.cell, squared, { truncate: 3 }) as never, T))
    const stackedOf = (fs: typeof at6) => Math.max(...fs.map((s) => s.stackedBytes))
    expect(stackedOf(at12)).toBe(stackedOf(at6))
    expect(at12[0]).toMatchObject({ depth: 0, length: 4 })
  })

  it('rtrl and bptt jit (on the CPU backend) to the values they compute eagerly', async () => {
    const backend = cpuBackend()
    for (const f of [rtrl(p.cell, squared), bptt(p.cell, squared), bptt(p.cell, squared, { truncate: 2 })]) {
      const eager = f(...(p.args as [never, never, never, never]))
      const compiled = await jit(f as (...a: unknown[]) => unknown, { backend })(...p.args)
      holds(same('jit vs eager', eager, compiled))
    }
  })
})

// ---------------------------------------------------------------- errors

describe('bad input is named', () => {
  const p = new Problem('gru', 2, 3, 4, false, 5)
  it('a sequence that is not time-major [T, ..., I], an h₀ of the wrong shape, a bad truncation, a loss that is not scalar', () => {
    expect(() =>
      bptt(p.cell, squared)(p.params as never, p.h0 as never, ops.zeros([4, 5], 'f64') as never, p.targets as never),
    ).toThrow(/bptt: expected a time-major input sequence \[T, \.\.\., 2\] for gru\(2 → 3\), got f64\[4,5\]/)
    expect(() =>
      rtrl(p.cell, squared)(p.params as never, ops.zeros([2, 3], 'f64') as never, p.xs as never, p.targets as never),
    ).toThrow(/rtrl: expected a state \[\.\.\., 3\] with leading shape \[\]; h0 should be \[3\], got f64\[2,3\]/)
    expect(() => bptt(p.cell, squared, { truncate: 0 })).toThrow(/truncate must be a positive integer/)
    expect(() => rtrl(p.cell, (y: Tensor) => y as never)(...(p.args as [never, never, never, never]))).toThrow(
      /the loss must return a floating-point scalar tensor \(shape \[\]\), got f64\[3\]/,
    )
    expect(() => rtrl(p.cell, finalSquared as never, { history: true })).toThrow(/history .* needs a step loss/)
    expect(() => bptt(p.cell, 3 as never)).toThrow(/expected a loss \(y, target\) => scalar or \{ final/)
  })
})
