import { add, fullLike, mul } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** eˣ − 1, accurate where x is small; d expm1(x) = (expm1(x) + 1) dx. */
export const expm1 = unary('expm1', Math.expm1, (_x, t, y) => mul(t, add(y, fullLike(y, 1))))
