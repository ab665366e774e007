/**
 * Gradient transforms without state: clipping (Pascanu et al. 2013; A. Martins,
 * Deep Learning: A Shallow Tutorial, NLPL Winter School 2018, "Gradient
 * Clipping") and coupled L2 weight decay. Put them in front of any optimiser
 * with `chain`, e.g. `chain(clipByGlobalNorm(1), adam({ lr: 1e-3 }))`.
 */
import * as ops from '../ops.ts'
import type { FloatDType } from '../dtype.ts'
import type { Tensor } from '../tensor.ts'
import { flatten, unflatten, type Tree } from '../tree.ts'
import { checkGrads, checkNonNegative, checkPositive, widestFloat, type GradientTransform } from './optimiser.ts'

type Empty = Record<string, never>

const checkEmptyState = (what: string, state: unknown): void => {
  if (typeof state !== 'object' || state === null || Array.isArray(state) || Object.keys(state).length !== 0)
    throw new Error(
      `${what}: expected the empty state {} from init, got ${state === null ? 'null' : Array.isArray(state) ? 'an array' : typeof state === 'object' ? `{${Object.keys(state).join(', ')}}` : typeof state}`,
    )
}

/** A stateless transform applying `f` to the whole gradient tree. */
function stateless(name: string, f: (grads: Tensor[], params: Tensor[]) => Tensor[]): GradientTransform<Empty> {
  return {
    kind: 'transform',
    name,
    init: () => ({}),
    update(grads, state, params) {
      checkGrads(`${name}.update`, grads, params)
      checkEmptyState(`${name}.update`, state)
      const [gs, def] = flatten(grads)
      return [unflatten(def, f(gs, flatten(params)[0])), {}]
    },
  }
}

/** ‖g‖ = √(Σ over all leaves of Σ g²), in the widest float dtype among the leaves. */
export function globalNorm(tree: Tree): Tensor<[], FloatDType> {
  const [leaves] = flatten(tree)
  if (leaves.length === 0) throw new Error('globalNorm: the tree has no tensors')
  const dtype = widestFloat(leaves.map((x) => x.aval.dtype))
  const squares = leaves.map((x) => ops.astype(ops.sum(ops.square(x as Tensor<[], FloatDType>)), dtype))
  return ops.sqrt(squares.reduce((a, b) => ops.add(a, b))) as Tensor<[], FloatDType>
}

/**
 * g ← g · c / max(‖g‖, c): unchanged when ‖g‖ ≤ c (the factor is exactly 1),
 * else rescaled to norm c (Martins, "Gradient Clipping": c/‖∇‖ · ∇ if ‖∇‖ ≥ c).
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransform<Empty> {
  const c = checkPositive('clipByGlobalNorm', 'maxNorm', maxNorm)
  return stateless(`clipByGlobalNorm(${c})`, (gs) => {
    const norm = globalNorm(gs)
    const factor = ops.div(c, ops.maximum(norm, c))
    return gs.map((g) => ops.mul(g, ops.astype(factor, g.dtype)))
  })
}

/** gᵢ ← min(c, |gᵢ|)·sign(gᵢ), element by element (Martins, "Gradient Clipping"). */
export function clipByValue(maxAbs: number): GradientTransform<Empty> {
  const c = checkPositive('clipByValue', 'maxAbs', maxAbs)
  return stateless(`clipByValue(${c})`, (gs) => gs.map((g) => ops.minimum(ops.maximum(g, -c), c)))
}

/** g ← g + λθ: coupled L2 weight decay, the gradient of (λ/2)‖θ‖², as a transform. */
export function addWeightDecay(rate: number): GradientTransform<Empty> {
  const lambda = checkNonNegative('addWeightDecay', 'rate', rate)
  return stateless(`addWeightDecay(${lambda})`, (gs, ps) => gs.map((g, i) => ops.add(g, ops.mul(ps[i], lambda))))
}
