/**
 * Restricted Boltzmann machines (A. Martins, Deep Learning: A Shallow
 * Tutorial, NLPL Winter School 2018, section "Generative Models":
 * "Restricted Boltzmann Machines"; Neural Networks II (lecture notes),
 * section "Dynamic neural networks"): binary visible units v and hidden
 * units h with energy E(v, h) = −vᵀWh − bᵀv − cᵀh, trained by contrastive
 * divergence (Hinton 2002) and persistent contrastive divergence
 * (Tieleman 2008). Two parts:
 *
 * 1. CD-k against the exact gradient. On an 8 × 5 machine small enough to
 *    enumerate (2^5 hidden states, the visible layer summed out in closed
 *    form), the CD-k estimate of the log-likelihood gradient, averaged over
 *    4,096 chains, is compared with the exact gradient for k from 1 to 100:
 *    the bias of CD-1 falls with k until what is left is Monte Carlo noise,
 *    the level of an estimate from 4,096 exact samples of the model (drawn
 *    by enumeration), shown dashed. Printed as a table and drawn on log axes
 *    (out/rbm/cd-k.svg). Exits 1 unless ‖CD-100 − exact‖ < ‖CD-1 − exact‖/10.
 *
 * 2. MNIST. The `mnist` package's 8,000 training digits, binarised at 0.5,
 *    train a 784 × 128 RBM with CD-1 and another with PCD-1 (100 persistent
 *    chains), each minibatch one jitted call (Gibbs step, statistics,
 *    momentum update: one submission on WebGPU). Prints the reconstruction
 *    error per epoch (‖v − p(v | p(h|v))‖² per digit, on the training
 *    batches and on the 1,000 test digits), the steps per second on the
 *    default backend and on the CPU interpreter, and writes the learned
 *    filters (columns of W as 28 × 28 images, out/rbm/filters.svg) and
 *    Gibbs chains started at test digits, shown after 0, 10, 100 and 1,000
 *    steps (out/rbm/samples.svg): CD-1's chains tend to settle in one mode,
 *    PCD's keep moving between digits (Tieleman's point). Exits 1 unless the test
 *    reconstruction error falls below half the untrained model's.
 *
 * In short mode (examples/lib/short.ts): 512 digits, 16 hidden units, one
 * epoch on the CPU, 128 chains for part 1.
 *
 *   npx tsx examples/energy.rbm.ts [epochs]
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  cpuBackend,
  defaultBackend,
  energy,
  io,
  jit,
  ops,
  plot,
  random,
  tensor,
  train,
  type Backend,
  type Tensor,
} from '../index.ts'

const { imageGrid } = plot
import { claim, outPath, short, shortOr } from './lib/short.ts'

const outDir = outPath('rbm')
await mkdir(outDir, { recursive: true })
const written: string[] = []
async function write(name: string, svg: string): Promise<void> {
  await plot.writeSvg(join(outDir, name), svg)
  written.push(join(outDir, name))
}
/** A batch of binary rows [B, n]. */
type Batch = Tensor<[number, number]>
const fixed = (x: number, d = 4) => x.toFixed(d)
const pad = (s: string, n: number) => s.padStart(n)

// ================================================================ 1. CD-k against the exact gradient

const V = 8
const H = 5
const REPEATS = shortOr(8, 256) // chains per data vector
const KS = shortOr([1, 3, 10, 30], [1, 2, 3, 5, 10, 20, 50, 100])

// W ~ N(0, 2²): couplings strong enough that the chain mixes slowly and CD-1 is far from the exact gradient.
const [kw, kb, kc, kd] = random.split(random.key(2002), 4)
const small: energy.rbm.Params = {
  W: random.normal(kw, [V, H], { stddev: 2, dtype: 'f64' }),
  b: random.normal(kb, [V], { stddev: 0.5, dtype: 'f64' }),
  c: random.normal(kc, [H], { stddev: 0.5, dtype: 'f64' }),
}
// 16 vectors: two prototypes, each bit flipped with probability 0.1.
const prototypes = [
  [1, 1, 1, 1, 0, 0, 0, 0],
  [0, 0, 1, 1, 1, 1, 0, 0],
]
const flips = random.uniform(kd, [16, V]).dataSync()
const rows = Array.from({ length: 16 }, (_, n) => prototypes[n % 2].map((x, i) => (flips[n * V + i] < 0.1 ? 1 - x : x)))
const data = tensor(rows, { dtype: 'f64' })
const replicated = tensor(Array.from({ length: REPEATS }, () => rows).flat(), { dtype: 'f64' })
const chainCount = 16 * REPEATS

