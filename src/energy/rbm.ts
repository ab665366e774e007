/**
 * Restricted Boltzmann machines with binary (Bernoulli) visible and hidden
 * units, trained by contrastive divergence, with exact references by
 * enumeration for small machines.
 *
 * A Boltzmann machine (Ackley, Hinton and Sejnowski 1985) is an energy-based
 * model over binary vectors; the restricted one (Smolensky's harmonium,
 * 1986) keeps only the connections between a visible layer v ∈ {0,1}^V and
 * a hidden layer h ∈ {0,1}^H (A. Martins, Deep Learning: A Shallow Tutorial,
 * NLPL Winter School 2018, section "Generative Models": "Boltzmann Machine",
 * "Restricted Boltzmann Machines"; Neural Networks II (lecture notes),
 * section "Dynamic neural networks": the Boltzmann machine as a Hopfield
 * network with a random update rule, and the restricted one with only
 * inter-layer connections):
 *
 *   E(v, h) = −vᵀWh − bᵀv − cᵀh,       p(v, h) = exp(−E(v, h)) / Z,
 *
 * with W [V, H], visible biases b [V] and hidden biases c [H]. Without
 * connections inside a layer the units of one layer are conditionally
 * independent given the other, and each unit turns on with the logistic
 * probability of its energy gap (Neural Networks II, p_on = 1/(1 + e^{−ΔE/T})
 * at T = 1):
 *
 *   p(h_j = 1 | v) = σ(c_j + (vᵀW)_j),     p(v_i = 1 | h) = σ(b_i + (Wh)_i).
 *
 * Summing h out gives the free energy, and with it the likelihood of v:
 *
 *   F(v) = −log Σ_h e^{−E(v,h)} = −bᵀv − Σ_j softplus(c_j + (vᵀW)_j),
 *   log p(v) = −F(v) − log Z,
 *
 * and the gradient of the mean log-likelihood over data D is a data term
 * minus a model expectation:
 *
 *   ∂/∂W = ⟨v p(h|v)ᵀ⟩_D − ⟨v hᵀ⟩_model,
 *   ∂/∂b = ⟨v⟩_D − ⟨v⟩_model,    ∂/∂c = ⟨p(h|v)⟩_D − ⟨h⟩_model.
 *
 * Z, and with it the model term, sums over 2^V·2^H states ("the partition
 * function Z is still intractable", Martins). Contrastive divergence CD-k
 * (Hinton 2002, "Training products of experts by minimizing contrastive
 * divergence") replaces the model term by the statistics of k steps of block
 * Gibbs sampling v → h → v started at the data; persistent CD (Tieleman 2008,
 * "Training restricted Boltzmann machines using approximations to the
 * likelihood gradient") keeps the chains between updates instead of
 * restarting them. Both use the hidden probabilities p(h|v) rather than
 * sampled h for the statistics (the same expectation, less variance). The
 * estimate is the gradient of the free-energy gap
 *
 *   J(θ) = ⟨F(ṽ)⟩_chains − ⟨F(v)⟩_D        (ṽ held fixed),
 *
 * which `freeEnergyGap` computes, so `grad(freeEnergyGap)` is a check of the
 * hand-written statistics. `cdStep` and `pcdStep` build a whole update
 * (sampling, statistics, momentum step) to be jitted into one call, with
 * momentum and weight decay as in Hinton's "A practical guide to training
 * restricted Boltzmann machines" (2010).
 *
 * For small machines, `logPartition`, `exactLogLikelihood` and
 * `exactGradient` enumerate the smaller layer's 2^n states (the other layer
 * summed out in closed form) in f64, as tensor programs.
 */
import { foriLoop } from '../control/flow.ts'
import type { DType, FloatDType } from '../dtype.ts'
import * as ops from '../ops.ts'
import { softplus } from '../ops/math.ts'
import * as random from '../random.ts'
import type { Dim, Width } from '../shape/types.ts'
import { formatAval, Tensor } from '../tensor.ts'

