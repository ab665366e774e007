/**
 * The layers, losses and initialisers against closed forms (in f64): values
 * and gradients (convolution and pooling, against TensorFlow.js, are in
 * nn-conv.test.ts). Gradients of the losses are compared
 * with the hand formulas of A. Martins, Deep Learning: A Shallow Tutorial,
 * NLPL Winter School 2018 ("Loss Function" to "Sparsemax Loss") and of Deep
 * Learning, COMP613 Advanced Topics in Machine Learning (lecture notes),
 * "Neural Networks: Foundations" (e.g. softmax cross-entropy: softmax − onehot).
 */
import { describe, expect, it } from 'vitest'
import { grad, jacfwd, ops, random, valueAndGrad, vjp, vmap, type Tensor } from '../src/index.ts'
import * as nn from '../src/nn/index.ts'
import { expectClose } from './lib/close.ts'
import { type AnyT, values, f64, f32, ids, f64Tol, sampler, key } from './lib/nn.ts'

// ---------------------------------------------------------------- dense, maxout, activations

describe('dense', () => {
  const layer = nn.dense(3, 2, { dtype: 'f64' })
  const p = { w: f64([1, 2, 3, 4, 5, 6], [3, 2]), b: f64([0.5, -1], [2]) }
  const x = f64([1, 0, -1, 2, 1, 0], [2, 3])

  it('computes xW + b', () => {
    expect(values(layer.apply(p, x))).toEqual([1 - 5 + 0.5, 2 - 6 - 1, 2 + 3 + 0.5, 4 + 4 - 1])
  })
  it("has the gradients of the COMP613 notes' layer table: ∂L/∂W = xᵀg, ∂L/∂b = Σ g, ∂L/∂x = gWᵀ", () => {
    const g = f64([1, -2, 0.5, 3], [2, 2])
    const [, pull] = vjp((q: typeof p, v: AnyT) => layer.apply(q, v), p, x)
    const [gp, gx] = pull(g)
    expectClose(values(gp.w), values(ops.matmul(ops.transpose(x), g)), f64Tol, '∂W')
    expectClose(values(gp.b), values(ops.sum(g, 0)), f64Tol, '∂b')
    expectClose(values(gx), values(ops.matmul(g, ops.transpose(p.w))), f64Tol, '∂x')
  })
  it('initialises W by Glorot uniform and b with zeros, from the key alone', () => {
    const big = nn.dense(400, 300)
    const q = big.init(key)
    expect(q.w.shape).toEqual([400, 300])
    expect(values(q.b).every((v) => v === 0)).toBe(true)
    const t = Math.sqrt(6 / 700)
    expect(values(q.w).every((v) => Math.abs(v) <= t)).toBe(true)
    expect(values(big.init(key).w)).toEqual(values(q.w))
    expect(values(big.init(random.key(8)).w)).not.toEqual(values(q.w))
  })
  it('names the expected and the actual shape of a wrong input or parameter', () => {
    const d = nn.dense(784, 256)
    const q = d.init(key)
    expect(() => d.apply(q, ops.zeros([32, 100]) as AnyT)).toThrow(
      'dense(784 → 256): expected an input whose last axis is 784, got f32[32,100]',
    )
    expect(() => d.apply({ w: ops.zeros([784, 10]), b: q.b } as never, ops.zeros([2, 784]) as AnyT)).toThrow(
      'dense(784 → 256): parameter w must have shape [784, 256], got f32[784,10]',
    )
    expect(() => d.apply({ w: q.w } as never, ops.zeros([2, 784]) as AnyT)).toThrow(
      'dense(784 → 256): expected parameters {w, b}, missing tensor b',
    )
    expect(() => nn.dense(0, 3)).toThrow('dense(0 → 3): the input size must be a positive integer, got 0')
  })
})

describe('maxout', () => {
  it('takes the largest of its affine pieces per unit (Goodfellow et al. 2013)', () => {
    const layer = nn.maxout(2, 2, 3, { dtype: 'f64' })
    const w = f64([1, -1, 0, 2, 0.5, 0, 0, 1, 3, -1, 1, 0], [2, 6])
    const b = f64([0, 0, 1, 0, 0, 0], [6])
    const x = f64([1, 2, -1, 1], [2, 2])
    const z = values(ops.add(ops.matmul(x, w), b))
    const expected = [0, 1].flatMap((i) => [0, 1].map((j) => Math.max(...z.slice(i * 6 + j * 3, i * 6 + j * 3 + 3))))
    expect(values(layer.apply({ w, b }, x))).toEqual(expected)
  })
})

