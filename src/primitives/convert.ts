import { convert as cast, fullLike } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { isFloat } from '../dtype.ts'
import { mapUnary } from './ndarray.ts'
import type { Tensor } from '../tensor.ts'

/** Changes the element type. Between floats it is linear (the identity up to rounding); into integers or bool the tangent is zero. */
export const convert: PrimitiveRule<'convert'> = {
  abstractEval: ([x], { dtype }) => [{ shape: x.shape, dtype }],
  cpu: ([x], { dtype }) => [
    mapUnary(x, dtype, dtype === 'bool' ? (v) => (v !== 0 ? 1 : 0) : dtype === 'i32' ? Math.trunc : (v) => v),
  ],
  jvp([x], [t], { dtype }) {
    const y = cast(x, dtype)
    return [[y], [isFloat(dtype) && isFloat(x.aval.dtype) ? cast(t, dtype) : fullLike(y, 0)]]
  },
  transpose: ([ct], [x]) => [cast(ct as Tensor, (x as { aval: { dtype: 'f32' } }).aval.dtype)],
  batch: ([x], [d], { dtype }) => [[cast(x, dtype)], [d]],
}
