/**
 * Sequence to sequence with attention (Bahdanau et al. 2015; A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Attention Mechanism"):
 * learn to reverse a sequence of symbols. The encoder is a bidirectional GRU,
 * the decoder a GRU that attends (additive, Bahdanau et al. 2015) over the
 * encoder's annotations before each output symbol (examples/lib/seq2seq.ts).
 *
 * Sources are 6 to 8 symbols out of 8, drawn from fixed keys: fresh
 * training batches at every step (foldIn of the training key and the step),
 * and a held-out test set from its own key with every sequence also seen in
 * training removed. Training uses teacher forcing and Adam (gradients
 * clipped to norm 1) in one jitted call per step; evaluation decodes
 * greedily, feeding back the model's own symbols, and counts a sequence right
 * only if every symbol and the end token are.
 *
 * Reversal puts output symbol t on source position L − 1 − t, so the
 * attention matrices (out/seq2seq-attention/attention.svg) should be
 * anti-diagonals; training.svg holds the loss curve. Exits 1 unless the test
 * sequence accuracy reaches 95 %. In short mode (examples/lib/short.ts): 3
 * steps of 16, 20 test sequences.
 *
 *   npx tsx examples/seq2seq-attention.ts
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { defaultBackend, jit, plot, random, train, type Tensor } from '../index.ts'
import {
  decoded,
  reversalBatch,
  reversalData,
  seq2seq,
  symbolText,
  trainingStep,
  type Seq2SeqParams,
} from './lib/seq2seq.ts'
import { claim, outPath, shortOr } from './lib/short.ts'

const SYMBOLS = 8
const MIN_LENGTH = 6
const MAX_LENGTH = 8
const BATCH = shortOr(16, 64)
const STEPS = shortOr(3, 300)
const TEST_SIZE = shortOr(20, 1000)
const TARGET = 0.95
const outDir = outPath('seq2seq-attention')

const model = seq2seq({ symbols: SYMBOLS, maxLength: MAX_LENGTH, embed: 8, encoder: 16, decoder: 32, attention: 16 })
// The default backend: WebGPU on a hardware adapter, else ONNX Runtime, else
// WebGPU on a software adapter, else the CPU interpreter. Measured on a 2-core
// machine without a GPU, 300 steps end to end (compile included, cold shader
// cache):
// - ONNX Runtime: 5.3 s (10 ms a step);
// - WebGPU on llvmpipe: 39–46 s (its scans included, 922 dispatches in one submission);
// - the interpreter: 71–74 s.
const backend = await defaultBackend()
const keys = random.split(random.key(2015), 3)
const [initKey, trainKey, testKey] = keys

const text = symbolText
const { train: trainSources, test: testSources } = reversalData({
  trainKey,
  testKey,
  steps: STEPS,
  batch: BATCH,
  testSize: TEST_SIZE,
  symbols: SYMBOLS,
  minLength: MIN_LENGTH,
  maxLength: MAX_LENGTH,
})
const { opt, step } = trainingStep(model, backend, STEPS)
const decode = jit((p: Seq2SeqParams, source: Tensor) => model.greedy(p, source, MAX_LENGTH + 1), { backend })

/** Greedy decoding of the test set: whole-sequence and per-symbol accuracy. */
async function evaluate(p: Seq2SeqParams) {
  let right = 0
  let symbolsRight = 0
  let symbolsAll = 0
  for (let at = 0; at < testSources.length; at += 250) {
    const chunk = testSources.slice(at, at + 250)
    const { logits } = await decode(p, reversalBatch(chunk, MAX_LENGTH).source)
    const outputs = await decoded(logits)
    outputs.forEach((out, i) => {
      const want = [...chunk[i]].reverse()
      if (out.length === want.length && out.every((s, j) => s === want[j])) right++
      want.forEach((s, j) => (symbolsRight += out[j] === s ? 1 : 0))
      symbolsAll += want.length
    })
  }
  return { sequence: right / testSources.length, symbol: symbolsRight / symbolsAll }
}

