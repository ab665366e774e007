import { fullLike, mul, sub } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d tanh(x) = (1 − tanh²(x)) dx */
export const tanh = unary('tanh', Math.tanh, (_x, t, y) => mul(t, sub(fullLike(y, 1), mul(y, y))))
