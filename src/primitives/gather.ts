import { compare, fullLike, gather as take, moveAxis, scatterAdd, select } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { ConcreteTensor, formatShape, type Tensor } from '../tensor.ts'

/**
 * What an index out of range does. Evaluated eagerly (op by op, the
 * debugging path) it raises, naming the index; in a compiled program, on
 * every backend, a gather reads the nearest element (the index clamped to
 * [0, n − 1]) and a scatter drops the update, so that no kernel touches
 * memory outside its tensor. `jit(f, { checkIndices: true })` raises there too.
 */
export type IndexMode = 'raise' | 'clamp'
let indexMode: IndexMode = 'raise'

/** Runs `f` with out-of-range indices treated as `mode` says (the interpreter runs compiled programs with 'clamp'). */
export function withIndexMode<T>(mode: IndexMode, f: () => T): T {
  const outer = indexMode
  indexMode = mode
  try {
    return f()
  } finally {
    indexMode = outer
  }
}

export function checkIndexing(
  prim: string,
  x: { shape: readonly number[]; dtype: string },
  indices: { shape: readonly number[]; dtype: string },
  axis: number,
  batchDims: number,
): void {
  if (indices.dtype !== 'i32') throw new Error(`${prim}: indices must be i32, got ${indices.dtype}`)
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
    throw new Error(`${prim}: axis ${axis} is out of range for a tensor of rank ${x.shape.length}`)
  if (!Number.isInteger(batchDims) || batchDims < 0 || batchDims > axis || batchDims > indices.shape.length)
    throw new Error(
      `${prim}: batchDims must be an integer from 0 to min(axis ${axis}, the indices' rank ${indices.shape.length}), got ${batchDims}`,
    )
  if (x.shape.slice(0, batchDims).some((d, i) => d !== indices.shape[i]))
    throw new Error(
      `${prim}: the first ${batchDims} axes of the operand ${formatShape(x.shape)} and the indices ${formatShape(indices.shape)} must agree`,
    )
}

export function checkIndex(prim: string, i: number, size: number, axis: number): number {
  if (!(i >= 0 && i < size)) throw new Error(`${prim}: index ${i} is out of range for axis ${axis} of size ${size}`)
  return i
}

/** Whether every index is known (a concrete tensor) to lie in [0, size). */
const inRange = (indices: Tensor, size: number): boolean =>
  indices instanceof ConcreteTensor && indices.values.every((i) => i >= 0 && i < size)

/** The indices a gather reads: each clamped to [0, size − 1]. */
export function clampedIndices(indices: Tensor, size: number): Tensor {
  if (inRange(indices, size)) return indices
  const at = (v: number) => fullLike(indices, v)
  return select(compare(indices, at(0), 'lt'), at(0), select(compare(indices, at(size), 'ge'), at(size - 1), indices))
}

/** The indices a scatter writes: each out of range replaced by `size` (a padded element that is then dropped). */
export function droppedIndices(indices: Tensor, size: number): Tensor {
  if (inRange(indices, size)) return indices
  const at = (v: number) => fullLike(indices, v)
  return select(compare(indices, at(0), 'lt'), at(size), select(compare(indices, at(size), 'ge'), at(size), indices))
}

/** The output shape of a gather, and the updates' shape of a scatter-add. */
export const gatheredShape = (x: readonly number[], indices: readonly number[], axis: number, batchDims: number) => [
  ...x.slice(0, axis),
  ...indices.slice(batchDims),
  ...x.slice(axis + 1),
]

/**
 * For gather and scatter-add: maps an index (pre, j, post) of the gathered
 * shape to the flat offset of x[pre, indices[b, j], post] (b: the batch
 * axes, the first of pre). An index out of range raises, or (in a compiled
 * program) is clamped (`clamp`) or gives −1 (`drop`).
 */
export function indexedOffset(
  prim: string,
  x: ConcreteTensor,
  indices: ConcreteTensor,
  axis: number,
  batchDims: number,
  outOfRange: 'clamp' | 'drop',
): (index: readonly number[]) => number {
  const strides = stridesOf(x.aval.shape)
  const ni = indices.aval.shape.length - batchDims
  const iStrides = stridesOf(indices.aval.shape)
  const size = x.aval.shape[axis]
  const raise = indexMode === 'raise'
  return (index) => {
    let j = 0
    for (let t = 0; t < batchDims; t++) j += iStrides[t] * index[t]
    for (let t = 0; t < ni; t++) j += iStrides[batchDims + t] * index[axis + t]
    let i = indices.values[j]
    if (!(i >= 0 && i < size)) {
      if (raise) checkIndex(prim, i, size, axis)
      if (outOfRange === 'drop') return -1
      i = i < 0 ? 0 : size - 1
    }
    let o = i * strides[axis]
    for (let d = 0; d < axis; d++) o += strides[d] * index[d]
    for (let d = axis + 1; d < strides.length; d++) o += strides[d] * index[d - 1 + ni]
    return o
  }
}

/**
 * out[pre, j, post] = x[pre, indices[b, j], post] along `axis` (j ranges
 * over the indices' shape after their `batchDims` batch axes b, which pair
 * with x's first axes). Linear in x; its transpose is a scatter-add.
 */
export const gather: PrimitiveRule<'gather'> = {
  abstractEval([x, indices], { axis, batchDims }) {
    checkIndexing('gather', x, indices, axis, batchDims)
    return [{ shape: gatheredShape(x.shape, indices.shape, axis, batchDims), dtype: x.dtype }]
  },
  cpu([x, indices], { axis, batchDims }, [out]) {
    const offset = indexedOffset('gather', x, indices, axis, batchDims, 'clamp')
    return [generate(out.shape, out.dtype, (index) => x.values[offset(index)])]
  },
  jvp: ([x, indices], [t], { axis, batchDims }) => [
    [take(x, indices, axis, batchDims)],
    [take(t, indices, axis, batchDims)],
  ],
  // The cotangent of an index out of range goes where its value came from: to the element it was clamped to.
  transpose: ([ct], [x, indices], { axis, batchDims }) => [
    scatterAdd(fullLike(x, 0), clampedIndices(indices as Tensor, x.aval.shape[axis]), ct, axis, batchDims),
    null,
  ],
  batch([x, indices], [dx, di], { axis, batchDims: k }) {
    // The mapped axis joins the paired batch axes where both are batched, and otherwise sits at position k of
    // the one that is (of x, before the gathered axis; or of the indices), so that the first k stay paired.
    if (dx !== null && di !== null) return [[take(moveAxis(x, dx, 0), moveAxis(indices, di, 0), axis + 1, k + 1)], [0]]
    if (di === null) return [[take(moveAxis(x, dx as number, k), indices, axis + 1, k)], [k]]
    return [[take(x, moveAxis(indices, di, k), axis, k)], [axis]]
  },
}
