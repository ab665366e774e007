import { gather, moveAxis, reshape, scatterAdd as scatter, transpose } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { forEachIndex } from './ndarray.ts'
import { concrete, formatAval, formatShape, sameShape, type Tensor } from '../tensor.ts'
import { atFront, batchSize } from './elementwise.ts'
import { checkIndexing, flatBatchIndices, indexedOffset } from './gather.ts'

/**
 * out = x, then out[pre, indices[j], post] += updates[pre, j, post] for every
 * j (repeated indices accumulate). Linear in x and updates; the transpose in
 * updates is a gather, which makes it the gradient of an embedding lookup.
 */
export const scatterAdd: PrimitiveRule<'scatterAdd'> = {
  abstractEval([x, indices, updates], { axis }) {
    checkIndexing('scatterAdd', x, indices, axis)
    const expected = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)]
    if (!sameShape(updates.shape, expected) || updates.dtype !== x.dtype)
      throw new Error(
        `scatterAdd: updates must be ${x.dtype}${formatShape(expected)} for operand ${formatAval(x)}, got ${formatAval(updates)}`,
      )
    return [x]
  },
  cpu([x, indices, updates], { axis }, [out]) {
    const values = x.values.slice()
    const offset = indexedOffset('scatterAdd', x, indices, axis)
    forEachIndex(updates.aval.shape, (flat, index) => {
      values[offset(index)] += updates.values[flat]
    })
    return [concrete(out.shape, out.dtype, values)]
  },
  jvp: ([x, indices, u], [tx, , tu], { axis }) => [[scatter(x, indices, u, axis)], [scatter(tx, indices, tu, axis)]],
  transpose: ([ct], [, indices], { axis }) => [ct, null, gather(ct, indices as Tensor, axis)],
  batch([x, indices, updates], [dx, di, du], { axis }) {
    const size = batchSize([x, indices, updates], [dx, di, du])
    const xb = atFront(x, dx, size)
    const ub = atFront(updates, du, size)
    if (di === null) return [[scatter(xb, indices, ub, axis + 1)], [0]]
    // Batched indices: scatter into [B·n, pre, post] with indices offset by b·n.
    const xf = moveAxis(xb, axis + 1, 1)
    const [, n, ...rest] = xf.aval.shape
    const idx = atFront(indices, di, size)
    const ni = idx.ndim - 1
    // updates: [B, ...pre, ...ishape, ...post] → [B, ...ishape, ...pre, ...post]
    const ish = Array.from({ length: ni }, (_, i) => 1 + axis + i)
    const pre = Array.from({ length: axis }, (_, i) => 1 + i)
    const post = Array.from({ length: ub.ndim - 1 - ni - axis }, (_, i) => 1 + axis + ni + i)
    const uf = transpose(ub, [0, ...ish, ...pre, ...post])
    const flatUpdates = reshape(uf, [...idx.aval.shape, ...rest])
    const out = scatter(reshape(xf, [size * n, ...rest]), flatBatchIndices(idx, n), flatUpdates, 0)
    return [[moveAxis(reshape(out, [size, n, ...rest]), 1, axis + 1)], [0]]
  },
}
