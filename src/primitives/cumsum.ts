import { cumsum as cumulative, moveAxis } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { allocate } from '../dtype.ts'
import { stridesOf } from '../shape/strides.ts'
import { concrete, formatAval, sizeOf } from '../tensor.ts'

/**
 * Running sums along `axis`: y[…, i, …] = Σ_{j ≤ i} x[…, j, …] (with
 * `reverse`, Σ_{j ≥ i}). Linear; its transpose is the running sum in the
 * other direction.
 */
export const cumsum: PrimitiveRule<'cumsum'> = {
  abstractEval([x], { axis }) {
    if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length)
      throw new Error(`cumsum: axis ${axis} is out of range for ${formatAval(x)}`)
    if (x.dtype === 'bool') throw new Error(`cumsum: expected a number tensor, got ${formatAval(x)}`)
    return [x]
  },
  cpu([x], { axis, reverse }, [out]) {
    const shape = x.aval.shape
    const n = shape[axis]
    const stride = stridesOf(shape)[axis]
    const values = allocate(out.dtype, x.values.length)
    const outer = sizeOf(shape.slice(0, axis))
    for (let o = 0; o < outer; o++)
      for (let inner = 0; inner < stride; inner++) {
        let acc = 0
        for (let s = 0; s < n; s++) {
          const i = reverse ? n - 1 - s : s
          const at = (o * n + i) * stride + inner
          acc = out.dtype === 'i32' ? (acc + x.values[at]) | 0 : acc + x.values[at]
          values[at] = acc
          acc = values[at]
        }
      }
    return [concrete(shape, out.dtype, values)]
  },
  jvp: ([x], [t], params) => [
    [cumulative(x, params.axis, params.reverse)],
    [cumulative(t, params.axis, params.reverse)],
  ],
  transpose: ([ct], _x, { axis, reverse }) => [cumulative(ct, axis, !reverse)],
  batch: ([x], [d], { axis, reverse }) => [[cumulative(moveAxis(x, d as number, 0), axis + 1, reverse)], [0]],
}
