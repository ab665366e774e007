import { broadcast, compare, convert, div, moveAxis, mul, reduceMax as rmax, reshape, sum } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { checkAxes, reduce } from './ndarray.ts'
import { keepDimsShape } from './sum.ts'

/**
 * Maximum over `axes`. Subgradient: the tangent is the mean of the input
 * tangents at the positions that attain the maximum (one position: its
 * tangent; a tie of k positions: their average), as for `max` at a tie.
 */
export const reduceMax: PrimitiveRule<'reduceMax'> = {
  abstractEval([x], { axes }) {
    checkAxes('reduceMax', axes, x.shape.length)
    for (const a of axes)
      if (x.shape[a] === 0) throw new Error(`reduceMax: axis ${a} has size 0; the maximum of nothing is undefined`)
    return [{ shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype }]
  },
  cpu: ([x], { axes }, [out]) => [reduce(x, axes, out.shape, -Infinity, (a, v) => (v > a || Number.isNaN(v) ? v : a))],
  jvp([x], [t], { axes }) {
    const y = rmax(x, axes)
    const shape = x.aval.shape
    const at = convert(compare(x, broadcast(reshape(y, keepDimsShape(shape, axes)), shape), 'eq'), x.aval.dtype)
    return [[y], [div(sum(mul(t, at), axes), sum(at, axes))]]
  },
  batch: ([x], [d], { axes }) => [
    [
      rmax(
        moveAxis(x, d as number, 0),
        axes.map((a) => a + 1),
      ),
    ],
    [0],
  ],
}
