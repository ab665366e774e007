import { div } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d log(x) = dx / x */
export const log = unary('log', Math.log, (x, t) => div(t, x))
