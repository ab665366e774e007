/**
 * Plain arithmetic on pytrees of concrete tensors, in f64 JavaScript numbers.
 * The laws compare the library against this arithmetic rather than against
 * its own primitives, so a wrong rule for `mul` or `sum` cannot hide itself
 * inside the inner product that is meant to expose it.
 */
import { ConcreteTensor, Tensor, random, tensor, tree } from '../src/index.ts'
import type { DType } from '../src/index.ts'

/** A tolerance: values a and b agree when |a − b| ≤ atol + rtol · scale. */
export interface Tolerance {
  /** Relative part, scaled by the size of the values compared. */
  readonly rtol: number
  /** Absolute part. */
  readonly atol: number
}

const isFloatDType = (d: DType): boolean => d === 'f32' || d === 'f64'

/** The leaves of a pytree, each of which must be concrete (computed outside every transform). */
export function leavesOf(t: unknown, what = 'value'): ConcreteTensor[] {
  const [leaves] = tree.flatten(t)
  return leaves.map((x, i) => {
    if (!(x instanceof ConcreteTensor)) throw new Error(`${what}: leaf ${i} is not a concrete tensor`)
    return x
  })
}

export const pathsOf = (t: unknown, prefix = ''): string[] => tree.leafPaths(tree.flatten(t, prefix)[1], prefix)

export const shapeText = (x: { aval: { shape: readonly number[]; dtype: DType } }): string =>
  `${x.aval.dtype}[${x.aval.shape.join(',')}]`

/** Σ aᵢ bᵢ over every element of every leaf, and Σ |aᵢ bᵢ|: the size against which rounding in the sum is judged. */
export function inner(a: unknown, b: unknown): { value: number; scale: number } {
  const la = leavesOf(a, 'inner product')
  const lb = leavesOf(b, 'inner product')
  if (la.length !== lb.length) throw new Error(`inner product of trees with ${la.length} and ${lb.length} leaves`)
  let value = 0
  let scale = 0
  la.forEach((x, k) => {
    const y = lb[k]
    if (x.size !== y.size) throw new Error(`inner product of ${shapeText(x)} and ${shapeText(y)}`)
    if (!isFloatDType(x.aval.dtype) || !isFloatDType(y.aval.dtype)) return
    const u = x.values
    const v = y.values
    for (let i = 0; i < u.length; i++) {
      const p = u[i] * v[i]
      value += p
      scale += Math.abs(p)
    }
  })
  return { value, scale }
}

/** The largest |x| over the float leaves of a tree. */
export function maxAbs(t: unknown): number {
  let m = 0
  for (const x of leavesOf(t)) {
    if (!isFloatDType(x.aval.dtype)) continue
    for (const v of x.values) m = Math.max(m, Math.abs(v))
  }
  return m
}

const build = (like: ConcreteTensor, values: ArrayLike<number>, dtype: DType = like.aval.dtype): ConcreteTensor =>
  tensor(values, { shape: like.aval.shape, dtype }) as ConcreteTensor

/** Applies `g` to every float leaf of `t` (other leaves pass through), rebuilding the tree. */
export function mapFloat(t: unknown, g: (x: ConcreteTensor, k: number) => ConcreteTensor): any {
  const [leaves, def] = tree.flatten(t)
  let k = 0
  return tree.unflatten(
    def,
    leaves.map((x) => (x instanceof ConcreteTensor && isFloatDType(x.aval.dtype) ? g(x, k++) : x)),
  )
}

/** a·x + b·y on trees of the same structure, leaf by leaf in f64, keeping each leaf's dtype. */
export function axpby(a: number, x: unknown, b: number, y: unknown): any {
  const ly = leavesOf(y, 'axpby')
  const [lx, def] = tree.flatten(x)
  return tree.unflatten(
    def,
    lx.map((t, k) => {
      const u = (t as ConcreteTensor).values
      const v = ly[k].values
      if (!isFloatDType(t.aval.dtype)) return t
      const out = new Float64Array(u.length)
      for (let i = 0; i < u.length; i++) out[i] = a * u[i] + b * v[i]
      return build(t as ConcreteTensor, out)
    }),
  )
}

/** Every float leaf converted to f64 (others unchanged). */
export const toF64 = (t: unknown): any => mapFloat(t, (x) => build(x, Float64Array.from(x.values), 'f64'))

export interface Comparison {
  readonly ok: boolean
  /** The largest ‖expected − actual‖∞ over the leaves, and the bound it had to meet there. */
  readonly error: number
  readonly bound: number
  /** The leaf and element where the error is largest, with the two values there. */
  readonly where: string
}

/**
 * Leaf by leaf, ‖expected − actual‖∞ ≤ atol + rtol · max(‖expected‖∞, ‖actual‖∞, extraScale).
 * A norm-wise bound: a single element that cancels to nearly zero is judged
 * against the size of its whole leaf, as rounding errors are.
 */