describe('activations', () => {
  const z = f64([-2, -0.5, 0, 0.5, 3], [5])
  it('sigmoid, tanh, relu and leaky relu are the closed forms of Multi-level networks, "Activation Functions"', () => {
    const zs = values(z)
    expectClose(
      values(nn.sigmoid.apply(null, z)),
      zs.map((v) => 1 / (1 + Math.exp(-v))),
      f64Tol,
      'sigmoid',
    )
    expectClose(values(nn.tanh.apply(null, z)), zs.map(Math.tanh), f64Tol, 'tanh')
    expect(values(nn.relu.apply(null, z))).toEqual(zs.map((v) => Math.max(v, 0)))
    expect(values(nn.leakyRelu(0.2).apply(null, z))).toEqual(zs.map((v) => (v > 0 ? v : 0.2 * v)))
  })
  it('their derivatives are those of Multi-level networks (relu′(0) = 0, leaky relu′(0) = α)', () => {
    const d = (f: (x: AnyT) => AnyT) => values(grad((x: AnyT) => ops.sum(f(x)))(z))
    const zs = values(z)
    const s = zs.map((v) => 1 / (1 + Math.exp(-v)))
    expectClose(
      d((x) => nn.sigmoid.apply(null, x)),
      s.map((v) => v * (1 - v)),
      f64Tol,
      'σ′',
    )
    expectClose(
      d((x) => nn.tanh.apply(null, x)),
      zs.map((v) => 1 - Math.tanh(v) ** 2),
      f64Tol,
      'tanh′',
    )
    expect(d((x) => nn.relu.apply(null, x))).toEqual([0, 0, 0, 1, 1])
    expect(d((x) => nn.leakyRelu(0.1).apply(null, x))).toEqual([0.1, 0.1, 0.1, 1, 1])
  })
  it('softmax is exp(z)/Σexp(z), and stays finite for logits of magnitude 1e4', () => {
    const zs = [1, 2, 3]
    const e = zs.map(Math.exp)
    const sum = e.reduce((a, b) => a + b)
    expectClose(
      values(nn.softmax.apply(null, f64(zs, [3]))),
      e.map((v) => v / sum),
      f64Tol,
      'softmax',
    )
    const big = values(nn.functional.softmax(f32([1e4, 1e4 - 1, -1e4], [3])))
    expect(big.every(Number.isFinite)).toBe(true)
    expectClose(
      big,
      [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1)), 0],
      { rtol: 1e-6, atol: 1e-7 },
      'softmax at 1e4',
    )
    expectClose(
      values(nn.functional.logSoftmax(f64(zs, [3]))),
      zs.map((v) => v - Math.log(sum)),
      f64Tol,
      'logSoftmax',
    )
  })
})

// ---------------------------------------------------------------- sparsemax

/** The projection onto the simplex by sorting (Held et al. 1974): the reference for the sort-free version. */
function sparsemaxBySorting(z: readonly number[]): number[] {
  const sorted = [...z].sort((a, b) => b - a)
  let cumulative = 0
  let k = 0
  let kSum = 0
  sorted.forEach((v, i) => {
    cumulative += v
    if (1 + (i + 1) * v > cumulative) [k, kSum] = [i + 1, cumulative]
  })
  const tau = (kSum - 1) / k
  return z.map((v) => Math.max(v - tau, 0))
}

