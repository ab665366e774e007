/**
 * Deep belief networks (Hinton, Osindero and Teh 2006, "A fast learning
 * algorithm for deep belief nets"): a stack of restricted Boltzmann machines
 * trained greedily, one layer at a time, then used to initialise a
 * feed-forward network that is fine-tuned by backpropagation.
 *
 * A DBN with hidden layers h¹ … h^L has undirected connections between the
 * top two layers (an RBM) and directed, top-down sigmoid connections below
 * (A. Martins, *Deep Learning: A Shallow Tutorial*, NLPL Winter School 2018,
 * section "Generative Models": "Deep Belief Networks"):
 *
 *   p(h^{L−1}, h^L) ∝ exp(h^{L−1}ᵀ W^L h^L + b^{L−1}ᵀ h^{L−1} + c^Lᵀ h^L),
 *   p(h^{k−1}_i = 1 | h^k) = σ(b^{k−1}_i + (W^k h^k)_i),   h⁰ = v.
 *
 * Exact inference and the evidence lower bound are intractable, and the
 * notes give the way to train it: "begin by training a RBM for the first
 * layer; then train a second RBM to model the distribution defined by
 * sampling the hidden units of the first RBM, etc." (`pretrain`), and for
 * classification "take DBN's weights and define a MLP (discriminative
 * fine-tuning)" (`toMlp`). *Neural Networks II* (lecture notes), section
 * "Internal representations", makes the same point from the other side: a
 * restricted (deep) Boltzmann machine "looks very similar to a feedforward
 * neural network", each layer a learned representation of the one below.
 *
 * Why greedy stacking helps (Hinton et al. 2006, section 4): with the first
 * RBM's posterior q(h¹|v) = Π_j σ(c¹_j + (vᵀW¹)_j) fixed, the DBN's
 * log-likelihood is bounded by
 *
 *   log p(v) ≥ Σ_{h¹} q(h¹|v) [log p(v | h¹) + log p(h¹)] + H(q(·|v)),
 *
 * which is tight while p(h¹) is the first RBM's own marginal. Training a
 * second RBM on samples of q raises Σ_{h¹} Q(h¹) log p₂(h¹), with Q the
 * aggregate of q over the data, and that is the only term of the averaged
 * bound that depends on the second RBM: when it starts as the first one
 * transposed (W² = W¹ᵀ, `init: 'tied'`), p₂(h¹) equals the first RBM's
 * marginal, and whatever raises that term raises the bound above the first
 * RBM's log-likelihood. test/dbn.test.ts checks this exactly on a machine
 * small enough to enumerate.
 *
 * Each minibatch of pre-training is one jitted `rbm.cdStep` (CD-k, Hinton
 * 2002, with momentum and weight decay as in Hinton's practical guide, 2010).
 * The data of layer ℓ+1 are the hidden probabilities p(h^ℓ = 1 | h^{ℓ−1})
 * of layer ℓ (mean field, as in Hinton and Salakhutdinov 2006), or with
 * `upward: 'samples'` fresh binary samples of them drawn for every minibatch
 * (the notes' "sampling the hidden units").
 */
import type { Backend } from '../core/backend.ts'
import type { FloatDType } from '../dtype.ts'
import { jit } from '../jit.ts'
import { sequential } from '../nn/combinators.ts'
import { dense, sigmoid } from '../nn/layers.ts'
import * as ops from '../ops.ts'
import * as random from '../random.ts'
import { formatAval, Tensor } from '../tensor.ts'
import * as rbm from './rbm.ts'

type Any = Tensor<any, any>
const untyped = (x: Tensor): Any => x as Any
/** A batch of rows [N, n]. */
type Rows = Tensor<[number, number]>

// ---------------------------------------------------------------- pre-training

/** What `onEpoch` is told after each epoch of each layer. */
export interface EpochReport {
  /** The layer, from 0 (the RBM on the data). */
  readonly layer: number
  /** The epoch: 0 before training (the initial parameters), then 1, 2, …. */
  readonly epoch: number
  /** The layer's parameters after the epoch (on a device backend they live there: read them with `await t.data()`). */
  readonly params: rbm.Params
  /**
   * The mean over the epoch's minibatches of the reconstruction error
   * (`rbm.reconstructionError`, each before its update); at epoch 0, over the whole input.
   */
  readonly reconstructionError: number
  /** The layer's training input [N, V_ℓ]: the data, or the probabilities propagated up to it. */
  readonly input: Rows
}

