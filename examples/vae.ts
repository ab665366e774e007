/**
 * A variational autoencoder on binarised MNIST (Kingma and Welling 2014):
 * a generative model p(x, z) = p(x|z) p(z), z ~ N(0, I), with a network for
 * the Bernoulli likelihood p(x|z), trained jointly with an encoder q(z|x) =
 * N(μ(x), diag σ²(x)) by maximising the evidence lower bound
 *
 *   log p(x) ≥ F(x, q) = E_q(z|x)[log p(x|z)] − KL[q(z|x) ‖ N(0, I)],
 *   KL = ½ Σ_i (σ_i² + μ_i² − 1 − log σ_i²),   z = μ + σ ⊙ ε, ε ~ N(0, I)
 *
 * (D. Barber, Neural Nets (lecture notes), "Generative Models" and
 * "Variational Inference": "a misnomer since this is not a variational form
 * of an autoencoder – it's a generative model"; Deep Learning, COMP613
 * Advanced Topics in Machine Learning (lecture notes), "Inference in
 * Prescribed Probabilistic Models", "Variational Latent Gaussian models" and
 * "Variational Optimisation": the doubly stochastic estimate, minibatches
 * and Monte Carlo together). Each minibatch is one jitted call: encode,
 * draw ε from the step's key inside the program, decode, the bound, its
 * gradient through the sample (the reparameterisation) and an Adam update.
 *
 * Two models, 784 → 400 (ReLU) → (μ, log σ²) and back: one with a 20-D
 * latent, reported as the test-set negative ELBO in nats and the
 * importance-weighted bounds −L_k for k = 1, 5, 50 (Burda, Grosse and
 * Salakhutdinov 2016: E[L_k] rises with k towards log p(x), so −L_k falls
 * towards −log p(x)); one with a 2-D latent, drawn as a map, as in Barber's
 * figure of handwriting styles over a 2-D z. The digits are the `mnist`
 * package's 10,000 (8,000 training, 1,000 test), binarised once by sampling
 * each pixel from its grey level with a fixed key.
 *
 * Then a teaching table: the gradient of E_q[log p(x|z)] in (μ, log σ²) for
 * one test digit by the reparameterised estimator and by the score function
 * (REINFORCE, Williams 1992: E_q[f(z) ∇ log q(z)]), with and without a
 * baseline: the same mean, variances orders of magnitude apart.
 *
 * Writes out/vae/: curves.svg (train and test −ELBO per epoch),
 * reconstructions.svg (test digits above their reconstructions), samples.svg
 * (decoded draws from the prior), latent-map.svg (decoded z over [−3, 3]²)
 * and latent-scatter.svg (the test digits' μ, coloured by class). Exits 1 in
 * full mode unless the 20-D model's test −ELBO is below 120 nats, the IWAE
 * bounds are ordered −L_1 ≥ −L_5 ≥ −L_50, and the reparameterised gradient
 * has the lower variance. In short mode (examples/lib/short.ts): 256
 * training and 100 test digits, 2 epochs, everything on the CPU.
 *
 *   npx tsx examples/nn.vae.ts [epochs]
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  cpuBackend,
  defaultBackend,
  grad,
  io,
  jit,
  nn,
  ops,
  optim,
  plot,
  random,
  tensor,
  train,
  type Backend,
  type Tensor,
} from '../index.ts'
import { claim, outPath, short, shortOr } from './lib/short.ts'

const PIXELS = 784
const HIDDEN = 400
const BATCH = 100
const epochs = Number(process.argv[2] ?? shortOr(2, 60))
const outDir = outPath('vae')

// ---------------------------------------------------------------- data: binarised once with a fixed key

const all = await io.loadMnist()
const first = <D>(d: D, n: number) => (short() ? train.sliceRows(d, 0, n) : d)
const binarise = (images: Tensor, seed: number) =>
  ops.astype(
    random.bernoulli(random.key(seed), images as Tensor<[number, number], 'f32'>, images.shape as [number, number]),
    'f32',
  )
const trainSet = first(all.train, 256)
const testSet = first(all.test, 100)
const xTrain = binarise(trainSet.images, 101)
const xTest = binarise(testSet.images, 102)
const testLabels = Array.from(testSet.labels.dataSync())
const [nTrain, nTest] = [xTrain.shape[0], xTest.shape[0]]

// Short mode runs on the CPU (the WebGPU programs take longer to compile on a software adapter than the whole
// short run), unless ADJOINT_BACKEND names a backend.
const backend: Backend = short() && !process.env.ADJOINT_BACKEND ? cpuBackend() : await defaultBackend()
console.log(
  `VAE 784-${HIDDEN}-z-${HIDDEN}-784 on binarised MNIST: ${nTrain} training, ${nTest} test digits, batches of ${BATCH}, ${epochs} epochs, on ${backend.name}`,
)

// ---------------------------------------------------------------- training

type Model = ReturnType<typeof nn.vae.vaeModel>
type Params = nn.vae.VaeParams

/** One minibatch: −mean ELBO, its gradient through the reparameterised sample, an Adam step; ε drawn from `key`. */
function trainingStep(model: Model, opt: optim.Optimiser<optim.FirstOrderState>, on: Backend) {
  const loss = (p: Params, x: Tensor, key: random.Key) => ops.neg(ops.mean(nn.vae.elbo(key, model, p, x)))
  return jit(
    (p: Params, s: optim.FirstOrderState, x: Tensor, key: random.Key) => {
      const [next, state] = opt.update(grad(loss)(p, x, key), s, p) as [Params, optim.FirstOrderState]
      return [next, state, loss(p, x, key)] as const
    },
    { backend: on, donateArgnums: [0, 1] },
  )
}

