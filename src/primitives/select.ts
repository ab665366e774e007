import { fullLike, select as sel } from '../core/lax.ts'
import { isUndefined, type PrimitiveRule } from '../core/primitive.ts'
import { formatAval, sameShape } from '../tensor.ts'
import { batchElementwise, checkSameShapes } from './elementwise.ts'
import { concrete } from '../tensor.ts'
import { allocate } from '../dtype.ts'

/** select(pred, a, b): a where pred holds, else b. Linear in a and b for a fixed pred. */
export const select: PrimitiveRule<'select'> = {
  abstractEval([pred, a, b]) {
    if (pred.dtype !== 'bool') throw new Error(`select: the predicate must be bool, got ${formatAval(pred)}`)
    if (!sameShape(pred.shape, a.shape))
      throw new Error(`select: predicate ${formatAval(pred)} and operands ${formatAval(a)} differ in shape`)
    checkSameShapes('select', [a, b])
    return [a]
  },
  cpu([p, a, b], _params, [out]) {
    const v = allocate(out.dtype, a.values.length)
    for (let i = 0; i < v.length; i++) v[i] = p.values[i] ? a.values[i] : b.values[i]
    return [concrete(out.shape, out.dtype, v)]
  },
  jvp: ([p, a, b], [, ta, tb]) => [[sel(p, a, b)], [sel(p, ta, tb)]],
  transpose([ct], [p, a, b]) {
    if (isUndefined(p)) throw new Error('select: the predicate cannot be linear')
    const zero = fullLike(ct, 0)
    return [null, isUndefined(a) ? sel(p, ct, zero) : null, isUndefined(b) ? sel(p, zero, ct) : null]
  },
  batch(inputs, dims) {
    const [p, a, b] = batchElementwise(inputs, dims)
    return [[sel(p, a, b)], [0]]
  },
}