export interface PretrainOptions {
  /** Epochs per layer: one count for all, or one per layer. */
  readonly epochs: number | readonly number[]
  /** Minibatch size (the last, smaller batch of each epoch is dropped so that the step compiles once). */
  readonly batchSize: number
  /** Learning rate of CD-k: one for all layers, or one per layer. */
  readonly lr: number | readonly number[]
  /** Momentum (default 0). */
  readonly momentum?: number
  /** Gibbs steps per update (default 1). */
  readonly k?: number
  /** Weight decay on W (default 0). */
  readonly weightDecay?: number
  /** The backend each layer's step is compiled for (default: jit's default backend). */
  readonly backend?: Backend
  /**
   * The next layer's data: the hidden probabilities ('probabilities', the
   * default: mean field) or binary samples of them drawn afresh for every
   * minibatch ('samples'). The first layer always trains on the data as given.
   */
  readonly upward?: 'probabilities' | 'samples'
  /** The standard deviation of the initial weights (default 0.01, Hinton's guide). */
  readonly scale?: number
  /**
   * The initial visible biases: 'logOdds' (the default, Hinton's guide)
   * sets b_i = log(p_i / (1 − p_i)) from the mean p_i of the layer's input
   * (clipped to [0.01, 0.99]); 'zero' leaves them 0.
   */
  readonly visibleBias?: 'logOdds' | 'zero'
  /**
   * 'random' (the default): every layer starts from small random weights.
   * 'tied': every layer above the first starts as the transpose of the
   * trained layer below (`transpose`), which needs its size to equal the
   * visible size of the layer below (Hinton et al. 2006: the bound on the
   * log-likelihood then starts tight).
   */
  readonly init?: 'random' | 'tied'
  /** Called (and awaited) before training each layer (epoch 0) and after each of its epochs. */
  readonly onEpoch?: (report: EpochReport) => void | Promise<void>
}

export interface Pretrained {
  /** The trained RBMs, bottom first: layer ℓ has W [n_ℓ, n_{ℓ+1}]. */
  readonly stack: rbm.Params[]
  /** Per layer, the reconstruction error before training (index 0) and of each epoch (1, 2, …). */
  readonly errors: number[][]
}

function checkOptions(sizes: readonly number[], o: PretrainOptions): { epochs: number[]; lrs: number[] } {
  if (!Array.isArray(sizes) || sizes.length === 0)
    throw new Error('dbn.pretrain: sizes must be a non-empty list of hidden layer sizes')
  for (const n of sizes)
    if (!(Number.isInteger(n) && n > 0))
      throw new Error(`dbn.pretrain: every layer size must be a positive integer, got ${n}`)
  const epochs = typeof o.epochs === 'number' ? sizes.map(() => o.epochs as number) : [...o.epochs]
  if (epochs.length !== sizes.length)
    throw new Error(`dbn.pretrain: ${epochs.length} epoch counts for ${sizes.length} layers`)
  for (const e of epochs)
    if (!(Number.isInteger(e) && e >= 0))
      throw new Error(`dbn.pretrain: epochs must be non-negative integers, got ${e}`)
  const lrs = typeof o.lr === 'number' ? sizes.map(() => o.lr as number) : [...o.lr]
  if (lrs.length !== sizes.length)
    throw new Error(`dbn.pretrain: ${lrs.length} learning rates for ${sizes.length} layers`)
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0))
    throw new Error(`dbn.pretrain: batchSize must be a positive integer, got ${o.batchSize}`)
  if (o.upward !== undefined && o.upward !== 'probabilities' && o.upward !== 'samples')
    throw new Error(`dbn.pretrain: upward must be 'probabilities' or 'samples', got ${JSON.stringify(o.upward)}`)
  if (o.init !== undefined && o.init !== 'random' && o.init !== 'tied')
    throw new Error(`dbn.pretrain: init must be 'random' or 'tied', got ${JSON.stringify(o.init)}`)
  if (o.visibleBias !== undefined && o.visibleBias !== 'logOdds' && o.visibleBias !== 'zero')
    throw new Error(`dbn.pretrain: visibleBias must be 'logOdds' or 'zero', got ${JSON.stringify(o.visibleBias)}`)
  return { epochs, lrs }
}

