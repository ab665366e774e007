import { mul, sign } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d|x| = sign(x) dx, with the subgradient 0 at x = 0. */
export const abs = unary('abs', Math.abs, (x, t) => mul(t, sign(x)), { floatOnly: false })
