/**
 * Autoencoders against PCA on MNIST, with a 30-unit bottleneck (D. Barber,
 * Neural Nets (lecture notes), "Autoencoders and PCA"): the best rank-H reconstruction of centred data is
 * PCA's, Ỹ = U_H S_H V_Hᵀ; an autoencoder y → h → ỹ with linear units can
 * at best match it (and a single hidden layer with a linear output cannot
 * beat it whatever its hidden non-linearity), while a deep non-linear one
 * can. Reconstruction error = Σ_pixels (y − ỹ)², averaged over the 1,000
 * held-out test digits; printed side by side with the figures of Barber's
 * "Autoencoder on MNIST digits".
 * Writes out/autoencoder/reconstructions.svg (test digits: original, PCA,
 * linear, deep) and training.svg. Exits 1 unless the linear autoencoder's
 * error is within 5 % of PCA's and the deep one's below it. In short mode
 * (examples/lib/short.ts): 256 training digits, 64 validation and 64 test
 * digits, one epoch, 10 rounds of subspace iteration for PCA.
 *
 *   npx tsx examples/autoencoder.ts [epochs]
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { defaultBackend, grad, io, jit, nn, ops, optim, plot, random, train, type tree, type Tensor } from '../index.ts'
import { claim, outPath, short, shortOr } from './lib/short.ts'

const H = 30
const PIXELS = 784
const epochs = Number(process.argv[2] ?? shortOr(1, 40))
const outDir = outPath('autoencoder')

// ---------------------------------------------------------------- PCA on the host (f64)

/** Column means of rows [n, d]. */
function means(x: Float32Array, n: number, d: number): Float64Array {
  const m = new Float64Array(d)
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += x[i * d + j]
  return m.map((v) => v / n)
}

/** C = (1/n) Σ (x − m)(x − m)ᵀ. */
function covariance(x: Float32Array, n: number, d: number, m: Float64Array): Float64Array {
  const c = new Float64Array(d * d)
  const row = new Float64Array(d)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j] - m[j]
    for (let a = 0; a < d; a++) {
      const ra = row[a]
      if (ra === 0) continue
      const off = a * d
      for (let b = a; b < d; b++) c[off + b] += ra * row[b]
    }
  }
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) c[b * d + a] = c[a * d + b] /= n
  return c
}

/** Orthonormalises the k columns of q [d, k] in place (modified Gram–Schmidt). */
function orthonormalise(q: Float64Array, d: number, k: number): void {
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0
      for (let r = 0; r < d; r++) dot += q[r * k + i] * q[r * k + j]
      for (let r = 0; r < d; r++) q[r * k + j] -= dot * q[r * k + i]
    }
    let norm = 0
    for (let r = 0; r < d; r++) norm += q[r * k + j] ** 2
    norm = Math.sqrt(norm) || 1
    for (let r = 0; r < d; r++) q[r * k + j] /= norm
  }
}

/** y = c q for c [d, d], q [d, k]. */
function times(c: Float64Array, q: Float64Array, d: number, k: number): Float64Array {
  const y = new Float64Array(d * k)
  for (let a = 0; a < d; a++)
    for (let b = 0; b < d; b++) {
      const v = c[a * d + b]
      if (v === 0) continue
      for (let j = 0; j < k; j++) y[a * k + j] += v * q[b * k + j]
    }
  return y
}

/** Eigenvalues and eigenvectors (columns) of a small symmetric matrix, by cyclic Jacobi rotations. */
function jacobiEigen(a: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const v = new Float64Array(k * k)
  for (let i = 0; i < k; i++) v[i * k + i] = 1
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p * k + q] ** 2
    if (off < 1e-30) break
    for (let p = 0; p < k; p++)
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q]
        if (Math.abs(apq) < 1e-300) continue
        // The rotation by θ with tan 2θ = 2a_pq / (a_qq − a_pp) zeroes a_pq.
        const theta = (a[q * k + q] - a[p * k + p]) / (2 * apq)
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let r = 0; r < k; r++) {
          const arp = a[r * k + p]
          const arq = a[r * k + q]
          a[r * k + p] = c * arp - s * arq
          a[r * k + q] = s * arp + c * arq
        }
        for (let r = 0; r < k; r++) {
          const apr = a[p * k + r]
          const aqr = a[q * k + r]
          a[p * k + r] = c * apr - s * aqr
          a[q * k + r] = s * apr + c * aqr
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p]
          const vrq = v[r * k + q]
          v[r * k + p] = c * vrp - s * vrq
          v[r * k + q] = s * vrp + c * vrq
        }
      }
  }
  return { values: Float64Array.from({ length: k }, (_, i) => a[i * k + i]), vectors: v }
}

/**
 * The top h principal directions [d, h] by block subspace iteration
 * (Q ← orth(C Q)) with a wider block, then Rayleigh–Ritz on the block.
 */