/**
 * The RBM with the roles of its layers exchanged: W → Wᵀ, b ↔ c. It defines
 * the same joint distribution over (v, h) read the other way round, so its
 * visible marginal is the original's hidden marginal.
 */
export function transpose<D extends FloatDType>(p: rbm.Params<number, number, D>): rbm.Params<number, number, D> {
  checkParams('transpose', p, 0)
  // Fresh tensors, so that training the result never touches the original's buffers.
  return { W: ops.transpose(untyped(p.W)) as Any, b: ops.add(untyped(p.c), 0), c: ops.add(untyped(p.b), 0) }
}

/** A host copy of a tensor, which may live on a device backend. */
async function onHost<T extends Tensor>(t: T): Promise<T> {
  return ops.tensor(await t.data(), { shape: t.aval.shape, dtype: t.aval.dtype }) as unknown as T
}

/** The rows of `x` [N, n] at `indices`, gathered on the host. */
function rowsAt(values: ArrayLike<number>, n: number, dtype: FloatDType, indices: ArrayLike<number>): Rows {
  const out = dtype === 'f64' ? new Float64Array(indices.length * n) : new Float32Array(indices.length * n)
  for (let i = 0; i < indices.length; i++)
    for (let j = 0; j < n; j++) out[i * n + j] = values[indices[i] * n + j] as number
  return ops.tensor(out, { shape: [indices.length, n], dtype }) as Rows
}

/**
 * Greedy layer-wise pre-training (Hinton, Osindero and Teh 2006): an RBM
 * with `sizes[0]` hidden units is trained with CD-k on `data` [N, V] (values
 * in [0, 1], f32 or f64: the parameters take its dtype), then its hidden
 * probabilities p(h = 1 | v) over the whole data set become the data of an
 * RBM with `sizes[1]` hidden units, and so on. Each minibatch is one jitted
 * call of `rbm.cdStep`; epoch e of layer ℓ orders the rows by a permutation
 * drawn from `key` folded with ℓ and e. Returns the stack, bottom first (as
 * host tensors, whatever the backend), and the reconstruction error of each
 * epoch of each layer.
 */
export async function pretrain(
  key: random.Key,
  data: Tensor<[number, number]>,
  sizes: readonly number[],
  options: PretrainOptions,
): Promise<Pretrained> {
  const { epochs, lrs } = checkOptions(sizes, options)
  if (!(data instanceof Tensor) || data.ndim !== 2 || (data.aval.dtype !== 'f32' && data.aval.dtype !== 'f64'))
    throw new Error(`dbn.pretrain: data must be an f32 or f64 matrix [N, V], got ${formatAval(data.aval)}`)
  const dtype = data.aval.dtype as FloatDType
  const N = data.aval.shape[0]
  if (N < options.batchSize) throw new Error(`dbn.pretrain: ${N} rows are fewer than one batch of ${options.batchSize}`)
  const { upward = 'probabilities', scale = 0.01, visibleBias = 'logOdds', init = 'random', backend } = options
  const jitOptions = backend === undefined ? {} : { backend }
  /** Layer ℓ's step; with 'samples', the minibatch of probabilities becomes binary inside the same call. */
  const stepFor = (lr: number, sampled: boolean) => {
    const cd = rbm.cdStep({
      k: options.k ?? 1,
      lr,
      momentum: options.momentum ?? 0,
      weightDecay: options.weightDecay ?? 0,
    })
    if (!sampled) return jit(cd, jitOptions)
    return jit((p: rbm.Params, velocity: rbm.Params, k: random.Key, probs: Rows) => {
      const [kv, kcd] = random.split(k)
      const v = ops.astype(random.bernoulli(kv, untyped(probs), probs.aval.shape), dtype) as Rows
      return cd(p, velocity, kcd, v)
    }, jitOptions)
  }
  const recon = jit((p: rbm.Params, v: Rows) => rbm.reconstructionError(p, v), jitOptions)
  const up = jit((p: rbm.Params, v: Rows) => rbm.hiddenProbs(p, v), jitOptions)

  const stack: rbm.Params[] = []
  const errors: number[][] = []
  let input: Rows = await onHost(data)
  for (const [layer, H] of sizes.entries()) {
    const V = input.aval.shape[1]
    const layerKey = random.foldIn(key, layer)
    const [kInit, kOrder, kSteps] = random.split(layerKey, 3)
    let p: rbm.Params
    if (init === 'tied' && layer > 0) {
      const below = stack[layer - 1]
      if (below.W.aval.shape[0] !== H)
        throw new Error(
          `dbn.pretrain: init 'tied' starts layer ${layer} (${V} → ${H}) as the transpose of layer ${layer - 1} (${below.W.aval.shape[0]} → ${V}); the sizes must match`,
        )
      p = transpose(below)
    } else {
      p = rbm.init(kInit, V, H, { scale, dtype })
      if (visibleBias === 'logOdds') {
        const on = ops.minimum(ops.maximum(ops.mean(untyped(input), 0), 0.01), 0.99)
        p = { ...p, b: ops.log(ops.div(on, ops.sub(1, on))) as Any }
      }
    }
    let velocity = rbm.initVelocity(p)
    const values = input.dataSync()
    const layerErrors: number[] = []
    const step = stepFor(lrs[layer], upward === 'samples' && layer > 0)
    let t = 0
    const initialError = (await (await recon(p, input)).data())[0]
    layerErrors.push(initialError)
    await options.onEpoch?.({ layer, epoch: 0, params: p, reconstructionError: initialError, input })
    for (let epoch = 1; epoch <= epochs[layer]; epoch++) {
      const order = random.permutation(random.foldIn(kOrder, epoch), N).dataSync()
      const batches = Math.floor(N / options.batchSize)
      const errs: Tensor[] = []
      for (let b = 0; b < batches; b++) {
        const v = rowsAt(values, V, dtype, order.subarray(b * options.batchSize, (b + 1) * options.batchSize))
        const k = random.foldIn(kSteps, t++)
        let err: Tensor
        ;[p, velocity, err] = await step(p, velocity, k, v)
        errs.push(err)
      }
      let sum = 0
      for (const e of errs) sum += (await e.data())[0]
      const error = sum / batches
      layerErrors.push(error)
      await options.onEpoch?.({ layer, epoch, params: p, reconstructionError: error, input })
    }
    // Copies on the host: a device backend's outputs can only be read, and the stack is used eagerly.
    stack.push({ W: await onHost(p.W), b: await onHost(p.b), c: await onHost(p.c) })
    errors.push(layerErrors)
    if (layer + 1 < sizes.length) input = (await onHost(await up(p, input))) as Rows
  }
  return { stack, errors }
}

