import { cos, mul } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d sin(x) = cos(x) dx */
export const sin = unary('sin', Math.sin, (x, t) => mul(t, cos(x)))
