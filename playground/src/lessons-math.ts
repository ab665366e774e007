/**
 * The computations behind the playground's lessons, as plain data (numbers,
 * arrays, strings): no DOM, so they run and are tested under Node as well.
 * Each is a small, quick version of a runnable example:
 *
 *  - `rtrlVsBptt` (examples/rtrl-vs-bptt.ts): the two exact gradient
 *    algorithms of D. Barber, Neural Nets (lecture notes), "Computing the
 *    Gradient", for an Elman RNN: their memory, read off the programs'
 *    shapes, their time per gradient, and their agreement.
 *  - `vanishingGradients` (examples/vanishing-gradients.ts): ‖∂L/∂h_k‖ along
 *    the sequence for Wh = ρQ (A. Martins, Deep Learning: A Shallow Tutorial,
 *    NLPL Winter School 2018, "Backpropagation Through Time").
 *  - `sequentialJacobian` (examples/sequential-jacobian.ts, part 2): which
 *    inputs each state depends on, J[t][k] = ‖∂h_t/∂x_k‖ (Deep Learning,
 *    COMP613 Advanced Topics in Machine Learning (lecture notes), "Attention &
 *    Memory in Deep Learning": attention given implicitly by the Jacobian).
 *  - `tyingLesson` (examples/tying.ts): D. Barber, Neural Nets (lecture
 *    notes), "Parameter Tying".
 *
 * Everything is f64 and uses the library only through its public entry.
 */
import {
  cpuBackend,
  grad,
  jacfwd,
  jit,
  makeProgram,
  ops,
  random,
  recurrent,
  scalar,
  untie,
  type Backend,
  type Tensor,
} from '../../index.ts'

type Params = recurrent.ElmanParams<number, number>

/** The data of one Elman RNN problem, row-major, as the lessons and their tests share it. */
export interface ElmanProblem {
  readonly inputSize: number
  readonly hidden: number
  readonly length: number
  /** [I, H], [H, H] and [H]: h_t = tanh(x_t·Wx + h_{t−1}·Wh + b). */
  readonly wx: number[]
  readonly wh: number[]
  readonly b: number[]
  /** [T, I]. */
  readonly xs: number[]
  /** [T, H] targets of E = Σ_t ½‖h_t − y_t‖², where the lesson has them. */
  readonly ys?: number[]
}

const values = async (x: Tensor): Promise<number[]> => Array.from(await x.data())
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function checkSizes(name: string, what: string, sizes: unknown, least = 1): readonly number[] {
  if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((s) => Number.isInteger(s) && s >= least))
    throw new Error(`${name}: ${what} must be a non-empty list of integers ≥ ${least}, got ${JSON.stringify(sizes)}`)
  return sizes
}
function checkSize(name: string, what: string, size: unknown, least = 1): number {
  if (!(Number.isInteger(size) && (size as number) >= least))
    throw new Error(`${name}: ${what} must be an integer ≥ ${least}, got ${JSON.stringify(size)}`)
  return size as number
}
function checkRadius(name: string, rho: unknown): number {
  if (!(typeof rho === 'number' && Number.isFinite(rho) && rho > 0))
    throw new Error(`${name}: a spectral radius must be a finite number > 0, got ${JSON.stringify(rho)}`)
  return rho
}

/** Wx ~ N(0, 1/I), Wh = ρQ with Q orthogonal (every singular value ρ), b = 0. */
function elmanWeights(key: random.Key, inputSize: number, hidden: number, rho: number): Params {
  const [kx, kh] = random.split(key, 2)
  return {
    wx: random.normal(kx, [inputSize, hidden], { dtype: 'f64', stddev: 1 / Math.sqrt(inputSize) }) as Tensor,
    wh: recurrent.orthogonal(rho)(kh, [hidden, hidden], { dtype: 'f64' }) as Tensor,
    b: ops.zeros([hidden], 'f64') as Tensor,
  } as Params
}

// ------------------------------------------------------------ RTRL vs BPTT

