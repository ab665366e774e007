/**
 * Optimisers as pure values. An optimiser is
 *
 *   { init(params) => state, update(grads, state, params) => [params, state] }
 *
 * over any pytree of floating-point tensors, and its state is itself a pytree
 * of tensors, the step count included (an i32 scalar), so a whole training
 * step `(params, state, batch) => [params, state, loss]` traces into one
 * Program and can be jitted: nothing that changes from step to step is a host
 * number captured by the traced function.
 *
 * A gradient transform has the same shape but returns transformed gradients
 * instead of parameters (clipping, coupled weight decay); `chain` puts any
 * number of them in front of an optimiser, as optax does.
 *
 * Laws (tested in test/optim.test.ts):
 *  - `update` never changes its arguments and returns trees of the
 *    structure, shapes and dtypes of `params` and `state`;
 *  - jit(step) and step agree, because the step count lives in the state;
 *  - `chain(t₁, …, tₖ, opt).update(g, s, p)` = `opt.update(tₖ(…t₁(g)…), …)`.
 */
import type { DType } from '../dtype.ts'
import { formatAval, type Tensor } from '../tensor.ts'
import { checkMatching, type Tree } from '../tree.ts'
import { checkFloatLeaves } from './tree-math.ts'

/** The number of updates made so far: an i32 scalar that the state carries. */
export type Count = Tensor<[], 'i32'>

/**
 * An optimiser: `init` its state from the parameters, then `update` gives the next parameters and
 * state from the gradients.
 */
export interface Optimiser<S extends Tree = Tree> {
  readonly kind: 'optimiser'
  readonly name: string
  init<P extends Tree>(params: P): S
  /** The next parameters and state from gradients evaluated at `params`. */
  update<P extends Tree>(grads: P, state: S, params: P): [P, S]
}

/**
 * A transformation of gradients with its own state (clipping, scaling, ...): composed with others
 * and an optimiser by `chain`.
 */
export interface GradientTransform<S extends Tree = Tree> {
  readonly kind: 'transform'
  readonly name: string
  init<P extends Tree>(params: P): S
  /** The transformed gradients and the next state. */
  update<P extends Tree>(grads: P, state: S, params: P): [P, S]
}

/** Throws unless `grads` matches `params` leaf for leaf, and both hold floating-point tensors. */
export function checkGrads(what: string, grads: unknown, params: unknown): void {
  checkFloatLeaves(what, params)
  checkMatching(what, 'params', 'grads', params, grads)
}

/** Throws unless `count` is the i32 scalar that an optimiser's state carries. */
export function checkCount(what: string, count: unknown): asserts count is Count {
  const aval = (count as Tensor | undefined)?.aval
  if (aval === undefined || aval.dtype !== 'i32' || aval.shape.length !== 0)
    throw new Error(
      `${what}: state.count must be an i32 scalar tensor (the step count), got ${aval ? formatAval(aval) : String(count)}`,
    )
}

/** Throws unless `state` is a record with exactly `keys`. */
export function checkStateKeys(what: string, state: unknown, keys: readonly string[]): Record<string, Tree> {
  if (typeof state !== 'object' || state === null || Array.isArray(state))
    throw new Error(
      `${what}: expected a state record {${keys.join(', ')}} (from init), got ${state === null ? 'null' : Array.isArray(state) ? 'an array' : typeof state}`,
    )
  const got = Object.keys(state).sort()
  const want = [...keys].sort()
  if (got.length !== want.length || got.some((k, i) => k !== want[i]))
    throw new Error(
      `${what}: expected a state record with keys {${want.join(', ')}} (from init), got {${got.join(', ')}}`,
    )
  return state as Record<string, Tree>
}

/** Throws unless the state slot `name` matches `params` leaf for leaf. */
export const checkSlot = (what: string, name: string, slot: unknown, params: unknown): void =>
  checkMatching(what, 'params', `state.${name}`, params, slot)

// ---------------------------------------------------------------- hyperparameters

export const checkPositive = (what: string, name: string, v: number): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new Error(`${what}: ${name} must be a finite number > 0, got ${v}`)
  return v
}
export const checkNonNegative = (what: string, name: string, v: number): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new Error(`${what}: ${name} must be a finite number ≥ 0, got ${v}`)
  return v
}
/** A decay rate or friction: 0 ≤ v < 1. */
export const checkUnitInterval = (what: string, name: string, v: number): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1)
    throw new Error(`${what}: ${name} must be in [0, 1), got ${v}`)
  return v
}
export const checkPositiveInteger = (what: string, name: string, v: number): number => {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${what}: ${name} must be a positive integer, got ${v}`)
  return v
}

export const widestFloat = (dtypes: readonly DType[]): 'f32' | 'f64' => (dtypes.includes('f64') ? 'f64' : 'f32')

// ---------------------------------------------------------------- chain

type ChainParts = readonly [...GradientTransform<any>[], Optimiser<any>]

/**
 * `chain(t₁, …, tₖ, optimiser)`: the gradients pass through t₁ … tₖ in order,
 * then the optimiser updates the parameters with what comes out. The state
 * is the array of the parts' states.
 */
export function chain(...parts: ChainParts): Optimiser<Tree[]> {
  if (parts.length === 0) throw new Error('chain: expected gradient transforms followed by an optimiser, got nothing')
  const last = parts[parts.length - 1] as Optimiser | GradientTransform
  if (last?.kind !== 'optimiser')
    throw new Error(
      `chain: the last part must be an optimiser (e.g. adam({ lr })), got ${last?.kind === 'transform' ? `the gradient transform ${last.name}` : typeof last}`,
    )
  const transforms = parts.slice(0, -1) as GradientTransform[]
  transforms.forEach((t, i) => {
    if (t?.kind !== 'transform')
      throw new Error(
        `chain: part ${i} must be a gradient transform (only the last part is an optimiser), got ${t?.kind === 'optimiser' ? `the optimiser ${t.name}` : typeof t}`,
      )
  })
  const optimiser = last as Optimiser
  const name = `chain(${parts.map((p) => p.name).join(', ')})`
  return {
    kind: 'optimiser',
    name,
    init: (params) => parts.map((p) => p.init(params)),
    update(grads, state, params) {
      if (!Array.isArray(state) || state.length !== parts.length)
        throw new Error(
          `${name}.update: expected the state from init, an array of ${parts.length} states, got ${Array.isArray(state) ? `an array of ${state.length}` : typeof state}`,
        )
      let g = grads
      const next: Tree[] = []
      transforms.forEach((t, i) => {
        const [g2, s2] = t.update(g, state[i], params)
        g = g2
        next.push(s2)
      })
      const [p2, s2] = optimiser.update(g, state[parts.length - 1], params)
      next.push(s2)
      return [p2, next]
    },
  }
}