function principalDirections(
  c: Float64Array,
  d: number,
  h: number,
): { directions: Float64Array; values: Float64Array; residual: number } {
  const k = h + 20
  const q = random.normal(random.key(11), [d, k]).dataSync()
  let block: Float64Array = Float64Array.from(q)
  orthonormalise(block, d, k)
  for (let it = 0; it < shortOr(10, 150); it++) {
    block = times(c, block, d, k)
    orthonormalise(block, d, k)
  }
  const cq = times(c, block, d, k)
  const t = new Float64Array(k * k)
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) for (let r = 0; r < d; r++) t[i * k + j] += block[r * k + i] * cq[r * k + j]
  const { values, vectors } = jacobiEigen(t, k)
  const order = Array.from(values.keys())
    .sort((x, y) => values[y] - values[x])
    .slice(0, h)
  const directions = new Float64Array(d * h)
  for (let r = 0; r < d; r++)
    for (let j = 0; j < h; j++)
      for (let i = 0; i < k; i++) directions[r * h + j] += block[r * k + i] * vectors[i * k + order[j]]
  // ‖C u − λ u‖ for the weakest kept direction: how well the iteration converged.
  const cu = times(c, directions, d, h)
  const last = h - 1
  let residual = 0
  for (let r = 0; r < d; r++) residual += (cu[r * h + last] - values[order[last]] * directions[r * h + last]) ** 2
  return { directions, values: Float64Array.from(order, (i) => values[i]), residual: Math.sqrt(residual) }
}

/** PCA reconstructions m + U Uᵀ (x − m) of rows [n, d]. */
function pcaReconstruct(
  x: Float32Array,
  n: number,
  d: number,
  m: Float64Array,
  u: Float64Array,
  h: number,
): Float32Array {
  const out = new Float32Array(n * d)
  const z = new Float64Array(h)
  for (let i = 0; i < n; i++) {
    z.fill(0)
    for (let r = 0; r < d; r++) {
      const v = x[i * d + r] - m[r]
      for (let j = 0; j < h; j++) z[j] += v * u[r * h + j]
    }
    for (let r = 0; r < d; r++) {
      let s = m[r]
      for (let j = 0; j < h; j++) s += u[r * h + j] * z[j]
      out[i * d + r] = s
    }
  }
  return out
}

/** Mean over rows of Σ_pixels (x − y)². */
function reconstructionError(x: ArrayLike<number>, y: ArrayLike<number>, n: number): number {
  let total = 0
  for (let i = 0; i < x.length; i++) total += (x[i] - y[i]) ** 2
  return total / n
}

// ---------------------------------------------------------------- autoencoders

const linear = nn.sequential(nn.dense(PIXELS, H), nn.dense(H, PIXELS))
const deep = nn.sequential(
  nn.dense(PIXELS, 512),
  nn.relu,
  nn.dense(512, 128),
  nn.relu,
  nn.dense(128, H),
  nn.dense(H, 128),
  nn.relu,
  nn.dense(128, 512),
  nn.relu,
  nn.dense(512, PIXELS),
  nn.sigmoid,
)

interface Autoencoder<P> {
  init(key: random.Key): P
  apply(params: P, x: Tensor): Tensor
}

type Images = { readonly images: Tensor }

async function trainAutoencoder<P extends tree.Tree>(
  name: string,
  model: Autoencoder<P>,
  data: Images,
  validation: Images,
  lr: number,
) {
  const backend = await defaultBackend()
  const params = model.init(random.key(3))
  const stepsPerEpoch = Math.floor(data.images.aval.shape[0] / 128)
  const opt = optim.adam({ lr: optim.exponentialDecay({ init: lr, rate: 0.1, steps: epochs * stepsPerEpoch }) })
  // Mean over the batch of Σ_pixels (x − x̃)²: the figure reported.
  const loss = (p: P, b: Images) => ops.mean(ops.sum(ops.square(ops.sub(model.apply(p, b.images), b.images)), 1))
  const step = jit(
    (p: P, s: optim.FirstOrderState, b: Images) => {
      const [next, state] = opt.update(grad(loss)(p, b), s, p) as [P, optim.FirstOrderState]
      return [next, state, loss(p, b)] as const
    },
    { backend, donateArgnums: [0, 1] },
  )
  const reconstruct = jit((p: P, x: Tensor) => model.apply(p, x), { backend })
  const evaluate = async (p: P, d: Images) =>
    reconstructionError(await d.images.data(), await (await reconstruct(p, d.images)).data(), d.images.aval.shape[0])
  console.log(`${name} autoencoder on ${backend.name}`)
  const result = await train.fit({
    step,
    params,
    state: opt.init(params),
    train: data,
    validation,
    evaluate,
    metricName: 'val error',
    earlyStopping: { patience: epochs },
    epochs,
    batchSize: 128,
    key: random.key(4),
    progress: train.progressReporter(),
  })
  return {
    params: result.params,
    history: result.history,
    reconstruct: async (x: Tensor) => (await reconstruct(result.params, x)).data(),
  }
}

