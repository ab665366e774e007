/**
 * Every optimiser on the same two problems: the Rosenbrock function (a
 * curved valley where plain gradient descent zig-zags: Deep Learning, COMP613
 * Advanced Topics in Machine Learning (lecture notes), "Optimisation for
 * Machine Learning") and logistic regression on a generated, fixed data set
 * (the COMP613 notes' L(w) = Σ log(1 + e^{wᵀx}) − y wᵀx, "Supervised
 * Learning", averaged). First-order methods run as
 * one jitted step per iteration on the CPU backend; the second-order ones
 * (Newton-CG, Gauss-Newton, L-BFGS) run on the host loop with products from
 * the transforms. Prints a table per problem and writes, per problem, the
 * loss (less the best final loss found) against iteration and against time
 * as SVG charts, with the numbers as CSV.
 *
 *   npx tsx examples/optimisers.ts [output directory, default out/optimisers]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpuBackend, ops, optim, plot, random, tensor, type Tensor } from '../src/index.ts'
import { outPath, shortOr } from './lib/short.ts'

const outDir = process.argv[2] ?? outPath('optimisers')
const backend = cpuBackend()

interface Entry {
  readonly name: string
  readonly method: optim.Minimiser<any>
  readonly maxIters: number
  /** Second-order methods are drawn dashed. */
  readonly secondOrder?: boolean
}

interface Problem {
  readonly title: string
  readonly file: string
  readonly params: Record<string, Tensor>
  readonly batch: readonly unknown[]
  readonly gradTol: number
  readonly methods: readonly Entry[]
}

// ---------------------------------------------------------------- Rosenbrock

type XY = { xy: Tensor<[2]> }
/** Residuals r = (1 − x, 10(y − x²)): h = ‖r‖² = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1). */
const rosenResidual = (p: XY) => {
  const x = ops.slice(p.xy, [0], [1])
  const y = ops.slice(p.xy, [1], [1])
  return ops.concat([ops.sub(1, x), ops.mul(10, ops.sub(y, ops.square(x)))])
}
const rosenbrock = (p: XY) => ops.sum(ops.square(rosenResidual(p)))
const squareLoss = (z: Tensor) => ops.sum(ops.square(z))

const first = (opt: optim.Optimiser<any>, f: optim.Objective) => optim.fromOptimiser(opt, f, { backend })

const rosenbrockProblem: Problem = {
  title: 'Rosenbrock from (−1.2, 1)',
  file: 'rosenbrock',
  params: { xy: tensor([-1.2, 1], { dtype: 'f64' }) },
  batch: [],
  gradTol: 1e-6,
  methods: [
    { name: 'sgd', method: first(optim.sgd({ lr: 1e-3 }), rosenbrock), maxIters: 5000 },
    { name: 'momentum', method: first(optim.momentum({ lr: 2e-4, momentum: 0.9 }), rosenbrock), maxIters: 5000 },
    { name: 'nesterov', method: first(optim.nesterov({ lr: 2e-4, momentum: 0.9 }), rosenbrock), maxIters: 5000 },
    { name: 'adagrad', method: first(optim.adagrad({ lr: 0.5 }), rosenbrock), maxIters: 5000 },
    {
      name: 'rmsprop (exp. decay)',
      method: first(optim.rmsprop({ lr: optim.exponentialDecay({ init: 1e-2, rate: 0.5, steps: 1000 }) }), rosenbrock),
      maxIters: 5000,
    },
    { name: 'adam', method: first(optim.adam({ lr: 0.02 }), rosenbrock), maxIters: 5000 },
    {
      name: 'clip(10) + adam',
      method: first(optim.chain(optim.clipByGlobalNorm(10), optim.adam({ lr: 0.02 })), rosenbrock),
      maxIters: 5000,
    },
    { name: 'newton-cg', method: optim.newtonCG(rosenbrock, { damping: 1e-3 }), maxIters: 200, secondOrder: true },
    {
      name: 'gauss-newton',
      method: withBatch(optim.gaussNewton({ model: (p: XY) => rosenResidual(p), loss: squareLoss }), [null, null]),
      maxIters: 200,
      secondOrder: true,
    },
    { name: 'l-bfgs (m = 10)', method: optim.lbfgs(rosenbrock), maxIters: 200, secondOrder: true },
  ],
}