describe('sparsemax', () => {
  it('equals the projection onto the simplex computed by sorting', () => {
    const rand = sampler(11, 'f64')
    for (let trial = 0; trial < 20; trial++) {
      const z = ops.mul(rand([3, 6]), 1 + trial / 4) as AnyT
      const p = values(nn.sparsemax.apply(null, z))
      const zs = values(z)
      for (let r = 0; r < 3; r++)
        expectClose(
          p.slice(6 * r, 6 * r + 6),
          sparsemaxBySorting(zs.slice(6 * r, 6 * r + 6)),
          { rtol: 1e-12, atol: 1e-12 },
          `trial ${trial}, row ${r}`,
        )
    }
  })
  it('is a distribution, sparse for spread-out scores, and the hard sigmoid in two dimensions (Martins & Astudillo 2016)', () => {
    const p = values(nn.sparsemax.apply(null, f64([3, 0.2, 0.1, -2], [4])))
    expect(p).toEqual([1, 0, 0, 0])
    const q = values(nn.sparsemax.apply(null, f64([0.5, 0.4, 0.3, -2], [4])))
    expectClose([q.reduce((a, b) => a + b)], [1], f64Tol, 'sum')
    expect(q.every((v) => v >= 0)).toBe(true)
    expect(q[3]).toBe(0)
    for (const t of [-3, -1, -0.4, 0, 0.7, 1, 2.5]) {
      const [p1] = values(nn.sparsemax.apply(null, f64([t, 0], [2])))
      expectClose([p1], [Math.min(Math.max((t + 1) / 2, 0), 1)], f64Tol, `sparsemax₁(${t}, 0)`)
    }
  })
  it('has the Jacobian diag(s) − s sᵀ/|S| (s the support indicator), as jacfwd computes it', () => {
    const rand = sampler(12, 'f64')
    for (let trial = 0; trial < 10; trial++) {
      const z = ops.mul(rand([5]), 0.6) as AnyT
      const p = values(nn.sparsemax.apply(null, z))
      const s: number[] = p.map((v) => (v > 0 ? 1 : 0))
      const size = s.reduce((a, b) => a + b, 0)
      const expected = s.flatMap((si, i) => s.map((sj, j) => (i === j ? si : 0) - (si * sj) / size))
      const jacobian = jacfwd((v: AnyT) => nn.sparsemax.apply(null, v))(z) as AnyT
      expect(jacobian.shape).toEqual([5, 5])
      expectClose(values(jacobian), expected, { rtol: 1e-12, atol: 1e-12 }, `trial ${trial}: Jacobian`)
    }
  })
})

// ---------------------------------------------------------------- dropout, flatten, embedding, input

describe('dropout', () => {
  const layer = nn.dropout(0.25)
  const x = ops.ones([50, 40]) as AnyT
  it('is the identity in evaluation mode and in apply', () => {
    expect(layer.apply(null, x)).toBe(x)
    expect(layer.forward(null, null, x, nn.evaluation)[0]).toBe(x)
  })
  it('in training mode keeps units with probability 1 − rate, scaled by 1/(1 − rate) (inverted dropout)', () => {
    const [y] = layer.forward(null, null, x, nn.training(key))
    const ys = values(y)
    expect(ys.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true)
    const kept = ys.filter((v) => v !== 0).length / ys.length
    // 2000 Bernoulli(0.75) draws: the standard deviation of the fraction is about 0.01.
    expect(Math.abs(kept - 0.75)).toBeLessThan(0.04)
    expect(values(layer.forward(null, null, x, nn.training(key))[0])).toEqual(ys)
    expect(values(layer.forward(null, null, x, nn.training(random.key(99)))[0])).not.toEqual(ys)
  })
  it('its gradient is the scaled mask', () => {
    const xs = sampler(3)([6, 5])
    const [y] = layer.forward(null, null, xs, nn.training(key))
    const g = grad((v: AnyT) => ops.sum(layer.forward(null, null, v, nn.training(key))[0]))(xs)
    expect(values(g)).toEqual(values(y).map((v) => (v === 0 ? 0 : Math.fround(1 / 0.75))))
  })
  it('needs a key in training mode and a rate in [0, 1)', () => {
    expect(() => layer.forward(null, null, x, nn.training())).toThrow('dropout(0.25): training mode needs a key')
    expect(() => nn.dropout(1)).toThrow('dropout: rate must be in [0, 1), got 1')
  })
})

describe('flatten, input and embedding', () => {
  it('flatten keeps the batch axis and multiplies out the rest', () => {
    const x = sampler(4)([2, 3, 4, 5])
    const y = nn.flatten.apply(null, x)
    expect(y.shape).toEqual([2, 60])
    expect(values(y)).toEqual(values(x))
  })
  it('input checks the shape of data from outside', () => {
    const layer = nn.input(['B', 28, 28, 1])
    const x = ops.zeros([4, 28, 28, 1]) as AnyT
    expect(layer.apply(null, x)).toBe(x)
    expect(() => layer.apply(null, ops.zeros([4, 28, 28]) as AnyT)).toThrow(
      'input([B, 28, 28, 1]): expected input [B, 28, 28, 1], got f32[4,28,28]',
    )
  })
  it('embedding picks rows; its gradient scatter-adds the cotangents into the rows (repeated ids accumulate)', () => {
    const layer = nn.embedding(5, 3, { dtype: 'f64' })
    const table = f64(
      Array.from({ length: 15 }, (_, i) => i / 10),
      [5, 3],
    )
    const tokens = ids([1, 4, 1, 0, 1, 2], [2, 3])
    const y = layer.apply({ table }, tokens)
    expect(y.shape).toEqual([2, 3, 3])
    expect(values(y)).toEqual([1, 4, 1, 0, 1, 2].flatMap((r) => values(table).slice(3 * r, 3 * r + 3)))
    const u = sampler(5, 'f64')([2, 3, 3])
    const [, pull] = vjp((p: { table: AnyT }) => layer.apply(p, tokens), { table })
    const [{ table: g }] = pull(u)
    const expected = new Array(15).fill(0)
    const us = values(u)
    ;[1, 4, 1, 0, 1, 2].forEach((r, k) => [0, 1, 2].forEach((c) => (expected[3 * r + c] += us[3 * k + c])))
    expectClose(values(g), expected, f64Tol, 'scatter-added gradient')
    expect(() => layer.apply({ table }, f64([1, 2], [2]))).toThrow('embedding(5 × 3): expected i32 ids, got f64[2]')
  })
})