/** The parameters: weights W [V, H], visible biases b [V], hidden biases c [H]. */
export interface Params<V extends number = number, H extends number = number, D extends FloatDType = FloatDType> {
  readonly W: Tensor<[V, H], D>
  readonly b: Tensor<[V], D>
  readonly c: Tensor<[H], D>
}

/** A momentum step's velocity: one tensor per parameter (`initVelocity`). */
export type Velocity<V extends number = number, H extends number = number, D extends FloatDType = FloatDType> = Params<
  V,
  H,
  D
>

type Any = Tensor<any, any>

const untyped = (x: Tensor): Any => x as Any

// ---------------------------------------------------------------- checks

function floatDtype(name: string, p: Params): FloatDType {
  if (!(p?.W instanceof Tensor && p.b instanceof Tensor && p.c instanceof Tensor))
    throw new TypeError(`rbm.${name}: expected parameters { W, b, c } (tensors)`)
  const d = p.W.aval.dtype
  if (d !== 'f32' && d !== 'f64') throw new Error(`rbm.${name}: W must be f32 or f64, got ${formatAval(p.W.aval)}`)
  const [V, H] = p.W.aval.shape
  if (p.W.ndim !== 2 || p.b.ndim !== 1 || p.c.ndim !== 1 || p.b.aval.shape[0] !== V || p.c.aval.shape[0] !== H)
    throw new Error(
      `rbm.${name}: expected W [V, H], b [V], c [H], got W ${formatAval(p.W.aval)}, b ${formatAval(p.b.aval)}, c ${formatAval(p.c.aval)}`,
    )
  if (p.b.aval.dtype !== d || p.c.aval.dtype !== d)
    throw new Error(`rbm.${name}: W, b and c must share a dtype, got ${d}, ${p.b.aval.dtype}, ${p.c.aval.dtype}`)
  return d
}

/** Checks that x is a batch [B, n] of the parameters' dtype; n is the layer's size. */
function checkBatch(name: string, what: string, x: Tensor, n: number, dtype: FloatDType): void {
  if (!(x instanceof Tensor)) throw new TypeError(`rbm.${name}: ${what} must be a tensor [B, ${n}]`)
  if (x.ndim !== 2 || x.aval.shape[1] !== n || x.aval.dtype !== dtype)
    throw new Error(`rbm.${name}: ${what} must be ${dtype}[B,${n}], got ${formatAval(x.aval)}`)
}

const sizes = (p: Params): [number, number] => [p.W.aval.shape[0], p.W.aval.shape[1]]

function checkSteps(name: string, k: number): void {
  if (!(Number.isInteger(k) && k >= 0)) throw new Error(`rbm.${name}: k must be a non-negative integer, got ${k}`)
}

// ---------------------------------------------------------------- the model

/**
 * Parameters for V visible and H hidden units: W drawn from N(0, scale²)
 * (default scale 0.01, as Hinton's practical guide advises), biases zero.
 */
export function init<const V extends number, const H extends number, D extends FloatDType = 'f32'>(
  key: random.Key,
  V: V,
  H: H,
  options: { readonly scale?: number; readonly dtype?: D } = {},
): Params<V, H, D> {
  for (const [what, n] of [
    ['V', V],
    ['H', H],
  ] as const)
    if (!(Number.isInteger(n) && n > 0)) throw new Error(`rbm.init: ${what} must be a positive integer, got ${n}`)
  const { scale = 0.01 } = options
  if (!(Number.isFinite(scale) && scale >= 0)) throw new Error(`rbm.init: scale must be ≥ 0, got ${scale}`)
  const dtype = (options.dtype ?? 'f32') as D
  return {
    W: random.normal(key, [V, H], { stddev: scale, dtype }) as unknown as Tensor<[V, H], D>,
    b: ops.zeros([V], dtype) as unknown as Tensor<[V], D>,
    c: ops.zeros([H], dtype) as unknown as Tensor<[H], D>,
  }
}

/** Zeros shaped like the parameters: the initial velocity of `cdStep` and `pcdStep`. */
export const initVelocity = <V extends number, H extends number, D extends FloatDType>(
  p: Params<V, H, D>,
): Velocity<V, H, D> => ({ W: ops.zerosLike(p.W), b: ops.zerosLike(p.b), c: ops.zerosLike(p.c) })

