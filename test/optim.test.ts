import { describe, expect, it } from 'vitest'
import {
  cpuBackend,
  grad,
  hessian,
  hvp,
  jacfwd,
  jit,
  ops,
  scalar,
  tensor,
  valueAndGrad,
  type Tensor,
} from '../src/index.ts'
import * as optim from '../src/optim/index.ts'
import type { Tree } from '../src/tree.ts'
import { expectClose, within } from './lib/close.ts'

type Nested = number | readonly Nested[]
const f64 = <const X extends Nested>(data: X) => tensor(data, { dtype: 'f64' })
const values = (t: Tensor): number[] => Array.from(t.dataSync())
const tight = within(1e-12)

// ---------------------------------------------------------------- reference updates

type Params = { a: Tensor<[2]>; b: Tensor<[2, 1]> }
const p0: Params = { a: f64([1, -2]), b: f64([[0.5], [3]]) }
/** Three gradients of the structure of p0, of varied sign and size. */
const gradSeq: Params[] = [
  { a: f64([0.5, -1]), b: f64([[2], [-0.25]]) },
  { a: f64([0.1, 4]), b: f64([[-3], [0.75]]) },
  { a: f64([-0.7, 0.2]), b: f64([[1], [-2]]) },
]
const flat = (p: Params): number[] => [...values(p.a), ...values(p.b)]

/** Runs three updates with the given gradients; returns the parameters after each. */
function runSteps(opt: optim.Optimiser<any>, grads: readonly Params[] = gradSeq): number[][] {
  let p = p0
  let s = opt.init(p)
  return grads.map((g) => {
    ;[p, s] = opt.update(g, s, p)
    return flat(p)
  })
}

/**
 * Each rule in plain arithmetic, one element at a time: the hand computation
 * the tensors must reproduce. `state` is per element; t counts from 1.
 */
function reference(
  rule: (g: number, theta: number, st: number[], t: number) => number,
  slots: number,
  init = 0,
): number[][] {
  let theta = flat(p0)
  const st = theta.map(() => new Array<number>(slots).fill(init))
  return gradSeq.map((g, k) => {
    const gs = flat(g)
    theta = theta.map((th, i) => rule(gs[i], th, st[i], k + 1))
    return theta
  })
}

