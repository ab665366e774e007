import { convert as cast, fullLike } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { isFloat } from '../dtype.ts'
import { mapUnary } from './ndarray.ts'
import type { Tensor } from '../tensor.ts'

/**
 * A number as i32, the one rule of both backends: toward zero, saturated to
 * [−2³¹, 2³¹ − 1], NaN to 0 (as XLA converts floats to integers).
 */
export const toI32 = (v: number): number =>
  Number.isNaN(v) ? 0 : v >= 2147483647 ? 2147483647 : v <= -2147483648 ? -2147483648 : Math.trunc(v)

/**
 * Changes the element type (into i32 by `toI32`: saturated, NaN to 0). Between floats it is linear (the
 * identity up to rounding); into integers or bool the tangent is zero.
 */
export const convert: PrimitiveRule<'convert'> = {
  abstractEval: ([x], { dtype }) => [{ shape: x.shape, dtype }],
  cpu: ([x], { dtype }) => [
    mapUnary(x, dtype, dtype === 'bool' ? (v) => (v !== 0 ? 1 : 0) : dtype === 'i32' ? toI32 : (v) => v),
  ],
  jvp([x], [t], { dtype }) {
    const y = cast(x, dtype)
    return [[y], [isFloat(dtype) && isFloat(x.aval.dtype) ? cast(t, dtype) : fullLike(y, 0)]]
  },
  transpose: ([ct], [x]) => [cast(ct as Tensor, (x as { aval: { dtype: 'f32' } }).aval.dtype)],
  batch: ([x], [d], { dtype }) => [[cast(x, dtype)], [d]],
}
