/**
 * Generative adversarial networks (Goodfellow et al. 2014; Deep Learning,
 * COMP613 Advanced Topics in Machine Learning (lecture notes), "Learning in
 * Implicit Probabilistic Models": "Adversarial Learning"; A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Generative
 * Models": "Generative Adversarial Networks"). A generator G maps noise
 * z ~ N(0, I) to samples; a discriminator D(x) = σ(logit(x)) is trained to
 * tell them from the data (L_D = −E log D(x) − E log(1 − D(G(z)))) and G to
 * fool it (the non-saturating L_G = −E log D(G(z))). Each training step (a D
 * update, then a G update, the noise drawn in-program) is one jitted call
 * (src/nn/gan.ts `ganStep`; one submission on WebGPU). Three parts:
 *
 * 1. The optimal discriminator (Goodfellow et al. 2014, Proposition 1). In
 *    1-D, with the generator fixed at p_g = N(1, 1) and p_data = N(−1, 0.5²),
 *    a discriminator (an MLP 1-32-32-1) trained alone approaches
 *    D*(x) = p_data(x)/(p_data(x) + p_g(x)), the density ratio of the COMP613
 *    notes (p*(x)/q(x) = D(x)/(1 − D(x))) solved for D. Prints the mean |D − D*| on the
 *    grid where both densities exceed 0.02, and draws D against D*
 *    (out/gan/optimal-discriminator.svg). Exits 1 unless the error < 0.05.
 *
 * 2. A ring of 8 Gaussians (radius 2, σ = 0.05), with MLPs G: 16-128-128-2
 *    and D: 2-128-128-1 trained with Adam. Every few hundred steps, from
 *    2,000 generated samples: the modes covered (a mode is covered when at
 *    least 1 % of the samples lie within 3σ of it) and the quality (the share
 *    of samples within 3σ of some mode). Draws the real and generated clouds
 *    at a few points of training (out/gan/ring.svg) and the two figures over
 *    the steps (out/gan/ring-progress.svg). GANs are known to drop modes
 *    ("mode collapse"); this run reports what it gets, and exits 1 only
 *    unless at least 4 modes are covered with quality above 50 %.
 *
 * 3. MNIST: a fully connected GAN (G: 64-256-784 with tanh output, pixels
 *    scaled to [−1, 1]; D: 784-256-1 with leaky ReLU; Adam(1e-3, β₁ = 0.5),
 *    batch 64) for 15 epochs (1,875 steps; about two minutes on WebGPU) on
 *    the `mnist` package's 8,000 training digits; prints the losses and the
 *    mean D(x) on 1,000 training digits per epoch, and writes a grid of
 *    samples (out/gan/mnist-samples.svg).
 *
 * Each part prints the steps per second on the backend it trains on (the
 * default backend: WebGPU where an adapter exists) and on the CPU
 * interpreter. In short mode (examples/lib/short.ts): tiny networks and a
 * few steps, on the CPU.
 *
 *   npx tsx examples/gan.ts [MNIST epochs]
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  cpuBackend,
  defaultBackend,
  io,
  jit,
  nn,
  ops,
  optim,
  plot,
  random,
  tensor,
  train,
  valueAndGrad,
  type Backend,
  type Tensor,
} from '../index.ts'

const { discriminatorLoss, ganStep, optimalDiscriminator } = nn
import { claim, outPath, short, shortOr } from './lib/short.ts'

const outDir = outPath('gan')
await mkdir(outDir, { recursive: true })
const written: string[] = []
async function write(name: string, svg: string): Promise<void> {
  await plot.writeSvg(join(outDir, name), svg)
  written.push(join(outDir, name))
}
const pad = (s: string | number, n: number) => String(s).padStart(n)
const cpu = cpuBackend()
const backend: Backend = short() ? cpu : await defaultBackend()
/** The backend's kind, without the adapter's description. */
const label = (b: Backend) => b.name.split(' ')[0]
const rates: { what: string; on: string; rate: number }[] = []

/**
 * Steps per second of `step` called `count` times on the state it returns (its first four outputs), the
 * first call (compilation) not timed; `fresh` builds the state, which the step donates; `extra` follows the key.
 */