describe('first-order updates match the formulas, step by step', () => {
  const lr = 0.1
  it('SGD: θ′ = θ − α g (COMP613 Deep Learning notes, "Optimisation for Machine Learning")', () => {
    const got = runSteps(optim.sgd({ lr }))
    // By hand for the first entry: 1 − 0.1·0.5 = 0.95; − 0.1·0.1 = 0.94; + 0.1·0.7 = 1.01.
    expect(got.map((p) => p[0])).toEqual([0.95, 0.94, 1.01].map((v, i) => expect.closeTo(v, 12 - i)))
    got.forEach((p, k) => expectClose(p, reference((g, th) => th - lr * g, 0)[k], tight))
  })
  it('momentum: v′ = ηv − αg, θ′ = θ + v′ (COMP613 Deep Learning notes, "Optimisation for Machine Learning")', () => {
    const eta = 0.9
    const got = runSteps(optim.momentum({ lr, momentum: eta }))
    // First entry: v = −0.05 → θ = 0.95; v = −0.045 − 0.01 = −0.055 → θ = 0.895.
    expectClose([got[0][0], got[1][0]], [0.95, 0.895], tight)
    const ref = reference((g, th, st) => {
      st[0] = eta * st[0] - lr * g
      return th + st[0]
    }, 1)
    got.forEach((p, k) => expectClose(p, ref[k], tight))
  })
  it('Nesterov: φ′ = φ + ηv′ − αg with v′ = ηv − αg', () => {
    const eta = 0.8
    const got = runSteps(optim.nesterov({ lr, momentum: eta }))
    const ref = reference((g, th, st) => {
      st[0] = eta * st[0] - lr * g
      return th + eta * st[0] - lr * g
    }, 1)
    got.forEach((p, k) => expectClose(p, ref[k], tight))
  })
  it("Nesterov's iterates are the look-ahead points θ + ηv (Neural Networks II notes), with the gradient taken there", () => {
    // h(θ) = Σ cᵢ θᵢ² / 2 + θᵢ³ / 3 (non-quadratic, so the gradient's point matters).
    const cs = [1, 3, 0.5, 2]
    const h = (p: Params) => {
      const x = ops.concat([p.a, ops.reshape(p.b, [2])])
      return ops.sum(ops.add(ops.mul(ops.square(x), f64(cs.map((c) => c / 2))), ops.div(ops.mul(ops.square(x), x), 3)))
    }
    const dh = (x: number[]) => x.map((v, i) => cs[i] * v + v * v)
    const eta = 0.7
    const alpha = 0.05
    let theta = flat(p0)
    let v = theta.map(() => 0)
    let phi: Params = p0
    const opt = optim.nesterov({ lr: alpha, momentum: eta })
    let s = opt.init(phi)
    for (let k = 0; k < 4; k++) {
      const g = dh(theta.map((th, i) => th + eta * v[i])) // ∇L(θ + αv) in the notation of the Neural Networks II notes
      v = v.map((vi, i) => eta * vi - alpha * g[i])
      theta = theta.map((th, i) => th + v[i])
      ;[phi, s] = opt.update(grad(h)(phi), s, phi)
      expectClose(
        flat(phi),
        theta.map((th, i) => th + eta * v[i]),
        tight,
      )
    }
  })
  it('Adagrad: s′ = s + g², θ′ = θ − αg/√(s′ + ε) (Duchi et al. 2011)', () => {
    const eps = 1e-8
    const got = runSteps(optim.adagrad({ lr, eps }))
    const ref = reference((g, th, st) => {
      st[0] += g * g
      return th - (lr * g) / Math.sqrt(st[0] + eps)
    }, 1)
    got.forEach((p, k) => expectClose(p, ref[k], tight))
  })
  it('RMSProp: s′ = ρs + (1 − ρ)g², θ′ = θ − αg/√(s′ + ε) (Tieleman and Hinton 2012)', () => {
    const rho = 0.9
    const eps = 1e-8
    const got = runSteps(optim.rmsprop({ lr, decay: rho, eps }))
    const ref = reference((g, th, st) => {
      st[0] = rho * st[0] + (1 - rho) * g * g
      return th - (lr * g) / Math.sqrt(st[0] + eps)
    }, 1)
    got.forEach((p, k) => expectClose(p, ref[k], tight))
  })
  it('Adam: bias-corrected moments (Kingma & Ba)', () => {
    const [b1, b2, eps] = [0.9, 0.999, 1e-8]
    const got = runSteps(optim.adam({ lr, beta1: b1, beta2: b2, eps }))
    const ref = reference((g, th, st, t) => {
      st[0] = b1 * st[0] + (1 - b1) * g
      st[1] = b2 * st[1] + (1 - b2) * g * g
      const mHat = st[0] / (1 - b1 ** t)
      const vHat = st[1] / (1 - b2 ** t)
      return th - (lr * mHat) / (Math.sqrt(vHat) + eps)
    }, 2)
    got.forEach((p, k) => expectClose(p, ref[k], tight))
  })
  it('the state is a pytree of tensors that counts the steps and mirrors the parameters', () => {
    const opt = optim.adam({ lr })
    const s0 = opt.init(p0)
    expect(s0.count.dtype).toBe('i32')
    expect(s0.count.item()).toBe(0)
    expect(values((s0.m as Params).b)).toEqual([0, 0])
    const [, s1] = opt.update(gradSeq[0], s0, p0)
    expect(s1.count.item()).toBe(1)
    expect((s1.v as Params).b.shape).toEqual([2, 1])
    // Updates are pure: the inputs are untouched.
    expect(values(p0.a)).toEqual([1, -2])
    expect(s0.count.item()).toBe(0)
  })
})

// ---------------------------------------------------------------- a planted bug is caught

/** Adam's first update is α·g/(|g| + ε): with ε = 0, exactly α·sign(g) whatever |g|. */
function firstStepIsSignTimesLr(opt: optim.Optimiser<any>, lr: number): boolean {
  const p = { x: f64([0, 0, 0, 0]) }
  const g = { x: f64([1e-3, -5, 200, -0.02]) }
  const [p1] = opt.update(g, opt.init(p), p)
  const want = [-lr, lr, -lr, lr]
  return values(p1.x).every((v, i) => Math.abs(v - want[i]) <= 1e-12)
}

describe('a planted bug fails the bias-correction check', () => {
  it('Adam passes: its first step is lr·sign(g)', () => {
    expect(firstStepIsSignTimesLr(optim.adam({ lr: 0.01, eps: 0 }), 0.01)).toBe(true)
  })
  it('Adam without bias correction fails the same check', () => {
    const [b1, b2] = [0.9, 0.999]
    const buggy = optim.fromLeafRule(
      'adam-without-bias-correction',
      {
        slots: [
          { name: 'm', init: 0 },
          { name: 'v', init: 0 },
        ],
        step(g, [m, v], { lr }) {
          const m2 = ops.add(ops.mul(m, b1), ops.mul(g, 1 - b1))
          const v2 = ops.add(ops.mul(v, b2), ops.mul(ops.square(g), 1 - b2))
          return [ops.neg(ops.div(ops.mul(m2, lr), ops.sqrt(v2))), [m2, v2]]
        },
      },
      { lr: 0.01 },
    )
    // Its first step is α(1 − β₁)/√(1 − β₂)·sign(g) ≈ 3.16α·sign(g).
    expect(firstStepIsSignTimesLr(buggy, 0.01)).toBe(false)
  })
})

