import { mul, neg, sin } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d cos(x) = −sin(x) dx */
export const cos = unary('cos', Math.cos, (x, t) => mul(t, neg(sin(x))))