/** Options of `rtrlVsBptt`. */
export interface RtrlVsBpttOptions {
  /** Hidden sizes H (default [4, 8, 16]). */
  readonly hidden?: readonly number[]
  /** Sequence lengths T (default [4, 8, 16, 32]). */
  readonly lengths?: readonly number[]
  /** Input size I (default 4). */
  readonly inputSize?: number
  /** Timed calls after the warm-up; the median is reported (default 3). */
  readonly repeats?: number
  readonly seed?: number
  /** Where the gradients are compiled and timed (default: the CPU interpreter). */
  readonly backend?: Backend
  /** Called after each measured (H, T), e.g. to show progress; a promise it returns is awaited (to let a page paint). */
  readonly onRow?: (row: RtrlVsBpttRow) => void | Promise<void>
}

/** The gradient of E with respect to the parameters and h₀, each flattened row-major. */
export interface ElmanGradient {
  readonly wx: number[]
  readonly wh: number[]
  readonly b: number[]
  readonly h0: number[]
}

/** One (H, T) of `rtrlVsBptt`. */
export interface RtrlVsBpttRow {
  readonly hidden: number
  readonly length: number
  /** |θ| = H² + I·H + H. */
  readonly parameters: number
  /** Bytes of RTRL's scan carry (h, S = dh/d(θ, h₀), the gradient so far, the loss) and anything it stacks. */
  readonly rtrlBytes: number
  /** Bytes BPTT's forward scan stacks for the backward one (the residuals). */
  readonly bpttBytes: number
  /** Median milliseconds per gradient. */
  readonly rtrlMs: number
  readonly bpttMs: number
  /** max |g_RTRL − g_BPTT| / max |g_BPTT| over every entry of the gradient. */
  readonly disagreement: number
  readonly loss: number
  readonly rtrl: ElmanGradient
  readonly bptt: ElmanGradient
  /** The weights, inputs and targets the gradients are of (h₀ = 0). */
  readonly problem: ElmanProblem
}

/** What `rtrlVsBptt` measured, with the backend it timed on. */
export interface RtrlVsBpttResult {
  readonly inputSize: number
  readonly backend: string
  readonly rows: RtrlVsBpttRow[]
}

/** The median time of `repeats` calls after one warm-up, and the last call's result. */
async function timeCall<R>(f: () => Promise<R>, repeats: number): Promise<[number, R]> {
  let result = await f()
  const times: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now()
    result = await f()
    times.push(performance.now() - t0)
  }
  return [median(times), result]
}

async function flatGradient(g: { params: Params; h0: Tensor }): Promise<ElmanGradient> {
  return {
    wx: await values(g.params.wx as Tensor),
    wh: await values(g.params.wh as Tensor),
    b: await values(g.params.b as Tensor),
    h0: await values(g.h0),
  }
}
const entries = (g: ElmanGradient) => [...g.wx, ...g.wh, ...g.b, ...g.h0]

/**
 * RTRL against BPTT (D. Barber, Neural Nets (lecture notes), "Computing the
 * Gradient"): for each hidden size H and length T, the gradient of
 * E = Σ_t ½‖h_t − y_t‖² for an Elman RNN by both algorithms. RTRL carries
 * S_t = dh_t/dθ forward, O(H·|θ|) memory whatever T and O(H²·|θ|) = O(H⁴)
 * time per step; BPTT stacks O(H) residuals per step, O(T·H) memory, and
 * spends O(H²) per step. Memory is read off the traced programs' scans (no
 * run needed); time is the median of `repeats` calls after one warm-up, on
 * the CPU interpreter unless told otherwise, so at small H it is mostly the
 * interpreter's cost per operation.
 */