console.log(
  `seq2seq with attention on ${backend.name}: reverse ${MIN_LENGTH}–${MAX_LENGTH} symbols out of ${SYMBOLS}; ${STEPS} steps of ${BATCH}, ${testSources.length} held-out test sequences`,
)
let params = model.init(initKey)
let state = opt.init(params)
const losses: number[] = []
const progress = train.progressReporter()
const started = performance.now()
for (let i = 0; i < STEPS; i++) {
  const [p, s, loss] = await step(params, state, reversalBatch(trainSources(i), MAX_LENGTH))
  params = p
  state = s
  // Reading the loss waits for the step; on the CPU it is done by then anyway.
  losses.push((await loss.data())[0])
  const status = {
    epoch: 1,
    epochs: 1,
    step: i + 1,
    stepsPerEpoch: STEPS,
    samples: (i + 1) * BATCH,
    totalSamples: STEPS * BATCH,
    loss: losses[i],
  }
  if (i + 1 === STEPS) progress.finish(status, STEPS)
  else if (progress.due(i + 1)) progress.update(status)
}
const trainSeconds = (performance.now() - started) / 1000
const accuracy = await evaluate(params)

// The attention of a few test examples: rows are output positions, columns source positions.
const shown = testSources.slice(0, 4)
const { logits, weights } = await decode(params, reversalBatch(shown, MAX_LENGTH).source)
const outputs = await decoded(logits)
const w = await weights.data()
const [, steps, T] = weights.aval.shape
const panels = shown.map((src, b) => {
  const rows = outputs[b].length + 1 // the symbols and the end token
  const values = Array.from({ length: rows }, (_, t) =>
    Array.from({ length: src.length }, (_, k) => w[(b * steps + t) * T + k]),
  )
  return plot.heatmap({
    values,
    title: `${text(src)} → ${text(outputs[b])}`,
    rowLabels: [...text(outputs[b]).split(''), '</s>'],
    colLabels: text(src).split(''),
    xLabel: 'source',
    yLabel: 'output',
    domain: [0, 1],
    cellSize: 28,
  })
})
await mkdir(outDir, { recursive: true })
await plot.writeSvg(
  join(outDir, 'attention.svg'),
  plot.sideBySide(panels, { columns: 2, title: 'attention weights (greedy decoding, test examples)' }),
)
await plot.writeSvg(
  join(outDir, 'training.svg'),
  plot.lineChart({
    series: [{ name: 'loss', y: losses }],
    title: `training loss; test sequence accuracy ${(100 * accuracy.sequence).toFixed(1)}%`,
    xLabel: 'step',
    yLabel: 'cross-entropy per token',
    logY: true,
  }),
)

// How anti-diagonal the attention is: the mean weight on source position L − 1 − t over all test outputs.
const { weights: all } = await decode(params, reversalBatch(testSources.slice(0, 250), MAX_LENGTH).source)
const aw = await all.data()
let mirrored = 0
let count = 0
testSources.slice(0, 250).forEach((src, b) =>
  src.forEach((_, t) => {
    mirrored += aw[(b * steps + t) * T + (src.length - 1 - t)]
    count++
  }),
)

const rows: [string, string][] = [
  ['test sequences', String(testSources.length)],
  ['sequence accuracy', `${(100 * accuracy.sequence).toFixed(1)} %`],
  ['symbol accuracy', `${(100 * accuracy.symbol).toFixed(1)} %`],
  ['mean attention on L − 1 − t', `${((100 * mirrored) / count).toFixed(1)} %`],
  [
    'final loss (mean of last 50)',
    (losses.slice(-50).reduce((a, b) => a + b, 0) / Math.min(50, losses.length)).toFixed(4),
  ],
  ['training steps', `${STEPS} × ${BATCH}`],
  ['training time', `${trainSeconds.toFixed(1)} s (${((1000 * trainSeconds) / STEPS).toFixed(0)} ms/step)`],
  ['backend', backend.name],
]
console.log()
for (const [k, v] of rows) console.log(`  ${k.padEnd(30)}${v}`)
console.log(`\nwrote ${join(outDir, 'attention.svg')} and ${join(outDir, 'training.svg')}`)
claim(
  accuracy.sequence >= TARGET,
  `sequence accuracy ${(100 * accuracy.sequence).toFixed(1)} % is below ${100 * TARGET} %`,
)