// ---------------------------------------------------------------- batch normalisation

describe('batchNorm', () => {
  const layer = nn.batchNorm(3, { dtype: 'f64', momentum: 0.9, epsilon: 1e-5 })
  const x = ops.add(ops.mul(sampler(51, 'f64')([8, 2, 2, 3]), f64([1, 2, 3], [3])), f64([5, -1, 0], [3])) as AnyT
  const p = { scale: f64([1, 0.5, 2], [3]), offset: f64([0, 1, -1], [3]) }

  it('training mode normalises by the batch statistics over every axis but the last', () => {
    const [y] = layer.forward(p, layer.initState(), x, nn.training())
    const z = ops.div(ops.sub(y, p.offset), p.scale)
    expectClose(values(ops.mean(z, [0, 1, 2])), [0, 0, 0], { atol: 1e-12 }, 'mean 0')
    const batchVariance = values(ops.mean(ops.square(ops.sub(x, ops.mean(x, [0, 1, 2]))), [0, 1, 2]))
    expectClose(
      values(ops.mean(ops.square(z), [0, 1, 2])),
      batchVariance.map((v) => v / (v + 1e-5)),
      { rtol: 1e-10, atol: 1e-12 },
      'variance σ²/(σ² + ε)',
    )
  })
  it('returns the running averages m·old + (1 − m)·batch as a new state, leaving the old one unchanged', () => {
    const s0 = layer.initState()
    const [, s1] = layer.forward(p, s0, x, nn.training())
    const mean = values(ops.mean(x, [0, 1, 2]))
    const variance = values(ops.mean(ops.square(ops.sub(x, ops.mean(x, [0, 1, 2]))), [0, 1, 2]))
    expectClose(
      values(s1.mean),
      mean.map((m) => 0.1 * m),
      f64Tol,
      'running mean',
    )
    expectClose(
      values(s1.variance),
      variance.map((v) => 0.9 + 0.1 * v),
      f64Tol,
      'running variance',
    )
    expect(values(s0.mean)).toEqual([0, 0, 0])
    expect(values(s0.variance)).toEqual([1, 1, 1])
    const [, s2] = layer.forward(p, s1, x, nn.training())
    expectClose(
      values(s2.mean),
      mean.map((m) => 0.9 * 0.1 * m + 0.1 * m),
      f64Tol,
      'second step',
    )
  })
  it('evaluation mode normalises by the running statistics it is given, and returns them unchanged', () => {
    const s = { mean: f64([1, 2, 3], [3]), variance: f64([4, 1, 0.25], [3]) }
    const [y, s2] = layer.forward(p, s, x, nn.evaluation)
    expect(s2).toBe(s)
    const expected = ops.add(
      ops.mul(ops.div(ops.sub(x, s.mean), ops.sqrt(ops.add(s.variance, 1e-5))), p.scale),
      p.offset,
    )
    expectClose(values(y), values(expected), f64Tol, 'eval')
  })
  it('the running statistics carry no derivative', () => {
    const g = grad((v: AnyT) => ops.sum(layer.forward(p, layer.initState(), v, nn.training())[1].mean))(x)
    expect(values(g).every((v) => v === 0)).toBe(true)
  })
})

// ---------------------------------------------------------------- combinators

