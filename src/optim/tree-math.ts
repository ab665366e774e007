/**
 * Pytrees of tensors as vectors: the vector-space operations that the
 * host-loop methods (conjugate gradient, L-BFGS, line searches) need, leaf by
 * leaf. Inner products are summed on the host in f64 so that trees whose
 * leaves mix f32 and f64 still give one number.
 */
import * as ops from '../ops.ts'
import { isFloat } from '../dtype.ts'
import { Tensor, formatAval } from '../tensor.ts'
import { checkMatching, flatten, leafPaths, unflatten, type Tree } from '../tree.ts'

/** Combines two trees of the same structure, shapes and dtypes leaf by leaf, or says where they differ. */
function zip<T extends Tree>(what: string, a: T, b: T, f: (x: Tensor, y: Tensor) => Tensor): T {
  checkMatching(what, 'first operand', 'second operand', a, b)
  const [la, def] = flatten(a)
  const [lb] = flatten(b)
  return unflatten(
    def,
    la.map((x, i) => f(x, lb[i])),
  )
}

const map = <T extends Tree>(a: T, f: (x: Tensor) => Tensor): T => {
  const [leaves, def] = flatten(a)
  return unflatten(def, leaves.map(f))
}

/** a + b, leaf by leaf, for pytrees of the same structure. */
export const treeAdd = <T extends Tree>(a: T, b: T): T => zip('treeAdd', a, b, (x, y) => ops.add(x, y))
/** a − b, leaf by leaf, for pytrees of the same structure. */
export const treeSub = <T extends Tree>(a: T, b: T): T => zip('treeSub', a, b, (x, y) => ops.sub(x, y))
/** c · a, leaf by leaf. */
export const treeScale = <T extends Tree>(a: T, c: number): T => map(a, (x) => ops.mul(x, c))
/** −a, leaf by leaf. */
export const treeNeg = <T extends Tree>(a: T): T => map(a, (x) => ops.neg(x))
/** a + c·b. */
export const treeAxpy = <T extends Tree>(a: T, c: number, b: T): T =>
  zip('treeAxpy', a, b, (x, y) => ops.add(x, ops.mul(y, c)))
/** Zeros of the structure, shapes and dtypes of a. */
export const treeZerosLike = <T extends Tree>(a: T): T => map(a, (x) => ops.zerosLike(x))

/** Σ over all leaves of ⟨aᵢ, bᵢ⟩, as a host number. */
export function treeVdot<T extends Tree>(a: T, b: T): number {
  checkMatching('treeVdot', 'first operand', 'second operand', a, b)
  const [la] = flatten(a)
  const [lb] = flatten(b)
  return la.reduce((s, x, i) => s + ops.vdot(x, lb[i]).item(), 0)
}

/** The Euclidean norm of a pytree: √⟨a, a⟩ over all its leaves. */
export const treeNorm = <T extends Tree>(a: T): number => Math.sqrt(treeVdot(a, a))

/** Throws unless every leaf is a floating-point tensor (integer leaves have no gradient to follow). */
export function checkFloatLeaves(what: string, tree: unknown, name = 'params'): void {
  const [leaves, def] = flatten(tree, name)
  const paths = leafPaths(def, name)
  leaves.forEach((x, i) => {
    if (!isFloat(x.aval.dtype))
      throw new Error(`${what}: ${paths[i]} must be a floating-point tensor (f32 or f64), got ${formatAval(x.aval)}`)
  })
  if (leaves.length === 0) throw new Error(`${what}: ${name} has no tensors to optimise`)
}

/** Throws unless the scalar tensor `value` holds a finite number; returns that number. */
export function finiteScalar(what: string, name: string, value: unknown): number {
  if (!(value instanceof Tensor) || value.size !== 1)
    throw new Error(
      `${what}: the ${name} must be a scalar tensor, got ${value instanceof Tensor ? formatAval(value.aval) : typeof value}`,
    )
  const v = value.item()
  if (!Number.isFinite(v)) throw new Error(`${what}: the ${name} is ${v}; expected a finite number`)
  return v
}
