/**
 * Hopfield networks (J. J. Hopfield 1982, "Neural networks and physical
 * systems with emergent collective computational abilities"), as in *Neural
 * Networks II* (lecture notes), section "Dynamic neural networks": a fully
 * connected network of binary units s_i ∈ {−1, +1}, the "natural update"
 * (a weighted sum of the inputs above a threshold), and an energy
 *
 *   E(s) = −½ Σ_{i,j} w_ij s_i s_j − Σ_i b_i s_i
 *
 * (the notes write the threshold term as + Σ_i θ_i s_i: here b = −θ). With
 * W symmetric and w_ii = 0 the energy "either stays the same or decreases
 * with random asynchronous updates", so the dynamics converge to local
 * minima, the attractors of an associative memory. The weights come from
 * the Hebbian rule ("cells that fire together wire together", the notes'
 * section "Analogy with real neurons"):
 *
 *   W = (1/N) Σ_μ ξ^μ ξ^μᵀ, with the diagonal set to 0.
 *
 * Below about 0.138·N random patterns (Amit, Gutfreund and Sompolinsky 1985,
 * "Storing infinite numbers of patterns in a spin-glass model of neural
 * networks") the stored patterns lie close to such attractors.
 *
 * States are ±1 values in f32 tensors [..., N]: every leading axis is a
 * batch of independent networks sharing W and b.
 *
 * The update rule and its tie. Unit i's local field is
 * h_i = Σ_j w_ij s_j + b_i, and its update is s_i ← sgn(h_i) with
 * sgn(0) keeping the current s_i. With this tie rule a unit changes only
 * where h_i ≠ 0, and then ΔE = −Δs_i h_i = −2|h_i| < 0 (w_ii = 0): every
 * flip strictly lowers the energy, so the asynchronous dynamics cannot
 * cycle. (With sgn(0) = +1 a unit could flip at h_i = 0 with ΔE = 0, and
 * two units could flip back and forth forever.)
 *
 * - `updateAsync` updates the units one at a time in a given order, each
 *   seeing the updates before it (Hopfield's asynchronous dynamics): one
 *   loop (a `foriLoop`, i.e. a scan) over the order, one program;
 * - `updateSync` updates every unit from the old state at once (Little's
 *   dynamics); it may end in a 2-cycle, never in a longer one;
 * - `recall` repeats sweeps in a `whileLoop` until a fixed point, a
 *   2-cycle (synchronous mode) or `maxSweeps`: a whole recall, a batch of
 *   starts, is one program, so `jit` makes it one call.
 */
