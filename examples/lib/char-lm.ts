/**
 * A character-level LSTM language model (Deep Learning, COMP613 Advanced
 * Topics in Machine Learning (lecture notes), "Deep Learning for NLP"; A.
 * Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School 2018,
 * "Example: Language Modeling":
 * p(x₁ … x_T) = Πₜ p(xₜ | x₁ … xₜ₋₁), each factor a softmax over the
 * vocabulary from the state of a recurrent net that has read x₁ … xₜ₋₁):
 * embedding → LSTM → dense logits, trained by BPTT on windows of the text,
 * the state carried across the windows of a stream when evaluating.
 */
import { jit, nn, ops, optim, random, valueAndGrad, type Backend, type Tensor } from '../../index.ts'
import { lstm, scan, type LstmParams } from '../../src/recurrent/index.ts'

export interface CharLmConfig {
  readonly vocab: number
  readonly embed: number
  readonly hidden: number
}

export interface CharLmParams {
  readonly embed: { readonly table: Tensor }
  readonly cell: LstmParams<number, number>
  readonly out: { readonly w: Tensor; readonly b: Tensor }
}

export type State = { readonly h: Tensor; readonly c: Tensor }

export function charLm({ vocab, embed, hidden }: CharLmConfig) {
  const embedding = nn.embedding(vocab, embed)
  const cell = lstm(embed, hidden)
  const out = nn.dense(hidden, vocab)
  const init = (key: random.Key): CharLmParams => {
    const [k1, k2, k3] = random.split(key, 3)
    return { embed: embedding.init(k1), cell: cell.init(k2), out: out.init(k3) }
  }
  const initialState = (batch: number): State => cell.initialState(batch) as State
  /** Embedded inputs e [T, B, E] → (logits [T, B, V], final state). */
  const fromEmbedded = (p: CharLmParams, state: State, e: Tensor): [Tensor, State] => {
    const [T, B] = e.shape as number[]
    const [last, hs] = scan(
      (s: State, x: Tensor) => {
        const [next, y] = cell.step(p.cell, s as never, x as never)
        return [next as State, y as Tensor] as const
      },
      state,
      e,
    )
    const logits = out.apply(p.out as never, ops.reshape(hs, [T * B, hidden]) as never) as Tensor
    return [ops.reshape(logits, [T, B, vocab]), last]
  }
  const embedIds = (p: CharLmParams, ids: Tensor) => embedding.apply(p.embed as never, ids as never) as Tensor
  /** Mean cross-entropy (nats per character) of targets [T, B] given inputs [T, B], from `state`; and the state after. */
  const loss = (p: CharLmParams, state: State, inputs: Tensor, targets: Tensor): [Tensor<[]>, State] => {
    const [logits, last] = fromEmbedded(p, state, embedIds(p, inputs))
    const [T, B] = targets.shape as number[]
    const ce = nn.sparseSoftmaxCrossEntropy(
      ops.reshape(logits, [T * B, vocab]) as never,
      ops.reshape(targets, [T * B]) as never,
    ) as Tensor<[]>
    return [ce, last]
  }
  return { init, initialState, fromEmbedded, embedIds, loss }
}
export type CharLm = ReturnType<typeof charLm>

/**
 * A jitted Adam step (gradients clipped by global norm, the "thresholding" of the COMP613 notes, "Sequences &
 * Recurrent Neural Nets") from zero states; it returns the loss.
 */
export function trainingStep(
  model: CharLm,
  backend: Backend,
  options: { readonly steps: number; readonly lr: number; readonly clip: number },
) {
  const opt = optim.chain(
    optim.clipByGlobalNorm(options.clip),
    optim.adam({ lr: optim.exponentialDecay({ init: options.lr, rate: 0.1, steps: options.steps }) }),
  )
  type OptState = ReturnType<typeof opt.init>
  const objective = (p: CharLmParams, inputs: Tensor, targets: Tensor) =>
    model.loss(p, model.initialState(inputs.shape[1] as number), inputs, targets)[0]
  const step = jit(
    (p: CharLmParams, s: OptState, inputs: Tensor, targets: Tensor) => {
      const [value, g] = valueAndGrad(objective)(p, inputs, targets)
      const [next, state] = opt.update(g as never, s, p as never)
      return [next as unknown as CharLmParams, state, value] as const
    },
    { backend, donateArgnums: [0, 1] },
  )
  return { opt, step }
}

/** A jitted evaluation step that carries the state across windows of parallel streams: (p, state, inputs, targets) → [state′, summed nats]. */
export function evaluationStep(model: CharLm, backend: Backend) {
  return jit(
    (p: CharLmParams, state: State, inputs: Tensor, targets: Tensor) => {
      const [ce, last] = model.loss(p, state, inputs, targets)
      return [last, ops.mul(ce, inputs.shape[0] * inputs.shape[1])] as const
    },
    { backend },
  )
}
