/**
 * An encoder–decoder with attention (Bahdanau et al. 2015; A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Attention
 * Mechanism") for sequences of symbols, shared by the example
 * examples/seq2seq-attention.ts and its test.
 *
 *  - Encoder: an embedding, then a bidirectional GRU over the padded source
 *    (time-major, one `scan` per direction); the annotation h_k of source
 *    position k is [→h_k; ←h_k], so that it knows both what came before k
 *    and how far k is from the end, which is what reversal needs. Sources
 *    are padded on the right, so the backward direction reads the padding
 *    first: its states then also count the padding, which is harmless,
 *    since attention gives padded positions weight 0.
 *  - Decoder, unrolled in JavaScript over the output positions (traced once
 *    inside whatever transform calls it): at step t the state s_{t−1} is the
 *    query of additive attention over the annotations (padding masked out),
 *    giving the context c_t and weights a_t; s_t = GRU(s_{t−1}, [emb(y_{t−1}); c_t]);
 *    logits_t = W [s_t; c_t] + b. s_0 = tanh(W₀ ←h_0 + b₀), the backward
 *    state that has read the whole source.
 *  - Training uses teacher forcing (y_{t−1} is the reference symbol);
 *    `greedy` feeds back the most likely symbol instead, as at test time.
 *
 * Tokens: 0 padding, 1 begin, 2 end, 3.. the symbols.
 */
import { grad, jit, nn, ops, optim, random, recurrent, type Backend, type Tensor } from '../../index.ts'

type AnyT = Tensor<any, any>
const untyped = (x: Tensor): AnyT => x as AnyT

export const PAD = 0
export const BOS = 1
export const EOS = 2
export const FIRST_SYMBOL = 3

export interface Seq2SeqConfig {
  /** Number of distinct symbols (the vocabulary adds padding, begin and end). */
  readonly symbols: number
  /** Longest source; the decoder runs maxLength + 1 steps (the symbols, then end). */
  readonly maxLength: number
  readonly embed: number
  /** Hidden size of each encoder direction. */
  readonly encoder: number
  readonly decoder: number
  /** Hidden size of the additive attention's tanh layer. */
  readonly attention: number
  /** Run the encoder as a JavaScript loop rather than with `scan` (default false). */
  readonly unrolled?: boolean
}

/** A batch: source tokens [B, T], decoder inputs and targets [B, T + 1], and the weight of each target position. */
export interface Batch {
  readonly source: Tensor<[number, number], 'i32'>
  readonly decoderInput: Tensor<[number, number], 'i32'>
  readonly target: Tensor<[number, number], 'i32'>
  /** 1 where the target is a symbol or the end token, 0 on padding. */
  readonly weight: Tensor<[number, number]>
}