// ---------------------------------------------------------------- schedules

describe('learning-rate schedules are functions of the step-count tensor', () => {
  const at = (s: optim.Schedule, steps: number[]) => steps.map((k) => optim.scheduleValue(s, k))
  it('step decay: init·factor^⌊t/every⌋', () => {
    expectClose(
      at(optim.stepDecay({ init: 1, factor: 0.5, every: 10 }), [0, 9, 10, 19, 20, 35]),
      [1, 1, 0.5, 0.5, 0.25, 0.125],
      tight,
    )
  })
  it('exponential decay: init·rate^(t/steps)', () => {
    expectClose(
      at(optim.exponentialDecay({ init: 2, rate: 0.5, steps: 4 }), [0, 2, 4, 8]),
      [2, 2 * Math.SQRT1_2, 1, 0.5],
      tight,
    )
  })
  it('cyclic (triangular): up from min to max over halfPeriod steps, then down', () => {
    expectClose(
      at(optim.cyclic({ min: 0.1, max: 1, halfPeriod: 5 }), [0, 2, 5, 7, 10, 12, 15]),
      [0.1, 0.46, 1, 0.64, 0.1, 0.46, 1],
      tight,
    )
  })
  it('a constant', () => {
    expectClose(at(optim.constant(0.3), [0, 100]), [0.3, 0.3], tight)
  })
  it('the optimiser evaluates the schedule at the count before each update', () => {
    // SGD with g = 1: each step moves θ by exactly the rate of that step.
    const opt = optim.sgd({ lr: optim.stepDecay({ init: 1, factor: 0.1, every: 2 }) })
    let p = { x: f64([0]) }
    let s = opt.init(p)
    const moves: number[] = []
    for (let k = 0; k < 5; k++) {
      const [p2, s2] = opt.update({ x: f64([1]) }, s, p)
      moves.push(p.x.item() - p2.x.item())
      ;[p, s] = [p2, s2]
    }
    expectClose(moves, [1, 1, 0.1, 0.1, 0.01], tight)
  })
  it('jitted, a schedule computes the same rates from the count it is given', async () => {
    const schedule = optim.cyclic({ min: 0.01, max: 0.5, halfPeriod: 3 })
    const rate = jit((count: Tensor<[], 'i32'>) => schedule(count), { backend: cpuBackend() })
    for (const k of [0, 1, 3, 4, 6, 11])
      expect((await rate(scalar(k, 'i32'))).item()).toBeCloseTo(schedule(scalar(k, 'i32')).item(), 7)
  })
})

// ---------------------------------------------------------------- clipping

describe('clipping by global norm', () => {
  const clip = optim.clipByGlobalNorm(1)
  const params = { a: f64([0, 0]), b: f64([[0]]) }
  it('leaves gradients whose norm is within the bound unchanged', () => {
    const g = { a: f64([0.3, -0.4]), b: f64([[0.5]]) } // ‖g‖ ≈ 0.707
    const [out] = clip.update(g, clip.init(params), params)
    expect(values(out.a)).toEqual(values(g.a))
    expect(values(out.b)).toEqual(values(g.b))
  })
  it('scales larger gradients down to the bound, keeping their direction', () => {
    const g = { a: f64([3, 0]), b: f64([[-4]]) } // ‖g‖ = 5
    const [out] = clip.update(g, clip.init(params), params)
    expectClose(out.a, [0.6, 0], tight)
    expectClose(out.b, [-0.8], tight)
    expectClose([optim.globalNorm(out).item()], [1], tight)
  })
  it('the global norm spans every leaf, in the widest dtype', () => {
    const n = optim.globalNorm({ a: tensor([3], { dtype: 'f32' }), b: f64([[4]]) })
    expect(n.dtype).toBe('f64')
    expect(n.item()).toBe(5)
  })
  it('composes in front of any optimiser with chain', () => {
    const opt = optim.chain(optim.clipByGlobalNorm(1), optim.sgd({ lr: 1 }))
    const g = { a: f64([3, 0]), b: f64([[-4]]) }
    const [p1, s1] = opt.update(g, opt.init(params), params)
    expectClose(p1.a, [-0.6, 0], tight)
    expectClose(p1.b, [0.8], tight)
    expect(Array.isArray(s1)).toBe(true)
    expect((s1[1] as { count: Tensor }).count.item()).toBe(1)
  })
  it('clipping by value truncates each entry to [−c, c] (Martins, Deep Learning: A Shallow Tutorial)', () => {
    const byValue = optim.clipByValue(0.5)
    const [out] = byValue.update({ a: f64([3, -0.1]), b: f64([[-4]]) }, byValue.init(params), params)
    expectClose(out.a, [0.5, -0.1], tight)
    expectClose(out.b, [-0.5], tight)
  })
})