const exact = energy.rbm.exactGradient(small, data)
const flat = (g: energy.rbm.Params) => [g.W, g.b, g.c].flatMap((t) => Array.from(t.dataSync()))
const exactFlat = flat(exact)
const distance = (g: energy.rbm.Params) => Math.hypot(...flat(g).map((x, i) => x - exactFlat[i]))

const cpu = cpuBackend()
const cdErrors: number[] = []
for (const k of KS) {
  const estimate = jit((key: random.Key, p: energy.rbm.Params, v: Batch) => energy.rbm.cdGradient(key, p, v, k), {
    backend: cpu,
  })
  cdErrors.push(distance(await estimate(random.key(7), small, replicated)))
}
// The Monte Carlo floor: the same statistics from as many exact samples of the model, drawn from p(v) by
// enumerating the 2^8 visible states.
const states = energy.rbm.allStates(V)
const logProbs = ops.neg(energy.rbm.freeEnergy(small, states))
const drawn = random.categorical(random.key(8), logProbs, { shape: [chainCount] })
const floor = distance(energy.rbm.contrastiveStatistics(small, data, ops.take(states, drawn) as Batch))

console.log(
  `CD-k against the exact gradient: ${V} visible × ${H} hidden, ${chainCount} chains started at 16 data vectors`,
)
console.log(
  `‖exact gradient‖ = ${fixed(Math.hypot(...exactFlat))}; exact model samples (${chainCount}): ${fixed(floor)}`,
)
console.log(`${pad('k', 5)}  ${pad('‖CD-k − exact‖', 16)}  ${pad('relative', 9)}`)
KS.forEach((k, i) =>
  console.log(`${pad(String(k), 5)}  ${pad(fixed(cdErrors[i]), 16)}  ${pad(fixed(cdErrors[i] / cdErrors[0], 3), 9)}`),
)
const last = cdErrors[cdErrors.length - 1]
claim(
  last < 0.1 * cdErrors[0],
  `‖CD-${KS[KS.length - 1]} − exact‖ = ${fixed(last)} is not below a tenth of CD-1's ${fixed(cdErrors[0])}`,
)
const logK = KS.map((k) => Math.log10(k))
await write(
  'cd-k.svg',
  plot.lineChart({
    title: `CD-k approaches the exact gradient (${V}×${H} RBM, ${chainCount} chains)`,
    xLabel: 'log₁₀ k (Gibbs steps)',
    yLabel: '‖CD-k − exact gradient‖',
    logY: true,
    series: [
      { name: 'CD-k', x: logK, y: cdErrors },
      { name: 'exact model samples', x: [logK[0], logK[logK.length - 1]], y: [floor, floor], dashed: true },
    ],
  }),
)

// ================================================================ 2. MNIST

const HIDDEN = shortOr(16, 128)
const BATCH = shortOr(32, 100)
const EPOCHS = Number(process.argv[2] ?? shortOr(1, 15))
const CHAINS = 100 // persistent chains of PCD
const backend: Backend = short() ? cpu : await defaultBackend()

const all = await io.loadMnist()
const first = <D>(d: D, n: number) => (short() ? train.sliceRows(d, 0, n) : d)
const binary = (x: Tensor) => ops.astype(ops.greater(x, 0.5), 'f32') as Tensor<[number, 784]>
const trainImages = binary(first(all.train, 512).images)
const testImages = binary(first(all.test, 256).images)
const n = trainImages.shape[0]
console.log(
  `\nMNIST: ${n} training and ${testImages.shape[0]} test digits, binarised; RBM 784 × ${HIDDEN} on ${backend.name}`,
)