export function seq2seq(config: Seq2SeqConfig) {
  const vocab = config.symbols + FIRST_SYMBOL
  const A = 2 * config.encoder
  const srcEmbed = nn.embedding(vocab, config.embed)
  const tgtEmbed = nn.embedding(vocab, config.embed)
  const encoder = recurrent.bidirectional(
    recurrent.gru(config.embed, config.encoder),
    recurrent.gru(config.embed, config.encoder),
  )
  const bridge = nn.dense(config.encoder, config.decoder)
  const attention = nn.additiveAttention(config.decoder, A, config.attention)
  const cell = recurrent.gru(config.embed + A, config.decoder)
  const readout = nn.dense(config.decoder + A, vocab)

  const init = (key: random.Key) => {
    const k = random.split(key, 7)
    return {
      srcEmbed: srcEmbed.init(k[0]),
      tgtEmbed: tgtEmbed.init(k[1]),
      encoder: encoder.init(k[2]),
      bridge: bridge.init(k[3]),
      attention: attention.init(k[4]),
      cell: cell.init(k[5]),
      readout: readout.init(k[6]),
    }
  }
  type Params = ReturnType<typeof init>

  /**
   * The bidirectional GRU as a JavaScript loop over time instead of two
   * scans: the same function, but a program without `scan`, which the WebGPU
   * backend compiles.
   */
  const unrolledBidirectional = (params: readonly [unknown, unknown], xs: AnyT): AnyT => {
    const [T, B] = xs.aval.shape
    const E = config.embed
    const inputs = Array.from({ length: T }, (_, t) => ops.reshape(ops.slice(xs, [t, 0, 0], [1, B, E]), [B, E]))
    const [fw, bw] = encoder.cells
    const run = (c: typeof fw, p: unknown, order: number[]) => {
      let h: AnyT = ops.zeros([B, config.encoder], 'f32')
      const out: AnyT[] = new Array(T)
      for (const t of order) {
        h = (c.step(p as never, h as never, inputs[t] as never) as unknown as [AnyT])[0]
        out[t] = h
      }
      return out
    }
    const forwards = run(fw, params[0], [...Array(T).keys()])
    const backwards = run(bw, params[1], [...Array(T).keys()].reverse())
    return ops.stack(
      forwards.map((f, t) => ops.concat([f, backwards[t]], -1)),
      0,
    )
  }

  /** Annotations [B, T, 2H], the padding mask [B, 1, T] and the decoder's first state [B, S]. */
  const encode = (p: Params, source: Tensor) => {
    const B = source.aval.shape[0]
    // Time-major for the scans: [T, B, E].
    const xs = ops.transpose(untyped(srcEmbed.apply(p.srcEmbed as never, source as never) as Tensor), [1, 0, 2])
    const h0 = [ops.zeros([B, config.encoder], 'f32'), ops.zeros([B, config.encoder], 'f32')] as never
    const ys = config.unrolled
      ? unrolledBidirectional(p.encoder as never, xs)
      : (encoder.run(p.encoder as never, h0, xs as never) as unknown as [unknown, Tensor])[1]
    const annotations = ops.transpose(untyped(ys), [1, 0, 2]) // [B, T, 2H]
    const mask = ops.expandDims(ops.notEqual(untyped(source), PAD), 1) // [B, 1, T]
    // ←h_0: the backward half of the first annotation, which has read the whole source.
    const back0 = ops.slice(untyped(ys), [0, 0, config.encoder], [1, B, config.encoder])
    const s0 = ops.tanh(
      untyped(bridge.apply(p.bridge as never, ops.reshape(back0, [B, config.encoder]) as never) as Tensor),
    )
    return { annotations, mask, s0 }
  }

  /** One decoder step from the state and the embedded previous symbol: [next state, logits, weights [B, T]]. */
  const decodeStep = (p: Params, enc: ReturnType<typeof encode>, s: AnyT, prev: AnyT) => {
    const B = s.aval.shape[0]
    const { context, weights } = attention.apply(
      p.attention as never,
      ops.expandDims(s, 1) as never,
      enc.annotations as never,
      enc.annotations as never,
      { mask: enc.mask as never },
    ) as unknown as {
      context: AnyT
      weights: AnyT
    }
    const c = ops.reshape(context, [B, A])
    const [next] = cell.step(p.cell as never, s as never, ops.concat([prev, c], -1) as never) as unknown as [AnyT, AnyT]
    const logits = untyped(readout.apply(p.readout as never, ops.concat([next, c], -1) as never) as Tensor)
    return { next, logits, weights: ops.reshape(weights, [B, weights.aval.shape[2]]) }
  }

  /** Mean cross-entropy per target token, with teacher forcing. */
  const loss = (p: Params, batch: Batch): Tensor<[]> => {
    const enc = encode(p, batch.source)
    const steps = batch.target.aval.shape[1]
    const B = batch.target.aval.shape[0]
    const inputs = untyped(tgtEmbed.apply(p.tgtEmbed as never, batch.decoderInput as never) as Tensor) // [B, T + 1, E]
    let s = enc.s0
    let total: AnyT = ops.zeros([], 'f32')
    for (let t = 0; t < steps; t++) {
      const prev = ops.reshape(ops.slice(inputs, [0, t, 0], [B, 1, config.embed]), [B, config.embed])
      const out = decodeStep(p, enc, s, prev)
      s = out.next
      const labels = ops.reshape(ops.slice(untyped(batch.target), [0, t], [B, 1]), [B])
      const w = ops.reshape(ops.slice(untyped(batch.weight), [0, t], [B, 1]), [B])
      const perExample = nn.softmaxCrossEntropy(out.logits, labels as never, { reduction: 'none' }) as AnyT
      total = ops.add(total, ops.sum(ops.mul(perExample, w)))
    }
    return ops.div(total, ops.sum(untyped(batch.weight))) as Tensor<[]>
  }

  /**
   * Greedy decoding for `steps` steps: each step feeds back the symbol of
   * largest logit (as a one-hot row times the embedding table, so that the
   * whole loop stays one traced program). Returns the logits [B, steps, V]
   * and the attention weights [B, steps, T].
   */
  const greedy = (p: Params, source: Tensor, steps: number) => {
    const enc = encode(p, source)
    const B = source.aval.shape[0]
    const table = untyped(p.tgtEmbed.table as Tensor)
    let prev = ops.broadcastTo(ops.reshape(ops.slice(table, [BOS, 0], [1, config.embed]), [1, config.embed]), [
      B,
      config.embed,
    ]) as AnyT
    let s = enc.s0
    const logits: AnyT[] = []
    const weights: AnyT[] = []
    for (let t = 0; t < steps; t++) {
      const out = decodeStep(p, enc, s, prev)
      s = out.next
      logits.push(out.logits)
      weights.push(out.weights)
      const best = ops.astype(ops.equal(out.logits, ops.max(out.logits, -1, { keepDims: true })), 'f32')
      prev = ops.matmul(best, table)
    }
    return {
      logits: ops.stack(logits, 1) as Tensor<[number, number, number]>,
      weights: ops.stack(weights, 1) as Tensor<[number, number, number]>,
    }
  }

  return { config, vocab, init, encode, loss, greedy }
}