// ---------------------------------------------------------------- weight decay

describe('weight decay, coupled and decoupled', () => {
  const p = { x: f64([2, -0.5]) }
  const zero = { x: f64([0, 0]) }
  const step = (opt: optim.Optimiser<any>, g = zero) => values(opt.update(g, opt.init(p), p)[0].x)
  it('decoupled (AdamW) shrinks θ by α·λ·θ, outside the adaptive scaling', () => {
    expectClose(
      step(optim.adam({ lr: 0.1, weightDecay: { rate: 0.1, mode: 'decoupled' } })),
      [2 * 0.99, -0.5 * 0.99],
      tight,
    )
    expectClose(step(optim.adamw({ lr: 0.1, weightDecay: 0.1 })), [2 * 0.99, -0.5 * 0.99], tight)
  })
  it('coupled L2 adds λθ to the gradient, which Adam then normalises to a step of α·sign(θ)', () => {
    expectClose(step(optim.adam({ lr: 0.1, weightDecay: { rate: 0.1, mode: 'l2' } })), [1.9, -0.4], within(1e-6))
    // The same as the addWeightDecay transform in front of plain Adam.
    expectClose(step(optim.chain(optim.addWeightDecay(0.1), optim.adam({ lr: 0.1 }))), [1.9, -0.4], within(1e-6))
  })
  it('for plain SGD the two coincide', () => {
    const g = { x: f64([1, 1]) }
    const a = step(optim.sgd({ lr: 0.1, weightDecay: { rate: 0.3, mode: 'l2' } }), g)
    expectClose(a, step(optim.sgd({ lr: 0.1, weightDecay: { rate: 0.3, mode: 'decoupled' } }), g), tight)
    expectClose(a, [2 - 0.1 * (1 + 0.6), -0.5 - 0.1 * (1 - 0.15)], tight)
  })
  it('with momentum, coupled decay enters the velocity and so differs from the second step on', () => {
    const run = (mode: 'l2' | 'decoupled') => {
      const opt = optim.momentum({ lr: 0.1, momentum: 0.9, weightDecay: { rate: 0.5, mode } })
      let [q, s] = [p, opt.init(p)]
      const out: number[][] = []
      for (let k = 0; k < 2; k++) {
        ;[q, s] = opt.update(zero, s, q)
        out.push(values(q.x))
      }
      return out
    }
    const [l2, dec] = [run('l2'), run('decoupled')]
    expectClose(l2[0], dec[0], tight)
    // l2: v₁ = −0.1, θ₁ = 1.9; v₂ = 0.9·(−0.1) − 0.1·0.5·1.9 = −0.185, θ₂ = 1.715.
    // decoupled: θ₁ = 1.9; v₂ = 0, θ₂ = 1.9 − 0.1·0.5·1.9 = 1.805.
    expectClose([l2[1][0], dec[1][0]], [1.715, 1.805], tight)
  })
})

// ---------------------------------------------------------------- convergence on a convex quadratic

/** h(θ) = ½‖Rθ − c‖², θ = concat(u, w): minimised at θ* = R⁻¹c. */
const R = [
  [2, 0.5, 0],
  [0, 1, 0.3],
  [0, 0, 0.7],
]
const c = [1, -1, 2]
const thetaStar = (() => {
  const x = [0, 0, 0]
  for (let i = 2; i >= 0; i--) x[i] = (c[i] - R[i].slice(i + 1).reduce((s, r, j) => s + r * x[i + 1 + j], 0)) / R[i][i]
  return x
})()
type QParams = { u: Tensor<[2]>; w: Tensor<[1]> }
const residual = (p: QParams) => ops.sub(ops.matmul(f64(R), ops.concat([p.u, p.w])), f64(c))
const quadratic = (p: QParams) => ops.mul(0.5, ops.sum(ops.square(residual(p))))
const q0: QParams = { u: f64([0, 0]), w: f64([0]) }
const qFlat = (p: QParams) => [...values(p.u), ...values(p.w)]

