/**
 * What a gradient costs by finite differences and by backpropagation
 * (*Multi-level networks* (lecture notes), "Computing the gradient" and
 * "Back propagation"; A. Martins, Deep Learning: A Shallow Tutorial, NLPL
 * Winter School 2018, "Gradient Checking"), for examples/finite-differences.ts
 * and test/lessons.test.ts.
 *
 * The network: L tanh layers of width n (a scan over the layers) and a
 * linear output, with all W = L·(n² + n) + n + 1 weights in one flat vector
 * θ, and the loss E(θ) = 1/(2B)·Σ_b (f(x_b; θ) − y_b)² over a batch of B. It
 * grows in depth at a fixed width, so that every part of one evaluation of
 * E (its arithmetic, and the interpreter's steps) grows in proportion to W.
 *
 *  - Finite differences: ∂E/∂θ_i ≈ (E(θ + Δe_i) − E(θ))/Δ (forward, as in
 *    the Multi-level notes: W + 1 evaluations) or (E(θ + Δe_i) − E(θ − Δe_i))/2Δ
 *    (central, Martins's gradient check: 2W). Each evaluation costs O(W), so
 *    a gradient costs O(W²).
 *  - Backpropagation: one forward pass and one backward pass, O(W).
 *
 * Costs are measured three ways: the number of times the program runs the
 * network's loop over its layers (exact), the arithmetic operations the
 * traced program performs (`operationCount`, a simple model: exact for the
 * traced program), and time on the CPU interpreter.
 */
import { grad, jit, makeProgram, ops, random, scan, type Backend, type Program, type Tensor } from '../../src/index.ts'

export interface DeepNet {
  /** Width n and depth L. */
  readonly n: number
  readonly L: number
  /** The number of weights, L·(n² + n) + n + 1. */
  readonly W: number
  /** E(θ) on the batch (x [B, n], y [B, 1]). */
  readonly loss: (theta: Tensor, x: Tensor, y: Tensor) => Tensor
}

/** The network of depth L and width n: layers h ← tanh(h·W_l + b_l), then f = h·v + c. */
export function deepNet(n: number, L: number): DeepNet {
  const layer = n * n + n
  const W = L * layer + n + 1
  const loss = (theta: Tensor, x: Tensor, y: Tensor) => {
    const weights = ops.reshape(ops.slice(theta, [0], [L * n * n]), [L, n, n])
    const biases = ops.reshape(ops.slice(theta, [L * n * n], [L * n]), [L, n])
    const v = ops.reshape(ops.slice(theta, [L * layer], [n]), [n, 1])
    const c = ops.slice(theta, [L * layer + n], [1])
    const [h] = scan(
      (h: Tensor, l: { w: Tensor; b: Tensor }) => [ops.tanh(ops.add(ops.matmul(h, l.w), l.b)), null] as const,
      x,
      { w: weights, b: biases },
    )
    const residual = ops.sub(ops.add(ops.matmul(h, v), c), y)
    return ops.div(ops.sum(ops.square(residual)), 2 * x.aval.shape[0])
  }
  return { n, L, W, loss }
}

/** θ with entries N(0, 1/n), and a batch of B inputs N(0, 1) with targets N(0, 1), all f64. */
export function netData(net: DeepNet, B: number, seed = 0): { theta: Tensor; x: Tensor; y: Tensor } {
  const [k1, k2, k3] = random.split(random.key(seed), 3)
  return {
    theta: random.normal(k1, [net.W], { dtype: 'f64', stddev: 1 / Math.sqrt(net.n) }),
    x: random.normal(k2, [B, net.n], { dtype: 'f64' }),
    y: random.normal(k3, [B, 1], { dtype: 'f64' }),
  }
}

export type Scheme = 'forward' | 'central'

/**
 * The finite-difference estimates of ∂E/∂θ_i for the coordinates i in
 * `coords` (i32 [m]), in one program: a scan over the coordinates, each step
 * one evaluation of E at θ + Δe_i (and one at θ − Δe_i for the central
 * scheme), with one more at θ for the forward scheme. Entries of θ outside
 * `coords` are 0 in the result.
 */
export function finiteDifferences(
  net: DeepNet,
  scheme: Scheme,
  delta: number,
): (theta: Tensor, x: Tensor, y: Tensor, coords: Tensor) => Tensor {
  return (theta, x, y, coords) => {
    const base = scheme === 'forward' ? net.loss(theta, x, y) : null
    const index = ops.arange(0, net.W, 1, 'i32')
    const [g] = scan(
      (g: Tensor, i: Tensor) => {
        const e = ops.astype(ops.equal(index, i), 'f64')
        const step = ops.mul(e, delta)
        const up = net.loss(ops.add(theta, step), x, y)
        const estimate =
          base === null
            ? ops.div(ops.sub(up, net.loss(ops.sub(theta, step), x, y)), 2 * delta)
            : ops.div(ops.sub(up, base), delta)
        return [ops.add(g, ops.mul(e, estimate)), null] as const
      },
      ops.zerosLike(theta),
      coords,
    )
    return g
  }
}

/** Evaluations of E in one gradient: W + 1 (forward differences), 2W (central), or by backprop, 1 forward pass and 1 backward. */
export const evaluationsPerGradient = (W: number, scheme: Scheme): number => (scheme === 'forward' ? W + 1 : 2 * W)

/**
 * How many times a program runs a loop of `length` steps (scan equations of
 * that length), counting the loops inside loops once per step of the
 * enclosing loop: for the network's loop over its L layers, how many times
 * the program runs the network, forwards or backwards.
 */
