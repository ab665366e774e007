/**
 * The perceptron (Rosenblatt 1958) and Novikoff's (1962) mistake bound (A.
 * Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School 2018,
 * "Perceptron Algorithm", "Perceptron's Mistake Bound" and "What a Simple
 * Perceptron Can and Can't Do"): on data that a unit vector u separates with
 * margin γ, in points of norm at most R, the perceptron makes at most R²/γ²
 * mistakes, whatever the order of the examples and the dimension; on data
 * that no hyperplane separates (XOR; labels flipped at random) it never
 * stops making them.
 *
 *  1. For margins γ from 0.4 down to 0.05, in 2 and in 50 dimensions: R, γ
 *     and R²/γ² measured on the data with the known separator, against the
 *     mistakes made until an epoch passes without one (a table, and the
 *     mistakes against the number of examples seen with R²/γ² as a dashed
 *     line). The bound is a theorem: the example exits 1 if it fails.
 *  2. XOR and noisy labels: the mistakes grow by some in every epoch.
 *  3. The data in the plane and the hyperplanes: the learned one (with a
 *     bias) beside the true one; XOR with the perceptron's last line.
 *  4. The averaged perceptron (Freund and Schapire 1999) against the plain
 *     one on training labels flipped at random, tested on clean labels.
 *
 * Every epoch is one jitted program (a scan over the examples) on the CPU
 * interpreter. Writes out/perceptron/{mistakes,non-separable,planes}.svg.
 *
 *   npx tsx examples/perceptron.ts
 */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { cpuBackend, nn, plot, random, type Tensor } from '../index.ts'

const { mistakeBound, perceptron, perceptronPredict } = nn
const { scatterChart } = plot
type PerceptronResult = nn.PerceptronResult
type ScatterSeries = plot.ScatterSeries
import { flipLabels, separableData, xorData, type LabelledPoints } from './lib/linear-data.ts'
import { claim, outPath, shortOr } from './lib/short.ts'

const backend = cpuBackend()
const N = shortOr(100, 1000)
const DIMS = [2, shortOr(10, 50)]
const MARGINS = [0.4, 0.2, 0.1, 0.05]
/** The points lie at distances γ to γ + DEPTH from the hyperplane: many close to the margin. */
const DEPTH = 0.25
const NON_SEPARABLE_EPOCHS = shortOr(5, 40)
const NOISY = { d: 20, n: shortOr(200, 1000), test: shortOr(500, 5000), epochs: shortOr(3, 10), seeds: shortOr(2, 10) }
const outDir = outPath('perceptron')
const root = random.key(1958)

/** At most `count` points of a curve y(x = 1, 2, …), keeping the last. */
function thin(y: ArrayLike<number>, count = 400): { x: number[]; y: number[] } {
  const step = Math.max(1, Math.ceil(y.length / count))
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i < y.length; i += step) {
    xs.push(i + 1)
    ys.push(y[i])
  }
  if (xs.at(-1) !== y.length) {
    xs.push(y.length)
    ys.push(y[y.length - 1])
  }
  return { x: xs, y: ys }
}

const pad = (s: string | number, n: number) => String(s).padStart(n)

// ---------------------------------------------------------------- 1. the mistake bound

