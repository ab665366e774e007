/**
 * First-order optimisers. Each is one rule per parameter leaf,
 *
 *   step(g, slots, { lr, t, param }) => [δ, slots']      θ' = θ + δ
 *
 * where the slots are per-parameter accumulators (velocity, moments) kept in
 * the state as trees shaped like the parameters, `lr` is the learning rate
 * for this update and `t` = count + 1 the number of this update, both
 * tensors computed from the state's step count. The shared machinery adds
 * the step count, schedules, weight decay and the checks.
 *
 * Formulas (α the learning rate, g the gradient):
 *  - SGD [1]:                              θ' = θ − α g
 *  - momentum [1]:                         v' = η v − α g,  θ' = θ + v'
 *  - Nesterov (Nesterov 1983) [2]:         v' = η v − α ∇L(θ + η v),  θ' = θ + v'
 *  - Adagrad (Duchi et al. 2011) [3]:      s' = s + g²,  θ' = θ − α g / √(s' + ε)
 *  - RMSProp (Tieleman & Hinton 2012) [3]: s' = ρ s + (1 − ρ) g²,  θ' = θ − α g / √(s' + ε)
 *  - Adam (Kingma & Ba 2015; [3] names it "RMSProp with momentum"):
 *      m' = β₁ m + (1 − β₁) g,  v' = β₂ v + (1 − β₂) g²,
 *      m̂ = m' / (1 − β₁ᵗ),  v̂ = v' / (1 − β₂ᵗ),  θ' = θ − α m̂ / (√v̂ + ε)
 *    The bias corrections make the first step α·g/(|g| + ε) ≈ α·sign(g).
 *
 * Weight decay (the penalty λ‖w‖², a Gaussian prior [4]), two ways:
 *  - 'l2' (coupled): g ← g + λθ before the rule, the gradient of (λ/2)‖θ‖²,
 *    so the decay passes through the rule's scaling (Adam divides it by √v̂);
 *  - 'decoupled' (AdamW, Loshchilov & Hutter 2019): θ' = θ + δ − α λ θ,
 *    applied outside the rule, at the same relative rate for every parameter.
 * For plain SGD the two coincide.
 *
 * [1] Deep Learning, COMP613 Advanced Topics in Machine Learning (lecture
 *     notes), "Optimisation for Machine Learning".
 * [2] Neural Networks II (lecture notes), "Training Neural Networks".
 * [3] A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School 2018,
 *     "Adaptive Learning Rates".
 * [4] COMP613 notes (as [1]), "Supervised Learning".
 */
import * as ops from '../ops.ts'
import type { FloatDType } from '../dtype.ts'
import { filled, type Tensor } from '../tensor.ts'
import { flatten, unflatten, type Tree } from '../tree.ts'
import {
  checkCount,
  checkGrads,
  checkNonNegative,
  checkSlot,
  checkStateKeys,
  checkUnitInterval,
  type Count,
  type Optimiser,
} from './optimiser.ts'
import { checkLearningRate, rateAt, type LearningRate } from './schedule.ts'
import { checkFloatLeaves } from './tree-math.ts'

/** Weight decay: `decoupled` subtracts λ·lr·θ from the parameters (AdamW); `l2` adds λθ to the gradient. */
export interface WeightDecay {
  /** λ, the coefficient of θ in the decay term. */
  readonly rate: number
  readonly mode: 'decoupled' | 'l2'
}

/** Options of every first-order optimiser: the learning rate and the weight decay. */
export interface CommonOptions {
  /** A constant rate or a schedule of the step count. */
  readonly lr: LearningRate
  readonly weightDecay?: WeightDecay
}

interface LeafContext {
  /** The learning rate for this update, in the leaf's dtype. */
  readonly lr: Tensor<[], FloatDType>
  /** The number of this update (1 for the first), in the leaf's dtype. */
  readonly t: Tensor<[], FloatDType>
  readonly param: Tensor
}

/**
 * The update of one leaf by a first-order optimiser: its accumulators and its step, from which
 * `firstOrder` builds an optimiser.
 */
export interface LeafRule {
  /** Accumulator names and their initial value. */
  readonly slots: readonly { readonly name: string; readonly init: number }[]
  step(g: Tensor, slots: readonly Tensor[], ctx: LeafContext): [Tensor, Tensor[]]
}

/** The state of a first-order optimiser: the step count and one tree per accumulator. */
export type FirstOrderState = { readonly count: Count } & { readonly [slot: string]: Tree }

function checkWeightDecay(what: string, wd: WeightDecay | undefined): WeightDecay | undefined {
  if (wd === undefined) return undefined
  if (typeof wd !== 'object' || wd === null)
    throw new Error(`${what}: weightDecay must be { rate, mode: 'decoupled' | 'l2' }, got ${typeof wd}`)
  checkNonNegative(what, 'weightDecay.rate', wd.rate)
  if (wd.mode !== 'decoupled' && wd.mode !== 'l2')
    throw new Error(`${what}: weightDecay.mode must be 'decoupled' or 'l2', got ${String(wd.mode)}`)
  return wd
}

