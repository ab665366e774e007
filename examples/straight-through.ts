/**
 * The straight-through estimator (Bengio, Léonard and Courville 2013,
 * "Estimating or propagating gradients through stochastic neurons for
 * conditional computation"): a network whose units and weights are binary,
 * sign(·) ∈ {−1, +1} (0 only at exactly 0), trained by gradient descent. The derivative of sign is
 * 0 wherever it exists, so plain autodiff gives every parameter behind a sign
 * a zero gradient and training does not move. The straight-through estimator
 * keeps sign in the forward pass and passes the tangent through it in the
 * backward pass as if it were the identity, cut off where |x| > 1 (the
 * derivative of hardtanh, as in BinaryConnect, Courbariaux et al. 2015, and
 * binarized networks, Hubara et al. 2016):
 *
 *   forward  y = sign(x),      backward  ∂y/∂x := 1 if |x| ≤ 1, else 0.
 *
 * Here the rule is given to `customJvp`; reverse mode transposes it.
 *
 * The network classifies points of two interleaved spirals (400 for
 * training, 400 more for the test):
 *
 *   h₁ = sign(x W₁ + b₁)              [N, 64]   binary units; W₁, b₁ real (with weights
 *                                              ±1 on two inputs every line is diagonal)
 *   h₂ = sign(h₁ sign(W₂) / √64)      [N, 64]   binary weights and binary units
 *   z  = h₂ sign(W₃) / √64            [N, 1]    binary weights; the logit of class 1
 *
 * trained with Adam on the logistic loss, once with plain autodiff through
 * sign and once with the straight-through sign, each step one jitted call.
 * As in BinaryConnect, the real weights W₂ and W₃ behind the signs are clipped
 * to [−1, 1] after each update, so that the estimator's window |w| ≤ 1 never
 * closes on them for good. Every parameter lies behind a sign, so with plain
 * autodiff the whole gradient is exactly zero: the example exits 1 unless it
 * is, and unless the straight-through network reaches 90 % test accuracy.
 * Writes out/straight-through/training.svg (loss and accuracy) and
 * regions.svg (the probability of class 1 over the plane).
 *
 *   npx tsx examples/straight-through.ts
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  customJvp,
  defaultBackend,
  grad,
  jit,
  nn,
  ops,
  optim,
  plot,
  random,
  tensor,
  tree,
  type Tensor,
} from '../index.ts'
import { claim, outPath, shortOr } from './lib/short.ts'

const H = 64
const POINTS = shortOr(50, 200) // per spiral
const STEPS = shortOr(20, 400)
const LOG_EVERY = shortOr(5, 50)
const GRID = shortOr(16, 60)
const outDir = outPath('straight-through')

/** sign(x) with the straight-through derivative: the tangent passes unchanged where |x| ≤ 1, and is 0 elsewhere. */
const signSte = customJvp(
  (x: Tensor) => ops.sign(x),
  ([x]: [Tensor], [dx]: [Tensor]) =>
    [ops.sign(x), ops.mul(dx, ops.astype(ops.lessEqual(ops.abs(x), 1), 'f32'))] as const,
)
const plainSign = (x: Tensor) => ops.sign(x)

// ---------------------------------------------------------------- data

/** Two spirals of n points each at random places along them, with Gaussian noise; labels [2n, 1] (1 for the second spiral). */
function spirals(key: random.Key, n: number): { x: Tensor; y: Tensor } {
  const [placeKey, noiseKey] = random.split(key)
  const along = random.uniform(placeKey, [2 * n]).dataSync()
  const noise = random.normal(noiseKey, [2 * n, 2], { stddev: 0.05 }).dataSync()
  const xs: number[] = []
  const ys: number[] = []
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < n; i++) {
      const u = along[c * n + i]
      const r = 0.1 + 0.9 * u
      const t = 1.75 * Math.PI * u + c * Math.PI
      xs.push(r * Math.cos(t) + noise[2 * (c * n + i)], r * Math.sin(t) + noise[2 * (c * n + i) + 1])
      ys.push(c)
    }
  return { x: tensor(xs, { shape: [2 * n, 2] }), y: tensor(ys, { shape: [2 * n, 1] }) }
}

// ---------------------------------------------------------------- the network

type Params = { w1: Tensor; b1: Tensor; w2: Tensor; w3: Tensor }

