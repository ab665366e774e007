import { add, div, fullLike } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** log(1 + x), accurate where x is small; d log1p(x) = dx / (1 + x). */
export const log1p = unary('log1p', Math.log1p, (x, t) => div(t, add(x, fullLike(x, 1))))
