/**
 * The playground's training panel without the page: two data sets of labelled
 * points in the plane (two spirals, XOR), a small tanh network, and a jitted
 * Adam step on a chosen backend; the panel draws its loss and its decision
 * boundary.
 */
import {
  type Backend,
  type ExecutableStats,
  grad,
  jit,
  nn,
  ops,
  optim,
  random,
  type Tensor,
  tensor,
} from '../../index.ts'

export type DatasetName = 'spirals' | 'xor'

/** Points in [−1, 1]², row-major (x₀, y₀, x₁, y₁, …), and their labels 0 or 1. */
export interface Points {
  readonly xy: Float32Array
  readonly labels: Float32Array
  readonly count: number
}

/** A small deterministic generator (xorshift32) for the data, so every page shows the same points. */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 2 ** 32
  }
}

const gaussian = (u: () => number) => () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())

/**
 * Two interleaved spirals (Lang and Witbrock's benchmark, smaller): class c
 * at angle t + cπ and radius t / (turns·2π), for t along 1.5 turns, with
 * Gaussian noise.
 */
export function spirals(count: number, noise = 0.04, seed = 1): Points {
  const u = uniform(seed)
  const g = gaussian(u)
  const xy = new Float32Array(2 * count)
  const labels = new Float32Array(count)
  const turns = 1.5
  for (let i = 0; i < count; i++) {
    const c = i % 2
    const t = 0.15 + 0.85 * u()
    const angle = t * turns * 2 * Math.PI + c * Math.PI
    xy[2 * i] = t * Math.cos(angle) + noise * g()
    xy[2 * i + 1] = t * Math.sin(angle) + noise * g()
    labels[i] = c
  }
  return { xy, labels, count }
}

/** XOR: four clouds at the corners (±½, ±½), labelled 1 where the signs differ. */
export function xorPoints(count: number, spread = 0.15, seed = 2): Points {
  const u = uniform(seed)
  const g = gaussian(u)
  const xy = new Float32Array(2 * count)
  const labels = new Float32Array(count)
  for (let i = 0; i < count; i++) {
    const a = i % 2 === 0 ? 0.5 : -0.5
    const b = i % 4 < 2 ? 0.5 : -0.5
    xy[2 * i] = a + spread * g()
    xy[2 * i + 1] = b + spread * g()
    labels[i] = a * b < 0 ? 1 : 0
  }
  return { xy, labels, count }
}

export const dataset = (name: DatasetName, count: number): Points =>
  name === 'spirals' ? spirals(count) : xorPoints(count)

export interface TrainerOptions {
  readonly dataset: DatasetName
  readonly backend: Backend
  /** Points in the data set (default 400). */
  readonly count?: number
  /** Units in each of the two hidden layers (default 32). */
  readonly hidden?: number
  /** Adam's learning rate (default 0.03). */
  readonly lr?: number
  /** The grid's side for the decision boundary (default 48). */
  readonly resolution?: number
  readonly seed?: number
}

/** A model in training: `run(k)` takes k steps and returns the loss after them. */
export interface Trainer {
  readonly points: Points
  readonly backend: Backend
  readonly resolution: number
  /** Steps taken so far. */
  readonly steps: () => number
  /** Takes k steps; returns the loss at the last of them (read back once). */
  run(k: number): Promise<number>
  /** σ(logit) on a resolution × resolution grid over [−1.2, 1.2]², rows from the top (y = 1.2) down. */
  boundary(): Promise<Float32Array>
  /** The step's executable counters (dispatches, submissions, bytes) after its last call. */
  stats(): Promise<ExecutableStats | null>
}

/** The grid's extent: data lie in [−1, 1]², the picture shows a margin around them. */
export const EXTENT = 1.2

export async function makeTrainer(options: TrainerOptions): Promise<Trainer> {
  const count = options.count ?? 400
  const hidden = options.hidden ?? 32
  const resolution = options.resolution ?? 48
  const points = dataset(options.dataset, count)
  const net = nn.sequential(nn.dense(2, hidden), nn.tanh, nn.dense(hidden, hidden), nn.tanh, nn.dense(hidden, 1))
  type P = nn.ParamsOf<typeof net>
  const opt = optim.adam({ lr: options.lr ?? 0.03 })
  // The points' count is known only at run time: the rows are typed by their width, the batch left open.
  type Xs = Tensor<['B', 2]>
  type Ys = Tensor<['B', 1]>
  const x = tensor(Array.from({ length: count }, (_, i) => [points.xy[2 * i], points.xy[2 * i + 1]])) as Tensor as Xs
  const y = tensor(Array.from(points.labels, (l) => [l])) as Tensor as Ys
  const loss = (p: P, xs: Xs, ys: Ys) => nn.sigmoidCrossEntropy(net.apply(p, xs), ys)
  const step = jit(
    (p: P, s: optim.FirstOrderState, xs: Xs, ys: Ys) => {
      const [next, state] = opt.update(grad(loss)(p, xs, ys), s, p) as [P, optim.FirstOrderState]
      return [next, state, loss(p, xs, ys)] as const
    },
    { backend: options.backend },
  )
  const gridRows: number[][] = []
  for (let r = 0; r < resolution; r++)
    for (let c = 0; c < resolution; c++) {
      const t = (k: number) => -EXTENT + (2 * EXTENT * (k + 0.5)) / resolution
      gridRows.push([t(c), -t(r)])
    }
  const grid = tensor(gridRows) as Tensor as Xs
  const predict = jit((p: P, g: Xs) => ops.sigmoid(net.apply(p, g)), { backend: options.backend })

  let params = net.init(random.key(options.seed ?? 0)) as P
  let state = opt.init(params)
  let steps = 0
  return {
    points,
    backend: options.backend,
    resolution,
    steps: () => steps,
    async run(k: number): Promise<number> {
      let last: Tensor | null = null
      for (let i = 0; i < k; i++) {
        const [p, s, l] = await step(params, state, x, y)
        params = p
        state = s
        last = l
        steps++
      }
      if (last === null) throw new Error('run(k) needs k ≥ 1')
      const value = (await last.data())[0]
      if (!Number.isFinite(value)) throw new Error(`the loss is ${value} after ${steps} steps`)
      return value
    },
    async boundary(): Promise<Float32Array> {
      return Float32Array.from(await (await predict(params, grid)).data())
    },
    async stats(): Promise<ExecutableStats | null> {
      const executable = await step.compiled(params, state, x, y)
      return executable.stats()
    },
  }
}
