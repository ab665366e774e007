import { add, compare, convert, fullLike, max as maximum, mul, scale, sub } from '../core/lax.ts'
import { binary } from './elementwise.ts'

/**
 * max(a, b), elementwise. Subgradient: the tangent of the larger operand; at a
 * tie (a = b) each operand gets half, so max(x, x) has derivative 1 and the
 * rule is symmetric in its operands.
 */
export const max = binary('max', Math.max, {
  jvp([a, b], [ta, tb]) {
    const gt = convert(compare(a, b, 'gt'), a.aval.dtype)
    const eq = convert(compare(a, b, 'eq'), a.aval.dtype)
    const wa = add(gt, scale(eq, 0.5))
    const wb = sub(fullLike(wa, 1), wa)
    return [[maximum(a, b)], [add(mul(wa, ta), mul(wb, tb))]]
  },
})