describe('combinators', () => {
  const rand = sampler(61, 'f64')
  it('sequential composes; parameters and states are per layer', () => {
    const a = nn.dense(4, 5, { dtype: 'f64' })
    const b = nn.dense(5, 2, { dtype: 'f64' })
    const net = nn.sequential(a, nn.tanh, b)
    const p = net.init(key)
    expect(p).toHaveLength(3)
    expect(p[1]).toBeNull()
    const x = rand([3, 4]) as Tensor<[3, 4], 'f64'>
    expect(values(net.apply(p, x))).toEqual(values(b.apply(p[2], nn.tanh.apply(null, a.apply(p[0], x)))))
    expect(net.initState()).toEqual([null, null, null])
    expect(() => net.apply([p[0], p[1]] as never, x)).toThrow(
      'sequential: expected parameters as an array of 3 entries (one per layer), got 2 entries',
    )
    expect(() => net.apply(p, rand([3, 5]) as never)).toThrow(
      'sequential: layer 0 (dense(4 → 5)): dense(4 → 5): expected an input whose last axis is 4, got f64[3,5]',
    )
  })
  it('sequential threads state and gives each layer its own key', () => {
    const net = nn.sequential(
      nn.dense(3, 6, { dtype: 'f64' }),
      nn.batchNorm(6, { dtype: 'f64' }),
      nn.dropout(0.5),
      nn.dropout(0.5),
    )
    const p = net.init(key)
    const x = rand([10, 3]) as Tensor<[10, 3], 'f64'>
    const [, state] = net.forward(p, net.initState(), x, nn.training(key))
    expect(values(state[1].mean).some((v) => v !== 0)).toBe(true)
    // Two dropouts with keys derived per position do not share a mask.
    const h = nn.sequential(nn.dropout(0.5), nn.dropout(0.5))
    const [y] = h.forward([null, null], [null, null], ops.ones([40, 40], 'f64') as AnyT, nn.training(key))
    const kept = values(y).filter((v) => v !== 0).length / 1600
    expect(Math.abs(kept - 0.25)).toBeLessThan(0.05)
  })
  it('residual adds its input; its gradient adds the identity', () => {
    const f = nn.dense(4, 4, { dtype: 'f64' })
    const r = nn.residual(f)
    const p = r.init(key)
    const x = rand([2, 4]) as Tensor<[2, 4], 'f64'>
    expectClose(values(r.apply(p, x)), values(ops.add(x, f.apply(p, x))), f64Tol, 'x + f(x)')
    const gx = grad((v: AnyT) => ops.sum(r.apply(p, v)))(x)
    const row = values(ops.add(ops.sum(p.w, 1), 1))
    expectClose(values(gx), [...row, ...row], f64Tol, '1 + Σ_j W_kj in every row')
  })
  it('parallel concatenates the branches along the last axis; parallelAdd adds them', () => {
    const a = nn.dense(3, 2, { dtype: 'f64' })
    const b = nn.dense(3, 4, { dtype: 'f64' })
    const both = nn.parallel(a, b)
    const p = both.init(key)
    const x = rand([5, 3]) as Tensor<[5, 3], 'f64'>
    const y = both.apply(p, x)
    expect(y.shape).toEqual([5, 6])
    expect(values(y)).toEqual(values(ops.concat([a.apply(p[0], x), b.apply(p[1], x)], 1)))
    const c = nn.dense(3, 2, { dtype: 'f64' })
    const sum = nn.parallelAdd(a, c)
    const q = sum.init(key)
    expectClose(values(sum.apply(q, x)), values(ops.add(a.apply(q[0], x), c.apply(q[1], x))), f64Tol, 'a + c')
  })
  it('tie: one set of parameters used twice; its gradient is the sum of the gradients of the untied uses', () => {
    const d = nn.dense(3, 3, { dtype: 'f64' })
    const tied = nn.tie(d, (view) => nn.sequential(view, nn.tanh, view))
    const p = tied.init(key)
    expect(p.network).toEqual([null, null, null])
    const untied = nn.sequential(d, nn.tanh, d)
    const x = rand([4, 3]) as Tensor<[4, 3], 'f64'>
    const q: nn.ParamsOf<typeof untied> = [p.shared, null, p.shared]
    expect(values(tied.apply(p, x))).toEqual(values(untied.apply(q, x)))
    const loss = (y: AnyT) => ops.sum(ops.square(y))
    const g = grad((pp: typeof p) => loss(tied.apply(pp, x)))(p)
    const gu = grad((qq: typeof q) => loss(untied.apply(qq, x)))(q)
    expectClose(values(g.shared.w), values(ops.add(gu[0].w, gu[2].w)), f64Tol, '∂w = ∂w₁ + ∂w₂')
    expectClose(values(g.shared.b), values(ops.add(gu[0].b, gu[2].b)), f64Tol, '∂b = ∂b₁ + ∂b₂')
  })
  it('a tied view used outside its network says so', () => {
    let escaped: nn.AnyLayer | undefined
    nn.tie(nn.dense(2, 2), (view) => {
      escaped = view
      return nn.sequential(view)
    })
    expect(() => escaped!.apply(null, ops.zeros([1, 2]))).toThrow(
      'tie: the view of dense(2 → 2) was used outside the network built for it',
    )
  })
  it('vmap of a whole network over examples agrees with the batched call', () => {
    const net = nn.sequential(
      nn.conv2d(2, 3, 3, { padding: 'SAME', dtype: 'f64' }),
      nn.relu,
      nn.maxPool2d(2),
      nn.flatten,
      nn.dense(12, 2, { dtype: 'f64' }),
    )
    const p = net.init(key)
    const x = rand([3, 4, 4, 2]) as Tensor<[3, 4, 4, 2], 'f64'>
    const perExample = vmap((v: AnyT) => net.apply(p, ops.expandDims(v, 0)), [0])(x) as AnyT
    expectClose(values(perExample), values(net.apply(p, x)), f64Tol, 'vmap')
  })
})

