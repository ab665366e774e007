import { moveAxis, reshape as rs } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { concrete, formatAval, formatShape, sizeOf } from '../tensor.ts'

/** Reinterprets the row-major data with a new shape of the same size. Linear. */
export const reshape: PrimitiveRule<'reshape'> = {
  abstractEval([x], { shape }) {
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(shape) !== sizeOf(x.shape))
      throw new Error(
        `reshape: cannot reshape ${formatAval(x)} (${sizeOf(x.shape)} elements) to ${formatShape(shape)} (${sizeOf(shape)} elements)`,
      )
    return [{ shape, dtype: x.dtype }]
  },
  cpu: ([x], { shape }) => [concrete(shape, x.aval.dtype, x.values)],
  jvp: ([x], [t], { shape }) => [[rs(x, shape)], [rs(t, shape)]],
  transpose: ([ct], [x]) => [rs(ct, x.aval.shape)],
  batch([x], [d], { shape }) {
    const front = moveAxis(x, d as number, 0)
    return [[rs(front, [front.aval.shape[0], ...shape])], [0]]
  },
}