// ---------------------------------------------------------------- the stack as a network

function checkParams(name: string, p: rbm.Params, layer: number): void {
  if (!(p?.W instanceof Tensor && p.b instanceof Tensor && p.c instanceof Tensor) || p.W.ndim !== 2)
    throw new TypeError(`dbn.${name}: layer ${layer} must be RBM parameters { W [V, H], b [V], c [H] }`)
}

function checkStack(name: string, stack: readonly rbm.Params[]): void {
  if (!Array.isArray(stack) || stack.length === 0) throw new Error(`dbn.${name}: expected a non-empty stack of RBMs`)
  stack.forEach((p, i) => {
    checkParams(name, p, i)
    if (i > 0 && stack[i - 1].W.aval.shape[1] !== p.W.aval.shape[0])
      throw new Error(
        `dbn.${name}: layer ${i - 1} has ${stack[i - 1].W.aval.shape[1]} hidden units but layer ${i} has ${p.W.aval.shape[0]} visible ones`,
      )
  })
}

/** The sizes of the stack's layers: [V, H₁, …, H_L]. */
export function layerSizes(stack: readonly rbm.Params[]): number[] {
  checkStack('layerSizes', stack)
  return [stack[0].W.aval.shape[0], ...stack.map((p) => p.W.aval.shape[1])]
}

/**
 * The mean-field representations of `v` [B, V] at every hidden layer:
 * h¹ = p(h¹ = 1 | v), h^{ℓ+1} = p(h^{ℓ+1} = 1 | h^ℓ), each through
 * `rbm.hiddenProbs`. What the fine-tuned network starts by computing.
 */
export function propagate(stack: readonly rbm.Params[], v: Rows): Rows[] {
  checkStack('propagate', stack)
  const out: Rows[] = []
  let x = v
  for (const p of stack) {
    x = rbm.hiddenProbs(p, x) as Rows
    out.push(x)
  }
  return out
}

/** The parameters of `nn.dense`: z = xW + b. */
export type DenseParams = { readonly w: Tensor<[number, number]>; readonly b: Tensor<[number]> }
/** The parameters of the MLP `toMlp` builds: dense layers, with `null` for each sigmoid. */
export type MlpParams = (DenseParams | null)[]