describe('every optimiser decreases a convex quadratic and converges on it', () => {
  const cases: [string, optim.Optimiser<any>, number][] = [
    ['sgd', optim.sgd({ lr: 0.3 }), 300],
    ['momentum', optim.momentum({ lr: 0.1, momentum: 0.8 }), 300],
    ['nesterov', optim.nesterov({ lr: 0.1, momentum: 0.8 }), 300],
    ['adagrad', optim.adagrad({ lr: 1 }), 300],
    ['rmsprop', optim.rmsprop({ lr: optim.exponentialDecay({ init: 0.05, rate: 0.5, steps: 100 }) }), 1500],
    ['adam', optim.adam({ lr: optim.exponentialDecay({ init: 0.1, rate: 0.5, steps: 100 }) }), 600],
    ['clipped adam', optim.chain(optim.clipByGlobalNorm(0.5), optim.adam({ lr: 0.05 })), 800],
  ]
  for (const [name, opt, maxIters] of cases)
    it(name, async () => {
      const r = await optim.minimize(optim.fromOptimiser(opt, quadratic, { backend: cpuBackend() }), q0, {
        maxIters,
        gradTol: 1e-6,
      })
      expect(r.reason).toBe('gradTol')
      expect(r.losses[1]).toBeLessThan(r.losses[0])
      expectClose(qFlat(r.params), thetaStar, within(1e-5))
    })
  it('Newton-CG solves it in one step when CG may take dim = 3 iterations', async () => {
    const newton = optim.newtonCG(quadratic, { maxCgIters: 3, lineSearch: false })
    const { params } = await newton.step(q0, newton.init(q0))
    expectClose(qFlat(params), thetaStar, within(1e-10))
  })
  it('…and not with fewer CG iterations than the dimension', async () => {
    const newton = optim.newtonCG(quadratic, { maxCgIters: 2, lineSearch: false })
    const { params } = await newton.step(q0, newton.init(q0))
    const err = Math.max(...qFlat(params).map((v, i) => Math.abs(v - thetaStar[i])))
    expect(err).toBeGreaterThan(1e-3)
  })
  it('Gauss-Newton solves it in one step: for a linear model and a square loss G = RᵀR = H', async () => {
    const gn = optim.gaussNewton(
      { model: (p: QParams) => residual(p), loss: (z: Tensor) => ops.mul(0.5, ops.sum(ops.square(z))) },
      { damping: 0, maxCgIters: 3, lineSearch: false },
    )
    const { params } = await gn.step(q0, gn.init(q0), null, null)
    expectClose(qFlat(params), thetaStar, within(1e-10))
  })
  it('L-BFGS converges', async () => {
    const r = await optim.minimize(optim.lbfgs(quadratic), q0, { maxIters: 50, gradTol: 1e-9 })
    expect(r.converged).toBe(true)
    expectClose(qFlat(r.params), thetaStar, within(1e-8))
  })
})

// ---------------------------------------------------------------- curvature products

