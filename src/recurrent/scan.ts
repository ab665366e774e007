/**
 * `scan(f, init, xs, { length, reverse })`: a loop over the leading axis of
 * `xs` with a carried state, JAX's `lax.scan`:
 *
 *   carry = init
 *   for t in 0 … T−1 (T−1 … 0 when reverse):  [carry, ys[t]] = f(carry, xs[t])
 *   return [carry, ys]
 *
 * `f` is traced once into the body of one `scan` equation, whatever T; grad
 * of a scan is one forward scan that stacks what the backward pass needs and
 * one reverse scan (backprop through time: D. Barber, Neural Nets (lecture
 * notes), "Backprop Through Time"), never an unrolled loop.
 * init, xs and the ys are pytrees of tensors; xs may be null when `length`
 * is given. Values that f reads from its closure (weights) are the loop's
 * constants: the same at every step, a tied parameter whose gradient sums
 * over the steps.
 */
import { bind } from '../core/trace.ts'
import { stage } from '../core/staging.ts'
import { closeProgram } from '../ir/program.ts'
import { describe, flatten, leafPaths, sameStructure, unflatten, type TreeDef } from '../tree.ts'
import { formatAval, sameShape, type Tensor } from '../tensor.ts'
import type { DTypeOf, Dim, IsTuple, Shape, ShapeOf } from '../shape/types.ts'

/** Options of `scan`: the number of steps and the direction. */
export interface ScanOptions<N extends number = number> {
  /** The number of steps: required where xs has no leaves, else it must equal their leading length. */
  readonly length?: N
  /** Run from the last slice to the first; ys[t] still belongs to xs[t]. */
  readonly reverse?: boolean
}

/** One step's slice of xs: every leaf without its leading axis. */
export type Unstacked<X> = X extends Tensor
  ? ShapeOf<X> extends readonly [Dim, ...infer R extends Shape]
    ? Tensor<R, DTypeOf<X>>
    : Tensor<Shape, DTypeOf<X>>
  : X extends null | undefined
    ? X
    : { readonly [K in keyof X]: Unstacked<X[K]> }

/** Every leaf of Y with a new leading axis of size N. */
export type Stacked<Y, N extends Dim> = Y extends Tensor
  ? IsTuple<ShapeOf<Y>> extends true
    ? Tensor<[N, ...ShapeOf<Y>], DTypeOf<Y>>
    : Tensor<Shape, DTypeOf<Y>>
  : Y extends null | undefined
    ? Y
    : { readonly [K in keyof Y]: Stacked<Y[K], N> }

/** The scan's length as a type: the leading dim of the first leaf of xs, else N (the `length` option). */
export type LengthOf<X, N extends number> = X extends Tensor
  ? ShapeOf<X> extends readonly [infer T extends Dim, ...unknown[]]
    ? T
    : number
  : X extends readonly [infer A, ...unknown[]]
    ? LengthOf<A, N>
    : N

function leaves(tree: unknown, path: string): [Tensor[], TreeDef] {
  try {
    return flatten(tree, path)
  } catch (e) {
    throw new TypeError(`scan: ${(e as Error).message}`)
  }
}

function scanLength(xs: readonly Tensor[], paths: readonly string[], length: number | undefined): number {
  xs.forEach((x, j) => {
    if (x.ndim === 0)
      throw new Error(
        `scan: ${paths[j]} is ${formatAval(x.aval)}, a scalar; every leaf of xs needs a leading axis to scan over`,
      )
  })
  if (length !== undefined && (!Number.isInteger(length) || length < 0))
    throw new Error(`scan: length must be a non-negative integer, got ${length}`)
  if (xs.length === 0) {
    if (length === undefined)
      throw new Error('scan: xs has no leaves, so the number of steps is unknown; give options.length')
    return length
  }
  const n = xs[0].aval.shape[0]
  xs.forEach((x, j) => {
    if (x.aval.shape[0] !== n)
      throw new Error(
        `scan: every leaf of xs must have the same leading length: ${paths[0]} has ${n}, but ${paths[j]} has ${x.aval.shape[0]}`,
      )
  })
  if (length !== undefined && length !== n)
    throw new Error(`scan: options.length is ${length}, but the leaves of xs have leading length ${n}`)
  return n
}

/**
 * A loop over the leading axis of `xs` with a carried state (JAX's `lax.scan`): `[carry, ys[t]] =
 * f(carry, xs[t])` for each t, returning the final carry and the stacked ys. f is traced once,
 * whatever the length; grad of a scan is one forward and one reverse scan.
 *
 * @example
 * // cumulative sums: total 6, sums [1, 3, 6]
 * const [total, sums] = scan((c, x) => [ops.add(c, x), ops.add(c, x)] as const, scalar(0), tensor([1, 2, 3]))
 */
export function scan<C, X = null, Y = null, const N extends number = number>(
  f: (carry: C, x: Unstacked<X>) => readonly [NoInfer<C>, Y],
  init: C,
  xs: X = null as X,
  options: ScanOptions<N> = {},
): [C, Stacked<Y, LengthOf<X, N>>] {
  if (typeof f !== 'function')
    throw new TypeError(`scan: expected a function (carry, x) => [carry, y], got ${typeof f}`)
  const [initLeaves, carryDef] = leaves(init, 'init')
  const [xsLeaves, xsDef] = leaves(xs, 'xs')
  const length = scanLength(xsLeaves, leafPaths(xsDef, 'xs'), options.length)
  const carryPaths = leafPaths(carryDef, 'carry')
  const nK = initLeaves.length
  let ysDef: TreeDef | null = null
  const inAvals = [
    ...initLeaves.map((x) => x.aval),
    ...xsLeaves.map((x) => ({ shape: x.aval.shape.slice(1), dtype: x.aval.dtype })),
  ]
  const { program } = stage('scan', inAvals, (ins) => {
    const out = f(
      unflatten(carryDef, ins.slice(0, nK)) as C,
      unflatten(xsDef, ins.slice(nK)) as Unstacked<X>,
    ) as unknown
    if (!Array.isArray(out) || out.length !== 2)
      throw new Error(
        `scan: the body must return [carry, y], got ${Array.isArray(out) ? `an array of ${out.length}` : typeof out}`,
      )
    const [carryOut, carryOutDef] = leaves(out[0], 'carry')
    if (!sameStructure(carryDef, carryOutDef))
      throw new Error(
        `scan: the body must return a carry with the structure of init: expected ${describe(carryDef)}, got ${describe(carryOutDef)}`,
      )
    carryOut.forEach((c, k) => {
      const a = initLeaves[k].aval
      if (!sameShape(c.aval.shape, a.shape) || c.aval.dtype !== a.dtype)
        throw new Error(
          `scan: the body returns the carry at ${carryPaths[k]} as ${formatAval(c.aval)}, but it came in as ${formatAval(a)}; ` +
            'the carry must keep its shape and dtype from step to step',
        )
    })
    const [ys, def] = leaves(out[1], 'y')
    ysDef = def
    return { outputs: [...carryOut, ...ys], result: null }
  })
  const { program: body, consts } = closeProgram(program)
  const outs = bind('scan', [...consts, ...initLeaves, ...xsLeaves], {
    length,
    reverse: options.reverse ?? false,
    numConsts: consts.length,
    numCarry: nK,
    body,
  })
  return [unflatten(carryDef, outs.slice(0, nK)), unflatten(ysDef as unknown as TreeDef, outs.slice(nK))]
}
