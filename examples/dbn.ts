/**
 * A deep belief network on MNIST with few labels: greedy layer-wise
 * pre-training of stacked RBMs (Hinton, Osindero and Teh 2006), then
 * discriminative fine-tuning of the MLP they initialise (A. Martins, *Deep
 * Learning: A Shallow Tutorial*, NLPL Winter School 2018, section "Generative
 * Models": "Deep Belief Networks": "begin by training a RBM for the first
 * layer; then train a second RBM to model the distribution defined by
 * sampling the hidden units of the first RBM", and "take DBN's weights and
 * define a MLP (discriminative fine-tuning)"; *Neural Networks II* (lecture
 * notes), sections "Dynamic neural networks" and "Internal representations":
 * a restricted Boltzmann machine "looks very similar to a feedforward neural
 * network", and learns a representation without a strong supervised signal).
 *
 * 1. Pre-training, without labels: a 784 × 256 RBM trained with CD-1 (Hinton
 *    2002) on the `mnist` package's 8,000 training digits, binarised at 0.5,
 *    then a 256 × 256 RBM on its hidden probabilities (`energy.dbn.pretrain`,
 *    one jitted `energy.rbm.cdStep` per minibatch). Prints each layer's
 *    reconstruction error per epoch.
 * 2. Fine-tuning, with 1,000 labels: the MLP 784-256-256-10 with sigmoid
 *    hidden units whose hidden layers are the RBMs' W and hidden biases c
 *    (`energy.dbn.toMlp`), a softmax output layer N(0, 0.01²), trained with
 *    Adam on the first 1,000 labelled training digits (one jitted step per
 *    minibatch, a fixed number of epochs), against the same network from nn's
 *    default initialisation (Glorot uniform) with the same output layer, the
 *    same optimiser, epochs and batch order. The 1,000 test digits are never
 *    used in training. Three seeds; prints each seed's test accuracies and
 *    the means, and draws the first layer's filters (out/dbn/filters.svg)
 *    and the test accuracy against epoch for both starts
 *    (out/dbn/accuracy.svg).
 *
 * Exits 1 unless the pre-trained network's final test accuracy beats the
 * random start's on every seed (measured: 91.10, 90.90, 90.30 % against
 * 86.80, 86.90, 87.00 %; means 90.77 and 86.90 %). In short mode (examples/lib/short.ts): 256 digits,
 * 784-16-16, one epoch of pre-training, a few of fine-tuning, one seed.
 *
 *   npx tsx examples/energy.dbn.ts
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  cpuBackend,
  defaultBackend,
  energy,
  grad,
  io,
  jit,
  nn,
  ops,
  optim,
  plot,
  random,
  train,
  type Backend,
  type Tensor,
} from '../index.ts'
import { claim, outPath, short, shortOr } from './lib/short.ts'

const outDir = outPath('dbn')
await mkdir(outDir, { recursive: true })
const written: string[] = []

type Images = Tensor<[number, 784]>
type Labels = Tensor<[number], 'i32'>
const HIDDEN = shortOr([16, 16], [256, 256])
const PRETRAIN_EPOCHS = shortOr(1, 5)
const PRETRAIN_BATCH = shortOr(32, 100)
const LABELLED = shortOr(64, 1000)
const FINETUNE_EPOCHS = shortOr(3, 50)
const FINETUNE_BATCH = shortOr(16, 50)
const FINETUNE_LR = 1e-3
const SEEDS = shortOr([1], [1, 2, 3])
const backend: Backend = short() ? cpuBackend() : await defaultBackend()

const all = await io.loadMnist()
const first = <D>(d: D, n: number) => (short() ? train.sliceRows(d, 0, n) : d)
const binary = (x: Tensor) => ops.astype(ops.greater(x, 0.5), 'f32') as Images
const unlabelled = binary(first(all.train, 256).images)
const labelled = train.sliceRows({ images: binary(all.train.images), labels: all.train.labels }, 0, LABELLED)
const test = { images: binary(first(all.test, 256).images), labels: first(all.test, 256).labels }
console.log(
  `DBN 784-${HIDDEN.join('-')}-10 on ${backend.name}: pre-training on ${unlabelled.shape[0]} unlabelled digits, ` +
    `fine-tuning on ${LABELLED} labelled ones, testing on ${test.labels.shape[0]} held-out digits`,
)

// ---------------------------------------------------------------- fine-tuning

type Params = energy.dbn.MlpParams
type Batch = { readonly images: Images; readonly labels: Labels }
const opt = optim.adam({ lr: FINETUNE_LR })

/** Trains `params` of `model` on the labelled digits; returns the test accuracy after each epoch (index 0: before). */
async function fineTune(model: energy.dbn.Mlp['model'], params: Params, orderKey: random.Key): Promise<number[]> {
  const loss = (p: Params, b: Batch) => nn.softmaxCrossEntropy(model.apply(p, b.images), b.labels)
  const step = jit(
    (p: Params, s: optim.FirstOrderState, b: Batch) => {
      const [next, state] = opt.update(grad(loss)(p, b), s, p) as [Params, optim.FirstOrderState]
      return [next, state] as const
    },
    { backend },
  )
  const logits = jit((p: Params, x: Images) => model.apply(p, x), { backend })
  const accuracy = async (p: Params) => train.accuracy(await logits(p, test.images), test.labels)
  let state = opt.init(params)
  const curve = [await accuracy(params)]
  for (let epoch = 1; epoch <= FINETUNE_EPOCHS; epoch++) {
    for (const indices of train.epochBatches(random.foldIn(orderKey, epoch), LABELLED, FINETUNE_BATCH))
      [params, state] = await step(params, state, train.takeRows(labelled, indices))
    curve.push(await accuracy(params))
  }
  return curve
}