// ---------------------------------------------------------------- losses

const softmaxRows = (z: number[], c: number) =>
  Array.from({ length: z.length / c }, (_, r) => {
    const row = z.slice(r * c, r * c + c)
    const m = Math.max(...row)
    const e = row.map((v) => Math.exp(v - m))
    const s = e.reduce((a, b) => a + b)
    return e.map((v) => v / s)
  }).flat()

describe("losses: values and the gradients of Martins's tutorial and the COMP613 notes", () => {
  const rand = sampler(71, 'f64')
  const labels = ids([2, 0, 3, 3, 1], [5])
  const onehot = nn.oneHot(labels, 4, 'f64')

  it('oneHot, and labels out of range are named', () => {
    expect(values(nn.oneHot(ids([1, 0], [2]), 3))).toEqual([0, 1, 0, 1, 0, 0])
    expect(() => nn.oneHot(ids([1, 3], [2]), 3)).toThrow(
      'oneHot: label 3 at flat position 1 is out of range for 3 classes',
    )
  })
  it('softmax cross-entropy: logsumexp(z) − z_y; gradient (softmax − onehot)/B; sparse = dense one-hot', () => {
    const z = rand([5, 4])
    const zs = values(z)
    const [value, g] = valueAndGrad((v: AnyT) => nn.softmaxCrossEntropy(v, labels))(z)
    const p = softmaxRows(zs, 4)
    const expectedValue = -[2, 0, 3, 3, 1].reduce((s, y, r) => s + Math.log(p[r * 4 + y]), 0) / 5
    expectClose([value.item()], [expectedValue], f64Tol, 'value')
    expectClose(
      values(g),
      p.map((v, i) => (v - values(onehot)[i]) / 5),
      f64Tol,
      'gradient',
    )
    expectClose([nn.softmaxCrossEntropy(z, onehot).item()], [expectedValue], f64Tol, 'dense targets')
    expectClose([nn.sparseSoftmaxCrossEntropy(z, labels).item()], [expectedValue], f64Tol, 'sparse form')
    expect(nn.softmaxCrossEntropy(z, labels, { reduction: 'none' }).shape).toEqual([5])
    expectClose([nn.softmaxCrossEntropy(z, labels, { reduction: 'sum' }).item()], [5 * expectedValue], f64Tol, 'sum')
  })
  it('softmax cross-entropy is finite, and right, for logits of magnitude 1e4 (f32)', () => {
    const z = f32([1e4, -1e4, 0, 1e4 - 2, -1e4, 1e4], [2, 3])
    const y = ids([0, 2], [2])
    const [value, g] = valueAndGrad((v: AnyT) => nn.softmaxCrossEntropy(v, y))(z)
    // row 0: log(1 + e^{-2e4} + e^{-1e4}) ≈ 0; row 1: logsumexp − z_2 = log(1 + e^{-2}) + ... − 0 ≈ log(1 + e^{-2})
    expectClose([value.item()], [Math.log(1 + Math.exp(-2)) / 2], { rtol: 1e-5, atol: 1e-12 }, 'value')
    const gs = values(g)
    expect(gs.every(Number.isFinite)).toBe(true)
    expectClose(
      gs,
      [0, 0, 0, 1 / (1 + Math.exp(2)) / 2, 0, (1 / (1 + Math.exp(-2)) - 1) / 2],
      { rtol: 1e-5, atol: 1e-7 },
      'gradient',
    )
  })
  it('cross-entropy on probabilities: −Σ q log p; gradient −q/(pB); zero probabilities of absent classes do no harm', () => {
    const p = f64([0.2, 0.5, 0.3, 0.6, 0.4, 0], [2, 3])
    const q = f64([0, 1, 0, 0.5, 0.5, 0], [2, 3])
    const [value, g] = valueAndGrad((v: AnyT) => nn.crossEntropy(v, q))(p)
    expectClose([value.item()], [-(Math.log(0.5) + 0.5 * Math.log(0.6) + 0.5 * Math.log(0.4)) / 2], f64Tol, 'value')
    expectClose(values(g), [0, -1 / 0.5 / 2, 0, -0.5 / 0.6 / 2, -0.5 / 0.4 / 2, 0], f64Tol, 'gradient')
    expectClose(
      [nn.sparseCrossEntropy(p, ids([1, 0], [2])).item()],
      [-(Math.log(0.5) + Math.log(0.6)) / 2],
      f64Tol,
      'sparse',
    )
  })
  it('sigmoid cross-entropy: gradient σ(z) − y, finite for |z| = 1e4 (f32)', () => {
    const z = rand([6])
    const y = f64([1, 0, 1, 0.3, 0, 1], [6])
    const [value, g] = valueAndGrad((v: AnyT) => nn.sigmoidCrossEntropy(v, y))(z)
    const zs = values(z)
    const ys = values(y)
    const s = zs.map((v) => 1 / (1 + Math.exp(-v)))
    expectClose(
      [value.item()],
      [-ys.reduce((acc, t, i) => acc + t * Math.log(s[i]) + (1 - t) * Math.log(1 - s[i]), 0) / 6],
      f64Tol,
      'value',
    )
    expectClose(
      values(g),
      s.map((v, i) => (v - ys[i]) / 6),
      f64Tol,
      'gradient',
    )
    const big = nn.sigmoidCrossEntropy(f32([1e4, -1e4, 1e4], [3]), f32([0, 0, 1], [3]), { reduction: 'none' })
    expect(values(big)).toEqual([1e4, 0, 0])
    expectClose(
      [nn.binaryCrossEntropy(ops.sigmoid(z), y).item()],
      [value.item()],
      { rtol: 1e-12, atol: 1e-12 },
      'binary cross-entropy on σ(z)',
    )
  })
  it('squared error: ½‖f − y‖² per example; gradient (f − y)/B', () => {
    const f = rand([3, 2])
    const y = rand([3, 2])
    const [value, g] = valueAndGrad((v: AnyT) => nn.squaredError(v, y))(f)
    const d = values(ops.sub(f, y))
    expectClose([value.item()], [d.reduce((a, b) => a + b * b, 0) / 2 / 3], f64Tol, 'value')
    expectClose(
      values(g),
      d.map((v) => v / 3),
      f64Tol,
      'gradient',
    )
  })
  it('sparsemax loss: ≥ 0, zero when sparsemax(z) is the target, gradient (sparsemax(z) − q)/B', () => {
    const z = ops.mul(rand([5, 4]), 2) as AnyT
    const [value, g] = valueAndGrad((v: AnyT) => nn.sparsemaxLoss(v, labels))(z)
    const p = nn.sparsemax.apply(null, z)
    expectClose(values(g), values(ops.div(ops.sub(p, onehot), 5)), f64Tol, 'gradient')
    const perExample = values(nn.sparsemaxLoss(z, labels, { reduction: 'none' }))
    expect(perExample.every((v) => v >= -1e-12)).toBe(true)
    expectClose([value.item()], [perExample.reduce((a, b) => a + b) / 5], f64Tol, 'mean')
    // The closed form of Martins, "Sparsemax Loss", per example.
    const zs = values(z)
    const ps = values(p)
    for (let r = 0; r < 5; r++) {
      const row = zs.slice(4 * r, 4 * r + 4)
      const support = ps.slice(4 * r, 4 * r + 4).map((v) => v > 0)
      const tau = row[support.indexOf(true)] - ps[4 * r + support.indexOf(true)]
      const y = [2, 0, 3, 3, 1][r]
      const expected = -row[y] + 0.5 * row.reduce((s, v, j) => s + (support[j] ? v * v - tau * tau : 0), 0) + 0.5
      expectClose([perExample[r]], [expected], { rtol: 1e-10, atol: 1e-12 }, `example ${r}`)
    }
    expectClose([nn.sparsemaxLoss(f64([5, 0, 0], [1, 3]), ids([0], [1])).item()], [0], f64Tol, 'zero at the target')
    expectClose([nn.sparseSparsemaxLoss(z, labels).item()], [value.item()], f64Tol, 'sparse form')
  })
  it('names wrong targets', () => {
    const z = rand([5, 4])
    expect(() => nn.softmaxCrossEntropy(z, ids([1, 2], [2]) as never)).toThrow(
      'softmaxCrossEntropy: i32 labels must have the batch shape [5] of scores f64[5,4], got i32[2]',
    )
    expect(() => nn.squaredError(z, rand([5, 3]) as never)).toThrow(
      'squaredError: the targets must have the shape of the predictions f64[5,4], got f64[5,3]',
    )
  })
})