// ---------------------------------------------------------------- the comparison

const all = await io.loadMnist()
// Short mode: 256 training and 64 validation and test digits.
const first = <D>(d: D, n: number) => (short() ? train.sliceRows(d, 0, n) : d)
const data = { train: first(all.train, 256), validation: first(all.validation, 64), test: first(all.test, 64) }
const trainImages = data.train.images.toConcrete().values as Float32Array
const testImages = data.test.images.toConcrete().values as Float32Array
const nTrain = data.train.images.shape[0]
const nTest = data.test.images.shape[0]

const started = performance.now()
const m = means(trainImages, nTrain, PIXELS)
const c = covariance(trainImages, nTrain, PIXELS, m)
const pca = principalDirections(c, PIXELS, H)
let trace = 0
for (let i = 0; i < PIXELS; i++) trace += c[i * PIXELS + i]
const pcaTest = pcaReconstruct(testImages, nTest, PIXELS, m, pca.directions, H)
const pcaError = reconstructionError(testImages, pcaTest, nTest)
console.log(
  `PCA (${H} components, ${((performance.now() - started) / 1000).toFixed(1)} s): training error ${(trace - pca.values.reduce((a, b) => a + b, 0)).toFixed(3)} ` +
    `(= trace C − Σ top ${H} eigenvalues), test error ${pcaError.toFixed(3)}; ‖Cu − λu‖ of the ${H}th direction ${pca.residual.toExponential(1)}`,
)

const trainSet = { images: data.train.images }
const validationSet = { images: data.validation.images }
const lin = await trainAutoencoder('linear 784-30-784', linear, trainSet, validationSet, 3e-3)
const dp = await trainAutoencoder(
  'deep 784-512-128-30-128-512-784 (ReLU, sigmoid output)',
  deep,
  trainSet,
  validationSet,
  1e-3,
)
const linTest = await lin.reconstruct(data.test.images)
const deepTest = await dp.reconstruct(data.test.images)
const linError = reconstructionError(testImages, linTest, nTest)
const deepError = reconstructionError(testImages, deepTest, nTest)

console.log(`\nreconstruction error, mean over ${nTest} test digits of Σ_pixels (y − ỹ)², H = ${H}`)
console.log('model                                   adjoint      Barber')
console.log(`PCA                                     ${pcaError.toFixed(2).padStart(7)}       14.46`)
console.log(
  `linear autoencoder 784-30-784           ${linError.toFixed(2).padStart(7)}           —   (PCA is its optimum: ratio ${(linError / pcaError).toFixed(3)})`,
)
console.log(
  `deep non-linear autoencoder             ${deepError.toFixed(2).padStart(7)}  2.42, 2.38   (${deepError < pcaError ? 'beats' : 'does not beat'} PCA by ${(100 * (1 - deepError / pcaError)).toFixed(1)} %)`,
)
console.log(
  "(Barber's networks trained on all 60,000 MNIST digits for far longer than these 40 epochs on 8,000; the order is the point: linear ≈ PCA > deep)",
)

await mkdir(outDir, { recursive: true })
const show = 10
const rows = (values: ArrayLike<number>) =>
  Array.from({ length: 28 }, (_, r) =>
    Array.from({ length: show * 28 }, (_, col) => values[Math.floor(col / 28) * PIXELS + r * 28 + (col % 28)]),
  )
const panel = (title: string, values: ArrayLike<number>) =>
  plot.heatmap({ values: rows(values), title, colors: 'grey', domain: [0, 1], cellSize: 2, colorBar: false })
await plot.writeSvg(
  join(outDir, 'reconstructions.svg'),
  plot.sideBySide(
    [
      panel('test digits', testImages),
      panel(`PCA (${pcaError.toFixed(2)})`, pcaTest),
      panel(`linear autoencoder (${linError.toFixed(2)})`, linTest),
      panel(`deep autoencoder (${deepError.toFixed(2)})`, deepTest),
    ],
    { columns: 1, title: `reconstructions with H = ${H}` },
  ),
)
const curves = (name: string, history: train.FitHistory) =>
  plot.lineChart({
    series: train.historySeries(history).validation.map((s) => ({ ...s, name })),
    title: 'validation error',
    xLabel: 'step',
    yLabel: 'Σ (y − ỹ)²',
  })
await plot.writeSvg(
  join(outDir, 'training.svg'),
  plot.sideBySide([curves('linear', lin.history), curves('deep', dp.history)]),
)
console.log(`wrote ${join(outDir, 'reconstructions.svg')} and ${join(outDir, 'training.svg')}`)
claim(
  Math.abs(linError / pcaError - 1) < 0.05 && deepError < pcaError,
  'the linear autoencoder is not within 5 % of PCA, or the deep one does not beat PCA',
)