export async function rtrlVsBptt(options: RtrlVsBpttOptions = {}): Promise<RtrlVsBpttResult> {
  const name = 'rtrlVsBptt'
  const Hs = checkSizes(name, 'hidden', options.hidden ?? [4, 8, 16])
  const Ts = checkSizes(name, 'lengths', options.lengths ?? [4, 8, 16, 32])
  const I = checkSize(name, 'inputSize', options.inputSize ?? 4)
  const repeats = checkSize(name, 'repeats', options.repeats ?? 3)
  const backend = options.backend ?? cpuBackend()
  const loss = (y: Tensor, target: Tensor) => ops.mul(ops.sum(ops.square(ops.sub(y, target))), 0.5) as Tensor<[]>
  const rows: RtrlVsBpttRow[] = []
  for (const H of Hs) {
    const cell = recurrent.elman(I, H, { dtype: 'f64' })
    const byRtrl = (p: Params, h: Tensor, x: Tensor, y: Tensor) =>
      recurrent.rtrl(cell, loss)(p, h as never, x as never, y)
    const byBptt = (p: Params, h: Tensor, x: Tensor, y: Tensor) =>
      recurrent.bptt(cell, loss)(p, h as never, x as never, y)
    // One compiled function per algorithm and H; jit traces again for each new T.
    const fastRtrl = jit(byRtrl, { backend })
    const fastBptt = jit(byBptt, { backend })
    for (const T of Ts) {
      const keys = random.split(random.key((options.seed ?? 0) * 7919 + H * 1000 + T), 3)
      const params = cell.init(keys[0]) as Params
      const h0 = cell.initialState() as Tensor
      const xs = random.normal(keys[1], [T, I], { dtype: 'f64' }) as Tensor
      const ys = random.normal(keys[2], [T, H], { dtype: 'f64' }) as Tensor
      const depth0 = (f: typeof byRtrl) =>
        recurrent.scanFootprints(makeProgram(f)(params, h0, xs, ys)).filter((s) => s.depth === 0)
      const rtrlBytes = depth0(byRtrl).reduce((s, f) => s + f.carryBytes + f.stackedBytes, 0)
      const bpttBytes = depth0(byBptt).reduce((s, f) => s + f.stackedBytes, 0)
      const measure = async () => {
        const [rtrlMs, r] = await timeCall(() => fastRtrl(params, h0, xs, ys), repeats)
        const [bpttMs, b] = await timeCall(() => fastBptt(params, h0, xs, ys), repeats)
        return { rtrlMs, r, bpttMs, b }
      }
      // The first point is measured twice, so that its times do not include warming up the JavaScript engine.
      if (rows.length === 0) await measure()
      const { rtrlMs, r, bpttMs, b } = await measure()
      const rtrl = await flatGradient(r.grad as never)
      const bptt = await flatGradient(b.grad as never)
      const [gr, gb] = [entries(rtrl), entries(bptt)]
      const scale = Math.max(...gb.map(Math.abs))
      const row: RtrlVsBpttRow = {
        hidden: H,
        length: T,
        parameters: H * H + I * H + H,
        rtrlBytes,
        bpttBytes,
        rtrlMs,
        bpttMs,
        disagreement: Math.max(...gr.map((g, i) => Math.abs(g - gb[i]))) / scale,
        loss: (await values(b.loss as Tensor))[0],
        rtrl,
        bptt,
        problem: {
          inputSize: I,
          hidden: H,
          length: T,
          wx: await values(params.wx as Tensor),
          wh: await values(params.wh as Tensor),
          b: await values(params.b as Tensor),
          xs: await values(xs),
          ys: await values(ys),
        },
      }
      rows.push(row)
      await options.onRow?.(row)
    }
  }
  return { inputSize: I, backend: backend.name, rows }
}

// ------------------------------------------------------ vanishing gradients

/** Options of `vanishingGradients`. */
export interface VanishingGradientsOptions {
  /** Spectral radii ρ of Wh = ρQ (default [0.5, 0.9, 1, 1.1, 1.5]). */
  readonly radii?: readonly number[]
  /** Default 16. */
  readonly hidden?: number
  /** Default 4. */
  readonly inputSize?: number
  /** T (default 20). */
  readonly length?: number
  /**
   * The inputs' standard deviation (default 1e-5: even for ρ = 1.5, where the state grows like ρ^t, it stays
   * small enough over T = 20 steps that tanh is nearly linear; 1 saturates the state).
   */
  readonly inputScale?: number
  readonly seed?: number
}