describe('penalties skip biases (rank ≤ 1)', () => {
  const net = nn.sequential(
    nn.dense(3, 4, { dtype: 'f64' }),
    nn.relu,
    nn.batchNorm(4, { dtype: 'f64' }),
    nn.dense(4, 2, { dtype: 'f64' }),
  )
  const p = net.init(key)
  const p2 = [{ ...p[0], b: f64([1, 2, 3, 4], [4]) }, null, p[2], p[3]] as typeof p
  it('l2 = ½Σw² over the weights, gradient w (zero for biases)', () => {
    const weights = [...values(p2[0].w), ...values(p2[3].w)]
    expectClose([nn.l2Penalty(p2).item()], [weights.reduce((a, b) => a + b * b, 0) / 2], f64Tol, 'value')
    const g = grad((q: typeof p2) => nn.l2Penalty(q))(p2)
    expect(values(g[0].w)).toEqual(values(p2[0].w))
    expect(values(g[0].b)).toEqual([0, 0, 0, 0])
    expect(values(g[2].scale)).toEqual([0, 0, 0, 0])
  })
  it('l1 = Σ|w| over the weights, gradient sign(w)', () => {
    const weights = [...values(p2[0].w), ...values(p2[3].w)]
    expectClose([nn.l1Penalty(p2).item()], [weights.reduce((a, b) => a + Math.abs(b), 0)], f64Tol, 'value')
    const g = grad((q: typeof p2) => nn.l1Penalty(q))(p2)
    expect(values(g[3].w)).toEqual(values(p2[3].w).map(Math.sign))
  })
  it('include chooses the leaves by path', () => {
    const onlyBiases = nn.l2Penalty(p2, { include: (path) => path.endsWith('.b') })
    expectClose([onlyBiases.item()], [(1 + 4 + 9 + 16) / 2], f64Tol, 'biases only')
    expect(nn.l1Penalty([null]).item()).toBe(0)
  })
})