/** A minimiser that supplies fixed batch arguments itself (Gauss-Newton's (x, y) here). */
function withBatch<S>(m: optim.Minimiser<S>, batch: readonly unknown[]): optim.Minimiser<S> {
  return {
    name: m.name,
    init: (p) => m.init(p),
    step: (p, s) => m.step(p, s, ...batch),
    evaluate: (p) => m.evaluate(p, ...batch),
  }
}

// ---------------------------------------------------------------- logistic regression

const N = 400
const D = 8
type Logit = { w: Tensor<[8]>; b: Tensor<[]> }

/** Features ~ N(0, 1); labels ~ Bernoulli(σ(xᵀw* + b*)), so the classes overlap and the minimum is finite. */
function dataset(): { x: Tensor<[400, 8]>; y: Tensor<[400]> } {
  const [kx, kw, ky] = random.split(random.key(2024), 3)
  const x = random.normal(kx, [N, D], { dtype: 'f64' })
  const wTrue = random.normal(kw, [D], { stddev: 1.5, dtype: 'f64' }).dataSync()
  const xs = x.dataSync()
  const u = random.uniform(ky, [N], { dtype: 'f64' }).dataSync()
  const ys = Array.from({ length: N }, (_, i) => {
    let z = 0.5
    for (let j = 0; j < D; j++) z += xs[i * D + j] * wTrue[j]
    return u[i] < 1 / (1 + Math.exp(-z)) ? 1 : 0
  })
  return { x, y: tensor(ys, { shape: [N], dtype: 'f64' }) }
}
const { x: features, y: labels } = dataset()

const logits = (p: Logit, x: Tensor<[400, 8]>) => ops.add(ops.matmul(x, p.w), p.b)
/** Mean of log(1 + e^z) − y z, with log(1 + e^z) = max(z, 0) + log(1 + e^{−|z|}) to stay finite. */
const logisticLoss = (z: Tensor, y: Tensor) =>
  ops.mean(ops.sub(ops.add(ops.maximum(z, 0), ops.log(ops.add(1, ops.exp(ops.neg(ops.abs(z)))))), ops.mul(y, z)))
const logistic = (p: Logit, x: Tensor<[400, 8]>, y: Tensor<[400]>) => logisticLoss(logits(p, x), y)

const logisticProblem: Problem = {
  title: `logistic regression, ${N} examples × ${D} features`,
  file: 'logistic',
  params: { w: ops.zeros([D], 'f64'), b: ops.scalar(0, 'f64') },
  batch: [features, labels],
  gradTol: 1e-6,
  methods: [
    { name: 'sgd', method: first(optim.sgd({ lr: 1 }), logistic), maxIters: 3000 },
    {
      name: 'sgd (step decay)',
      method: first(optim.sgd({ lr: optim.stepDecay({ init: 2, factor: 0.7, every: 200 }) }), logistic),
      maxIters: 3000,
    },
    { name: 'momentum', method: first(optim.momentum({ lr: 0.5, momentum: 0.9 }), logistic), maxIters: 3000 },
    { name: 'nesterov', method: first(optim.nesterov({ lr: 0.5, momentum: 0.9 }), logistic), maxIters: 3000 },
    { name: 'adagrad', method: first(optim.adagrad({ lr: 1 }), logistic), maxIters: 3000 },
    {
      name: 'rmsprop (exp. decay)',
      method: first(optim.rmsprop({ lr: optim.exponentialDecay({ init: 0.05, rate: 0.5, steps: 200 }) }), logistic),
      maxIters: 3000,
    },
    { name: 'adam', method: first(optim.adam({ lr: 0.05 }), logistic), maxIters: 3000 },
    {
      name: 'adam (cyclic lr)',
      method: first(optim.adam({ lr: optim.cyclic({ min: 0.005, max: 0.1, halfPeriod: 100 }) }), logistic),
      maxIters: 3000,
    },
    { name: 'newton-cg', method: optim.newtonCG(logistic), maxIters: 100, secondOrder: true },
    {
      name: 'gauss-newton',
      method: optim.gaussNewton({ model: logits, loss: logisticLoss }),
      maxIters: 100,
      secondOrder: true,
    },
    { name: 'l-bfgs (m = 10)', method: optim.lbfgs(logistic), maxIters: 200, secondOrder: true },
  ],
}

