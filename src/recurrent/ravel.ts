/**
 * A pytree of tensors seen as one vector, JAX's `ravel_pytree`: vec(θ) is the
 * leaves in flattening order, each row-major, one after another. RTRL needs
 * it to write dh_t/dθ as one matrix [N, P] whatever the structure of the
 * state (N scalars) and of the parameters (P scalars).
 *
 * Laws: unravel(ravel(t)) = t, ravel(unravel(v)) = v; both are linear, so
 * their derivatives are themselves.
 */
import type { FloatDType } from '../dtype.ts'
import { isFloat } from '../dtype.ts'
import * as ops from '../ops.ts'
import { formatAval, formatShape, sizeOf, type Tensor } from '../tensor.ts'
import { describe, flatten, leafPaths, unflatten, type TreeDef } from '../tree.ts'

/** A pytree of float tensors as one flat vector, and back. */
export interface Raveled<T> {
  /** The number of scalars: the length of the vector. */
  readonly size: number
  /** The dtype of every leaf, and of the vector. */
  readonly dtype: FloatDType
  /** The leaves of a tree of this structure and these shapes, as one vector [size]. */
  ravel(tree: T): Tensor<[number]>
  /** The tree whose vector is v. */
  unravel(v: Tensor<[number]>): T
}

/**
 * The vector view of trees shaped like `like`: every leaf a float tensor of
 * one dtype (`what` names the tree in errors). A tree without leaves has the
 * empty vector, in `fallback` dtype.
 */
export function raveler<T>(like: T, what: string, fallback: FloatDType = 'f32'): Raveled<T> {
  const [leaves, def] = flatten(like, what)
  const paths = leafPaths(def, what)
  const dtype = (leaves[0]?.aval.dtype ?? fallback) as FloatDType
  leaves.forEach((x, i) => {
    if (!isFloat(x.aval.dtype))
      throw new Error(`ravel: ${paths[i]} is ${formatAval(x.aval)}; only floating-point leaves form a vector`)
    if (x.aval.dtype !== dtype)
      throw new Error(
        `ravel: the leaves of ${what} must share one dtype to form a vector: ${paths[0]} is ${formatAval(leaves[0].aval)}, ${paths[i]} is ${formatAval(x.aval)}`,
      )
  })
  const shapes = leaves.map((x) => x.aval.shape)
  const sizes = shapes.map((s) => sizeOf(s))
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0))
  const size = sizes.reduce((a, b) => a + b, 0)
  const check = (tree: unknown): Tensor[] => {
    const [ls, d] = flatten(tree, what)
    if (describe(d) !== describe(def))
      throw new Error(`ravel: expected ${what} with the structure ${describe(def)}, got ${describe(d)}`)
    ls.forEach((x, i) => {
      const s = x.aval.shape
      if (s.length !== shapes[i].length || s.some((n, j) => n !== shapes[i][j]) || x.aval.dtype !== dtype)
        throw new Error(
          `ravel: expected ${paths[i]} to be ${dtype}${formatShape(shapes[i])}, got ${formatAval(x.aval)}`,
        )
    })
    return ls
  }
  return {
    size,
    dtype,
    ravel(tree) {
      const ls = check(tree)
      if (ls.length === 0) return ops.zeros([0], dtype) as Tensor as Tensor<[number]>
      const flat = ls.map((x) => ops.reshape(x as Tensor, [sizeOf(x.aval.shape)]) as Tensor)
      return (flat.length === 1 ? flat[0] : ops.concat(flat, 0)) as Tensor<[number]>
    },
    unravel(v) {
      if (v.aval.shape.length !== 1 || v.aval.shape[0] !== size || v.aval.dtype !== dtype)
        throw new Error(`unravel: expected a ${dtype}[${size}] vector for ${what}, got ${formatAval(v.aval)}`)
      const parts = shapes.map(
        (s, i) => ops.reshape(ops.slice(v as Tensor, [offsets[i]], [sizes[i]]) as Tensor, s) as Tensor,
      )
      return unflatten(def as TreeDef, parts) as T
    },
  }
}