describe('curvature products never form a matrix yet equal the explicit one', () => {
  type Net = { w: Tensor<[3, 2]>; b: Tensor<[2]> }
  const x = f64([
    [0.5, -1, 2],
    [1, 0.3, -0.7],
    [-1.2, 0.8, 0.1],
    [0.4, 0.4, 1.5],
  ])
  const targets = f64([
    [1, 0],
    [0, 1],
    [0.3, 0.7],
    [1, 0],
  ])
  const net: Net = {
    w: f64([
      [0.3, -0.5],
      [0.8, 0.1],
      [-0.2, 0.6],
    ]),
    b: f64([0.1, -0.3]),
  }
  const model = (p: Net, xs: Tensor) => ops.tanh(ops.add(ops.matmul(xs, p.w), p.b))
  // Softmax cross-entropy: its Hessian in z is diag(s) − ssᵀ per row, not the identity.
  const loss = (z: Tensor, y: Tensor) => ops.sum(ops.sub(ops.logsumexp(z, 1), ops.sum(ops.mul(z, y), 1)))
  const v: Net = {
    w: f64([
      [1, -2],
      [0.5, 0.25],
      [-1, 3],
    ]),
    b: f64([0.7, -0.4]),
  }
  const vec = (p: Net) => [...values(p.w), ...values(p.b)]
  const matvec = (m: number[][], u: number[]) => m.map((row) => row.reduce((s, a, j) => s + a * u[j], 0))
  const rows = (t: Tensor, r: number, k: number): number[][] => {
    const d = values(t)
    return Array.from({ length: r }, (_, i) => d.slice(i * k, (i + 1) * k))
  }

  it('the GGN product equals Jᵀ H J with J from jacfwd and H from hessian', () => {
    const J = jacfwd((p: Net) => model(p, x))(net) as { w: Tensor; b: Tensor } // [4,2,3,2] and [4,2,2]
    const Jw = rows(J.w, 8, 6)
    const Jb = rows(J.b, 8, 2)
    const Jm = Jw.map((r, i) => [...r, ...Jb[i]]) // 8 × 8: outputs × params
    const H = rows(hessian((z: Tensor) => loss(z, targets))(model(net, x)), 8, 8)
    const Jv = matvec(Jm, vec(v))
    const HJv = matvec(H, Jv)
    const explicit = Array.from({ length: 8 }, (_, j) => Jm.reduce((s, row, i) => s + row[j] * HJv[i], 0))
    const { product } = optim.ggnProduct({ model, loss }, net, x, targets)
    expectClose(vec(product(v)), explicit, within(1e-10))
  })
  it('the GGN is positive semi-definite where the Hessian is not', () => {
    const { product } = optim.ggnProduct({ model, loss }, net, x, targets)
    const f = (p: Net) => loss(model(p, x), targets)
    const h = optim.hessianProduct(f, net)
    // Some direction of negative curvature of H, found among a few fixed ones.
    const dirs: Net[] = [
      v,
      {
        w: f64([
          [1, 0],
          [0, 0],
          [0, 0],
        ]),
        b: f64([0, 0]),
      },
      {
        w: f64([
          [0, 0],
          [0, 0],
          [0, 0],
        ]),
        b: f64([1, -1]),
      },
      {
        w: f64([
          [2, -1],
          [-3, 1],
          [0.5, 4],
        ]),
        b: f64([-1, 2]),
      },
    ]
    for (const d of dirs) expect(optim.treeVdot(d, product(d))).toBeGreaterThanOrEqual(-1e-12)
    expect(Math.min(...dirs.map((d) => optim.treeVdot(d, h.product(d))))).toBeLessThan(0)
  })
  it('the Hessian product equals hvp, and for a linear model the GGN equals the Hessian (COMP613 notes)', () => {
    const f = (p: Net) => loss(model(p, x), targets)
    expectClose(vec(optim.hessianProduct(f, net).product(v)), vec(hvp(f, [net], [v]) as Net), tight)
    const linear = (p: Net, xs: Tensor) => ops.add(ops.matmul(xs, p.w), p.b)
    const g = (p: Net) => loss(linear(p, x), targets)
    expectClose(
      vec(optim.ggnProduct({ model: linear, loss }, net, x, targets).product(v)),
      vec(hvp(g, [net], [v]) as Net),
      tight,
    )
  })
  it('the GGN step also gives the loss and the gradient Jᵀ∇l', () => {
    const f = (p: Net) => loss(model(p, x), targets)
    const [value, g] = valueAndGrad(f)(net)
    const r = optim.ggnProduct({ model, loss }, net, x, targets)
    expectClose([r.loss.item()], [value.item()], tight)
    expectClose(vec(r.grad), vec(g as Net), tight)
  })
  it('conjugate gradient solves a small SPD system and reports its iterations', () => {
    const A = [
      [4, 1, 0],
      [1, 3, 1],
      [0, 1, 2],
    ]
    const b = { x: f64([1, 2, 3]) }
    const r = optim.conjugateGradient((q: { x: Tensor }) => ({ x: f64(matvec(A, values(q.x))) }), b, {
      maxIters: 10,
      tol: 1e-14,
    })
    expectClose(matvec(A, values(r.x.x)), [1, 2, 3], tight)
    expect(r.iterations).toBeLessThanOrEqual(3)
    expect(r.negativeCurvature).toBe(false)
    const neg = optim.conjugateGradient((q: { x: Tensor }) => ({ x: ops.neg(q.x) }), b, { maxIters: 10 })
    expect(neg.negativeCurvature).toBe(true)
  })
  it("L-BFGS's two-loop recursion satisfies the secant equation H⁻¹y = s for its newest pair", () => {
    const s = [{ x: f64([1, 0.5]) }, { x: f64([-0.2, 1]) }]
    const y = [{ x: f64([2, 0.3]) }, { x: f64([0.1, 1.5]) }]
    const rho = s.map((si, i) => 1 / optim.treeVdot(si, y[i]))
    expectClose(optim.twoLoop(y[1], s, y, rho).x, [-0.2, 1], tight)
  })
})

// ---------------------------------------------------------------- Rosenbrock