export type Seq2Seq = ReturnType<typeof seq2seq>
export type Seq2SeqParams = ReturnType<Seq2Seq['init']>

/** Source sequences for reversal: lengths uniform in [minLength, maxLength], symbols uniform, from `key`. */
export function reversalExamples(
  key: random.Key,
  count: number,
  symbols: number,
  minLength: number,
  maxLength: number,
): number[][] {
  const words = Uint32Array.from(random.bits(key, [count * (maxLength + 1)]).dataSync(), (v) => v >>> 0)
  const out: number[][] = []
  for (let i = 0; i < count; i++) {
    const base = i * (maxLength + 1)
    const length = minLength + (words[base] % (maxLength - minLength + 1))
    out.push(Array.from({ length }, (_, j) => FIRST_SYMBOL + (words[base + 1 + j] % symbols)))
  }
  return out
}

/** A sequence of symbols as letters, the first symbol as 'a'. */
export const symbolText = (seq: readonly number[]): string =>
  seq.map((s) => String.fromCharCode(97 + s - FIRST_SYMBOL)).join('')

export interface ReversalTask {
  readonly trainKey: random.Key
  readonly testKey: random.Key
  readonly steps: number
  readonly batch: number
  readonly testSize: number
  readonly symbols: number
  readonly minLength: number
  readonly maxLength: number
}

/**
 * The reversal task's data: the sources of training batch `step` (foldIn of
 * the training key and the step), and a held-out test set from its own key
 * with every sequence of the `steps` training batches removed.
 */
export function reversalData(task: ReversalTask): { train(step: number): number[][]; test: number[][] } {
  const { symbols, minLength, maxLength } = task
  const train = (step: number) =>
    reversalExamples(random.foldIn(task.trainKey, step), task.batch, symbols, minLength, maxLength)
  const seen = new Set<string>()
  for (let step = 0; step < task.steps; step++) for (const s of train(step)) seen.add(symbolText(s))
  const test = reversalExamples(task.testKey, task.testSize + 200, symbols, minLength, maxLength)
    .filter((s) => !seen.has(symbolText(s)))
    .slice(0, task.testSize)
  return { train, test }
}

/**
 * The training step: teacher-forced loss, gradients clipped to norm 1, Adam
 * whose rate falls tenfold over `steps` (the last steps polish rather than
 * jump), one jitted call per step with parameters and state donated.
 */
export function trainingStep(model: Seq2Seq, backend: Backend, steps: number) {
  const opt = optim.chain(
    optim.clipByGlobalNorm(1),
    optim.adam({ lr: optim.exponentialDecay({ init: 1e-2, rate: 0.1, steps }) }),
  )
  type State = ReturnType<typeof opt.init>
  const step = jit(
    (p: Seq2SeqParams, s: State, b: Batch) => {
      const [next, state] = opt.update(grad(model.loss)(p, b), s, p)
      return [next, state, model.loss(p, b)] as const
    },
    { backend, donateArgnums: [0, 1] },
  )
  return { opt, step }
}

/** The padded tensors of a batch of sources whose targets are their reversals followed by the end token. */
export function reversalBatch(sources: readonly (readonly number[])[], maxLength: number): Batch {
  const B = sources.length
  const steps = maxLength + 1
  const source = new Int32Array(B * maxLength)
  const decoderInput = new Int32Array(B * steps)
  const target = new Int32Array(B * steps)
  const weight = new Float32Array(B * steps)
  sources.forEach((seq, b) => {
    const reversed = [...seq].reverse()
    seq.forEach((s, j) => (source[b * maxLength + j] = s))
    const out = [...reversed, EOS]
    const inp = [BOS, ...reversed]
    out.forEach((s, j) => {
      target[b * steps + j] = s
      decoderInput[b * steps + j] = inp[j]
      weight[b * steps + j] = 1
    })
  })
  return {
    source: ops.tensor(source, { shape: [B, maxLength], dtype: 'i32' }) as never,
    decoderInput: ops.tensor(decoderInput, { shape: [B, steps], dtype: 'i32' }) as never,
    target: ops.tensor(target, { shape: [B, steps], dtype: 'i32' }) as never,
    weight: ops.tensor(weight, { shape: [B, steps] }) as never,
  }
}

/** The symbols before the first end token of each row of greedy logits [B, steps, V]. */
export async function decoded(logits: Tensor): Promise<number[][]> {
  const [B, steps, V] = logits.aval.shape
  const data = await logits.data()
  const out: number[][] = []
  for (let b = 0; b < B; b++) {
    const seq: number[] = []
    for (let t = 0; t < steps; t++) {
      let best = 0
      for (let v = 1; v < V; v++) if (data[(b * steps + t) * V + v] > data[(b * steps + t) * V + best]) best = v
      if (best === EOS) break
      seq.push(best)
    }
    out.push(seq)
  }
  return out
}