/** What `vanishingGradients` computed, per radius in the order given. */
export interface VanishingGradientsResult {
  readonly hidden: number
  readonly inputSize: number
  readonly length: number
  readonly inputScale: number
  readonly radii: number[]
  /** norms[r][k] = ‖∂L/∂h_k‖ for k = 0 … T (k = 0: h₀). */
  readonly norms: number[][]
  /** The geometric mean of ‖∂L/∂h_{k−1}‖ / ‖∂L/∂h_k‖ over k = 1 … T: ≈ ρ where tanh′ ≈ 1. */
  readonly factorPerStep: number[]
  /** max_t |h_t| along the sequence: near 1 means tanh saturates and tanh′ shrinks the factor. */
  readonly saturation: number[]
}

/**
 * Vanishing and exploding gradients (A. Martins, Deep Learning: A Shallow
 * Tutorial, NLPL Winter School 2018, "Backpropagation Through Time"): for an
 * Elman RNN and L = ½‖h_T − y‖²,
 *
 *   ∂L/∂h_k = ∂L/∂h_T · Π_{t=k+1..T} Diag(tanh′(z_t)) Whᵀ,
 *
 * and with Wh = ρQ (Q orthogonal) each factor scales by exactly ρ where
 * tanh′ ≈ 1: the error vanishes for ρ < 1 and explodes for ρ > 1. ∂L/∂h_k is
 * read off one reverse pass as ∂L/∂δ_k at δ = 0, where δ_k is added to h_k.
 */
export function vanishingGradients(options: VanishingGradientsOptions = {}): VanishingGradientsResult {
  const name = 'vanishingGradients'
  const radii = options.radii ?? [0.5, 0.9, 1, 1.1, 1.5]
  if (!Array.isArray(radii) || radii.length === 0)
    throw new Error(`${name}: radii must be a non-empty list of numbers > 0, got ${JSON.stringify(radii)}`)
  radii.forEach((rho) => checkRadius(name, rho))
  const H = checkSize(name, 'hidden', options.hidden ?? 16)
  const I = checkSize(name, 'inputSize', options.inputSize ?? 4)
  const T = checkSize(name, 'length', options.length ?? 20)
  const inputScale = options.inputScale ?? 1e-5
  if (!(Number.isFinite(inputScale) && inputScale >= 0))
    throw new Error(`${name}: inputScale must be a finite number ≥ 0, got ${JSON.stringify(inputScale)}`)
  const cell = recurrent.elman(I, H, { dtype: 'f64' })
  const [kw, kx, ky] = random.split(random.key(options.seed ?? 2024), 3)
  const target = random.normal(ky, [H], { dtype: 'f64' }) as Tensor
  const xs = ops.mul(random.normal(kx, [T, I], { dtype: 'f64' }), inputScale) as Tensor
  const h0 = cell.initialState() as Tensor
  const deltas = ops.zeros([T, H], 'f64') as Tensor
  const step = (p: Params, h: Tensor, x: Tensor) => cell.step(p, h as never, x as never)[0] as Tensor
  const loss = (p: Params, h: Tensor, inputs: Tensor, d: Tensor) => {
    const [hT] = recurrent.scan(
      (state: Tensor, s: { x: Tensor; d: Tensor }) => [ops.add(step(p, state, s.x), s.d), null] as const,
      h,
      { x: inputs, d },
    )
    return ops.mul(ops.sum(ops.square(ops.sub(hT, target))), 0.5) as Tensor<[]>
  }
  const states = (p: Params) =>
    recurrent.scan(
      (h: Tensor, x: Tensor) => {
        const next = step(p, h, x)
        return [next, next] as const
      },
      h0,
      xs,
    )[1] as Tensor
  const norms: number[][] = []
  const saturation: number[] = []
  for (const rho of radii) {
    // The same Q for every ρ (the same key), so that only the radius changes.
    const p = elmanWeights(kw, I, H, rho)
    const [gh0, gd] = grad(loss, { argnums: [1, 3] })(p, h0, xs, deltas) as [Tensor, Tensor]
    const d = gd.dataSync()
    const perStep = [Math.hypot(...gh0.dataSync())]
    for (let k = 0; k < T; k++) perStep.push(Math.hypot(...d.subarray(k * H, (k + 1) * H)))
    norms.push(perStep)
    saturation.push(Math.max(...Array.from(states(p).dataSync(), Math.abs)))
  }
  return {
    hidden: H,
    inputSize: I,
    length: T,
    inputScale,
    radii: [...radii],
    norms,
    factorPerStep: norms.map((g) => (g[0] / g[T]) ** (1 / T)),
    saturation,
  }
}