export interface Mlp {
  /** nn.sequential(dense(V, H₁), sigmoid, …, dense(H_{L−1}, H_L), sigmoid, dense(H_L, outputs)). */
  readonly model: {
    init(key: random.Key): MlpParams
    apply(params: MlpParams, x: Tensor): Tensor
  }
  /** Hidden layer ℓ: w = W^ℓ, b = c^ℓ (the RBM's hidden biases); the output layer: w ~ N(0, scale²), b = 0. */
  readonly params: MlpParams
}

/**
 * The feed-forward network a stack initialises (Martins: "take DBN's
 * weights and define a MLP"): hidden layer ℓ computes σ(x W^ℓ + c^ℓ), the
 * RBM's p(h = 1 | v) (the visible biases b^ℓ are not used), and a new
 * output layer of `outputs` linear units (logits, for a softmax
 * cross-entropy) starts with weights N(0, scale²) drawn from `key`
 * (default scale 0.01) and zero biases. `model.init(key)` gives the same
 * architecture from nn's default initialisation (Glorot uniform weights,
 * zero biases), for comparison.
 */
export function toMlp(
  stack: readonly rbm.Params[],
  outputs: number,
  options: { readonly key?: random.Key; readonly scale?: number } = {},
): Mlp {
  const sizes = layerSizes(stack)
  if (!(Number.isInteger(outputs) && outputs > 0))
    throw new Error(`dbn.toMlp: outputs must be a positive integer, got ${outputs}`)
  const dtype = stack[0].W.aval.dtype as FloatDType
  const { key = random.key(0), scale = 0.01 } = options
  const layers: unknown[] = []
  const params: MlpParams = []
  for (let i = 0; i < stack.length; i++) {
    layers.push(dense(sizes[i], sizes[i + 1], { dtype }), sigmoid)
    params.push({ w: stack[i].W as Rows, b: stack[i].c as Tensor<[number]> }, null)
  }
  const top = sizes[sizes.length - 1]
  layers.push(dense(top, outputs, { dtype }))
  params.push({
    w: random.normal(key, [top, outputs], { stddev: scale, dtype }) as Rows,
    b: ops.zeros([outputs], dtype) as Tensor<[number]>,
  })
  const model = (sequential as (...ls: unknown[]) => unknown)(...layers) as Mlp['model']
  return { model, params }
}

// ---------------------------------------------------------------- sampling

/**
 * `count` samples from the DBN as a generative model: `steps` steps of block
 * Gibbs sampling in the top RBM started from uniform random bits, then one
 * pass down the directed layers, h^{ℓ−1} ~ p(h^{ℓ−1} | h^ℓ) = σ(b^ℓ + W^ℓ h^ℓ),
 * returning the bottom layer's probabilities p(v = 1 | h¹) [count, V]
 * (the usual way to show them). Jittable; the stack's shapes fix the program.
 */
export function generate(key: random.Key, stack: readonly rbm.Params[], steps: number, count: number): Rows {
  checkStack('generate', stack)
  if (!(Number.isInteger(count) && count > 0))
    throw new Error(`dbn.generate: count must be a positive integer, got ${count}`)
  if (!(Number.isInteger(steps) && steps >= 0))
    throw new Error(`dbn.generate: steps must be a non-negative integer, got ${steps}`)
  const [kStart, kChain, kDown] = random.split(key, 3)
  const topParams = stack[stack.length - 1]
  const dtype = topParams.W.aval.dtype
  const start = ops.astype(random.bernoulli(kStart, 0.5, [count, topParams.W.aval.shape[0]]), dtype) as Rows
  // x: the state of the top RBM's visible layer h^{L−1}.
  let x = rbm.gibbs(kChain, topParams, start, steps) as Rows
  const downKeys = random.split(kDown, stack.length)
  // One RBM alone: its chain is over v; show p(v | h) for h ~ p(h | v).
  if (stack.length === 1) return rbm.visibleProbs(topParams, rbm.sampleHidden(downKeys[0], topParams, x)) as Rows
  for (let i = stack.length - 2; i >= 1; i--) x = rbm.sampleVisible(downKeys[i], stack[i], x) as Rows
  return rbm.visibleProbs(stack[0], x) as Rows
}