async function timeSteps(
  step: (...args: any[]) => Promise<unknown[]>,
  fresh: () => unknown[],
  count: number,
  extra: unknown[] = [],
): Promise<number> {
  let state = fresh()
  const run = async (i: number) => {
    state = (await step(...state, random.foldIn(random.key(99), i), ...extra)).slice(0, state.length)
  }
  await run(0)
  await readAll(state)
  const started = performance.now()
  for (let i = 1; i <= count; i++) await run(i)
  await readAll(state)
  return count / ((performance.now() - started) / 1000)
}
/** Waits for every tensor in a pytree of arrays and records to be computed. */
async function readAll(t: unknown): Promise<void> {
  if (t && typeof t === 'object' && 'data' in t && typeof (t as Tensor).data === 'function') {
    await (t as Tensor).data()
    return
  }
  if (Array.isArray(t)) for (const x of t) await readAll(x)
  else if (t && typeof t === 'object') for (const x of Object.values(t)) await readAll(x)
}

// ================================================================ 1. the optimal discriminator

{
  const normalDensity = (m: number, s: number) => (x: number) =>
    Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI))
  const pData = normalDensity(-1, 0.5)
  const pG = normalDensity(1, 1)
  const HIDDEN = shortOr(16, 32)
  const STEPS = shortOr(150, 1500)
  const BATCH = 256
  const D = nn.sequential(nn.dense(1, HIDDEN), nn.tanh, nn.dense(HIDDEN, HIDDEN), nn.tanh, nn.dense(HIDDEN, 1))
  type P = nn.ParamsOf<typeof D>
  const opt = optim.adam({ lr: shortOr(0.01, 3e-3) })
  const step = jit(
    (p: P, s: optim.FirstOrderState, key: random.Key) => {
      const [kd, kg] = random.split(key, 2)
      const real = random.normal(kd, [BATCH, 1], { mean: -1, stddev: 0.5 })
      const fake = random.normal(kg, [BATCH, 1], { mean: 1, stddev: 1 })
      const [loss, g] = valueAndGrad((q: P) => discriminatorLoss(D.apply(q, real), D.apply(q, fake)))(p)
      return [...opt.update(g, s, p), loss] as const
    },
    { backend: cpu, donateArgnums: [0, 1] },
  )
  let p = D.init(random.key(1)) as P
  let s = opt.init(p)
  for (let i = 0; i < STEPS; i++) [p, s] = await step(p, s, random.foldIn(random.key(2), i))

  const xs = Array.from({ length: 161 }, (_, i) => -3 + (6 * i) / 160)
  const d = Array.from(ops.sigmoid(D.apply(p, tensor(xs, { shape: [xs.length, 1] }))).dataSync())
  const dStar = xs.map((x) => optimalDiscriminator(pData(x), pG(x)))
  const inside = xs.map((x) => pData(x) > 0.02 && pG(x) > 0.02)
  const errors = xs.map((_, i) => Math.abs(d[i] - dStar[i])).filter((_, i) => inside[i])
  const error = errors.reduce((a, b) => a + b, 0) / errors.length
  const lo = xs.find((_, i) => inside[i]) as number
  const hi = xs[inside.lastIndexOf(true)]
  console.log('1. The optimal discriminator (Goodfellow et al. 2014, Proposition 1)')
  console.log(
    `   p_data = N(−1, 0.5²), fixed p_g = N(1, 1); D: MLP 1-${HIDDEN}-${HIDDEN}-1, ${STEPS} Adam steps of ${BATCH}`,
  )
  console.log(
    `   mean |D(x) − D*(x)| on [${lo.toFixed(2)}, ${hi.toFixed(2)}] (both densities > 0.02): ${error.toFixed(4)}`,
  )
  claim(error < 0.05, `mean |D − D*| = ${error.toFixed(4)} is not below 0.05`)
  const peak = Math.max(...xs.map(pData))
  await write(
    'optimal-discriminator.svg',
    plot.lineChart({
      title: `trained D(x) against D*(x) = p_data/(p_data + p_g): mean error ${error.toFixed(3)}`,
      xLabel: 'x',
      yLabel: 'probability that x is data',
      yDomain: [0, 1],
      series: [
        { name: 'trained D(x)', x: xs, y: d },
        { name: 'D*(x)', x: xs, y: dStar, dashed: true },
        { name: 'p_data (scaled)', x: xs, y: xs.map((x) => pData(x) / peak), dashed: true },
        { name: 'p_g (scaled)', x: xs, y: xs.map((x) => pG(x) / peak), dashed: true },
      ],
    }),
  )
}

// ================================================================ 2. a ring of 8 Gaussians