export function compareTrees(expected: unknown, actual: unknown, tol: Tolerance, extraScale = 0): Comparison {
  const le = leavesOf(expected, 'expected')
  const la = leavesOf(actual, 'actual')
  const paths = pathsOf(expected)
  if (le.length !== la.length)
    return { ok: false, error: Infinity, bound: 0, where: `the trees have ${le.length} and ${la.length} leaves` }
  let worst: Comparison = { ok: true, error: 0, bound: tol.atol, where: '' }
  for (let k = 0; k < le.length; k++) {
    const e = le[k]
    const a = la[k]
    const sameShape = e.aval.shape.length === a.aval.shape.length && e.aval.shape.every((d, i) => d === a.aval.shape[i])
    if (!sameShape)
      return {
        ok: false,
        error: Infinity,
        bound: 0,
        where: `${paths[k]}: shapes ${shapeText(e)} and ${shapeText(a)} differ`,
      }
    let err = 0
    let at = -1
    let scale = extraScale
    for (let i = 0; i < e.values.length; i++) {
      const [x, y] = [e.values[i], a.values[i]]
      // Equal infinities, or NaN on both sides, agree; NaN on one side does not.
      const d = x === y || (Number.isNaN(x) && Number.isNaN(y)) ? 0 : Number.isNaN(x - y) ? Infinity : Math.abs(x - y)
      if (d > err) [err, at] = [d, i]
      if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x))
      if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y))
    }
    const bound = tol.atol + tol.rtol * scale
    const ok = err <= bound
    const where = at < 0 ? paths[k] : `${paths[k]} element ${at} (expected ${e.values[at]}, got ${a.values[at]})`
    if (!ok || (worst.ok && err / bound > worst.error / worst.bound)) worst = { ok, error: err, bound, where }
    if (!ok) return worst
  }
  return worst
}

/** Up to `max` values of a tensor, for reports. */
export function preview(x: unknown, max = 6): string {
  if (!(x instanceof Tensor)) return String(x)
  if (!(x instanceof ConcreteTensor)) return shapeText(x)
  const v = Array.from(x.values.subarray(0, max), (n) => Number(n.toPrecision(6)))
  return `${shapeText(x)} [${v.join(', ')}${x.size > max ? ', …' : ''}]`
}

export const previewTree = (t: unknown, max = 6): string => {
  const [leaves] = tree.flatten(t)
  const paths = pathsOf(t)
  return leaves.length === 1 && paths[0] === '(top)'
    ? preview(leaves[0], max)
    : leaves.map((x, k) => `${paths[k]}: ${preview(x, max)}`).join('; ')
}

/** The i-th slice of `x` along `axis` (which is removed). */
export function indexAlong(x: ConcreteTensor, axis: number, i: number): ConcreteTensor {
  const shape = x.aval.shape
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1)
  const n = shape[axis]
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1)
  const out = new Float64Array(outer * inner)
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) out[o * inner + j] = x.values[(o * n + i) * inner + j]
  return tensor(out, {
    shape: [...shape.slice(0, axis), ...shape.slice(axis + 1)],
    dtype: x.aval.dtype,
  }) as ConcreteTensor
}

/**
 * Deterministic directions: a tree shaped like `like` whose float leaves are
 * standard normal draws (in each leaf's dtype) from a key derived from
 * `seed`, and whose other leaves are zeros.
 */
export function randomLike(like: unknown, seed: number): any {
  const [leaves, def] = tree.flatten(like)
  const keys = random.split(random.key(seed), Math.max(1, leaves.length))
  return tree.unflatten(
    def,
    leaves.map((x, k) =>
      isFloatDType(x.aval.dtype)
        ? random.normal(keys[k], x.aval.shape as number[], { dtype: x.aval.dtype as 'f32' | 'f64' })
        : tensor(new Float64Array(x.size), { shape: x.aval.shape, dtype: x.aval.dtype }),
    ),
  )
}

export const isFloatLeaf = (x: Tensor): boolean => isFloatDType(x.aval.dtype)

/** Trees of the same structure and shapes stacked leaf by leaf along a new leading axis. */
export function stackTrees(trees: readonly unknown[]): any {
  const [first, def] = tree.flatten(trees[0])
  const all = trees.map((t) => leavesOf(t, 'stack'))
  return tree.unflatten(
    def,
    first.map((x, k) => {
      const out = new Float64Array(trees.length * x.size)
      all.forEach((leaves, i) => {
        const y = leaves[k]
        if (shapeText(y) !== shapeText(x))
          throw new Error(`stack: leaf ${k} is ${shapeText(y)} in one draw and ${shapeText(x)} in another`)
        out.set(y.values, i * x.size)
      })
      return tensor(out, { shape: [trees.length, ...x.aval.shape], dtype: x.aval.dtype })
    }),
  )
}