/** Mean over `x` of a bound, from a jitted function giving its mean over `chunk` rows (a divisor of the row count). */
async function meanBound(x: Tensor, chunk: number, bound: (rows: Tensor) => Promise<Tensor>): Promise<number> {
  return train.meanOverBatches(x, chunk, bound)
}
/** The mean over the rows of a per-example bound, as a scalar (inside jit: no per-example values come back). */
const meanOf = (perExample: Tensor) => ops.mean(perExample as Tensor<[number]>)
const chunkOf = (n: number, most: number) => {
  let c = Math.min(n, most)
  while (n % c !== 0) c--
  return c
}

interface Trained {
  readonly model: Model
  readonly params: Params
  readonly trainCurve: number[]
  readonly testCurve: number[]
  readonly stepsPerSecond: number
}

async function trainVae(latent: number): Promise<Trained> {
  const model = nn.vae.vaeModel({ input: PIXELS, hidden: HIDDEN, latent })
  const opt = optim.adam({ lr: 1e-3 })
  const step = trainingStep(model, opt, backend)
  const testElbo = jit((p: Params, x: Tensor, key: random.Key) => meanOf(nn.vae.elbo(key, model, p, x)), { backend })
  let params = model.init(random.key(latent))
  let state = opt.init(params)
  const [trainCurve, testCurve] = [[] as number[], [] as number[]]
  let [steps, seconds] = [0, 0]
  console.log(`\nlatent ${latent}: −ELBO in nats per digit (train: mean over the epoch's minibatches)`)
  console.log('epoch     train      test   steps/s')
  for (let epoch = 0; epoch < epochs; epoch++) {
    const losses: Tensor[] = []
    const started = performance.now()
    for (const rows of train.epochBatches(random.foldIn(random.key(7), epoch), nTrain, BATCH)) {
      const out = await step(params, state, train.takeRows(xTrain, rows), random.foldIn(random.key(8), steps++))
      ;[params, state] = [out[0], out[1]]
      losses.push(out[2])
    }
    const values = await Promise.all(losses.map(async (l) => (await l.data())[0]))
    const elapsed = (performance.now() - started) / 1000
    // The first epoch's time includes compiling the step.
    if (epoch > 0 || epochs === 1) seconds += elapsed
    const perSecond = values.length / elapsed
    trainCurve.push(values.reduce((a, b) => a + b, 0) / values.length)
    const p = params
    testCurve.push(-(await meanBound(xTest, chunkOf(nTest, 500), (x) => testElbo(p, x, random.key(9)))))
    console.log(
      `${String(epoch + 1).padStart(5)} ${trainCurve[epoch].toFixed(2).padStart(9)} ${testCurve[epoch].toFixed(2).padStart(9)} ${perSecond.toFixed(1).padStart(9)}${epoch === 0 ? '   (compiling included)' : ''}`,
    )
  }
  const timedEpochs = epochs === 1 ? 1 : epochs - 1
  return {
    model,
    params,
    trainCurve,
    testCurve,
    stepsPerSecond: (timedEpochs * Math.floor(nTrain / BATCH)) / seconds,
  }
}