/** E(v, h) = −vᵀWh − bᵀv − cᵀh for each row of v [B, V] and h [B, H]: [B]. */
export function energy<
  B extends Dim,
  V extends number,
  H extends number,
  D extends FloatDType,
  X extends Dim,
  Y extends Dim,
>(
  p: Params<V, H, D>,
  v: Tensor<[B, X], DType> & NoInfer<Width<X, V>>,
  h: Tensor<[B, Y], DType> & NoInfer<Width<Y, H>>,
): Tensor<[B], D> {
  const d = floatDtype('energy', p)
  const [nv, nh] = sizes(p)
  checkBatch('energy', 'v', v, nv, d)
  checkBatch('energy', 'h', h, nh, d)
  const vWh = ops.sum(ops.mul(ops.matmul(untyped(v), untyped(p.W)), untyped(h)), 1)
  const bv = ops.matmul(untyped(v), untyped(p.b))
  const ch = ops.matmul(untyped(h), untyped(p.c))
  return ops.neg(ops.add(ops.add(vWh, bv), ch)) as Tensor<[B], D>
}

/** F(v) = −bᵀv − Σ_j softplus(c_j + (vᵀW)_j) for each row of v [B, V]: [B]. log p(v) = −F(v) − log Z. */
export function freeEnergy<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  p: Params<V, H, D>,
  v: Tensor<[B, X], DType> & NoInfer<Width<X, V>>,
): Tensor<[B], D> {
  const d = floatDtype('freeEnergy', p)
  checkBatch('freeEnergy', 'v', v, sizes(p)[0], d)
  const hiddenInput = ops.add(ops.matmul(untyped(v), untyped(p.W)), untyped(p.c))
  return ops.neg(ops.add(ops.matmul(untyped(v), untyped(p.b)), ops.sum(softplus(hiddenInput), 1))) as Tensor<[B], D>
}

/** p(h_j = 1 | v) = σ(c_j + (vᵀW)_j) for each row of v [B, V]: [B, H]. */
export function hiddenProbs<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  p: Params<V, H, D>,
  v: Tensor<[B, X], DType> & NoInfer<Width<X, V>>,
): Tensor<[B, H], D> {
  const d = floatDtype('hiddenProbs', p)
  checkBatch('hiddenProbs', 'v', v, sizes(p)[0], d)
  return ops.sigmoid(ops.add(ops.matmul(untyped(v), untyped(p.W)), untyped(p.c))) as never
}

/** p(v_i = 1 | h) = σ(b_i + (Wh)_i) for each row of h [B, H]: [B, V]. */
export function visibleProbs<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  p: Params<V, H, D>,
  h: Tensor<[B, X], DType> & NoInfer<Width<X, H>>,
): Tensor<[B, V], D> {
  const d = floatDtype('visibleProbs', p)
  checkBatch('visibleProbs', 'h', h, sizes(p)[1], d)
  return ops.sigmoid(ops.add(ops.matmul(untyped(h), ops.transpose(untyped(p.W))), untyped(p.b))) as never
}

/** 1 with probability `probs`, else 0, in the probabilities' dtype. */
const bernoulliOf = (key: random.Key, probs: Tensor): Any =>
  untyped(ops.astype(random.bernoulli(key, untyped(probs), probs.aval.shape), probs.aval.dtype))

/** h ~ p(h | v), one draw per row of v [B, V]: [B, H] in {0, 1}. */
export function sampleHidden<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  key: random.Key,
  p: Params<V, H, D>,
  v: Tensor<[B, X], DType> & NoInfer<Width<X, V>>,
): Tensor<[B, H], D> {
  return bernoulliOf(key, hiddenProbs(p, v)) as never
}

/** v ~ p(v | h), one draw per row of h [B, H]: [B, V] in {0, 1}. */
export function sampleVisible<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  key: random.Key,
  p: Params<V, H, D>,
  h: Tensor<[B, X], DType> & NoInfer<Width<X, H>>,
): Tensor<[B, V], D> {
  return bernoulliOf(key, visibleProbs(p, h)) as never
}