// W ~ N(0, 0.01²), c = 0, and b at the log-odds of each pixel being on (Hinton's practical guide, 2010).
const on = ops.mean(trainImages, 0)
const clipped = ops.minimum(ops.maximum(on, 0.01), 0.99)
const initial = {
  ...energy.rbm.init(random.key(1), 784, HIDDEN, { scale: 0.01 }),
  b: ops.log(ops.div(clipped, ops.sub(1, clipped))),
} as energy.rbm.Params

const options = { k: 1, lr: 0.05, momentum: 0.5, weightDecay: 1e-4 }
const cdStep = jit(energy.rbm.cdStep(options), { backend, donateArgnums: [0, 1] })
const pcdStep = jit(energy.rbm.pcdStep(options), { backend, donateArgnums: [0, 1, 2] })
const testError = jit((p: energy.rbm.Params, v: Batch) => energy.rbm.reconstructionError(p, v), { backend })
const scalar = async (t: Tensor) => (await t.data())[0]

type Run = { params: energy.rbm.Params; velocity: energy.rbm.Params; chains: Batch }
const runs: Record<'CD-1' | 'PCD-1', Run> = {
  'CD-1': { params: initial, velocity: energy.rbm.initVelocity(initial), chains: ops.zeros([0, 784]) as Batch },
  'PCD-1': {
    params: initial,
    velocity: energy.rbm.initVelocity(initial),
    chains: ops.astype(random.bernoulli(random.key(3), 0.5, [CHAINS, 784]), 'f32') as Batch,
  },
}
const untrainedError = await scalar(await testError(initial, testImages))
console.log(`test reconstruction error before training: ${fixed(untrainedError, 2)}`)

/** The backend's kind, without the adapter's description. */
const label = (b: Backend) => b.name.split(' ')[0]
const rate: Record<string, number> = {}
const history: Record<string, number[]> = { 'CD-1': [], 'PCD-1': [] }
for (const name of ['CD-1', 'PCD-1'] as const) {
  const run = runs[name]
  console.log(
    `\n${name}: ${pad('epoch', 5)}  ${pad('train error', 11)}  ${pad('test error', 10)}  ${pad('steps/s', 8)}`,
  )
  let step = 0
  let [timedSteps, timedSeconds] = [0, 0]
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const batches = train.epochBatches(random.foldIn(random.key(4), epoch), n, BATCH)
    let timed = 0
    let started = performance.now()
    const errors: Tensor[] = []
    for (const [i, indices] of batches.entries()) {
      const v = train.takeRows(trainImages, indices)
      const key = random.foldIn(random.key(5), step++)
      let error: Tensor
      if (name === 'CD-1') [run.params, run.velocity, error] = await cdStep(run.params, run.velocity, key, v)
      else [run.params, run.velocity, run.chains, error] = await pcdStep(run.params, run.velocity, run.chains, key, v)
      errors.push(error)
      if (epoch === 1 && i === 0) {
        // The first call compiles: time from the second on.
        await error.data()
        started = performance.now()
      } else timed++
    }
    let sum = 0
    for (const e of errors) sum += await scalar(e)
    const seconds = (performance.now() - started) / 1000
    ;[timedSteps, timedSeconds] = [timedSteps + timed, timedSeconds + seconds]
    const test = await scalar(await testError(run.params, testImages))
    history[name].push(test)
    console.log(
      `${' '.repeat(name.length + 2)}${pad(String(epoch), 5)}  ${pad(fixed(sum / batches.length, 2), 11)}  ${pad(fixed(test, 2), 10)}  ${pad(timed > 0 ? (timed / seconds).toFixed(1) : '-', 8)}`,
    )
  }
  if (timedSteps > 0) rate[`${name} on ${label(backend)}`] = timedSteps / timedSeconds
  const final = history[name][history[name].length - 1]
  claim(
    final < untrainedError / 2,
    `${name}: the test reconstruction error ${fixed(final, 2)} is not below half the untrained ${fixed(untrainedError, 2)}`,
  )
}
if (label(backend) === 'webgpu') {
  const run = runs['CD-1']
  const v = train.sliceRows(trainImages, 0, BATCH)
  const { submissions, dispatches } = (await cdStep.compiled(run.params, run.velocity, random.key(0), v)).stats()
  console.log(`one CD-1 step on WebGPU: ${submissions} submission(s), ${dispatches} dispatches`)
}

