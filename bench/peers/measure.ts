/**
 * Measuring helpers and the shared description of the benchmark workloads.
 * adjoint's own benchmark can import these so that its figures are taken the
 * same way as the peers' (see bench/peers/run.ts and bench/README.md).
 */

/**
 * The workloads, as thunks that do one unit of work and resolve when it has
 * finished. The training steps of generative models (rbmStep, vaeStep,
 * ganStep) are optional: a peer without one reports "not implemented".
 */
export interface Workloads {
  /** f32 n×n by n×n matrix product; reads back one element of the result. */
  matmul(n: number): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One SGD training step of the MLP below on a batch of `batch` samples. */
  mlpStep(batch: number): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One BPTT SGD training step of the tanh RNN below. */
  rnnStep(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One CD-1 update of the RBM below; the loss is the reconstruction error of the batch before the update. */
  rbmStep?(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One Adam step of the VAE below; the loss is −ELBO (one reparameterised sample, nats per example). */
  vaeStep?(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One GAN step (D update, then G update) of the networks below; the loss is the discriminator's. */
  ganStep?(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One SGD training step of the CNN below on a batch of CNN.batch images. */
  cnnStep?(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** One BPTT SGD training step of the character-level LSTM language model below. */
  lstmStep?(): Promise<() => Promise<void>> | (() => Promise<void>)
  /** Cumulative GPU counters (webgpu peers only); the runner takes differences. */
  counters?(): { dispatches?: number; submissions?: number }
  /** The loss computed by the latest training-step call (to check that training happens). */
  lastLoss?(): number | undefined
  /** Frees what the peer holds (optional). */
  dispose?(): Promise<void> | void
}

/** Sizes shared by every implementation. */
export const MATMUL_N = 1024
export const MLP = { input: 784, hidden: 256, output: 10, batch: 128, lr: 0.01 } as const
/**
 * tanh RNN: h_0 = 0, h_t = tanh(x_t Wx + h_{t-1} Wh + b), t = 1..T;
 * loss = mean(h_T²) over batch and hidden units; BPTT gradient of
 * {Wx, Wh, b}; SGD with lr.
 */
export const RNN = { input: 32, hidden: 128, steps: 50, batch: 32, lr: 0.01 } as const

/**
 * Bernoulli RBM, V visible × H hidden units, CD-k (k = 1) on a batch of B
 * binary vectors: h⁺ = p(h|v), h ~ p(h|v), v⁻ ~ p(v|h), h⁻ = p(h|v⁻);
 * W += lr·(vᵀh⁺ − v⁻ᵀh⁻)/B, b += lr·mean(v − v⁻), c += lr·mean(h⁺ − h⁻).
 */
export const RBM = { visible: 784, hidden: 128, batch: 100, k: 1, lr: 0.05 } as const
/**
 * VAE 784 → 400 (ReLU) → (μ, log σ²) of 20; z = μ + σ ε; 20 → 400 (ReLU) →
 * 784 Bernoulli logits; loss −ELBO (mean over the batch, one sample of ε);
 * Adam (β₁ 0.9, β₂ 0.999, ε 1e-8) with lr.
 */
export const VAE = { input: 784, hidden: 400, latent: 20, batch: 100, lr: 1e-3 } as const
/**
 * GAN on 2-D points: G z(16) → 128 → 128 → 2 (ReLU), D 2 → 128 → 128 → 1
 * (leaky ReLU, slope 0.2); z ~ N(0, I); D minimises softplus(−D(x)) +
 * softplus(D(G(z))), then G the non-saturating softplus(−D(G(z'))) against
 * the updated D, fresh z'; Adam (β₁ 0.5, β₂ 0.999, ε 1e-8) for both.
 */
export const GAN = { latent: 16, hidden: 128, data: 2, batch: 256, lr: 1e-3, beta1: 0.5, slope: 0.2 } as const
/**
 * The MNIST CNN of examples/lib/mnist-cnn.ts on NHWC images [batch, 28, 28, 1]:
 * 3×3 convolution to 16 channels (SAME), ReLU, 2×2 max pooling; 3×3
 * convolution to 32 channels (SAME), ReLU, 2×2 max pooling; flatten
 * (7·7·32 = 1568, in H, W, C order); dense 128, ReLU; dense 10; mean softmax
 * cross-entropy; SGD with lr. Kernels are [Kh, Kw, Cin, Cout].
 */
export const CNN = { size: 28, kernel: 3, c1: 16, c2: 32, hidden: 128, output: 10, batch: 128, lr: 0.01 } as const
/**
 * The character-level LSTM language model of examples/char-lm.ts at its
 * full size (vocabulary 76: Moby-Dick's characters seen at least 20 times,
 * and the unknown one): ids [steps + 1, batch]; e_t = table[ids_t] (embed);
 * [i f g o] = e_t Wx + h_{t-1} Wh + b (four column blocks of width hidden),
 * c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g), h_t = σ(o)⊙tanh(c_t), h_0 = c_0 = 0;
 * logits_t = h_t Wo + bo; loss = mean over t and batch of the softmax
 * cross-entropy of ids_{t+1}; BPTT gradient of every parameter; SGD with lr.
 */
export const LSTM = { vocab: 76, embed: 32, hidden: 256, steps: 64, batch: 32, lr: 0.01 } as const

export type Unit =
  | 'GFLOP/s'
  | 'samples/s'
  | 'steps/s'
  | 'dispatches/step'
  | 'submissions/step'
  | 'ms/step'
  | 'ms, first call'

/** One line of output: `{"workload","system","backend","value","unit"}`. */
export interface Row {
  workload: 'matmul' | 'mlp' | 'rnn' | 'rbm' | 'vae' | 'gan' | 'cnn' | 'lstm'
  system: string
  backend: string
  value: number | null
  unit: Unit
  /** Set when there is no figure (backend unavailable, failed, timed out) or the figure is partial. */
  note?: string
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export interface TimeItOptions {
  /** Calls made before measuring (compilation, caches); default 2. */
  warmup?: number
  /** Wall-clock budget for warm-up and measurement together, in ms; default 20,000. */
  budgetMs?: number
  /** Measured calls wanted at least, as long as the budget allows; default 3. */
  minReps?: number
  /** Measured calls at most; default 200. */
  maxReps?: number
  /** Called after each measured call with its duration in ms. */
  onSample?(ms: number): void
  /** Called after each warm-up call with its duration in ms. */
  onWarmup?(ms: number): void
}

export interface Timing {
  /** Duration of each measured call, in ms. */
  samplesMs: number[]
  medianMs: number
  /** Duration of each warm-up call, in ms (the first one includes compilation). */
  warmupMs: number[]
}

/**
 * Times `fn`: warm-up calls, then measured calls until the budget is spent
 * (at least one measured call, and `minReps` if the budget allows).
 * Each call is awaited; `fn` must only resolve once its work has finished
 * (read something back).
 */
export async function timeIt(fn: () => Promise<void>, opts: TimeItOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 2
  const budget = opts.budgetMs ?? 20_000
  const minReps = opts.minReps ?? 3
  const maxReps = opts.maxReps ?? 200
  const start = performance.now()
  const warmupMs: number[] = []
  for (let i = 0; i < warmup; i++) {
    const t0 = performance.now()
    await fn()
    const ms = performance.now() - t0
    warmupMs.push(ms)
    opts.onWarmup?.(ms)
    // A slow workload: one warm-up call is enough if more would eat half the budget.
    if (performance.now() - start > budget / 2) break
  }
  const samplesMs: number[] = []
  while (samplesMs.length < maxReps) {
    const t0 = performance.now()
    await fn()
    const ms = performance.now() - t0
    samplesMs.push(ms)
    opts.onSample?.(ms)
    const elapsed = performance.now() - start
    if (elapsed >= budget) break
    // Stop early once we have minReps and the next call would overrun the budget.
    if (samplesMs.length >= minReps && elapsed + median(samplesMs) > budget) break
  }
  return { samplesMs, medianMs: median(samplesMs), warmupMs }
}

/** FLOPs of an n×n by n×n matmul (2n³). */
export const matmulFlops = (n: number): number => 2 * n ** 3

/** The reported figure of a workload from the median time of one call. */
export function rate(
  workload: Row['workload'],
  medianMs: number,
  n = MATMUL_N,
  batch: number = MLP.batch,
): { value: number; unit: Unit } {
  switch (workload) {
    case 'matmul':
      return { value: matmulFlops(n) / (medianMs / 1e3) / 1e9, unit: 'GFLOP/s' }
    case 'mlp':
      return { value: batch / (medianMs / 1e3), unit: 'samples/s' }
    case 'cnn':
      return { value: CNN.batch / (medianMs / 1e3), unit: 'samples/s' }
    case 'rnn':
    case 'lstm':
    case 'rbm':
    case 'vae':
    case 'gan':
      return { value: 1 / (medianMs / 1e3), unit: 'steps/s' }
  }
}

/**
 * Deterministic pseudo-random f32 data (mulberry32), so every system trains
 * on the same numbers. `scale` multiplies a uniform draw in [-1, 1).
 */
export function randomF32(size: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296
    out[i] = (2 * u - 1) * scale
  }
  return out
}

/** One-hot labels for `batch` samples over `classes` classes (label i mod classes). */
export function oneHotLabels(batch: number, classes: number): Float32Array {
  const out = new Float32Array(batch * classes)
  for (let i = 0; i < batch; i++) out[i * classes + ((i * 7 + 3) % classes)] = 1
  return out
}

/** The initial parameters and data of the MLP workload (Glorot-uniform weights, zero biases). */
export function mlpData(batch: number = MLP.batch) {
  const { input, hidden, output } = MLP
  const glorot = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut))
  return {
    w1: randomF32(input * hidden, 1, glorot(input, hidden)),
    b1: new Float32Array(hidden),
    w2: randomF32(hidden * hidden, 2, glorot(hidden, hidden)),
    b2: new Float32Array(hidden),
    w3: randomF32(hidden * output, 3, glorot(hidden, output)),
    b3: new Float32Array(output),
    x: randomF32(batch * input, 4, 1),
    y: oneHotLabels(batch, output),
  }
}

/** The initial parameters and data of the RNN workload; x is [steps, batch, input]. */
export function rnnData() {
  const { input, hidden, steps, batch } = RNN
  return {
    wx: randomF32(input * hidden, 11, 1 / Math.sqrt(input)),
    wh: randomF32(hidden * hidden, 12, 1 / Math.sqrt(hidden)),
    b: new Float32Array(hidden),
    x: randomF32(steps * batch * input, 13, 1),
  }
}

/** Glorot-uniform bound √(6/(fanIn + fanOut)). */
const glorotBound = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut))

/** A dense layer's initial weights [fanIn, fanOut] (Glorot uniform, from `seed`) and zero biases. */
function denseInit(fanIn: number, fanOut: number, seed: number) {
  return { w: randomF32(fanIn * fanOut, seed, glorotBound(fanIn, fanOut)), b: new Float32Array(fanOut) }
}

/** `rows` binary vectors of `size` pixels, each pixel 1 with probability `p` (a stand-in for binarised digits). */
export function binaryDigits(rows: number, size: number, seed: number, p = 0.2): Float32Array {
  const u = randomF32(rows * size, seed)
  return u.map((x) => ((x + 1) / 2 < p ? 1 : 0))
}

/** The initial parameters and data of the RBM workload: W uniform in ±0.01, biases zero, v [batch, visible]. */
export function rbmData() {
  const { visible, hidden, batch } = RBM
  return {
    W: randomF32(visible * hidden, 31, 0.01),
    b: new Float32Array(visible),
    c: new Float32Array(hidden),
    v: binaryDigits(batch, visible, 32),
  }
}

/** The initial parameters and data of the VAE workload: encoder e1, e2 (2·latent outputs), decoder d1, d2; x [batch, input]. */
export function vaeData() {
  const { input, hidden, latent, batch } = VAE
  return {
    e1: denseInit(input, hidden, 41),
    e2: denseInit(hidden, 2 * latent, 42),
    d1: denseInit(latent, hidden, 43),
    d2: denseInit(hidden, input, 44),
    x: binaryDigits(batch, input, 45),
  }
}

/**
 * The initial parameters and data of the GAN workload: generator g1..g3,
 * discriminator d1..d3, and the real batch [batch, 2]: points on a ring of
 * 8 modes (radius 2, uniform jitter of ±0.1 per coordinate).
 */
export function ganData() {
  const { latent, hidden, data, batch } = GAN
  const jitter = randomF32(batch * data, 57, 0.1)
  const real = new Float32Array(batch * data)
  for (let i = 0; i < batch; i++) {
    const angle = (2 * Math.PI * ((i * 5) % 8)) / 8
    real[2 * i] = 2 * Math.cos(angle) + jitter[2 * i]
    real[2 * i + 1] = 2 * Math.sin(angle) + jitter[2 * i + 1]
  }
  return {
    g1: denseInit(latent, hidden, 51),
    g2: denseInit(hidden, hidden, 52),
    g3: denseInit(hidden, data, 53),
    d1: denseInit(data, hidden, 54),
    d2: denseInit(hidden, hidden, 55),
    d3: denseInit(hidden, 1, 56),
    real,
  }
}

/**
 * The initial parameters and data of the CNN workload: kernels k1 [3, 3, 1, 16]
 * and k2 [3, 3, 16, 32] (Glorot uniform over fans Kh·Kw·Cin and Kh·Kw·Cout,
 * as Keras does), dense d1 [1568, 128] and d2 [128, 10], zero biases; images
 * x [batch, 28, 28, 1] (NHWC) uniform in [-1, 1), one-hot labels y [batch, 10].
 */
export function cnnData() {
  const { size, kernel, c1, c2, hidden, output, batch } = CNN
  const taps = kernel * kernel
  const flat = (size / 4) * (size / 4) * c2
  return {
    k1: { w: randomF32(taps * c1, 61, glorotBound(taps, taps * c1)), b: new Float32Array(c1) },
    k2: { w: randomF32(taps * c1 * c2, 62, glorotBound(taps * c1, taps * c2)), b: new Float32Array(c2) },
    d1: denseInit(flat, hidden, 63),
    d2: denseInit(hidden, output, 64),
    x: randomF32(batch * size * size, 65, 1),
    y: oneHotLabels(batch, output),
  }
}

/**
 * The initial parameters and data of the LSTM workload: embedding table
 * [vocab, embed] uniform in ±0.05 (nn.embedding's default), wx [embed,
 * 4·hidden] and wh [hidden, 4·hidden] uniform in ±1/√fanIn, b [4·hidden]
 * with 1 on the forget gate's block (the lstm cell's default), wo [hidden,
 * vocab] Glorot uniform, bo zero; ids [steps + 1, batch] (i32): each column
 * a stream in which a character mostly follows from the one before, so there
 * is something to learn.
 */
export function lstmData() {
  const { vocab, embed, hidden, steps, batch } = LSTM
  const b = new Float32Array(4 * hidden)
  b.fill(1, hidden, 2 * hidden)
  const u = randomF32((steps + 1) * batch, 76)
  const pick = (x: number) => Math.min(vocab - 1, Math.floor(((x + 1) / 2) * vocab))
  const ids = new Int32Array((steps + 1) * batch)
  for (let j = 0; j < batch; j++) ids[j] = pick(u[j])
  for (let t = 1; t <= steps; t++)
    for (let j = 0; j < batch; j++) {
      const prev = ids[(t - 1) * batch + j]
      const x = u[t * batch + j]
      // Three times in four the next character is (5·prev + 1) mod vocab, else a uniform draw.
      ids[t * batch + j] = x < 0.5 ? (5 * prev + 1) % vocab : pick(4 * x - 3)
    }
  return {
    table: randomF32(vocab * embed, 71, 0.05),
    wx: randomF32(embed * 4 * hidden, 72, 1 / Math.sqrt(embed)),
    wh: randomF32(hidden * 4 * hidden, 73, 1 / Math.sqrt(hidden)),
    b,
    wo: randomF32(hidden * vocab, 74, glorotBound(hidden, vocab)),
    bo: new Float32Array(vocab),
    ids,
  }
}
