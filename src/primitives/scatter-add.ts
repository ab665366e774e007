import { gather, moveAxis, pad, scatterAdd as scatter } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { forEachIndex } from './ndarray.ts'
import { concrete, formatAval, formatShape, sameShape, type Tensor } from '../tensor.ts'
import { atFront, batchSize } from './elementwise.ts'
import { checkIndexing, droppedIndices, gatheredShape, indexedOffset } from './gather.ts'

/**
 * out = x, then out[pre, indices[b, j], post] += updates[pre, j, post] for
 * every j (repeated indices accumulate; b: the `batchDims` axes paired with
 * x's first). Linear in x and updates; the transpose in updates is a gather,
 * which makes it the gradient of an embedding lookup.
 */
export const scatterAdd: PrimitiveRule<'scatterAdd'> = {
  abstractEval([x, indices, updates], { axis, batchDims }) {
    checkIndexing('scatterAdd', x, indices, axis, batchDims)
    const expected = gatheredShape(x.shape, indices.shape, axis, batchDims)
    if (!sameShape(updates.shape, expected) || updates.dtype !== x.dtype)
      throw new Error(
        `scatterAdd: updates must be ${x.dtype}${formatShape(expected)} for operand ${formatAval(x)}, got ${formatAval(updates)}`,
      )
    return [x]
  },
  cpu([x, indices, updates], { axis, batchDims }, [out]) {
    const values = x.values.slice()
    const offset = indexedOffset('scatterAdd', x, indices, axis, batchDims, 'drop')
    forEachIndex(updates.aval.shape, (flat, index) => {
      const o = offset(index)
      if (o >= 0) values[o] += updates.values[flat]
    })
    return [concrete(out.shape, out.dtype, values)]
  },
  jvp: ([x, indices, u], [tx, , tu], { axis, batchDims }) => [
    [scatter(x, indices, u, axis, batchDims)],
    [scatter(tx, indices, tu, axis, batchDims)],
  ],
  // A dropped update has no effect, so its cotangent is 0: read from a zero padded past the end.
  transpose: ([ct], [, indices], { axis, batchDims }) => {
    const n = ct.aval.shape[axis]
    const dropped = droppedIndices(indices as Tensor, n)
    if (dropped === indices) return [ct, null, gather(ct, dropped, axis, batchDims)]
    const padded = pad(
      ct,
      ct.aval.shape.map(() => 0),
      ct.aval.shape.map((_, d) => (d === axis ? 1 : 0)),
    )
    return [ct, null, gather(padded, dropped, axis, batchDims)]
  },
  batch([x, indices, updates], [dx, di, du], { axis, batchDims: k }) {
    const size = batchSize([x, indices, updates], [dx, di, du])
    const [xb, ub] = [atFront(x, dx, size), atFront(updates, du, size)]
    if (di !== null) return [[scatter(xb, moveAxis(indices, di, 0), ub, axis + 1, k + 1)], [0]]
    // Unbatched indices: the mapped axis of x and of the updates at position k, after the paired batch axes.
    return [[scatter(moveAxis(xb, 0, k), indices, moveAxis(ub, 0, k), axis + 1, k)], [k]]
  },
}