const z20 = await trainVae(20)
const z2 = await trainVae(2)

// ---------------------------------------------------------------- bounds on the test digits

const K = [1, 5, 50] as const
const testChunk = chunkOf(nTest, 100)
const bounds: Record<string, number> = {}
// −ELBO with 10 samples of z per digit (the Monte Carlo error of the expectation averaged down), then −L_k.
const elbo10 = jit(
  (p: Params, x: Tensor, key: random.Key) => meanOf(nn.vae.elbo(key, z20.model, p, x, { samples: 10 })),
  {
    backend,
  },
)
bounds.elbo = -(await meanBound(xTest, testChunk, (x) => elbo10(z20.params, x, random.key(10))))
for (const k of K) {
  const bound = jit((p: Params, x: Tensor, key: random.Key) => meanOf(nn.vae.iwae(key, z20.model, p, x, k)), {
    backend,
  })
  bounds[`k${k}`] = -(await meanBound(xTest, testChunk, (x) => bound(z20.params, x, random.key(11 + k))))
}
console.log(`\ntest digits (${nTest}), latent 20: bounds on −log p(x) in nats per digit`)
console.log('bound                         nats')
console.log(`−ELBO (10 samples of z)   ${bounds.elbo.toFixed(2).padStart(8)}`)
for (const k of K)
  console.log(
    `−L_${String(k).padEnd(2)} (IWAE, k = ${String(k).padEnd(2)})   ${bounds[`k${k}`].toFixed(2).padStart(8)}`,
  )
console.log(`latent 2: test −ELBO ${z2.testCurve.at(-1)?.toFixed(2)} nats`)

// ---------------------------------------------------------------- speed: one training step, CPU and the default backend

const speeds: [string, number][] = [[`${backend.name.split(':')[0]} (training above)`, z20.stepsPerSecond]]
if (!short() && backend.name !== 'cpu') {
  // The same step on the CPU interpreter, timed over a few calls after one to compile.
  const cpu = cpuBackend()
  const opt = optim.adam({ lr: 1e-3 })
  const step = trainingStep(z20.model, opt, cpu)
  const x = train.sliceRows(xTrain, 0, BATCH)
  let [p, s] = [z20.model.init(random.key(0)), opt.init(z20.model.init(random.key(0)))]
  const run = async (i: number) => {
    const out = await step(p, s, x, random.key(i))
    ;[p, s] = [out[0], out[1]]
    await out[2].data()
  }
  await run(0)
  const calls = 5
  const started = performance.now()
  for (let i = 1; i <= calls; i++) await run(i)
  speeds.push(['cpu', calls / ((performance.now() - started) / 1000)])
}
console.log(`\none training step (batch ${BATCH}, latent 20), after compiling`)
for (const [name, v] of speeds) console.log(`  ${name.padEnd(26)} ${v.toFixed(2).padStart(7)} steps/s`)
if (speeds.length === 1) console.log('  (one backend here; full mode on WebGPU times the CPU interpreter too)')

// ---------------------------------------------------------------- reparameterised against score-function gradients

/**
 * For one test digit x with q(z|x) = N(μ, σ²) from the trained encoder, the
 * gradient of E_q[log p(x|z)] in (μ, log σ²), from S single-sample
 * estimates: the reparameterisation ∇_φ log p(x | μ + σε), and the score
 * function log p(x|z) ∇_φ log q(z), plain and with a leave-one-out baseline
 * (f(z_s) minus the mean of the other samples' f, which keeps it unbiased).
 */