{
  const MODES = 8
  const RADIUS = 2
  const SIGMA = 0.05
  const LATENT = 16
  const WIDTH = shortOr(32, 128)
  const BATCH = shortOr(64, 256)
  const STEPS = shortOr(40, 4000)
  const EVERY = shortOr(20, 250)
  const SAMPLES = shortOr(400, 2000)
  const COVERED = Math.ceil(SAMPLES / 100)
  const SNAPSHOTS = shortOr([0, 20, 40], [0, 500, 1500, 4000])
  const centres = Array.from({ length: MODES }, (_, k) => [
    RADIUS * Math.cos((2 * Math.PI * k) / MODES),
    RADIUS * Math.sin((2 * Math.PI * k) / MODES),
  ])
  const centreTensor = tensor(centres)
  /** n points of the mixture: a uniformly chosen centre plus N(0, σ²I) noise. */
  const sampleRing = (key: random.Key, n: number) => {
    const [kc, kn] = random.split(key, 2)
    const which = random.categorical(kc, ops.zeros([MODES]), { shape: [n] })
    return ops.add(ops.take(centreTensor, which), random.normal(kn, [n, 2], { stddev: SIGMA }))
  }

  const G = nn.sequential(nn.dense(LATENT, WIDTH), nn.relu, nn.dense(WIDTH, WIDTH), nn.relu, nn.dense(WIDTH, 2))
  const D = nn.sequential(
    nn.dense(2, WIDTH),
    nn.leakyRelu(0.2),
    nn.dense(WIDTH, WIDTH),
    nn.leakyRelu(0.2),
    nn.dense(WIDTH, 1),
  )
  type PG = nn.ParamsOf<typeof G>
  type PD = nn.ParamsOf<typeof D>
  const optimizerG = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const optimizerD = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const stepFn = ganStep<PG, PD, optim.FirstOrderState, optim.FirstOrderState>({
    generator: G,
    discriminator: D,
    optimizerG,
    optimizerD,
    latentDim: LATENT,
  })
  // The data are drawn in-program too: one call per step, its arguments the parameters, states and key.
  const ringStep = (pG: PG, pD: PD, sG: optim.FirstOrderState, sD: optim.FirstOrderState, key: random.Key) => {
    const [kData, kStep] = random.split(key, 2)
    return stepFn(pG, pD, sG, sD, kStep, sampleRing(kData, BATCH))
  }
  const fresh = (): [PG, PD, optim.FirstOrderState, optim.FirstOrderState] => {
    const [kg, kd] = random.split(random.key(3), 2)
    const pG = G.init(kg) as PG
    const pD = D.init(kd) as PD
    return [pG, pD, optimizerG.init(pG), optimizerD.init(pD)]
  }
  const step = jit(ringStep, { backend, donateArgnums: [0, 1, 2, 3] })
  const generate = jit((p: PG, key: random.Key) => G.apply(p, random.normal(key, [SAMPLES, LATENT])), { backend })
  const evalKey = random.key(4)

  const assess = (points: Float32Array) => {
    const counts = new Array(MODES).fill(0)
    let good = 0
    for (let i = 0; i < points.length / 2; i++) {
      const [x, y] = [points[2 * i], points[2 * i + 1]]
      let best = 0
      let bestDistance = Number.POSITIVE_INFINITY
      centres.forEach(([cx, cy], k) => {
        const r = Math.hypot(x - cx, y - cy)
        if (r < bestDistance) [best, bestDistance] = [k, r]
      })
      if (bestDistance <= 3 * SIGMA) {
        counts[best]++
        good++
      }
    }
    return { modes: counts.filter((c) => c >= COVERED).length, quality: good / (points.length / 2), counts }
  }

  console.log(`\n2. A ring of ${MODES} Gaussians (radius ${RADIUS}, σ = ${SIGMA}) on ${label(backend)}`)
  console.log(
    `   G: ${LATENT}-${WIDTH}-${WIDTH}-2, D: 2-${WIDTH}-${WIDTH}-1, batch ${BATCH}, Adam(1e-3, β₁ = 0.5); ` +
      `${SAMPLES} samples per check, a mode covered at ≥ ${COVERED} within 3σ`,
  )
  console.log(`   ${pad('step', 5)}  ${pad('L_D', 6)}  ${pad('L_G', 6)}  ${pad('modes', 5)}  ${pad('quality', 7)}`)
  let [pG, pD, sG, sD] = fresh()
  const history = { step: [] as number[], modes: [] as number[], quality: [] as number[] }
  const real = sampleRing(random.key(5), SAMPLES).dataSync() as Float32Array
  const panels: string[] = []
  let lossD = '-'
  let lossG = '-'
  let started = 0
  for (let t = 0; t <= STEPS; t++) {
    if (t % EVERY === 0 || SNAPSHOTS.includes(t)) {
      const points = (await (await generate(pG, evalKey)).data()) as Float32Array
      const { modes, quality } = assess(points)
      if (t % EVERY === 0) {
        history.step.push(t)
        history.modes.push(modes)
        history.quality.push(quality)
        console.log(
          `   ${pad(t, 5)}  ${pad(lossD, 6)}  ${pad(lossG, 6)}  ${pad(modes, 5)}  ${pad(`${(100 * quality).toFixed(1)}%`, 7)}`,
        )
      }
      if (SNAPSHOTS.includes(t)) {
        const xy = (p: Float32Array) => ({
          x: Array.from({ length: p.length / 2 }, (_, i) => p[2 * i]),
          y: Array.from({ length: p.length / 2 }, (_, i) => p[2 * i + 1]),
        })
        panels.push(
          plot.scatterChart({
            title: `step ${t}: ${modes} modes, ${(100 * quality).toFixed(0)}% within 3σ`,
            series: [
              { name: 'data', ...xy(real), radius: 1.5, opacity: 0.5 },
              { name: 'generated', ...xy(points), radius: 1.5, opacity: 0.5 },
            ],
            xDomain: [-3, 3],
            yDomain: [-3, 3],
            equalAspect: true,
            width: 320,
            height: 320,
          }),
        )
      }
    }
    if (t === STEPS) break
    let losses: { lossD: Tensor; lossG: Tensor }
    ;[pG, pD, sG, sD, losses] = await step(pG, pD, sG, sD, random.foldIn(random.key(6), t))
    if (t === 0) started = performance.now()
    if ((t + 1) % EVERY === 0)
      [lossD, lossG] = [(await losses.lossD.data())[0].toFixed(3), (await losses.lossG.data())[0].toFixed(3)]
  }
  await readAll(pG)
  rates.push({ what: 'ring step', on: label(backend), rate: (STEPS - 1) / ((performance.now() - started) / 1000) })
  if (label(backend) !== label(cpu)) {
    const cpuStep = jit(ringStep, { backend: cpu, donateArgnums: [0, 1, 2, 3] })
    rates.push({ what: 'ring step', on: label(cpu), rate: await timeSteps(cpuStep, fresh, shortOr(3, 20)) })
  }
  if (label(backend) === 'webgpu') {
    const { submissions, dispatches } = (await step.compiled(...fresh(), random.key(0))).stats()
    console.log(`   one GAN step on WebGPU: ${submissions} submission(s), ${dispatches} dispatches`)
  }
  const finalModes = history.modes[history.modes.length - 1]
  const finalQuality = history.quality[history.quality.length - 1]
  claim(
    finalModes >= 4 && finalQuality > 0.5,
    `the ring GAN ends with ${finalModes} modes covered and quality ${(100 * finalQuality).toFixed(1)}%`,
  )
  await write('ring.svg', plot.sideBySide(panels, { title: `real (data) and generated samples during training` }))
  await write(
    'ring-progress.svg',
    plot.sideBySide([
      plot.lineChart({
        title: `modes covered (of ${MODES})`,
        xLabel: 'step',
        yLabel: 'modes',
        yDomain: [0, MODES],
        series: [{ name: 'modes covered', x: history.step, y: history.modes }],
        width: 420,
        height: 300,
      }),
      plot.lineChart({
        title: 'quality: share of samples within 3σ of a mode',
        xLabel: 'step',
        yLabel: 'share',
        yDomain: [0, 1],
        series: [{ name: 'quality', x: history.step, y: history.quality }],
        width: 420,
        height: 300,
      }),
    ]),
  )
}