console.log(
  `perceptron on ${N} separable points (a unit separator u* through the origin, no bias), shuffled each epoch`,
)
console.log(
  `\n${pad('d', 4)}${pad('γ asked', 9)}${pad('γ', 8)}${pad('R', 7)}${pad('R²/γ²', 10)}${pad('mistakes', 10)}${pad('epochs', 8)}`,
)
let boundHolds = true
const mistakeCharts: string[] = []
for (const d of DIMS) {
  const series: plot.Series[] = []
  let longest = 0
  const runs: { bound: number; color: string }[] = []
  for (const [m, margin] of MARGINS.entries()) {
    const data = separableData(random.foldIn(root, 100 * d + m), { n: N, d, margin, depth: DEPTH })
    const { R, gamma, bound } = mistakeBound(data.x, data.y, data.u)
    const run = await perceptron(data.x, data.y, {
      epochs: Math.floor(bound) + 1,
      order: random.foldIn(root, 7),
      backend,
    })
    const ok = run.converged && run.mistakes <= bound
    boundHolds &&= ok
    console.log(
      `${pad(d, 4)}${pad(margin, 9)}${pad(gamma.toFixed(3), 8)}${pad(R.toFixed(2), 7)}${pad(bound.toFixed(0), 10)}${pad(run.mistakes, 10)}${pad(run.mistakesPerEpoch.length, 8)}${ok ? '' : '   BOUND FAILS'}`,
    )
    const color = plot.PALETTE[m]
    series.push({ name: `γ = ${gamma.toFixed(3)}`, ...thin(run.cumulativeMistakes), color })
    runs.push({ bound, color })
    longest = Math.max(longest, run.cumulativeMistakes.length)
  }
  for (const { bound, color } of runs)
    series.push({ name: `R²/γ² = ${bound.toFixed(0)}`, x: [1, longest], y: [bound, bound], color, dashed: true })
  mistakeCharts.push(
    plot.lineChart({
      series,
      title: `d = ${d}: mistakes against examples seen; dashed: R²/γ²`,
      xLabel: 'examples seen',
      yLabel: 'mistakes so far',
      logY: true,
    }),
  )
}
if (!boundHolds) {
  console.error('a run made more mistakes than R²/γ², or did not converge within ⌊R²/γ²⌋ + 1 epochs')
  process.exitCode = 1
} else console.log('every run converged, with at most R²/γ² mistakes')

// ---------------------------------------------------------------- 2. not separable

const xor = xorData(random.foldIn(root, 2), { n: N })
const noisy = flipLabels(
  random.foldIn(root, 3),
  separableData(random.foldIn(root, 4), { n: N, d: 10, margin: 0.1 }),
  0.1,
)
const nonSeparable: { name: string; run: PerceptronResult }[] = []
for (const [name, data, bias] of [
  ['XOR (d = 2, with bias)', xor, true],
  ['10 % of labels flipped (d = 10)', noisy, false],
] as const)
  nonSeparable.push({
    name,
    run: await perceptron(data.x, data.y, {
      epochs: NON_SEPARABLE_EPOCHS,
      order: random.foldIn(root, 5),
      bias,
      backend,
    }),
  })
console.log(`\nnot separable: mistakes in each epoch (of ${N} examples)`)
console.log(`${pad('epoch', 6)}${nonSeparable.map((s) => pad(s.name, 34)).join('')}`)
const shown = [...new Set([0, 1, 2, 3, 4, NON_SEPARABLE_EPOCHS - 2, NON_SEPARABLE_EPOCHS - 1])].filter(
  (e) => e >= 0 && e < NON_SEPARABLE_EPOCHS,
)
for (const e of shown)
  console.log(`${pad(e + 1, 6)}${nonSeparable.map((s) => pad(s.run.mistakesPerEpoch[e], 34)).join('')}`)
// No hyperplane separates XOR, so every epoch must have a mistake: a theorem, checked in short mode too.
if (Math.min(...nonSeparable[0].run.mistakesPerEpoch) === 0) {
  console.error('an epoch on XOR passed without a mistake')
  process.exitCode = 1
}

// ---------------------------------------------------------------- 3. pictures in the plane