function init(key: random.Key): Params {
  const k = random.split(key, 4)
  return {
    // Lines through the data's disc in every direction and at every offset.
    w1: random.normal(k[0], [2, H], { stddev: 2 }),
    b1: random.uniform(k[1], [H], { lo: -1, hi: 1 }),
    w2: random.uniform(k[2], [H, H], { lo: -1, hi: 1 }),
    w3: random.uniform(k[3], [H, 1], { lo: -1, hi: 1 }),
  }
}

/** The logit of class 1, [N, 1], with `sign` for every sign in the network. */
const logit = (sign: (x: Tensor) => Tensor) => (p: Params, x: Tensor) => {
  const h1 = sign(ops.add(ops.matmul(x, p.w1), p.b1))
  const h2 = sign(ops.div(ops.matmul(h1, sign(p.w2)), Math.sqrt(H)))
  return ops.div(ops.matmul(h2, sign(p.w3)), Math.sqrt(H))
}

const clipUnit = (w: Tensor) => ops.minimum(ops.maximum(w, -1), 1)

const backend = await defaultBackend()
const [dataKey, testKey, initKey] = random.split(random.key(2013), 3)
const data = spirals(dataKey, POINTS)
const test = spirals(testKey, POINTS)
const opt = optim.adam({ lr: 0.01 })

/** For the network with `sign`: the loss, and jitted calls for a training step, the loss and accuracy, and P(class 1). */
function trainer(sign: (x: Tensor) => Tensor) {
  const f = logit(sign)
  const loss = (p: Params, x: Tensor, y: Tensor) => nn.sigmoidCrossEntropy(f(p, x), y)
  const step = jit(
    (p: Params, s: optim.FirstOrderState, x: Tensor, y: Tensor) => {
      const [next, state] = opt.update(grad(loss)(p, x, y), s, p) as [Params, optim.FirstOrderState]
      return [{ ...next, w2: clipUnit(next.w2), w3: clipUnit(next.w3) }, state] as const
    },
    // The optimiser state is donated; the parameters are not, since both runs start from the same ones.
    { backend, donateArgnums: [1] },
  )
  const evaluate = jit(
    (p: Params, x: Tensor, y: Tensor) =>
      [loss(p, x, y), ops.mean(ops.astype(ops.equal(ops.greater(f(p, x), 0), ops.greater(y, 0.5)), 'f32'))] as const,
    { backend },
  )
  const probability = jit((p: Params, x: Tensor) => ops.sigmoid(f(p, x)), { backend })
  return { loss, step, evaluate, probability }
}

const scalar = async (t: Tensor) => (await t.data())[0]
const maxAbs = async (t: Tensor) => Math.max(0, ...Array.from(await t.data(), Math.abs))
const largest = async (p: Params) => Math.max(...(await Promise.all(tree.flatten(p)[0].map(maxAbs))))
/** The largest |a − b| over the parameters, read from wherever they live (the host or the device). */
async function largestChange(a: Params, b: Params): Promise<number> {
  let m = 0
  for (const k of ['w1', 'b1', 'w2', 'w3'] as const) {
    const [x, y] = [await a[k].data(), await b[k].data()]
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]))
  }
  return m
}

console.log(
  `binary network 2-${H}-${H}-1 on two spirals (${2 * POINTS} training, ${2 * POINTS} test points), Adam, ${STEPS} steps, on ${backend.name}`,
)

// The two derivatives of sign, at a few points.
const at = [-2, -1, -0.5, 0, 0.5, 1, 2]
const row = (label: string, values: ArrayLike<number>) =>
  `  ${label.padEnd(30)}${Array.from(values, (v) => String(v).padStart(6)).join('')}`
const slope = async (sign: (x: Tensor) => Tensor) => grad((x: Tensor) => ops.sum(sign(x)))(tensor(at)).data()
console.log(`\n${row('x', at)}`)
console.log(row('∂sign(x)/∂x, plain autodiff', await slope(plainSign)))
console.log(row('∂sign(x)/∂x, straight-through', await slope(signSte)))

const params0 = init(initKey)
const runs = [
  { name: 'plain autodiff', ...trainer(plainSign) },
  { name: 'straight-through', ...trainer(signSte) },
]
console.log('\n‖∂L/∂θ‖ at the initial parameters:')
const gradients: number[] = []
for (const run of runs) {
  const g = grad(run.loss)(params0, data.x, data.y)
  const norms = await Promise.all(
    (['w1', 'b1', 'w2', 'w3'] as const).map(
      async (k) => `${k} ${Math.sqrt(await scalar(ops.sum(ops.square(g[k])))).toExponential(2)}`,
    ),
  )
  console.log(`  ${run.name.padEnd(18)} ${norms.join('   ')}`)
  gradients.push(await largest(g))
}