// ================================================================ 3. MNIST

{
  const LATENT = 64
  const HIDDEN = shortOr(32, 256)
  const BATCH = shortOr(32, 64)
  const EPOCHS = Number(process.argv[2] ?? shortOr(1, 15))
  const all = await io.loadMnist()
  const images = short() ? train.sliceRows(all.train, 0, 256).images : all.train.images
  // Pixels scaled to [−1, 1], the range of the generator's tanh.
  const data = ops.sub(ops.mul(images, 2), 1) as Tensor<[number, 784]>
  const n = data.shape[0]
  const G = nn.sequential(nn.dense(LATENT, HIDDEN), nn.relu, nn.dense(HIDDEN, 784), nn.tanh)
  const D = nn.sequential(nn.dense(784, HIDDEN), nn.leakyRelu(0.2), nn.dense(HIDDEN, 1))
  type PG = nn.ParamsOf<typeof G>
  type PD = nn.ParamsOf<typeof D>
  const optimizerG = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const optimizerD = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const stepFn = ganStep<PG, PD, optim.FirstOrderState, optim.FirstOrderState>({
    generator: G,
    discriminator: D,
    optimizerG,
    optimizerD,
    latentDim: LATENT,
  })
  const fresh = (): [PG, PD, optim.FirstOrderState, optim.FirstOrderState] => {
    const [kg, kd] = random.split(random.key(7), 2)
    const pG = G.init(kg) as PG
    const pD = D.init(kd) as PD
    return [pG, pD, optimizerG.init(pG), optimizerD.init(pD)]
  }
  const step = jit(stepFn, { backend, donateArgnums: [0, 1, 2, 3] })
  console.log(`\n3. MNIST: ${n} digits; G: ${LATENT}-${HIDDEN}-784 (tanh), D: 784-${HIDDEN}-1; batch ${BATCH}`)
  console.log(`   ${pad('epoch', 5)}  ${pad('L_D', 6)}  ${pad('L_G', 6)}  ${pad('mean D(x)', 9)}`)
  let [pG, pD, sG, sD] = fresh()
  let counted = 0
  let started = 0
  let stepIndex = 0
  const meanD = jit((p: PD, x: Tensor) => ops.mean(ops.sigmoid(D.apply(p, x as Tensor<['B', 784]>))), { backend })
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const batches = train.epochBatches(random.foldIn(random.key(8), epoch), n, BATCH)
    const losses: { lossD: Tensor; lossG: Tensor }[] = []
    for (const indices of batches) {
      let l: { lossD: Tensor; lossG: Tensor }
      ;[pG, pD, sG, sD, l] = await step(
        pG,
        pD,
        sG,
        sD,
        random.foldIn(random.key(9), stepIndex++),
        train.takeRows(data, indices),
      )
      losses.push(l)
      if (stepIndex === 1) {
        await l.lossD.data()
        started = performance.now()
      } else counted++
    }
    let [sumD, sumG] = [0, 0]
    for (const l of losses) [sumD, sumG] = [sumD + (await l.lossD.data())[0], sumG + (await l.lossG.data())[0]]
    const dReal = (await (await meanD(pD, train.sliceRows(data, 0, Math.min(n, 1000)))).data())[0]
    console.log(
      `   ${pad(epoch, 5)}  ${pad((sumD / losses.length).toFixed(3), 6)}  ${pad((sumG / losses.length).toFixed(3), 6)}  ${pad(dReal.toFixed(3), 9)}`,
    )
  }
  await readAll(pG)
  rates.push({ what: 'MNIST step', on: label(backend), rate: counted / ((performance.now() - started) / 1000) })
  if (label(backend) !== label(cpu)) {
    const cpuStep = jit(stepFn, { backend: cpu, donateArgnums: [0, 1, 2, 3] })
    const batch = train.sliceRows(data, 0, BATCH)
    rates.push({ what: 'MNIST step', on: label(cpu), rate: await timeSteps(cpuStep, fresh, shortOr(2, 10), [batch]) })
  }
  const SHOWN = shortOr(16, 64)
  const samples = (await G.apply(pG, random.normal(random.key(10), [SHOWN, LATENT])).data()) as Float32Array
  await write(
    'mnist-samples.svg',
    plot.imageGrid({
      images: Array.from({ length: SHOWN }, (_, i) => samples.slice(i * 784, (i + 1) * 784)),
      height: 28,
      width: 28,
      columns: 8,
      pixel: 2,
      domain: [-1, 1],
      title: `GAN samples after ${EPOCHS} epoch(s)`,
    }),
  )
}

console.log(
  '\nsteps per second (one jitted call per step: D update then G update; compilation excluded; the ring run on its backend includes its periodic checks):',
)
for (const { what, on, rate } of rates) console.log(`   ${what.padEnd(11)} ${on.padEnd(7)} ${pad(rate.toFixed(1), 7)}`)
if (short()) console.log('   (short mode runs on the CPU only; the full run times the default backend and the CPU)')
for (const f of written) console.log(`wrote ${f}`)
