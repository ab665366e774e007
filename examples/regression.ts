/**
 * Linear and logistic regression (D. Barber, Neural Nets (lecture notes):
 * regression and classification losses, "Loss functions"; the L2 penalty,
 * "Penalty Terms"). Linear regression by gradient descent on the
 * penalised squared error is checked against its closed form, the ridge
 * solution w = (XᵀX + λI)⁻¹ Xᵀy; logistic regression on two Gaussian clouds
 * reports its accuracy and the gradient norm at the end.
 *
 *   npx tsx examples/regression.ts
 */
import { cpuBackend, grad, jit, nn, ops, optim, random, tensor, type Tensor } from '../src/index.ts'
import { claim, shortOr } from './lib/short.ts'

const backend = cpuBackend()
const [LINEAR_STEPS, LOGISTIC_STEPS] = shortOr([100, 50], [2000, 500])
const N = 200
const D = 3

// ---------------------------------------------------------------- linear regression

const trueW = [1.5, -2, 0.5]
const xs = Array.from(random.normal(random.key(1), [N, D]).dataSync())
const noise = random.normal(random.key(2), [N]).dataSync()
const ys = Array.from({ length: N }, (_, i) => trueW.reduce((s, w, j) => s + w * xs[i * D + j], 0.3) + 0.1 * noise[i])
const X = tensor(xs, { shape: [N, D] })
const Y = tensor(ys, { shape: [N, 1] })
const lambda = 0.1

type Linear = { w: Tensor<[3, 1]>; b: Tensor<[1]> }
/** E(w, b) = ½ Σ (y − Xw − b)² + ½ λ ‖w‖² (the bias not penalised). */
const linearLoss = (p: Linear) =>
  ops.add(nn.squaredError(ops.add(ops.matmul(X, p.w), p.b), Y, { reduction: 'sum' }), ops.mul(nn.l2Penalty(p), lambda))

const sgd = optim.sgd({ lr: 2e-3 })
const linearStep = jit(
  (p: Linear, s: optim.FirstOrderState) => {
    const [next, state] = sgd.update(grad(linearLoss)(p), s, p) as [Linear, optim.FirstOrderState]
    return [next, state, linearLoss(p)] as const
  },
  { backend },
)
let lin: Linear = { w: ops.zeros([3, 1]), b: ops.zeros([1]) }
let linState = sgd.init(lin)
for (let i = 0; i < LINEAR_STEPS; i++) [lin, linState] = await linearStep(lin, linState)

// Closed form on centred data (the unpenalised bias absorbs the means): w = (XcᵀXc + λI)⁻¹ Xcᵀ yc, b = ȳ − x̄ᵀw.
const xMean = Array.from({ length: D }, (_, j) => xs.filter((_, k) => k % D === j).reduce((a, b) => a + b, 0) / N)
const yMean = ys.reduce((a, b) => a + b, 0) / N
const A = Array.from({ length: D }, (_, a) =>
  Array.from(
    { length: D },
    (_, b) =>
      (a === b ? lambda : 0) +
      Array.from({ length: N }, (_, i) => (xs[i * D + a] - xMean[a]) * (xs[i * D + b] - xMean[b])).reduce(
        (s, v) => s + v,
        0,
      ),
  ),
)
const rhs = Array.from({ length: D }, (_, a) =>
  Array.from({ length: N }, (_, i) => (xs[i * D + a] - xMean[a]) * (ys[i] - yMean)).reduce((s, v) => s + v, 0),
)
const exact = solve(A, rhs)
const exactB = yMean - exact.reduce((s, w, j) => s + w * xMean[j], 0)
const got = Array.from(await lin.w.data())
const gotB = (await lin.b.data())[0]
console.log('linear regression (ridge, λ = 0.1)      w                          b')
console.log(
  `gradient descent, ${`${LINEAR_STEPS} steps`.padEnd(21)}[${got.map((v) => v.toFixed(4)).join(', ')}]   ${gotB.toFixed(4)}`,
)
console.log(
  `closed form (XᵀX + λI)⁻¹Xᵀy            [${exact.map((v) => v.toFixed(4)).join(', ')}]   ${exactB.toFixed(4)}`,
)
console.log(`true                                   [${trueW.map((v) => v.toFixed(4)).join(', ')}]   0.3000`)
const linearAgrees = got.every((v, j) => Math.abs(v - exact[j]) < 1e-3) && Math.abs(gotB - exactB) < 1e-3

/** Gaussian elimination with partial pivoting for a small system. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]])
  for (let c = 0; c < n; c++) {
    const p = m.slice(c).reduce((best, row, i) => (Math.abs(row[c]) > Math.abs(m[best][c]) ? c + i : best), c)
    ;[m[c], m[p]] = [m[p], m[c]]
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c]
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k]
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--)
    x[r] = (m[r][n] - m[r].slice(r + 1, n).reduce((s, v, k) => s + v * x[r + 1 + k], 0)) / m[r][r]
  return x
}

// ---------------------------------------------------------------- logistic regression

const g = random.normal(random.key(3), [N, 2]).dataSync()
const points = Array.from({ length: N * 2 }, (_, k) => g[k] + (Math.floor(k / 2) < N / 2 ? -1.2 : 1.2))
const labels = Array.from({ length: N }, (_, i) => (i < N / 2 ? 0 : 1))
const P = tensor(points, { shape: [N, 2] })
const L = tensor(labels, { shape: [N, 1] })
type Logistic = { w: Tensor<[2, 1]>; b: Tensor<[1]> }
const logisticLoss = (p: Logistic) => nn.sigmoidCrossEntropy(ops.add(ops.matmul(P, p.w), p.b), L)
const adam = optim.adam({ lr: 0.05 })
const logisticStep = jit(
  (p: Logistic, s: optim.FirstOrderState) => {
    const [next, state] = adam.update(grad(logisticLoss)(p), s, p) as [Logistic, optim.FirstOrderState]
    return [next, state, logisticLoss(p)] as const
  },
  { backend },
)
let lg: Logistic = { w: ops.zeros([2, 1]), b: ops.zeros([1]) }
let lgState = adam.init(lg)
let lgLoss: Tensor = ops.zeros([])
for (let i = 0; i < LOGISTIC_STEPS; i++) [lg, lgState, lgLoss] = await logisticStep(lg, lgState)
const z = await ops.add(ops.matmul(P, lg.w), lg.b).data()
const accuracy = labels.filter((t, i) => (z[i] > 0 ? 1 : 0) === t).length / N
const gradNorm = (await optim.globalNorm(grad(logisticLoss)(lg)).data())[0]
console.log(
  `\nlogistic regression on two Gaussian clouds: loss ${(await lgLoss.data())[0].toFixed(4)}, accuracy ${(100 * accuracy).toFixed(1)}%, ‖∇‖ ${gradNorm.toExponential(2)}`,
)
claim(linearAgrees, 'gradient descent does not agree with the closed form to 1e-3')
claim(accuracy > 0.9, `logistic regression's accuracy ${(100 * accuracy).toFixed(1)}% is not above 90%`)