/** h(x, y) = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1). */
const rosenbrock = (p: { xy: Tensor<[2]> }) => ops.sum(ops.square(rosenResidual(p)))
const rosenResidual = (p: { xy: Tensor<[2]> }) => {
  const x = ops.slice(p.xy, [0], [1])
  const y = ops.slice(p.xy, [1], [1])
  return ops.concat([ops.sub(1, x), ops.mul(10, ops.sub(y, ops.square(x)))])
}
const start = { xy: f64([-1.2, 1]) }

describe('second-order methods on Rosenbrock', () => {
  it('L-BFGS reaches the minimum to 1e-4 within 100 iterations', async () => {
    const r = await optim.minimize(optim.lbfgs(rosenbrock, { history: 5 }), start, { maxIters: 100, gradTol: 1e-8 })
    expect(r.converged).toBe(true)
    expect(r.iterations).toBeLessThanOrEqual(100)
    expectClose(r.params.xy, [1, 1], within(1e-4))
  })
  it('Newton-CG (Hessian-vector products) and Gauss-Newton (residuals, square loss) reach it too', async () => {
    const newton = await optim.minimize(optim.newtonCG(rosenbrock, { damping: 1e-3 }), start, {
      maxIters: 100,
      gradTol: 1e-8,
    })
    expectClose(newton.params.xy, [1, 1], within(1e-4))
    const gn = optim.gaussNewton({
      model: (p: { xy: Tensor<[2]> }) => rosenResidual(p),
      loss: (z: Tensor) => ops.sum(ops.square(z)),
    })
    const r = await optim.minimize(gn, start, { maxIters: 100, gradTol: 1e-8, batch: [null, null] })
    expectClose(r.params.xy, [1, 1], within(1e-4))
  })
})

// ---------------------------------------------------------------- jit

describe('a whole training step jits into one call that gives the unjitted numbers', () => {
  type Lin = { w: Tensor<[3, 1]>; b: Tensor<[1]> }
  const xs = tensor([
    [0.1, 0.2, -0.3],
    [1, -1, 0.5],
    [0.3, 0.8, 0.2],
    [-0.6, 0.1, 0.9],
    [0.7, -0.4, -0.2],
    [0.05, 0.5, 1],
  ])
  const ys = tensor([[0.3], [-1], [0.8], [0.5], [0.1], [1.2]])
  const mse = (p: Lin, x: Tensor, y: Tensor) => ops.mean(ops.square(ops.sub(ops.add(ops.matmul(x, p.w), p.b), y)))
  const init: Lin = { w: tensor([[0.5], [-0.5], [0.25]]), b: tensor([0]) }
  const trainStep = (opt: optim.Optimiser<any>) => (p: Lin, s: Tree, x: Tensor, y: Tensor) => {
    const [loss, g] = valueAndGrad(mse)(p, x, y)
    const [p2, s2] = opt.update(g, s, p)
    return [p2, s2, loss] as const
  }
  const optimisers: [string, optim.Optimiser<any>][] = [
    ['sgd with a step schedule', optim.sgd({ lr: optim.stepDecay({ init: 0.1, factor: 0.5, every: 2 }) })],
    [
      'adam with a cyclic schedule and decoupled decay',
      optim.adam({
        lr: optim.cyclic({ min: 0.01, max: 0.1, halfPeriod: 2 }),
        weightDecay: { rate: 0.1, mode: 'decoupled' },
      }),
    ],
    ['clipped momentum', optim.chain(optim.clipByGlobalNorm(0.1), optim.nesterov({ lr: 0.05 }))],
  ]
  for (const [name, opt] of optimisers)
    it(name, async () => {
      const step = trainStep(opt)
      const jitted = jit(step, { backend: cpuBackend() })
      let [pe, se]: [Lin, Tree] = [init, opt.init(init)]
      let [pj, sj]: [Lin, Tree] = [init, opt.init(init)]
      for (let k = 0; k < 5; k++) {
        const [p1, s1, l1] = step(pe, se, xs, ys)
        const [p2, s2, l2] = await jitted(pj, sj, xs, ys)
        expectClose(l2, values(l1), within(1e-6))
        expectClose(p2.w, values(p1.w), within(1e-6))
        expectClose(p2.b, values(p1.b), within(1e-6))
        ;[pe, se, pj, sj] = [p1, s1, p2, s2]
      }
      // The count rides in the state as an input of the one traced program.
      const program = jitted.lower(pj, sj, xs, ys)
      expect(program.inputs.some((v) => v.aval.dtype === 'i32' && v.aval.shape.length === 0)).toBe(true)
    })
})

// ---------------------------------------------------------------- errors