import { foriLoop, whileLoop } from '../control/flow.ts'
import * as ops from '../ops.ts'
import { sort } from '../ops/sorting.ts'
import * as random from '../random.ts'
import type { Dim, Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'

/** The leading (batch) axes of a state's shape [..., N]. */
export type Leading<S extends Shape> = S extends readonly [...infer L extends Shape, Dim] ? L : Shape

/** A weight matrix W [N, N] (symmetric with a zero diagonal for the energy to be a Lyapunov function). */
export type Weights = Tensor<[Dim, Dim]>

const checkStates = (name: string, W: Tensor, s: Tensor, b: Tensor | undefined): number => {
  if (W.ndim !== 2 || W.shape[0] !== W.shape[1])
    throw new Error(`hopfield.${name}: W must be a square matrix [N, N], got ${formatAval(W.aval)}`)
  const n = W.shape[0] as number
  if (s.ndim === 0 || s.shape[s.ndim - 1] !== n)
    throw new Error(
      `hopfield.${name}: the states must be [..., ${n}] for W ${formatAval(W.aval)}, got ${formatAval(s.aval)}`,
    )
  if (b !== undefined && (b.ndim !== 1 || b.shape[0] !== n))
    throw new Error(`hopfield.${name}: the bias must be [${n}], got ${formatAval(b.aval)}`)
  return n
}

/**
 * The Hebbian weights of P patterns ξ^μ (rows of ±1): W = (1/N) Σ_μ ξ^μ ξ^μᵀ
 * with a zero diagonal, symmetric.
 */
export function hebbian<N extends Dim>(patterns: Tensor<[Dim, N]>): Tensor<[N, N]> {
  if (patterns.ndim !== 2)
    throw new Error(`hopfield.hebbian: expected patterns [P, N], got ${formatAval(patterns.aval)}`)
  const n = patterns.shape[1] as number
  const outer = ops.matmul(ops.transpose(patterns as Tensor<[Dim, Dim]>), patterns as Tensor<[Dim, Dim]>)
  const offDiagonal = ops.sub(1, ops.eye(n))
  return ops.mul(ops.div(outer, n) as Tensor, offDiagonal) as Tensor as Tensor<[N, N]>
}

/** The local fields h = W s + b, [..., N]: h_i = Σ_j w_ij s_j + b_i. */
export function localField<S extends Shape>(W: Weights, s: Tensor<S>, b?: Tensor<[Dim]>): Tensor<S> {
  const n = checkStates('localField', W, s, b)
  const rows = ops.reshape(s as Tensor, [s.size / n, n]) as Tensor<[Dim, Dim]>
  const h = ops.reshape(ops.matmul(rows, ops.transpose(W)) as Tensor, s.shape as number[]) as Tensor
  return (b === undefined ? h : ops.add(h, b as Tensor)) as Tensor<S>
}

/** E(s) = −½ sᵀ W s − bᵀ s for each state of the batch: [...] for s [..., N]. */
export function energy<S extends Shape>(W: Weights, s: Tensor<S>, b?: Tensor<[Dim]>): Tensor<Leading<S>> {
  checkStates('energy', W, s, b)
  const quadratic = ops.mul(ops.sum(ops.mul(localField(W, s) as Tensor, s as Tensor), -1) as Tensor, -0.5)
  if (b === undefined) return quadratic as Tensor<Leading<S>>
  return ops.sub(quadratic, ops.sum(ops.mul(s as Tensor, b as Tensor), -1) as Tensor) as Tensor<Leading<S>>
}

/** sgn(h) with sgn(0) keeping `s`: +1 where h > 0, −1 where h < 0, s where h = 0. */
const signKeeping = (h: Tensor, s: Tensor): Tensor => ops.where(ops.greater(h, 0), 1, ops.where(ops.less(h, 0), -1, s))

/**
 * One synchronous update of every unit from the old state,
 * s' = sgn(W s + b), with sgn(0) keeping the unit's current value.
 */
export function updateSync<S extends Shape>(W: Weights, s: Tensor<S>, b?: Tensor<[Dim]>): Tensor<S> {
  checkStates('updateSync', W, s, b)
  return signKeeping(localField(W, s, b), s) as Tensor<S>
}

/**
 * Asynchronous updates: for k = 0 … K−1, unit i = order[k] is set to
 * sgn(Σ_j w_ij s_j + b_i) (sgn(0) keeping it), from the state that the
 * updates before it left. A unit may appear any number of times in the
 * order; a permutation of 0 … N−1 (`randomOrder`) is one sweep. The loop is
 * one `foriLoop` (a scan of K steps) inside the program; every batch member
 * follows the same order.
 */
export function updateAsync<S extends Shape>(
  W: Weights,
  s: Tensor<S>,
  order: Tensor<[Dim], 'i32'>,
  b?: Tensor<[Dim]>,
): Tensor<S> {
  const n = checkStates('updateAsync', W, s, b)
  if (order.ndim !== 1 || order.dtype !== 'i32')
    throw new Error(`hopfield.updateAsync: the order must be i32[K], got ${formatAval(order.aval)}`)
  const steps = order.shape[0] as number
  const rows = ops.reshape(s as Tensor, [s.size / n, n]) as Tensor<[Dim, Dim]>
  // Per unit: its row of W, one product with the batch's states for the fields, and a scatter that changes
  // the one unit: O(M·N) work, not O(M·N²).
  const out = foriLoop(
    0,
    steps,
    (k, state: Tensor<[Dim, Dim]>) => {
      const i = ops.take(order, k) as Tensor<[], 'i32'>
      let h = ops.matmul(state, ops.take(W, i) as Tensor<[Dim]>) as Tensor
      if (b !== undefined) h = ops.add(h, ops.take(b as Tensor<[Dim]>, i) as Tensor)
      const current = ops.take(state as Tensor, i, 1) as Tensor
      const change = ops.sub(signKeeping(h, current), current) as Tensor
      return ops.scatterAdd(state, i, change, 1)
    },
    rows,
  )
  return ops.reshape(out as Tensor, s.shape as number[]) as Tensor<S>
}

/** A random order of the N units, one asynchronous sweep: `random.permutation(key, n)`. */
export const randomOrder = (key: random.Key, n: number): Tensor<[number], 'i32'> => random.permutation(key, n)

/** m = (1/N) Σ_i s_i ξ_i over the last axis (broadcasting the leading ones): 1 for s = ξ, −1 for s = −ξ. */
export function overlap<S extends Shape>(s: Tensor<S>, xi: Tensor<Shape>): Tensor<Shape> {
  const n = s.shape[s.ndim - 1] as number
  if (xi.shape[xi.ndim - 1] !== n)
    throw new Error(`hopfield.overlap: the states ${formatAval(s.aval)} and ${formatAval(xi.aval)} differ in N`)
  return ops.div(ops.sum(ops.mul(s as Tensor, xi as Tensor) as Tensor, -1) as Tensor, n)
}

/** P random patterns of N units, each ±1 with probability ½, independent. */
export function randomPatterns<const P extends number, const N extends number>(
  key: random.Key,
  p: P,
  n: N,
): Tensor<[P, N]> {
  return ops.where(random.bernoulli(key, 0.5, [p, n]) as Tensor<[P, N], 'bool'>, 1, -1)
}

/**
 * s with exactly round(fraction · N) of its units flipped in each state of
 * the batch, the units chosen uniformly at random (a noisy cue for recall).
 */
export function flipUnits<S extends Shape>(key: random.Key, s: Tensor<S>, fraction: number): Tensor<S> {
  const n = s.shape[s.ndim - 1] as number
  const count = Math.round(fraction * n)
  if (!(fraction >= 0 && fraction <= 1))
    throw new Error(`hopfield.flipUnits: fraction must be in [0, 1], got ${fraction}`)
  if (count === 0) return s
  const u = random.uniform(key, s.shape as number[]) as Tensor
  // The count-th smallest draw of each state is its threshold: the units at or below it flip.
  const threshold = ops.slice(
    sort(u, -1) as Tensor,
    [...s.shape.slice(0, -1).map(() => 0), count - 1],
    [...(s.shape.slice(0, -1) as number[]), 1],
  ) as Tensor
  return ops.where(ops.lessEqual(u, threshold), ops.neg(s as Tensor), s as Tensor) as Tensor<S>
}

export interface RecallOptions {
  /** Asynchronous sweeps (a fresh random order each) or synchronous updates. Default 'async'. */
  readonly mode?: 'async' | 'sync'
  /** The key of the sweeps' orders (async mode; sweep t uses `randomOrder(foldIn(key, t), N)`). */
  readonly key?: random.Key
  /** The most sweeps to run (default 100); a sync update counts as one sweep. */
  readonly maxSweeps?: number
  /** The bias b of the local fields (default none). */
  readonly bias?: Tensor<[Dim]>
}

export interface Recalled<S extends Shape> {
  /** The final states: the fixed point where converged; for a 2-cycle, the state that ended it (the later of the pair). */
  readonly state: Tensor<S>
  /** Per state: the sweeps run, the last one the sweep that changed nothing (or that closed the 2-cycle). */
  readonly sweeps: Tensor<Leading<S>, 'i32'>
  /** Per state: whether it reached a fixed point (a sweep that changed no unit). */
  readonly converged: Tensor<Leading<S>, 'bool'>
  /** Per state: whether synchronous updates alternate between two states (always false in async mode). */
  readonly cycled: Tensor<Leading<S>, 'bool'>
}

const allEqual = (a: Tensor, b: Tensor): Tensor => ops.min(ops.astype(ops.equal(a, b), 'f32') as Tensor, -1) as Tensor

/**
 * Runs the dynamics from each state until it is a fixed point (a sweep that
 * changes nothing), a synchronous 2-cycle (s_{t+1} = s_{t−1} ≠ s_t), or
 * `maxSweeps`. A state that is done stops changing while the others go on.
 * The sweeps are one `whileLoop` (bounded by `maxSweeps`, so a device
 * backend runs it inside one submission), each sweep one `foriLoop` over
 * the order in async mode: jit(…recall…) compiles a whole recall into one
 * call. In async mode every flip lowers the energy, so every state reaches
 * a fixed point given enough sweeps. On a device backend the call is one
 * submission that dispatches all `maxSweeps` sweeps, those after the end
 * behind a gate (cheap, not free): keep `maxSweeps` near what is needed.
 */
export function recall<S extends Shape>(W: Weights, s: Tensor<S>, options: RecallOptions = {}): Recalled<S> {
  const { mode = 'async', maxSweeps = 100, bias } = options
  const n = checkStates('recall', W, s, bias)
  if (!(Number.isInteger(maxSweeps) && maxSweeps >= 1))
    throw new Error(`hopfield.recall: maxSweeps must be a positive integer, got ${maxSweeps}`)
  if (mode !== 'async' && mode !== 'sync')
    throw new Error(`hopfield.recall: mode must be 'async' or 'sync', got ${mode}`)
  const key = options.key
  if (mode === 'async' && key === undefined) throw new Error('hopfield.recall: async mode needs a key for the orders')
  const batch = s.shape.slice(0, -1) as number[]
  // The flags are f32 0/1 in the carry; prev starts at 0, which no ±1 state equals, so no 2-cycle is seen
  // before the second sweep.
  type Carry = [state: Tensor, prev: Tensor, t: Tensor, sweeps: Tensor, converged: Tensor, cycled: Tensor]
  const init: Carry = [
    s as Tensor,
    ops.zerosLike(s as Tensor),
    ops.scalar(0, 'i32'),
    ops.zeros(batch, 'i32'),
    ops.zeros(batch),
    ops.zeros(batch),
  ]
  const sweep = (state: Tensor, t: Tensor<[], 'i32'>): Tensor =>
    mode === 'sync'
      ? updateSync(W, state, bias)
      : updateAsync(W, state, randomOrder(random.foldIn(key as random.Key, t), n), bias)
  const activeOf = (converged: Tensor, cycled: Tensor) =>
    ops.mul(ops.sub(1, converged) as Tensor, ops.sub(1, cycled) as Tensor) as Tensor
  const [state, , , sweeps, converged, cycled] = whileLoop(
    ([, , t, , converged, cycled]: Carry) => {
      const going = ops.mul(ops.max(activeOf(converged, cycled)) as Tensor, ops.astype(ops.less(t, maxSweeps), 'f32'))
      return ops.greater(going as Tensor, 0) as Tensor<[], 'bool'>
    },
    ([state, prev, t, sweeps, converged, cycled]: Carry): Carry => {
      const active = activeOf(converged, cycled)
      const next = sweep(state, t as Tensor<[], 'i32'>)
      const fixed = allEqual(next, state)
      const twoCycle = ops.mul(allEqual(next, prev), ops.sub(1, fixed) as Tensor) as Tensor
      const moving = ops.expandDims(ops.greater(active, 0), -1) as Tensor<Shape, 'bool'>
      return [
        ops.where(moving, next, state) as Tensor,
        ops.where(moving, state, prev) as Tensor,
        ops.add(t, 1) as Tensor,
        ops.add(sweeps, ops.astype(active, 'i32')) as Tensor,
        ops.add(converged, ops.mul(active, fixed)) as Tensor,
        ops.add(cycled, ops.mul(active, twoCycle)) as Tensor,
      ]
    },
    init,
    { maxIterations: maxSweeps },
  )
  return {
    state,
    sweeps,
    converged: ops.greater(converged, 0),
    cycled: ops.greater(cycled, 0),
  } as unknown as Recalled<S>
}