/** An optimiser from a per-leaf rule: adds the step count, the schedule, weight decay and the checks. */
export function fromLeafRule(name: string, rule: LeafRule, options: CommonOptions): Optimiser<FirstOrderState> {
  const lr = checkLearningRate(name, options.lr)
  const wd = checkWeightDecay(name, options.weightDecay)
  const keys = ['count', ...rule.slots.map((s) => s.name)]
  const init = <P extends Tree>(params: P): FirstOrderState => {
    checkFloatLeaves(`${name}.init`, params)
    const [leaves, def] = flatten(params)
    const state: Record<string, Tree> = { count: ops.scalar(0, 'i32') }
    for (const slot of rule.slots)
      state[slot.name] = unflatten(
        def,
        leaves.map((x) => filled(x.aval.shape, x.aval.dtype, slot.init)),
      )
    return state as FirstOrderState
  }
  const update = <P extends Tree>(grads: P, state: FirstOrderState, params: P): [P, FirstOrderState] => {
    const what = `${name}.update`
    checkGrads(what, grads, params)
    const record = checkStateKeys(what, state, keys)
    checkCount(what, record.count)
    for (const slot of rule.slots) checkSlot(what, slot.name, record[slot.name], params)
    const count = record.count as Count
    const [ps, def] = flatten(params)
    const [gs] = flatten(grads)
    const slotLeaves = rule.slots.map((s) => flatten(record[s.name])[0])
    // One rate and one step number per dtype, shared by the leaves of that dtype.
    const perDtype = new Map<FloatDType, { lr: Tensor<[], FloatDType>; t: Tensor<[], FloatDType> }>()
    const scalars = (dtype: FloatDType) => {
      let s = perDtype.get(dtype)
      if (s === undefined) {
        s = { lr: rateAt(lr, count, dtype), t: ops.astype(ops.add(count, 1), dtype) }
        perDtype.set(dtype, s)
      }
      return s
    }
    const newParams: Tensor[] = []
    const newSlots: Tensor[][] = rule.slots.map(() => [])
    ps.forEach((p, i) => {
      const ctx = { ...scalars(p.dtype as FloatDType), param: p }
      const g = wd?.mode === 'l2' && wd.rate !== 0 ? ops.add(gs[i], ops.mul(p, wd.rate)) : gs[i]
      const [delta, slots] = rule.step(
        g,
        slotLeaves.map((s) => s[i]),
        ctx,
      )
      let next = ops.add(p, delta)
      if (wd?.mode === 'decoupled' && wd.rate !== 0) next = ops.sub(next, ops.mul(ops.mul(p, ctx.lr), wd.rate))
      newParams.push(next)
      slots.forEach((s, k) => newSlots[k].push(s))
    })
    const next: Record<string, Tree> = { count: ops.add(count, 1) }
    rule.slots.forEach((s, k) => (next[s.name] = unflatten(def, newSlots[k])))
    return [unflatten(def, newParams), next as FirstOrderState]
  }
  return { kind: 'optimiser', name, init, update }
}

// ---------------------------------------------------------------- the optimisers

/** θ' = θ − α g. */
export const sgd = (options: CommonOptions): Optimiser<FirstOrderState> =>
  fromLeafRule('sgd', { slots: [], step: (g, _s, { lr }) => [ops.neg(ops.mul(g, lr)), []] }, options)

/** Options of `momentum`. */
export interface MomentumOptions extends CommonOptions {
  /** η, the friction constant (default 0.9). */
  readonly momentum?: number
}

/** v' = η v − α g, θ' = θ + v' (COMP613 notes, "Optimisation for Machine Learning"). */
export function momentum(options: MomentumOptions): Optimiser<FirstOrderState> {
  const eta = checkUnitInterval('momentum', 'momentum', options.momentum ?? 0.9)
  return fromLeafRule(
    'momentum',
    {
      slots: [{ name: 'velocity', init: 0 }],
      step(g, [v], { lr }) {
        const v2 = ops.sub(ops.mul(v, eta), ops.mul(g, lr))
        return [v2, [v2]]
      },
    },
    options,
  )
}

/**
 * Nesterov's accelerated gradient (Nesterov 1983). The Neural Networks II
 * notes ("Training Neural Networks") write it with the gradient at
 * the look-ahead point θ + ηv; an update only sees the gradient at the
 * parameters it is given, so the parameters held here are that look-ahead
 * point φ = θ + ηv. Substituting, that recursion becomes
 *   v' = η v − α ∇L(φ),  φ' = φ + η v' − α ∇L(φ),
 * the form of Sutskever et al. (2013) and of most libraries.
 */