/**
 * k steps of block Gibbs sampling from each row of v [B, V]: h ~ p(h|v),
 * then v ~ p(v|h). One loop in the program (a `foriLoop`, a scan of k
 * steps), the keys of step i folded from `key` and i inside it.
 */
export function gibbs<B extends Dim, V extends number, H extends number, D extends FloatDType, X extends Dim>(
  key: random.Key,
  p: Params<V, H, D>,
  v: Tensor<[B, X], DType> & NoInfer<Width<X, V>>,
  k: number,
): Tensor<[B, V], D> {
  const d = floatDtype('gibbs', p)
  checkBatch('gibbs', 'v', v, sizes(p)[0], d)
  checkSteps('gibbs', k)
  return foriLoop(
    0,
    k,
    (i, x: Tensor<[B, V], D>) => {
      const [kh, kv] = random.split(random.foldIn(key, i))
      return sampleVisible(kv, p, untyped(sampleHidden(kh, p, untyped(x))))
    },
    v as Tensor<[B, V], D>,
  )
}

// ---------------------------------------------------------------- gradient estimates

/**
 * The gradient of the mean log-likelihood with the model term taken from
 * samples: ⟨v p(h|v)ᵀ⟩ over the rows of `data` minus the same over the rows
 * of `samples` (the two batches may differ in size), and likewise for b and c.
 */
export function contrastiveStatistics<
  V extends number,
  H extends number,
  D extends FloatDType,
  X extends Dim,
  Y extends Dim,
>(
  p: Params<V, H, D>,
  data: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  samples: Tensor<[Dim, Y], DType> & NoInfer<Width<Y, V>>,
): Params<V, H, D> {
  const d = floatDtype('contrastiveStatistics', p)
  checkBatch('contrastiveStatistics', 'data', data, sizes(p)[0], d)
  checkBatch('contrastiveStatistics', 'samples', samples, sizes(p)[0], d)
  const [nPos, nNeg] = [data.aval.shape[0], samples.aval.shape[0]]
  const hPos = untyped(hiddenProbs(p, data))
  const hNeg = untyped(hiddenProbs(p, samples))
  const outer = (v: Any, h: Any, n: number) => ops.div(ops.matmul(ops.transpose(v), h), n)
  return {
    W: untyped(ops.sub(outer(untyped(data), hPos, nPos), outer(untyped(samples), hNeg, nNeg))),
    b: untyped(ops.sub(ops.mean(untyped(data), 0), ops.mean(untyped(samples), 0))),
    c: untyped(ops.sub(ops.mean(hPos, 0), ops.mean(hNeg, 0))),
  }
}

/**
 * ⟨F(ṽ)⟩_samples − ⟨F(v)⟩_data with the samples held fixed (stopGradient):
 * its gradient in the parameters is `contrastiveStatistics(p, data, samples)`,
 * the CD or PCD estimate of the log-likelihood gradient.
 */
export function freeEnergyGap<V extends number, H extends number, D extends FloatDType, X extends Dim, Y extends Dim>(
  p: Params<V, H, D>,
  data: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  samples: Tensor<[Dim, Y], DType> & NoInfer<Width<Y, V>>,
): Tensor<[], D> {
  return ops.sub(
    ops.mean(untyped(freeEnergy(p, ops.stopGradient(untyped(samples))))),
    ops.mean(untyped(freeEnergy(p, untyped(data)))),
  )
}

/**
 * CD-k (Hinton 2002): the estimate of the gradient of the mean
 * log-likelihood of the rows of v [B, V] whose model term comes from k
 * steps of Gibbs sampling started at the data, with hidden probabilities
 * for the statistics. An ascent direction: add it to the parameters.
 */
export function cdGradient<V extends number, H extends number, D extends FloatDType, X extends Dim>(
  key: random.Key,
  p: Params<V, H, D>,
  v: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  k: number,
): Params<V, H, D> {
  checkSteps('cdGradient', k)
  if (k === 0) throw new Error('rbm.cdGradient: k must be at least 1 (CD-0 is identically zero)')
  return contrastiveStatistics(p, v, untyped(gibbs(key, p, v, k)))
}