// Steps per second of the same CD-1 step on the CPU interpreter, for comparison (a few steps).
if (label(backend) !== label(cpu)) {
  const cpuStep = jit(energy.rbm.cdStep(options), { backend: cpu })
  const v = train.sliceRows(trainImages, 0, BATCH)
  let [p, velocity] = [initial, energy.rbm.initVelocity(initial)]
  ;[p, velocity] = await cpuStep(p, velocity, random.key(6), v)
  const started = performance.now()
  const STEPS = 10
  for (let i = 0; i < STEPS; i++) [p, velocity] = await cpuStep(p, velocity, random.foldIn(random.key(6), i), v)
  await p.W.data()
  rate[`CD-1 on ${label(cpu)}`] = STEPS / ((performance.now() - started) / 1000)
}
console.log(`\nsteps per second (batch ${BATCH}, 784 × ${HIDDEN}, one jitted call per step, compilation excluded):`)
for (const [what, r] of Object.entries(rate)) console.log(`  ${what.padEnd(16)} ${r.toFixed(1)}`)
if (short()) console.log('  (short mode runs on the CPU only; the full run times the default backend and the CPU)')

// ---------------------------------------------------------------- pictures

const columnsOf = async (w: Tensor, count: number): Promise<Float32Array[]> => {
  const values = (await w.data()) as Float32Array
  const cols = w.shape[1]
  return Array.from({ length: Math.min(count, cols) }, (_, j) =>
    Float32Array.from({ length: 784 }, (_, i) => values[i * cols + j]),
  )
}
const FILTERS = shortOr(16, 64)
await write(
  'filters.svg',
  plot.sideBySide(
    await Promise.all(
      (['CD-1', 'PCD-1'] as const).map(async (name) =>
        imageGrid({
          images: await columnsOf(runs[name].params.W, FILTERS),
          height: 28,
          width: 28,
          columns: 8,
          pixel: 2,
          colors: 'diverging',
          normalize: 'each',
          title: `${name}: first ${FILTERS} filters (columns of W)`,
        }),
      ),
    ),
    { title: `RBM 784 × ${HIDDEN} on binarised MNIST` },
  ),
)

// Gibbs chains started at test digits, 10 steps per call, drawn as p(v | h) with h = p(h | v).
const SAMPLES = 10
const SNAPSHOTS = shortOr([0, 10, 20], [0, 10, 100, 1000])
const advance = jit((p: energy.rbm.Params, key: random.Key, v: Batch) => energy.rbm.gibbs(key, p, v, 10), { backend })
const show = jit((p: energy.rbm.Params, v: Batch) => energy.rbm.visibleProbs(p, energy.rbm.hiddenProbs(p, v)), {
  backend,
})
const panels: string[] = []
for (const name of ['CD-1', 'PCD-1'] as const) {
  const p = runs[name].params
  let v: Batch = train.sliceRows(testImages, 0, SAMPLES)
  const images: Float32Array[] = []
  const labels: string[] = []
  const lastStep = SNAPSHOTS[SNAPSHOTS.length - 1]
  for (let t = 0; t <= lastStep; t += 10) {
    if (SNAPSHOTS.includes(t)) {
      const shown = (await (await show(p, v)).data()) as Float32Array
      for (let s = 0; s < SAMPLES; s++) {
        images.push(shown.slice(s * 784, (s + 1) * 784))
        labels.push(s === 0 ? `step ${t}` : '')
      }
    }
    if (t < lastStep) v = await advance(p, random.foldIn(random.key(9), t), v)
  }
  panels.push(
    imageGrid({
      images,
      labels,
      height: 28,
      width: 28,
      columns: SAMPLES,
      pixel: 2,
      domain: [0, 1],
      title: `${name}: Gibbs chains from test digits`,
    }),
  )
}
await write(
  'samples.svg',
  plot.sideBySide(panels, {
    title: `rows: the chains after ${SNAPSHOTS.join(', ')} Gibbs steps, drawn as p(v | h = p(h | v))`,
  }),
)
for (const f of written) console.log(`wrote ${f}`)