describe('bad input gets a clear error', () => {
  const opt = optim.adam({ lr: 0.1 })
  it('gradients whose structure or shapes differ from the parameters', () => {
    const s = opt.init(p0)
    expect(() => opt.update({ a: p0.a } as unknown as Params, s, p0)).toThrow(
      /adam.update: grads must have the structure of params: expected \{a: \*, b: \*\}, got \{a: \*\}/,
    )
    expect(() => opt.update({ a: f64([1, 2, 3]), b: p0.b } as unknown as Params, s, p0)).toThrow(
      /grads at \.a is f64\[3\], expected f64\[2\]/,
    )
  })
  it("another optimiser's state, or a state with a bad count", () => {
    expect(() => optim.momentum({ lr: 0.1 }).update(p0, opt.init(p0), p0)).toThrow(
      /expected a state record with keys \{count, velocity\} \(from init\), got \{count, m, v\}/,
    )
    expect(() => opt.update(p0, { ...opt.init(p0), count: scalar(0) as never }, p0)).toThrow(
      /state.count must be an i32 scalar tensor \(the step count\), got f32\[\]/,
    )
  })
  it('integer parameters', () => {
    expect(() => opt.init({ k: tensor([1, 2], { dtype: 'i32' }) })).toThrow(
      /params\.k must be a floating-point tensor \(f32 or f64\), got i32\[2\]/,
    )
  })
  it('hyperparameters out of range', () => {
    expect(() => optim.sgd({ lr: -1 })).toThrow(/sgd: lr must be a finite number > 0, got -1/)
    expect(() => optim.sgd({ lr: Number.NaN })).toThrow(/lr must be a finite number > 0, got NaN/)
    expect(() => optim.adam({ lr: 0.1, beta1: 1 })).toThrow(/adam: beta1 must be in \[0, 1\), got 1/)
    expect(() => optim.stepDecay({ init: 1, factor: 0.5, every: 0 })).toThrow(
      /stepDecay: every must be a positive integer, got 0/,
    )
    expect(() => optim.cyclic({ min: 1, max: 0.5, halfPeriod: 2 })).toThrow(/cyclic: max must be ≥ min/)
    expect(() => optim.clipByGlobalNorm(0)).toThrow(/clipByGlobalNorm: maxNorm must be a finite number > 0, got 0/)
    expect(() => optim.sgd({ lr: 0.1, weightDecay: { rate: 0.1, mode: 'l1' as 'l2' } })).toThrow(
      /weightDecay.mode must be 'decoupled' or 'l2', got l1/,
    )
  })
  it('a chain whose last part is not an optimiser', () => {
    expect(() => optim.chain(optim.clipByGlobalNorm(1) as never)).toThrow(
      /chain: the last part must be an optimiser \(e.g. adam\(\{ lr \}\)\), got the gradient transform clipByGlobalNorm\(1\)/,
    )
    expect(() => optim.chain(optim.sgd({ lr: 1 }) as never, optim.sgd({ lr: 1 }))).toThrow(
      /chain: part 0 must be a gradient transform/,
    )
  })
  it('a non-finite objective at the start', async () => {
    const bad = (p: { x: Tensor }) => ops.sum(ops.log(p.x))
    const p = { x: f64([-1, 2]) }
    await expect(optim.minimize(optim.lbfgs(bad), p, { maxIters: 5 })).rejects.toThrow(
      /lbfgs: the objective is not finite at the current parameters/,
    )
    await expect(optim.minimize(optim.fromOptimiser(optim.sgd({ lr: 0.1 }), bad), p, { maxIters: 5 })).rejects.toThrow(
      /minimize\(sgd\): the objective is NaN at the starting parameters; expected a finite number/,
    )
    await expect(optim.minimize(optim.newtonCG(bad), p, { maxIters: 5 })).rejects.toThrow(
      /newtonCG: the objective is NaN at the current parameters/,
    )
  })
  it('a Gauss-Newton step without its (x, y) batch', async () => {
    const gn = optim.gaussNewton({ model: (p: { x: Tensor }) => p.x, loss: (z: Tensor) => ops.sum(ops.square(z)) })
    const p = { x: f64([1]) }
    await expect(gn.step(p, gn.init(p))).rejects.toThrow(
      /gaussNewton: expected the batch \(x, y\), got 0 argument\(s\)/,
    )
  })
  it('a diverging first-order run stops and says so', async () => {
    const r = await optim.minimize(optim.fromOptimiser(optim.sgd({ lr: 5 }), quadratic), q0, { maxIters: 500 })
    expect(r.reason).toBe('diverged')
    expect(r.converged).toBe(false)
  })
})