/**
 * Persistent CD (Tieleman 2008): the model term from `chains` [C, V]
 * advanced k Gibbs steps under the current parameters, which are returned
 * to start the next update from. Returns [gradient estimate, new chains].
 */
export function pcdGradient<
  V extends number,
  H extends number,
  C extends Dim,
  D extends FloatDType,
  X extends Dim,
  Y extends Dim,
>(
  key: random.Key,
  p: Params<V, H, D>,
  v: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  chains: Tensor<[C, Y], DType> & NoInfer<Width<Y, V>>,
  k: number,
): [Params<V, H, D>, Tensor<[C, V], D>] {
  checkSteps('pcdGradient', k)
  const next = gibbs(key, p, chains, k)
  return [contrastiveStatistics(p, v, untyped(next)), next]
}

// ---------------------------------------------------------------- training steps

export interface StepOptions {
  /** Gibbs steps per update (default 1). */
  readonly k?: number
  /** Learning rate α. */
  readonly lr: number
  /** Momentum μ (default 0: plain stochastic gradient ascent). */
  readonly momentum?: number
  /** Weight decay λ on W only (default 0): the gradient of −(λ/2)‖W‖² is added. */
  readonly weightDecay?: number
}

function stepOptions(name: string, o: StepOptions): Required<StepOptions> {
  const { k = 1, lr, momentum = 0, weightDecay = 0 } = o ?? ({} as StepOptions)
  checkSteps(name, k)
  if (k === 0) throw new Error(`rbm.${name}: k must be at least 1`)
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`rbm.${name}: lr must be a positive number, got ${lr}`)
  if (!(momentum >= 0 && momentum < 1)) throw new Error(`rbm.${name}: momentum must be in [0, 1), got ${momentum}`)
  if (!(weightDecay >= 0)) throw new Error(`rbm.${name}: weightDecay must be ≥ 0, got ${weightDecay}`)
  return { k, lr, momentum, weightDecay }
}

/** v' = μ v + α (g − λ W on the weights), θ' = θ + v': gradient ascent with momentum. */
function ascend<P extends Params>(p: P, velocity: Params, g: Params, o: Required<StepOptions>): [P, Params] {
  const next = (name: 'W' | 'b' | 'c'): Any => {
    const gi = name === 'W' && o.weightDecay > 0 ? ops.sub(g.W, ops.mul(p.W, o.weightDecay)) : untyped(g[name])
    const step = ops.mul(gi, o.lr)
    return o.momentum > 0 ? ops.add(ops.mul(untyped(velocity[name]), o.momentum), step) : step
  }
  const v = { W: next('W'), b: next('b'), c: next('c') }
  return [{ ...p, W: ops.add(p.W, v.W), b: ops.add(p.b, v.b), c: ops.add(p.c, v.c) }, v]
}

/**
 * ⟨‖v − p(v | p(h|v))‖²⟩: the squared error of the mean-field reconstruction
 * per example (what Hinton's guide calls the reconstruction error; not the
 * objective, but a cheap sign of progress).
 */
export function reconstructionError<V extends number, H extends number, D extends FloatDType, X extends Dim>(
  p: Params<V, H, D>,
  v: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
): Tensor<[], D> {
  const r = visibleProbs(p, untyped(hiddenProbs(p, untyped(v))))
  return ops.mean(ops.sum(ops.square(ops.sub(untyped(v), untyped(r))), 1))
}

/**
 * One CD-k update as a function to jit into one call:
 * (params, velocity, key, v) => [params', velocity', reconstruction error
 * of v before the update]. Donate the parameters and the velocity:
 * `jit(rbm.cdStep({ lr: 0.05 }), { donateArgnums: [0, 1] })`.
 */
