/**
 * Training an MNIST classifier, shared by the MLP and CNN examples: the fixed
 * split of the `mnist` package's 10,000 digits, random shifts of ±2 pixels
 * as augmentation, Adam with an exponentially decaying rate, one jitted call
 * per step (forward, gradient, update) with parameters and optimiser state
 * donated, progress on the terminal, and at the end a plot of loss and
 * validation accuracy (SVG) and the parameters in a safetensors file.
 * In short mode (examples/lib/short.ts) it takes the first 64 digits of each
 * part of the split, in batches of 32.
 */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { defaultBackend, grad, io, jit, nn, optim, plot, random, train, type tree, type Tensor } from '../../index.ts'
import { outPath, short, shortOr } from './short.ts'

interface Model<P extends tree.Tree> {
  init(key: random.Key): P
  apply(params: P, x: Tensor): Tensor
}

export interface ClassifierRun<P extends tree.Tree> {
  readonly name: string
  readonly model: Model<P>
  /** From a batch of flat images [B, 784] to the model's input. */
  readonly input: (images: Tensor) => Tensor
  readonly epochs: number
  readonly lr: number
  readonly batchSize?: number
  /** Keep the parameters of the best validation epoch (default) or the last ones. */
  readonly keep?: 'best' | 'last'
  /** Where the plot and the parameters go (default out/<name>, see outPath). */
  readonly outDir?: string
}

type Batch = { readonly images: Tensor; readonly labels: Tensor }

export async function trainClassifier<P extends tree.Tree>(
  run: ClassifierRun<P>,
): Promise<{ testAccuracy: number; params: P }> {
  const backend = await defaultBackend()
  const all = await io.loadMnist()
  const first = <D>(d: D, n: number) => (short() ? train.sliceRows(d, 0, n) : d)
  const data = { train: first(all.train, 64), validation: first(all.validation, 64), test: first(all.test, 64) }
  const batchSize = shortOr(32, run.batchSize ?? 128)
  console.log(
    `${run.name} on ${backend.name}: ${data.train.labels.shape[0]} training, ${data.validation.labels.shape[0]} validation, ${data.test.labels.shape[0]} test digits`,
  )

  const params = run.model.init(random.key(1))
  const stepsPerEpoch = Math.floor(data.train.labels.shape[0] / batchSize)
  // The rate falls tenfold over the run.
  const opt = optim.adam({ lr: optim.exponentialDecay({ init: run.lr, rate: 0.1, steps: run.epochs * stepsPerEpoch }) })
  const loss = (p: P, b: Batch) => nn.softmaxCrossEntropy(run.model.apply(p, run.input(b.images)), b.labels)
  const step = jit(
    (p: P, s: optim.FirstOrderState, b: Batch) => {
      const [next, state] = opt.update(grad(loss)(p, b), s, p) as [P, optim.FirstOrderState]
      return [next, state, loss(p, b)] as const
    },
    { backend, donateArgnums: [0, 1] },
  )
  const logits = jit((p: P, images: Tensor) => run.model.apply(p, run.input(images)), { backend })
  const accuracy = async (p: P, d: Batch) => {
    // In slices, so that evaluation needs no more memory than a few batches.
    let correct = 0
    const n = d.labels.shape[0]
    for (let at = 0; at < n; at += 500) {
      const slice = train.sliceRows(d, at, Math.min(n, at + 500))
      correct += (await train.accuracy(await logits(p, slice.images), slice.labels)) * slice.labels.shape[0]
    }
    return correct / n
  }

  let calls = 0
  const augment = (b: Batch): Batch => ({
    images: io.randomShift(b.images as Tensor<[number, 784]>, random.foldIn(random.key(7), calls++), {
      height: 28,
      width: 28,
      maxShift: 2,
    }),
    labels: b.labels,
  })
  const result = await train.fit({
    step: (p, s, b) => step(p, s, augment(b)),
    params,
    state: opt.init(params),
    train: data.train,
    validation: data.validation,
    evaluate: accuracy,
    metricName: 'val acc',
    earlyStopping: { patience: run.epochs, mode: 'max', restoreBest: (run.keep ?? 'best') === 'best' },
    epochs: run.epochs,
    batchSize,
    key: random.key(2),
    progress: train.progressReporter(),
  })
  const testAccuracy = await accuracy(result.params, data.test)
  console.log(
    `test accuracy ${(100 * testAccuracy).toFixed(2)}% (parameters of ${(run.keep ?? 'best') === 'best' ? `the best validation epoch, ${result.history.bestEpoch}` : 'the last epoch'})`,
  )

  const outDir = run.outDir ?? outPath(run.name)
  await mkdir(outDir, { recursive: true })
  const series = train.historySeries(result.history)
  const figure = plot.sideBySide(
    [
      plot.lineChart({
        series: series.loss,
        title: 'training loss',
        xLabel: 'step',
        yLabel: 'cross-entropy',
        logY: true,
      }),
      plot.lineChart({ series: series.validation, title: 'validation accuracy', xLabel: 'step', yLabel: 'accuracy' }),
    ],
    { title: `${run.name}: test accuracy ${(100 * testAccuracy).toFixed(2)}%` },
  )
  await plot.writeSvg(join(outDir, 'training.svg'), figure)
  await io.saveParams(join(outDir, 'params.safetensors'), result.params, {
    model: run.name,
    testAccuracy: String(testAccuracy),
  })
  console.log(`wrote ${join(outDir, 'training.svg')} and ${join(outDir, 'params.safetensors')}`)
  return { testAccuracy, params: result.params }
}