export function nesterov(options: MomentumOptions): Optimiser<FirstOrderState> {
  const eta = checkUnitInterval('nesterov', 'momentum', options.momentum ?? 0.9)
  return fromLeafRule(
    'nesterov',
    {
      slots: [{ name: 'velocity', init: 0 }],
      step(g, [v], { lr }) {
        const step = ops.mul(g, lr)
        const v2 = ops.sub(ops.mul(v, eta), step)
        return [ops.sub(ops.mul(v2, eta), step), [v2]]
      },
    },
    options,
  )
}

/** Options of `adagrad`. */
export interface AdagradOptions extends CommonOptions {
  /** ε inside the square root (default 1e-8). */
  readonly eps?: number
  /** The accumulator's starting value (default 0). */
  readonly initialAccumulator?: number
}

/** s' = s + g², θ' = θ − α g / √(s' + ε) (Duchi et al. 2011; Martins, "Adaptive Learning Rates"). */
export function adagrad(options: AdagradOptions): Optimiser<FirstOrderState> {
  const eps = checkNonNegative('adagrad', 'eps', options.eps ?? 1e-8)
  const init = checkNonNegative('adagrad', 'initialAccumulator', options.initialAccumulator ?? 0)
  return fromLeafRule(
    'adagrad',
    {
      slots: [{ name: 'sumSquares', init }],
      step(g, [s], { lr }) {
        const s2 = ops.add(s, ops.square(g))
        return [ops.neg(ops.div(ops.mul(g, lr), ops.sqrt(ops.add(s2, eps)))), [s2]]
      },
    },
    options,
  )
}

/** Options of `rmsprop`. */
export interface RMSPropOptions extends CommonOptions {
  /** ρ, the decay of the moving average of g² (default 0.9). */
  readonly decay?: number
  /** ε inside the square root (default 1e-8). */
  readonly eps?: number
}

/** s' = ρ s + (1 − ρ) g², θ' = θ − α g / √(s' + ε) (Tieleman & Hinton 2012; Martins, "Adaptive Learning Rates"). */
export function rmsprop(options: RMSPropOptions): Optimiser<FirstOrderState> {
  const rho = checkUnitInterval('rmsprop', 'decay', options.decay ?? 0.9)
  const eps = checkNonNegative('rmsprop', 'eps', options.eps ?? 1e-8)
  return fromLeafRule(
    'rmsprop',
    {
      slots: [{ name: 'meanSquares', init: 0 }],
      step(g, [s], { lr }) {
        const s2 = ops.add(ops.mul(s, rho), ops.mul(ops.square(g), 1 - rho))
        return [ops.neg(ops.div(ops.mul(g, lr), ops.sqrt(ops.add(s2, eps)))), [s2]]
      },
    },
    options,
  )
}

/** Options of `adam`. */
export interface AdamOptions extends CommonOptions {
  readonly beta1?: number
  readonly beta2?: number
  /** ε outside the square root, as in Kingma & Ba (default 1e-8). */
  readonly eps?: number
}

const adamRule = (what: string, options: AdamOptions): LeafRule => {
  const b1 = checkUnitInterval(what, 'beta1', options.beta1 ?? 0.9)
  const b2 = checkUnitInterval(what, 'beta2', options.beta2 ?? 0.999)
  const eps = checkNonNegative(what, 'eps', options.eps ?? 1e-8)
  return {
    slots: [
      { name: 'm', init: 0 },
      { name: 'v', init: 0 },
    ],
    step(g, [m, v], { lr, t }) {
      const m2 = ops.add(ops.mul(m, b1), ops.mul(g, 1 - b1))
      const v2 = ops.add(ops.mul(v, b2), ops.mul(ops.square(g), 1 - b2))
      const mHat = ops.div(m2, ops.sub(1, ops.pow(b1, t)))
      const vHat = ops.div(v2, ops.sub(1, ops.pow(b2, t)))
      return [ops.neg(ops.div(ops.mul(mHat, lr), ops.add(ops.sqrt(vHat), eps))), [m2, v2]]
    },
  }
}

/** Adam with bias-corrected moments (Kingma & Ba 2014). */
export const adam = (options: AdamOptions): Optimiser<FirstOrderState> =>
  fromLeafRule('adam', adamRule('adam', options), options)

/** Adam with decoupled weight decay λ (default 0.01): θ' = θ − α (m̂ / (√v̂ + ε) + λ θ). */
export function adamw(
  options: Omit<AdamOptions, 'weightDecay'> & { readonly weightDecay?: number },
): Optimiser<FirstOrderState> {
  const { weightDecay, ...rest } = options
  return fromLeafRule('adamw', adamRule('adamw', rest), {
    ...rest,
    weightDecay: { rate: weightDecay ?? 0.01, mode: 'decoupled' },
  })
}