const S = shortOr(200, 4000)
const digit = train.sliceRows(xTest, 0, 1)
const estimators = jit(
  (p: Params, x: Tensor, key: random.Key) => {
    const q = z20.model.encode(p, x)
    // (μ, log σ²) tiled to one row per sample: the gradient of a sum over samples holds each sample's gradient in its row.
    const [mu, logVar] = [q.mu, q.logVar].map((t) => ops.broadcastTo(t as Tensor<[1, number]>, [S, 20]))
    const f = (z: Tensor) => nn.vae.bernoulliLogLikelihood(z20.model.decode(p, z), x)
    const reparameterised = grad((m: Tensor, v: Tensor) => ops.sum(f(nn.vae.reparameterize(key, m, v))), {
      argnums: [0, 1],
    })(mu, logVar)
    const z = ops.stopGradient(nn.vae.reparameterize(key, mu, logVar))
    const fz = ops.stopGradient(f(z))
    const scoreOf = (weights: Tensor) =>
      grad((m: Tensor, v: Tensor) => ops.sum(ops.mul(weights, nn.vae.gaussianLogDensity(z, m, v))), {
        argnums: [0, 1],
      })(mu, logVar)
    const leaveOneOut = ops.div(ops.sub(ops.sum(fz), fz), S - 1)
    return [reparameterised, scoreOf(fz), scoreOf(ops.sub(fz, leaveOneOut))] as const
  },
  { backend },
)
const rows = await estimators(z20.params, digit, random.key(12))
type Stats = { mean: number[]; se: number[]; variance: number }
const statsOf = async ([gm, gv]: readonly [Tensor, Tensor]): Promise<Stats> => {
  const g = [await gm.data(), await gv.data()]
  const mean: number[] = []
  const se: number[] = []
  let variance = 0
  for (const block of g)
    for (let i = 0; i < 20; i++) {
      let [m, m2] = [0, 0]
      for (let s = 0; s < S; s++) m += block[s * 20 + i] / S
      for (let s = 0; s < S; s++) m2 += (block[s * 20 + i] - m) ** 2 / (S - 1)
      mean.push(m)
      se.push(Math.sqrt(m2 / S))
      variance += m2
    }
  return { mean, se, variance }
}
const [rep, score, baseline] = await Promise.all(rows.map((r) => statsOf(r as readonly [Tensor, Tensor])))
const fmt = (st: Stats, i: number) => `${st.mean[i].toFixed(2).padStart(8)} ± ${st.se[i].toFixed(2).padEnd(6)}`
console.log(
  `\n∇ E_q[log p(x|z)] for test digit 0 in (μ, log σ²), ${S} single-sample estimates each (per-sample variance summed over the 40 coordinates)`,
)
console.log('estimator                    ∂/∂μ₁             ∂/∂log σ₁²        variance   × reparameterised')
for (const [name, st] of [
  ['reparameterised', rep],
  ['score function', score],
  ['score function, baseline', baseline],
] as const)
  console.log(
    `${name.padEnd(26)} ${fmt(st, 0)} ${fmt(st, 20)} ${st.variance.toExponential(2).padStart(10)} ${(st.variance / rep.variance).toFixed(0).padStart(10)}`,
  )
// Agreement of the means, in standard errors of the difference, over all 40 coordinates.
const worstGap = (a: Stats, b: Stats) =>
  Math.max(...a.mean.map((m, i) => Math.abs(m - b.mean[i]) / Math.hypot(a.se[i], b.se[i])))
console.log(
  `largest gap between the means over the 40 coordinates: score function ${worstGap(rep, score).toFixed(2)}, with baseline ${worstGap(rep, baseline).toFixed(2)} standard errors`,
)

// ---------------------------------------------------------------- pictures