// ---------------------------------------------------------------- the runs

const pct = (x: number) => `${(100 * x).toFixed(2)}%`
const curves: { pretrained: number[][]; random: number[][] } = { pretrained: [], random: [] }
let firstStack: energy.rbm.Params[] | undefined
for (const seed of SEEDS) {
  const [kPre, kOut, kInit, kOrder] = random.split(random.key(seed), 4)
  console.log(`\nseed ${seed}: pre-training (CD-1, ${PRETRAIN_EPOCHS} epoch(s) per layer, batch ${PRETRAIN_BATCH})`)
  console.log(`${'layer'.padStart(7)}  ${'epoch'.padStart(5)}  ${'reconstruction error'.padStart(20)}`)
  const started = performance.now()
  const { stack } = await energy.dbn.pretrain(kPre, unlabelled, HIDDEN, {
    epochs: PRETRAIN_EPOCHS,
    batchSize: PRETRAIN_BATCH,
    lr: 0.05,
    momentum: 0.5,
    weightDecay: 1e-4,
    backend,
    onEpoch: ({ layer, epoch, reconstructionError }) =>
      console.log(
        `${String(layer + 1).padStart(7)}  ${String(epoch).padStart(5)}  ${reconstructionError.toFixed(3).padStart(20)}`,
      ),
  })
  console.log(`pre-training took ${((performance.now() - started) / 1000).toFixed(1)} s`)
  firstStack ??= stack
  const { model, params } = energy.dbn.toMlp(stack, 10, { key: kOut })
  // The same network from nn's initialisation, with the same output layer.
  const fresh = model.init(kInit)
  fresh[fresh.length - 1] = params[params.length - 1]
  const t0 = performance.now()
  curves.pretrained.push(await fineTune(model, params, kOrder))
  curves.random.push(await fineTune(model, fresh, kOrder))
  const [a, b] = [curves.pretrained.at(-1) as number[], curves.random.at(-1) as number[]]
  console.log(
    `fine-tuning (Adam ${FINETUNE_LR}, ${FINETUNE_EPOCHS} epochs, batch ${FINETUNE_BATCH}, ${((performance.now() - t0) / 1000).toFixed(1)} s): ` +
      `test accuracy pre-trained ${pct(a[a.length - 1])}, random ${pct(b[b.length - 1])}`,
  )
}

const last = (c: number[]) => c[c.length - 1]
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
const finals = { pretrained: curves.pretrained.map(last), random: curves.random.map(last) }
console.log(
  `\ntest accuracy after ${FINETUNE_EPOCHS} epochs on ${LABELLED} labels (${test.labels.shape[0]} test digits):`,
)
console.log(
  `${'seed'.padStart(6)}  ${'pre-trained'.padStart(11)}  ${'random init'.padStart(11)}  ${'difference'.padStart(10)}`,
)
SEEDS.forEach((seed, i) =>
  console.log(
    `${String(seed).padStart(6)}  ${pct(finals.pretrained[i]).padStart(11)}  ${pct(finals.random[i]).padStart(11)}  ${(100 * (finals.pretrained[i] - finals.random[i])).toFixed(2).padStart(9)}%`,
  ),
)
const [mp, mr] = [mean(finals.pretrained), mean(finals.random)]
console.log(
  `${'mean'.padStart(6)}  ${pct(mp).padStart(11)}  ${pct(mr).padStart(11)}  ${(100 * (mp - mr)).toFixed(2).padStart(9)}%`,
)
const best = (cs: number[][]) => mean(cs.map((c) => Math.max(...c.slice(1))))
console.log(
  `best epoch's test accuracy (mean): pre-trained ${pct(best(curves.pretrained))}, random ${pct(best(curves.random))}`,
)
claim(
  finals.pretrained.every((x, i) => x > finals.random[i]),
  `pre-training did not beat random initialisation on every seed: ${finals.pretrained.map(pct).join(', ')} against ${finals.random.map(pct).join(', ')}`,
)

// ---------------------------------------------------------------- pictures

const stack = firstStack as energy.rbm.Params[]
const FILTERS = shortOr(16, 64)
const W = (await stack[0].W.data()) as Float32Array
const cols = stack[0].W.shape[1]
const filters = Array.from({ length: Math.min(FILTERS, cols) }, (_, j) =>
  Float32Array.from({ length: 784 }, (_, i) => W[i * cols + j]),
)
await plot.writeSvg(
  join(outDir, 'filters.svg'),
  plot.imageGrid({
    images: filters,
    height: 28,
    width: 28,
    columns: 8,
    pixel: 2,
    colors: 'diverging',
    normalize: 'each',
    title: `first RBM (784 × ${HIDDEN[0]}): ${filters.length} filters (columns of W), seed ${SEEDS[0]}`,
  }),
)
written.push(join(outDir, 'filters.svg'))
const epochs = Array.from({ length: FINETUNE_EPOCHS + 1 }, (_, e) => e)
const meanCurve = (cs: number[][]) => epochs.map((e) => 100 * mean(cs.map((c) => c[e])))
await plot.writeSvg(
  join(outDir, 'accuracy.svg'),
  plot.lineChart({
    title: `test accuracy while fine-tuning on ${LABELLED} labels (mean of ${SEEDS.length} seed${SEEDS.length > 1 ? 's' : ''})`,
    xLabel: 'epoch',
    yLabel: 'test accuracy (%)',
    series: [
      { name: 'DBN pre-trained', x: epochs, y: meanCurve(curves.pretrained) },
      { name: 'random (Glorot) init', x: epochs, y: meanCurve(curves.random), dashed: true },
    ],
  }),
)
written.push(join(outDir, 'accuracy.svg'))
for (const f of written) console.log(`wrote ${f}`)