const history = runs.map(() => ({ x: [] as number[], loss: [] as number[], accuracy: [] as number[] }))
const trained: Params[] = []
for (const [r, run] of runs.entries()) {
  let params = params0
  let state = opt.init(params)
  for (let i = 0; i <= STEPS; i++) {
    if (i > 0) [params, state] = await run.step(params, state, data.x, data.y)
    if (i % LOG_EVERY === 0) {
      const [loss, accuracy] = await run.evaluate(params, data.x, data.y)
      history[r].x.push(i)
      history[r].loss.push(await scalar(loss))
      history[r].accuracy.push(await scalar(accuracy))
    }
  }
  trained.push(params)
}
console.log(
  `\ntraining loss and accuracy\n${'step'.padStart(6)}   ${runs
    .map((r) => r.name.padEnd(24))
    .join('')
    .trimEnd()}`,
)
history[0].x.forEach((step, j) =>
  console.log(
    `${String(step).padStart(6)}   ${history
      .map((h) => `${h.loss[j].toFixed(4)}  ${(100 * h.accuracy[j]).toFixed(1).padStart(5)} %`.padEnd(24))
      .join('')
      .trimEnd()}`,
  ),
)

const moved = await largestChange(trained[0], params0)
const testAccuracy = await Promise.all(
  runs.map(async (run, r) => scalar((await run.evaluate(trained[r], test.x, test.y))[1])),
)
console.log()
for (const [r, run] of runs.entries())
  console.log(`${run.name.padEnd(18)} test accuracy ${(100 * testAccuracy[r]).toFixed(1).padStart(5)} %`)
console.log(
  `plain autodiff: largest change of a parameter in ${STEPS} steps ${moved}; the accuracy stays that of the initial network (chance is 50 %)`,
)

// ---------------------------------------------------------------- figures

await mkdir(outDir, { recursive: true })
await plot.writeSvg(
  join(outDir, 'training.svg'),
  plot.sideBySide([
    plot.lineChart({
      series: runs.map((run, r) => ({ name: run.name, x: history[r].x, y: history[r].loss })),
      title: 'training loss',
      xLabel: 'step',
      yLabel: 'logistic loss',
    }),
    plot.lineChart({
      series: runs.map((run, r) => ({ name: run.name, x: history[r].x, y: history[r].accuracy })),
      title: 'training accuracy',
      xLabel: 'step',
      yLabel: 'accuracy',
      yDomain: [0, 1],
    }),
  ]),
)
// P(class 1) on a GRID × GRID grid over [−1.2, 1.2]², the first row at the top.
const coords = Array.from({ length: GRID }, (_, i) => -1.2 + (2.4 * i) / (GRID - 1))
const plane = tensor(
  coords.flatMap((_, row) => coords.flatMap((x) => [x, coords[GRID - 1 - row]])),
  { shape: [GRID * GRID, 2] },
)
const panels = await Promise.all(
  runs.map(async (run, r) => {
    const p = await (await run.probability(trained[r], plane)).data()
    return plot.heatmap({
      values: coords.map((_, row) => Array.from(p.subarray(row * GRID, (row + 1) * GRID))),
      title: `${run.name}: test accuracy ${(100 * testAccuracy[r]).toFixed(1)} %`,
      domain: [0, 1],
      cellSize: Math.floor(300 / GRID),
    })
  }),
)
await plot.writeSvg(
  join(outDir, 'regions.svg'),
  plot.sideBySide(panels, { title: 'P(second spiral) over [−1.2, 1.2]² after training' }),
)
console.log(`wrote ${join(outDir, 'training.svg')} and ${join(outDir, 'regions.svg')}`)

// Exact: sign has derivative 0, so plain autodiff neither computes a gradient nor moves the parameters.
if (gradients[0] !== 0 || moved !== 0) {
  console.error('plain autodiff through sign gave a nonzero gradient')
  process.exitCode = 1
}
claim(
  testAccuracy[1] >= 0.9,
  `the straight-through network's test accuracy ${(100 * testAccuracy[1]).toFixed(1)} % is below 90 %`,
)