// ---------------------------------------------------------------- initialisers

describe('initialisers', () => {
  const moments = (x: Tensor) => {
    const vs = values(x)
    const mean = vs.reduce((a, b) => a + b) / vs.length
    return { mean, variance: vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length }
  }
  it('He normal has mean 0 and variance 2/n_in (He et al. 2015)', () => {
    const w = nn.init.heNormal(key, [200, 500])
    const { mean, variance } = moments(w)
    // 1e5 draws: the sample variance is within about 0.5% of the true one (one standard deviation).
    expect(Math.abs(mean)).toBeLessThan(0.005)
    expect(Math.abs(variance / (2 / 200) - 1)).toBeLessThan(0.03)
  })
  it('He normal of a conv kernel uses n_in = Kh·Kw·Cin', () => {
    const { variance } = moments(nn.init.heNormal(key, [3, 3, 16, 500]))
    expect(Math.abs(variance / (2 / 144) - 1)).toBeLessThan(0.03)
  })
  it('Glorot uniform lies in [−t, t], t = √6/√(n_in + n_out), with variance t²/3 (Glorot and Bengio 2010)', () => {
    const w = nn.init.glorotUniform(key, [300, 400])
    const t = Math.sqrt(6 / 700)
    const vs = values(w)
    expect(vs.every((v) => v >= -t && v < t)).toBe(true)
    expect(Math.max(...vs)).toBeGreaterThan(0.99 * t)
    expect(Math.abs(moments(w).variance / ((t * t) / 3) - 1)).toBeLessThan(0.03)
  })
  it('zeros, fans, determinism and bad shapes', () => {
    expect(values(nn.init.zeros(key, [3]))).toEqual([0, 0, 0])
    expect(nn.init.fans([3, 3, 16, 32])).toEqual({ fanIn: 144, fanOut: 288 })
    expect(values(nn.init.heNormal(key, [4, 4]))).toEqual(values(nn.init.heNormal(key, [4, 4])))
    expect(nn.init.heNormal(key, [4, 4], { dtype: 'f64' }).dtype).toBe('f64')
    expect(() => nn.init.glorotUniform(key, [0, 4])).toThrow(
      'glorotUniform: fans must be positive, got fanIn 0, fanOut 4 for shape [0, 4]',
    )
  })
})