/** Points of the line a·x + b·y + c = 0 inside [−r, r]², as a dotted series. */
function linePoints(a: number, b: number, c: number, r: number, name: string, color: string): ScatterSeries {
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i <= 300; i++) {
    const t = -r + (2 * r * i) / 300
    // Along x where the line is closer to horizontal, along y where it is closer to vertical.
    const steep = Math.abs(b) < Math.abs(a)
    xs.push(steep ? -(b * t + c) / a : t)
    ys.push(steep ? t : -(a * t + c) / b)
  }
  return { name, x: xs, y: ys, color, radius: 1, opacity: 1 }
}
function classes(data: LabelledPoints): ScatterSeries[] {
  const x = data.x.dataSync()
  const y = data.y.dataSync()
  return [1, -1].map((label, i) => {
    const kept = Array.from(y.keys()).filter((j) => y[j] === label)
    return {
      name: `y = ${label > 0 ? '+1' : '−1'}`,
      x: kept.map((j) => x[2 * j]),
      y: kept.map((j) => x[2 * j + 1]),
      color: plot.PALETTE[i],
    }
  })
}
const plane = separableData(random.foldIn(root, 6), { n: shortOr(100, 300), d: 2, margin: 0.1, offset: 0.4 })
const planeRun = await perceptron(plane.x, plane.y, {
  epochs: 1000,
  order: random.foldIn(root, 8),
  bias: true,
  backend,
})
const [w1, w2] = planeRun.w.dataSync()
const [v1, v2] = nonSeparable[0].run.w.dataSync()
const planes = plot.sideBySide([
  scatterChart({
    series: [
      ...classes(plane),
      linePoints(w1, w2, planeRun.b.item(), 2, 'learned w·x + b = 0', '#111'),
      linePoints(plane.u[0], plane.u[1], plane.offset, 2, 'u*·x + c = 0', plot.PALETTE[4]),
    ],
    title: `separable, γ ≥ 0.1: ${planeRun.mistakes} mistakes, ${planeRun.mistakesPerEpoch.length} epochs`,
    xDomain: [-2, 2],
    yDomain: [-2, 2],
    equalAspect: true,
  }),
  scatterChart({
    series: [...classes(xor), linePoints(v1, v2, nonSeparable[0].run.b.item(), 1.2, 'last w·x + b = 0', '#111')],
    title: `XOR: still wrong after ${NON_SEPARABLE_EPOCHS} epochs`,
    xDomain: [-1.2, 1.2],
    yDomain: [-1.2, 1.2],
    equalAspect: true,
  }),
])

// ---------------------------------------------------------------- 4. averaged against plain

const accuracy = (predicted: Tensor, labels: Tensor) => {
  const p = predicted.dataSync()
  const y = labels.dataSync()
  let right = 0
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) right++
  return right / y.length
}
console.log(
  `\naveraged against plain perceptron: d = ${NOISY.d}, ${NOISY.n} training points (γ ≥ 0.05) with labels flipped at random, ` +
    `${NOISY.epochs} epochs, test accuracy on ${NOISY.test} clean points about the same hyperplane, mean over ${NOISY.seeds} seeds`,
)
console.log(`${pad('flipped', 8)}${pad('plain', 10)}${pad('averaged', 10)}`)
const averagedWins: boolean[] = []
for (const rate of [0.05, 0.1, 0.2]) {
  let plain = 0
  let averaged = 0
  for (let s = 0; s < NOISY.seeds; s++) {
    const key = random.foldIn(root, 1000 + s)
    const clean = separableData(random.foldIn(key, 0), { n: NOISY.n, d: NOISY.d, margin: 0.05 })
    const train = flipLabels(random.foldIn(key, 1), clean, rate)
    const test = separableData(random.foldIn(key, 2), { n: NOISY.test, d: NOISY.d, margin: 0, u: clean.u })
    const run = await perceptron(train.x, train.y, {
      epochs: NOISY.epochs,
      order: random.foldIn(key, 3),
      averaged: true,
      stopWhenConverged: false,
      backend,
    })
    plain += accuracy(perceptronPredict(run, test.x), test.y) / NOISY.seeds
    averaged += accuracy(perceptronPredict(run.averaged ?? run, test.x), test.y) / NOISY.seeds
  }
  averagedWins.push(averaged > plain)
  console.log(
    `${pad(`${100 * rate} %`, 8)}${pad(`${(100 * plain).toFixed(1)} %`, 10)}${pad(`${(100 * averaged).toFixed(1)} %`, 10)}`,
  )
}

// ---------------------------------------------------------------- figures

await mkdir(outDir, { recursive: true })
await plot.writeSvg(join(outDir, 'mistakes.svg'), plot.sideBySide(mistakeCharts))
await plot.writeSvg(
  join(outDir, 'non-separable.svg'),
  plot.lineChart({
    series: nonSeparable.map((s) => ({ name: s.name, ...thin(s.run.cumulativeMistakes) })),
    title: `not separable: the mistakes keep growing (${NON_SEPARABLE_EPOCHS} epochs of ${N})`,
    xLabel: 'examples seen',
    yLabel: 'mistakes so far',
  }),
)
await plot.writeSvg(join(outDir, 'planes.svg'), planes)
console.log(`\nwrote ${['mistakes.svg', 'non-separable.svg', 'planes.svg'].map((f) => join(outDir, f)).join(', ')}`)

claim(
  averagedWins.every((w) => w),
  'the averaged perceptron did not beat the plain one on every noise level',
)
