import { mul } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d exp(x) = exp(x) dx */
export const exp = unary('exp', Math.exp, (_x, t, y) => mul(t, y))