// ------------------------------------------------------ sequential Jacobian

/** Options of `sequentialJacobian`. */
export interface SequentialJacobianOptions {
  /** The spectral radius ρ of Wh = ρQ (default 0.9). */
  readonly rho?: number
  /** Default 16. */
  readonly hidden?: number
  /** Default 4. */
  readonly inputSize?: number
  /** T (default 20). */
  readonly length?: number
  /** The inputs' standard deviation (default 0.5). */
  readonly inputScale?: number
  readonly seed?: number
}

/** What `sequentialJacobian` computed. */
export interface SequentialJacobianResult {
  readonly rho: number
  /** J[t][k] = ‖∂h_t/∂x_k‖ (Frobenius, over H × I) for t, k = 0 … T − 1; 0 exactly for k > t. */
  readonly J: number[][]
  /** byDistance[d]: the mean of J[t][t − d] over t ≥ d, for d = 0 … T − 1. */
  readonly byDistance: number[]
  /** The network and inputs (h₀ = 0). */
  readonly problem: ElmanProblem
}

/**
 * The sequential Jacobian of an Elman RNN (Deep Learning, COMP613 Advanced
 * Topics in Machine Learning (lecture notes), "Attention & Memory in Deep
 * Learning": the Jacobian J_ij = ∂y_i/∂x_j as implicit attention), by
 * `jacfwd` of the map from the inputs x_0 … x_{T−1} to the states
 * h_0 … h_{T−1}: one forward-mode pass per input entry (T·I of them, fewer
 * than the T·H outputs). h_t depends on x_k only for k ≤ t, so J is lower
 * triangular, and ∂h_t/∂x_k = Π_{s=k+1..t} (Diag(tanh′) Whᵀ) · ∂h_k/∂x_k
 * shrinks by about ρ (times tanh′) per step of the distance t − k.
 */
export function sequentialJacobian(options: SequentialJacobianOptions = {}): SequentialJacobianResult {
  const name = 'sequentialJacobian'
  const rho = checkRadius(name, options.rho ?? 0.9)
  const H = checkSize(name, 'hidden', options.hidden ?? 16)
  const I = checkSize(name, 'inputSize', options.inputSize ?? 4)
  const T = checkSize(name, 'length', options.length ?? 20)
  const inputScale = options.inputScale ?? 0.5
  if (!(Number.isFinite(inputScale) && inputScale >= 0))
    throw new Error(`${name}: inputScale must be a finite number ≥ 0, got ${JSON.stringify(inputScale)}`)
  const cell = recurrent.elman(I, H, { dtype: 'f64' })
  const [kw, kx] = random.split(random.key(options.seed ?? 7), 2)
  const p = elmanWeights(kw, I, H, rho)
  const xs = ops.mul(random.normal(kx, [T, I], { dtype: 'f64' }), inputScale) as Tensor
  const allStates = (inputs: Tensor) =>
    recurrent.scan(
      (h: Tensor, x: Tensor) => {
        const [next] = cell.step(p, h as never, x as never)
        return [next as Tensor, next as Tensor] as const
      },
      cell.initialState() as Tensor,
      inputs,
    )[1] as Tensor
  const d = (jacfwd(allStates)(xs) as Tensor).dataSync() // [T, H, T, I]
  const J = Array.from({ length: T }, (_, t) =>
    Array.from({ length: T }, (_, k) => {
      let s = 0
      for (let h = 0; h < H; h++) for (let i = 0; i < I; i++) s += d[((t * H + h) * T + k) * I + i] ** 2
      return Math.sqrt(s)
    }),
  )
  const byDistance = Array.from({ length: T }, (_, dist) => {
    let s = 0
    for (let t = dist; t < T; t++) s += J[t][t - dist]
    return s / (T - dist)
  })
  return {
    rho,
    J,
    byDistance,
    problem: {
      inputSize: I,
      hidden: H,
      length: T,
      wx: Array.from(p.wx.dataSync()),
      wh: Array.from(p.wh.dataSync()),
      b: Array.from(p.b.dataSync()),
      xs: Array.from(xs.dataSync()),
    },
  }
}