export function loopRuns(program: Program, length: number): number {
  let runs = 0
  for (const e of program.eqns) {
    if (e.prim !== 'scan') continue
    const p = e.params as { length: number; body: Program }
    if (p.length === length) runs++
    runs += p.length * loopRuns(p.body, length)
  }
  return runs
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)

/**
 * The arithmetic operations a program performs, by a simple model: a matrix
 * product [.., M, K]·[.., K, N] is 2·M·K·N (per batch element), a reduction
 * one per input element, any other equation one per output element, and a
 * scan its body's count times its length (other nested programs once).
 */
export function operationCount(program: Program): number {
  let count = 0
  for (const e of program.eqns) {
    const out = e.outputs.reduce((s, v) => s + sizeOf(v.aval.shape), 0)
    if (e.prim === 'matmul') {
      const a = e.inputs[0].aval.shape
      count += 2 * out * a[a.length - 1]
    } else if (e.prim === 'sum' || e.prim === 'reduceMax') count += sizeOf(e.inputs[0].aval.shape)
    else if (e.prim === 'scan') {
      const p = e.params as { length: number; body: Program }
      count += p.length * operationCount(p.body)
    } else {
      count += out
      for (const inner of Object.values(e.params as Record<string, unknown>))
        if (inner !== null && typeof inner === 'object' && 'eqns' in inner) count += operationCount(inner as Program)
    }
  }
  return count
}

/** The traced programs of one full gradient each way, for counting. */
export function gradientPrograms(net: DeepNet, B: number): { fd: Program; backprop: Program; loss: Program } {
  const { theta, x, y } = netData(net, B)
  const coords = ops.arange(0, net.W, 1, 'i32')
  return {
    fd: makeProgram(finiteDifferences(net, 'forward', 1e-6))(theta, x, y, coords),
    backprop: makeProgram(grad(net.loss))(theta, x, y),
    loss: makeProgram(net.loss)(theta, x, y),
  }
}

/** Process CPU time in ms (user + system): what other processes on the machine take does not count. */
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

export interface Timing {
  /** Wall time of one call, ms: the least of the repeats. */
  readonly wall: number
  /** CPU time of one call, ms: the least of the repeats. */
  readonly cpu: number
}

/**
 * The time of one call of `f`, after one call to warm up (compilation is not
 * counted): each repeat times enough calls to take about `sampleMs`, and the
 * least of `repeats` repeats is kept, since other work on the machine only
 * ever adds time.
 */
export async function timeCall(f: () => Promise<unknown>, repeats = 5, sampleMs = 20): Promise<Timing> {
  const t0 = performance.now()
  await f()
  const first = performance.now() - t0
  const calls = Math.max(1, Math.round(sampleMs / Math.max(first, 1e-3)))
  let wall = Number.POSITIVE_INFINITY
  let cpu = Number.POSITIVE_INFINITY
  for (let r = 0; r < repeats; r++) {
    const c0 = cpuMs()
    const w0 = performance.now()
    for (let k = 0; k < calls; k++) await f()
    wall = Math.min(wall, (performance.now() - w0) / calls)
    cpu = Math.min(cpu, (cpuMs() - c0) / calls)
  }
  return { wall, cpu }
}

export interface GradientTimes {
  readonly W: number
  /** One backprop gradient. */
  readonly backprop: Timing
  /** One finite-difference gradient: the time of `coordinates` of its W coordinates, times W/coordinates. */
  readonly fd: Timing
  readonly coordinates: number
}

/**
 * Times one gradient of the network each way on `backend`: backprop whole,
 * finite differences (forward) over the first `coordinates` coordinates
 * (all W when `coordinates` ≥ W), scaled to W: every coordinate's step is
 * the same program, so the time of m of them is m/W of the whole.
 */
export async function timeGradients(
  net: DeepNet,
  B: number,
  backend: Backend,
  options: { readonly coordinates: number; readonly repeats?: number; readonly sampleMs?: number },
): Promise<GradientTimes> {
  const { theta, x, y } = netData(net, B)
  const m = Math.min(net.W, options.coordinates)
  const coords = ops.arange(0, m, 1, 'i32')
  const fd = jit(finiteDifferences(net, 'forward', 1e-6), { backend })
  const backprop = jit(grad(net.loss), { backend })
  const repeats = options.repeats ?? 5
  const sampleMs = options.sampleMs ?? 20
  const fdTime = await timeCall(async () => (await fd(theta, x, y, coords)).data(), repeats, sampleMs)
  const bpTime = await timeCall(async () => (await backprop(theta, x, y)).data(), repeats, sampleMs)
  const scale = net.W / m
  return { W: net.W, backprop: bpTime, fd: { wall: fdTime.wall * scale, cpu: fdTime.cpu * scale }, coordinates: m }
}

/** The least-squares slope of log y against log x: the exponent p of y ∝ x^p. */
export function logLogSlope(xs: readonly number[], ys: readonly number[]): number {
  const lx = xs.map(Math.log)
  const ly = ys.map(Math.log)
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length
  const my = ly.reduce((a, b) => a + b, 0) / ly.length
  let sxy = 0
  let sxx = 0
  for (let i = 0; i < lx.length; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my)
    sxx += (lx[i] - mx) ** 2
  }
  return sxy / sxx
}

/** ‖g − exact‖ / ‖exact‖, the distance of a gradient estimate from the exact gradient. */
export function relativeDistance(g: ArrayLike<number>, exact: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < exact.length; i++) {
    num += (g[i] - exact[i]) ** 2
    den += exact[i] ** 2
  }
  return Math.sqrt(num / den)
}