export function cdStep(options: StepOptions) {
  const o = stepOptions('cdStep', options)
  return <V extends number, H extends number, D extends FloatDType, X extends Dim>(
    p: Params<V, H, D>,
    velocity: Velocity<V, H, D>,
    key: random.Key,
    v: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  ): [Params<V, H, D>, Velocity<V, H, D>, Tensor<[], D>] => {
    const g = cdGradient(key, p, v, o.k)
    const [next, vel] = ascend(p, velocity, g, o)
    return [next, vel as Velocity<V, H, D>, reconstructionError(p, v)]
  }
}

/**
 * One persistent-CD update as a function to jit into one call:
 * (params, velocity, chains, key, v) => [params', velocity', chains',
 * reconstruction error]. Donate the first three: `donateArgnums: [0, 1, 2]`.
 */
export function pcdStep(options: StepOptions) {
  const o = stepOptions('pcdStep', options)
  return <V extends number, H extends number, C extends Dim, D extends FloatDType, X extends Dim, Y extends Dim>(
    p: Params<V, H, D>,
    velocity: Velocity<V, H, D>,
    chains: Tensor<[C, X], DType> & NoInfer<Width<X, V>>,
    key: random.Key,
    v: Tensor<[Dim, Y], DType> & NoInfer<Width<Y, V>>,
  ): [Params<V, H, D>, Velocity<V, H, D>, Tensor<[C, V], D>, Tensor<[], D>] => {
    const [g, nextChains] = pcdGradient(key, p, v, chains, o.k)
    const [next, vel] = ascend(p, velocity, g, o)
    return [next, vel as Velocity<V, H, D>, nextChains, reconstructionError(p, v)]
  }
}

// ---------------------------------------------------------------- exact references by enumeration

/** The most units the enumeration sums over (2^20 states). */
export const MAX_ENUMERATED = 20

/** All 2^n binary vectors as the rows of a [2^n, n] matrix, row r holding the bits of r (bit j in column j). */
export function allStates<D extends FloatDType = 'f64'>(n: number, dtype?: D): Tensor<[number, number], D> {
  if (!(Number.isInteger(n) && n >= 0 && n <= MAX_ENUMERATED))
    throw new Error(`rbm.allStates: n must be an integer in [0, ${MAX_ENUMERATED}], got ${n}`)
  const rows = 2 ** n
  const bits = new Array<number>(rows * n)
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) bits[r * n + j] = Math.floor(r / 2 ** j) % 2
  return ops.tensor(bits, { shape: [rows, n], dtype: (dtype ?? 'f64') as D }) as Tensor<[number, number], D>
}

export type Enumerate = 'visible' | 'hidden' | 'smaller'

/** The parameters in f64, and which layer to enumerate. */
function forEnumeration(
  name: string,
  p: Params,
  over: Enumerate,
): { q: Params<number, number, 'f64'>; layer: 'visible' | 'hidden' } {
  floatDtype(name, p)
  const [nv, nh] = sizes(p)
  const layer = over === 'smaller' ? (nh <= nv ? 'hidden' : 'visible') : over
  if (layer !== 'visible' && layer !== 'hidden')
    throw new Error(`rbm.${name}: over must be 'visible', 'hidden' or 'smaller', got ${JSON.stringify(over)}`)
  const n = layer === 'hidden' ? nh : nv
  if (n > MAX_ENUMERATED)
    throw new Error(`rbm.${name}: enumerating the ${layer} layer means 2^${n} states; at most ${MAX_ENUMERATED} units`)
  const f64 = (x: Tensor): Any => (x.aval.dtype === 'f64' ? untyped(x) : ops.astype(untyped(x), 'f64'))
  return { q: { W: f64(p.W), b: f64(p.b), c: f64(p.c) }, layer }
}

/**
 * The unnormalised log-probabilities of the enumerated layer's states S:
 * −F(v) for visible states, and for hidden states its mirror image,
 * log Σ_v e^{−E(v,h)} = cᵀh + Σ_i softplus(b_i + (Wh)_i).
 */
