import { add, compare, fullLike, log, mul, pow as power, select, sub } from '../core/lax.ts'
import { binary } from './elementwise.ts'

/**
 * a^b. d(a^b) = b a^{b−1} da + log(a) a^b db. At a = b = 0 the first term is
 * 0 (a⁰ is constant, where b a^{b−1} would give 0·∞); the guard touches only
 * that point, so derivatives in b elsewhere are unchanged. Where a ≤ 0 the log
 * term is taken as 0: at a = 0 it is the limit of log(a) a^b for b > 0, and
 * for a < 0 a^b is real only for integer b, held fixed.
 */
export const pow = binary('pow', Math.pow, {
  jvp([a, b], [ta, tb]) {
    const y = power(a, b)
    const aZero = compare(a, fullLike(a, 0), 'eq')
    const bothZero = select(aZero, compare(b, fullLike(b, 0), 'eq'), aZero)
    const dA = mul(select(bothZero, fullLike(b, 0), mul(b, power(a, sub(b, fullLike(b, 1))))), ta)
    const positive = compare(a, fullLike(a, 0), 'gt')
    const logA = select(positive, log(select(positive, a, fullLike(a, 1))), fullLike(a, 0))
    return [[y], [add(dA, mul(mul(logA, y), tb))]]
  },
})