// ----------------------------------------------------------------- tying

/** A computed value beside its closed form. */
export interface Checked {
  readonly computed: number
  readonly closedForm: number
}

/** What `tyingLesson` computed. */
export interface TyingResult {
  readonly x: number
  readonly y: number
  readonly theta: number
  /** E(θ) = [y − tanh(θ sin(xθ))]². */
  readonly energy: number
  /** How many times E uses θ (2). */
  readonly copies: number
  /** The printed untied program F(θ₁, θ₂): θ₁ the inner use (in xθ), θ₂ the outer one. */
  readonly untiedProgram: string
  /** ∂F/∂θ at the use inside sin(xθ). */
  readonly inner: Checked
  /** ∂F/∂θ at the use multiplying sin(xθ). */
  readonly outer: Checked
  /** The sum of the two partials. */
  readonly sum: Checked
  /** grad(E), the tied gradient. */
  readonly grad: Checked
  /** The printed reverse-mode program of grad(E): the sum is the transpose of θ's fan-out. */
  readonly gradProgram: string
}

/**
 * Parameter tying (D. Barber, Neural Nets (lecture notes), "Parameter
 * Tying"): E(θ) = [y − f(θ g(xθ))]² with f = tanh, g = sin uses θ twice.
 * Untied, F(θ₁, θ₂) = [y − f(θ₂ g(xθ₁))]² and dE/dθ = ∂F/∂θ₁ + ∂F/∂θ₂ at
 * θ₁ = θ₂ = θ. With r = y − f(θ g(xθ)) and f′(u) = 1 − tanh²(u), Barber's
 * closed forms are
 *
 *   ∂F/∂θ₂ = −2r f′(θ g(xθ)) g(xθ)   (outer),
 *   ∂F/∂θ₁ = −2r f′(θ g(xθ)) θ x g′(xθ)   (inner),
 *   dE/dθ  = −2r f′(θ g(xθ)) (θ x g′(xθ) + g(xθ)).
 */
export function tyingLesson(): TyingResult {
  const [x, y, theta] = [0.5, 2, 0.7]
  const E = (t: Tensor<[]>) => ops.square(ops.sub(y, ops.tanh(ops.mul(t, ops.sin(ops.mul(x, t)))))) as Tensor<[]>
  const th = scalar(theta, 'f64') as Tensor<[]>
  const untied = untie(E)(th)
  // The copies follow the order of use in the trace: sin(x·θ) is evaluated before θ multiplies it.
  const [dInner, dOuter] = grad((copies: Tensor[]) => untied.apply(copies, th))([th, th]) as Tensor[]
  const g = Math.sin(x * theta)
  const r = y - Math.tanh(theta * g)
  const common = -2 * r * (1 - Math.tanh(theta * g) ** 2)
  const [inner, outer] = [dInner.item(), dOuter.item()]
  return {
    x,
    y,
    theta,
    energy: E(th).item(),
    copies: untied.copies,
    untiedProgram: String(untied.program),
    inner: { computed: inner, closedForm: common * theta * x * Math.cos(x * theta) },
    outer: { computed: outer, closedForm: common * g },
    sum: { computed: inner + outer, closedForm: common * (theta * x * Math.cos(x * theta) + g) },
    grad: { computed: grad(E)(th).item(), closedForm: common * (theta * x * Math.cos(x * theta) + g) },
    gradProgram: String(makeProgram(grad(E))(th)),
  }
}