function stateLogits(q: Params<number, number, 'f64'>, layer: 'visible' | 'hidden', S: Any): Any {
  if (layer === 'visible') return ops.neg(freeEnergy(q, S))
  const visibleInput = ops.add(ops.matmul(S, ops.transpose(untyped(q.W))), untyped(q.b))
  return ops.add(ops.matmul(S, untyped(q.c)), ops.sum(softplus(visibleInput), 1))
}

/**
 * log Z = log Σ_{v,h} e^{−E(v,h)}, in f64, by enumerating the 2^n states of
 * one layer (by default the smaller) with the other summed out in closed
 * form: logsumexp over v of −F(v), or over h of its mirror image.
 */
export function logPartition(p: Params, options: { readonly over?: Enumerate } = {}): Tensor<[], 'f64'> {
  const { q, layer } = forEnumeration('logPartition', p, options.over ?? 'smaller')
  const S = untyped(allStates(layer === 'hidden' ? sizes(p)[1] : sizes(p)[0]))
  return ops.logsumexp(stateLogits(q, layer, S))
}

/** The mean of log p(v) = −F(v) − log Z over the rows of `data` [N, V], in f64. */
export function exactLogLikelihood(
  p: Params,
  data: Tensor<[Dim, number], DType>,
  options: { readonly over?: Enumerate } = {},
): Tensor<[], 'f64'> {
  const { q } = forEnumeration('exactLogLikelihood', p, options.over ?? 'smaller')
  checkBatch('exactLogLikelihood', 'data', data, sizes(p)[0], data.aval.dtype as FloatDType)
  const v = data.aval.dtype === 'f64' ? untyped(data) : ops.astype(untyped(data), 'f64')
  return ops.sub(ops.mean(ops.neg(freeEnergy(q, v))), logPartition(q, options))
}

/**
 * The exact gradient of `exactLogLikelihood` in the parameters, in the
 * parameters' dtype (computed in f64): the data term ⟨v p(h|v)ᵀ⟩ minus the
 * model expectation ⟨v hᵀ⟩ under p(v, h), the latter by enumerating one
 * layer with the other's conditional means in closed form:
 *   over v:  ⟨v hᵀ⟩ = Σ_v p(v) v σ(c + Wᵀv)ᵀ,   over h:  ⟨v hᵀ⟩ = Σ_h p(h) σ(b + Wh) hᵀ.
 */
export function exactGradient<V extends number, H extends number, D extends FloatDType, X extends Dim>(
  p: Params<V, H, D>,
  data: Tensor<[Dim, X], DType> & NoInfer<Width<X, V>>,
  options: { readonly over?: Enumerate } = {},
): Params<V, H, D> {
  const d = floatDtype('exactGradient', p)
  const { q, layer } = forEnumeration('exactGradient', p, options.over ?? 'smaller')
  checkBatch('exactGradient', 'data', data, sizes(p)[0], data.aval.dtype as FloatDType)
  const v = data.aval.dtype === 'f64' ? untyped(data) : ops.astype(untyped(data), 'f64')
  const S = untyped(allStates(layer === 'hidden' ? sizes(p)[1] : sizes(p)[0]))
  const logits = stateLogits(q, layer, S)
  const prob = ops.exp(ops.sub(logits, ops.logsumexp(logits))) // p(state), [2^n]
  // The enumerated layer's states and the other layer's conditional means, weighted by p(state).
  const [vs, hs] = layer === 'visible' ? [S, untyped(hiddenProbs(q, S))] : [untyped(visibleProbs(q, S)), S]
  const weighted = ops.mul(vs, ops.expandDims(prob, 1))
  const model = {
    W: ops.matmul(ops.transpose(weighted), hs),
    b: ops.matmul(prob, vs),
    c: ops.matmul(prob, hs),
  }
  const hData = untyped(hiddenProbs(q, v))
  const n = v.aval.shape[0]
  const back = (x: Any): Any => (d === 'f64' ? x : ops.astype(x, d))
  return {
    W: back(ops.sub(ops.div(ops.matmul(ops.transpose(v), hData), n), model.W)),
    b: back(ops.sub(ops.mean(v, 0), model.b)),
    c: back(ops.sub(ops.mean(hData, 0), model.c)),
  }
}
