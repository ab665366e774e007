import { argsort as sortIndices, fullLike, moveAxis } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { stridesOf } from '../shape/strides.ts'
import { concrete, formatAval, sizeOf } from '../tensor.ts'

/**
 * The order of the elements along `axis`, a stable sort: output position i
 * holds the index of the element with i elements before it. Ascending puts
 * NaN last (after +∞); descending is the reverse order with ties still
 * first-come (so NaN first). Its output is an index, so its tangent is zero.
 */
export const argsort: PrimitiveRule<'argsort'> = {
  abstractEval([x], { axis }) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
      throw new Error(`argsort: axis ${axis} is out of range for ${formatAval(x)}`)
    if (x.dtype === 'bool') throw new Error(`argsort: expected a number tensor, got ${formatAval(x)}`)
    return [{ shape: x.shape, dtype: 'i32' }]
  },
  cpu([x], { axis, descending }) {
    const shape = x.aval.shape
    const n = shape[axis]
    const stride = stridesOf(shape)[axis]
    const out = new Int32Array(x.values.length)
    const outer = sizeOf(shape.slice(0, axis))
    const order = Array.from({ length: n }, (_, i) => i)
    const key = (v: number) => (Number.isNaN(v) ? Infinity : v)
    for (let o = 0; o < outer; o++)
      for (let inner = 0; inner < stride; inner++) {
        const at = (i: number) => x.values[(o * n + i) * stride + inner]
        const before = (i: number, j: number) => {
          const [a, b] = [at(i), at(j)]
          const [ka, kb] = [key(a), key(b)]
          if (ka !== kb) return descending ? kb - ka : ka - kb
          // +∞ sorts before NaN (ascending), after it (descending); otherwise first-come.
          const na = Number.isNaN(a) ? 1 : 0
          const nb = Number.isNaN(b) ? 1 : 0
          if (na !== nb) return descending ? nb - na : na - nb
          return i - j
        }
        order.sort(before)
        order.forEach((i, r) => {
          out[(o * n + r) * stride + inner] = i
        })
        order.sort((a, b) => a - b)
      }
    return [concrete(shape, 'i32', out)]
  },
  jvp([x], _t, { axis, descending }) {
    const y = sortIndices(x, axis, descending)
    return [[y], [fullLike(y, 0)]]
  },
  batch: ([x], [d], { axis, descending }) => [[sortIndices(moveAxis(x, d as number, 0), axis + 1, descending)], [0]],
}