await mkdir(outDir, { recursive: true })
const show = 10
const imagesOf = async (t: Tensor, n: number): Promise<Float32Array[]> => {
  const v = (await t.data()) as Float32Array
  return Array.from({ length: n }, (_, i) => v.slice(i * PIXELS, (i + 1) * PIXELS))
}
const probabilities = jit((p: Params, z: Tensor) => ops.sigmoid(z20.model.decode(p, z) as Tensor<[number, number]>), {
  backend,
})
const reconstruct = jit(
  (p: Params, x: Tensor) => ops.sigmoid(z20.model.decode(p, z20.model.encode(p, x).mu) as Tensor<[number, number]>),
  { backend },
)
const encodeMean2 = jit((p: Params, x: Tensor) => z2.model.encode(p, x).mu, { backend })
const originals = train.sliceRows(xTest, 0, show)
const reconstructions = await reconstruct(z20.params, originals)
await plot.writeSvg(
  join(outDir, 'reconstructions.svg'),
  plot.imageGrid({
    images: [...(await imagesOf(originals, show)), ...(await imagesOf(reconstructions, show))],
    height: 28,
    width: 28,
    columns: show,
    domain: [0, 1],
    title: 'test digits (top) and p(x | z = μ(x)) (bottom), latent 20',
  }),
)
const prior = await probabilities(z20.params, random.normal(random.key(13), [64, 20]))
await plot.writeSvg(
  join(outDir, 'samples.svg'),
  plot.imageGrid({
    images: await imagesOf(prior, 64),
    height: 28,
    width: 28,
    columns: 8,
    domain: [0, 1],
    levels: 16,
    title: 'p(x|z) for z ~ N(0, I), latent 20',
  }),
)
const side = 15
const gridZ = Array.from({ length: side * side }, (_, g) => [
  -3 + (6 * (g % side)) / (side - 1),
  3 - (6 * Math.floor(g / side)) / (side - 1),
])
const decode2 = jit((p: Params, z: Tensor) => ops.sigmoid(z2.model.decode(p, z) as Tensor<[number, number]>), {
  backend,
})
await plot.writeSvg(
  join(outDir, 'latent-map.svg'),
  plot.imageGrid({
    images: await imagesOf(await decode2(z2.params, tensor(gridZ)), side * side),
    height: 28,
    width: 28,
    columns: side,
    pixel: 2,
    gap: 0,
    domain: [0, 1],
    levels: 16,
    title: 'p(x|z) over z ∈ [−3, 3]² (z₁ left to right, z₂ bottom to top)',
  }),
)
const means2 = (await (await encodeMean2(z2.params, xTest)).data()) as Float32Array
await plot.writeSvg(
  join(outDir, 'latent-scatter.svg'),
  plot.scatterChart({
    series: Array.from({ length: 10 }, (_, c) => {
      const of = testLabels.flatMap((l, i) => (l === c ? [i] : []))
      return { name: String(c), x: of.map((i) => means2[2 * i]), y: of.map((i) => means2[2 * i + 1]) }
    }),
    title: 'μ(x) of the test digits, latent 2',
    xLabel: 'μ₁',
    yLabel: 'μ₂',
    equalAspect: true,
  }),
)
const epochAxis = Array.from({ length: epochs }, (_, i) => i + 1)
await plot.writeSvg(
  join(outDir, 'curves.svg'),
  plot.lineChart({
    series: [
      { name: 'latent 20, train', x: epochAxis, y: z20.trainCurve, color: plot.PALETTE[0] },
      { name: 'latent 20, test', x: epochAxis, y: z20.testCurve, color: plot.PALETTE[0], dashed: true },
      { name: 'latent 2, train', x: epochAxis, y: z2.trainCurve, color: plot.PALETTE[2] },
      { name: 'latent 2, test', x: epochAxis, y: z2.testCurve, color: plot.PALETTE[2], dashed: true },
    ],
    title: '−ELBO per digit',
    xLabel: 'epoch',
    yLabel: 'nats',
  }),
)
for (const name of ['curves', 'reconstructions', 'samples', 'latent-map', 'latent-scatter'])
  console.log(`wrote ${join(outDir, `${name}.svg`)}`)

const finalTest = z20.testCurve.at(-1) ?? Number.NaN
claim(finalTest < 120, `the 20-D model's test −ELBO is ${finalTest.toFixed(2)} nats, not below 120`)
claim(
  Math.abs(bounds.elbo - bounds.k1) < 1 && bounds.k1 > bounds.k5 && bounds.k5 > bounds.k50,
  `the bounds are not ordered −ELBO ≈ −L_1 > −L_5 > −L_50: ${[bounds.elbo, ...K.map((k) => bounds[`k${k}`])].map((b) => b.toFixed(2)).join(', ')}`,
)
claim(
  rep.variance < score.variance && rep.variance < baseline.variance,
  'the reparameterised gradient does not have the lower variance',
)