// ---------------------------------------------------------------- running and reporting

const pad = (s: string, n: number, right = false) => (right ? s.padStart(n) : s.padEnd(n))
const fmt = (v: number) => (Number.isFinite(v) ? v.toExponential(3) : String(v))

async function run(problem: Problem): Promise<void> {
  const results: { name: string; r: optim.MinimizeResult<Record<string, Tensor>> }[] = []
  for (const entry of problem.methods) {
    const r = await optim.minimize(entry.method, problem.params, {
      // Short mode (examples/lib/short.ts): 20 iterations of each.
      maxIters: shortOr(Math.min(20, entry.maxIters), entry.maxIters),
      gradTol: problem.gradTol,
      batch: problem.batch,
    })
    results.push({ name: entry.name, r })
  }
  const best = Math.min(...results.map(({ r }) => r.losses[r.losses.length - 1]).filter(Number.isFinite))
  console.log(`\n${problem.title}: stop at ‖∇h‖ ≤ ${problem.gradTol} or the iteration budget`)
  const header = `${pad('method', 22)} ${pad('final loss', 11, true)} ${pad('− best', 10, true)} ${pad('‖∇h‖', 10, true)} ${pad('iters', 6, true)} ${pad('evals', 6, true)} ${pad('time ms', 8, true)}  stop`
  console.log(header)
  console.log('-'.repeat(header.length))
  for (const { name, r } of results) {
    const last = r.losses.length - 1
    console.log(
      `${pad(name, 22)} ${pad(fmt(r.losses[last]), 11, true)} ${pad(fmt(r.losses[last] - best), 10, true)} ${pad(fmt(r.gradNorms[last]), 10, true)} ` +
        `${pad(String(r.iterations), 6, true)} ${pad(String(r.evaluations), 6, true)} ${pad(r.times[last].toFixed(0), 8, true)}  ${r.reason}`,
    )
  }
  const rows = ['method,iteration,time_ms,loss,grad_norm']
  for (const { name, r } of results)
    r.losses.forEach((l, k) => rows.push(`${name},${k},${r.times[k].toFixed(3)},${l},${r.gradNorms[k]}`))
  const csv = join(outDir, `${problem.file}.csv`)
  writeFileSync(csv, `${rows.join('\n')}\n`)
  // Suboptimality on a log scale; the point that attains the best value (a gap of 0) drops out of the log axis.
  const series = (x: (r: optim.MinimizeResult<unknown>, k: number) => number): plot.Series[] =>
    results.map(({ name, r }, i) => {
      const keep = thin(r.losses.length, 400)
      return {
        name,
        x: keep.map((k) => x(r, k)),
        y: keep.map((k) => r.losses[k] - best),
        dashed: problem.methods[i].secondOrder ?? false,
      }
    })
  const charts = [
    {
      file: `${problem.file}-loss-vs-iteration.svg`,
      xLabel: 'iteration',
      x: (_r: optim.MinimizeResult<unknown>, k: number) => k,
    },
    {
      file: `${problem.file}-loss-vs-time.svg`,
      xLabel: 'time (ms)',
      x: (r: optim.MinimizeResult<unknown>, k: number) => r.times[k],
    },
  ]
  for (const c of charts)
    await plot.writeSvg(
      join(outDir, c.file),
      plot.lineChart({
        series: series(c.x),
        title: problem.title,
        xLabel: c.xLabel,
        yLabel: 'loss − best',
        logY: true,
        width: 760,
        height: 440,
      }),
    )
  console.log(`charts: ${charts.map((c) => join(outDir, c.file)).join(', ')}; numbers: ${csv}`)
}

/** At most about n indices of 0..length−1, evenly spaced, always with the first and the last. */
function thin(length: number, n: number): number[] {
  const stride = Math.max(1, Math.ceil(length / n))
  const out: number[] = []
  for (let k = 0; k < length; k += stride) out.push(k)
  if (out[out.length - 1] !== length - 1) out.push(length - 1)
  return out
}

mkdirSync(outDir, { recursive: true })
await run(rosenbrockProblem)
await run(logisticProblem)
