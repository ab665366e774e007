import { add, broadcast, fullLike, gather as take, moveAxis, reshape, scatterAdd, transpose } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { concrete, type ConcreteTensor, type Tensor } from '../tensor.ts'
import { atFront, batchSize } from './elementwise.ts'

export function checkIndexing(
  prim: string,
  x: { shape: readonly number[]; dtype: string },
  indices: { dtype: string },
  axis: number,
): void {
  if (indices.dtype !== 'i32') throw new Error(`${prim}: indices must be i32, got ${indices.dtype}`)
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
    throw new Error(`${prim}: axis ${axis} is out of range for a tensor of rank ${x.shape.length}`)
}

export function checkIndex(prim: string, i: number, size: number, axis: number): number {
  if (!(i >= 0 && i < size)) throw new Error(`${prim}: index ${i} is out of range for axis ${axis} of size ${size}`)
  return i
}

/**
 * For gather and scatter-add: maps an index (pre, j, post) of the gathered
 * shape to the flat offset of x[pre, indices[j], post], checking the index.
 */
export function indexedOffset(
  prim: string,
  x: ConcreteTensor,
  indices: ConcreteTensor,
  axis: number,
): (index: readonly number[]) => number {
  const strides = stridesOf(x.aval.shape)
  const ni = indices.aval.shape.length
  const iStrides = stridesOf(indices.aval.shape)
  const size = x.aval.shape[axis]
  return (index) => {
    let j = 0
    for (let t = 0; t < ni; t++) j += iStrides[t] * index[axis + t]
    let o = checkIndex(prim, indices.values[j], size, axis) * strides[axis]
    for (let d = 0; d < axis; d++) o += strides[d] * index[d]
    for (let d = axis + 1; d < strides.length; d++) o += strides[d] * index[d - 1 + ni]
    return o
  }
}

/** Offsets b·n added to batched indices [B, ...] so that they address a flattened [B·n, ...] operand. */
export function flatBatchIndices(indices: Tensor, n: number): Tensor {
  const size = indices.aval.shape[0]
  const offsets = concrete(
    [size],
    'i32',
    Int32Array.from({ length: size }, (_, b) => b * n),
  )
  const shaped = reshape(offsets, [size, ...indices.aval.shape.slice(1).map(() => 1)])
  return add(indices, broadcast(shaped, indices.aval.shape))
}

/**
 * out[pre, j, post] = x[pre, indices[j], post] along `axis` (j ranges over the
 * shape of `indices`). Linear in x; its transpose is a scatter-add.
 */
export const gather: PrimitiveRule<'gather'> = {
  abstractEval([x, indices], { axis }) {
    checkIndexing('gather', x, indices, axis)
    return [{ shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype }]
  },
  cpu([x, indices], { axis }, [out]) {
    const offset = indexedOffset('gather', x, indices, axis)
    return [generate(out.shape, out.dtype, (index) => x.values[offset(index)])]
  },
  jvp: ([x, indices], [t], { axis }) => [[take(x, indices, axis)], [take(t, indices, axis)]],
  transpose: ([ct], [x, indices], { axis }) => [scatterAdd(fullLike(x, 0), indices as Tensor, ct, axis), null],
  batch([x, indices], [dx, di], { axis }) {
    if (di === null) return [[take(moveAxis(x, dx as number, 0), indices, axis + 1)], [0]]
    if (dx === null) return [[take(x, indices, axis)], [axis + di]]
    // Both batched: gather from [B·n, pre, post] with indices offset by b·n.
    const size = batchSize([x, indices], [dx, di])
    const xf = moveAxis(moveAxis(x, dx, 0), axis + 1, 1)
    const [, n, ...rest] = xf.aval.shape
    const idx = atFront(indices, di, size)
    const out = take(reshape(xf, [size * n, ...rest]), flatBatchIndices(idx, n), 0)
    // out: [B, ...ishape, ...pre, ...post] → [B, ...pre, ...ishape, ...post]
    const ni = idx.ndim - 1
    const pre = Array.from({ length: axis }, (_, i) => 1 + ni + i)
    const ish = Array.from({ length: ni }, (_, i) => 1 + i)
    const post = Array.from({ length: out.ndim - 1 - ni - axis }, (_, i) => 1 + ni + axis + i)
    return [[transpose(out, [0, ...pre, ...ish, ...post])], [0]]
  },
}
