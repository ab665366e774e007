import { div as over, mul, sub } from '../core/lax.ts'
import { isUndefined } from '../core/primitive.ts'
import type { Tensor } from '../tensor.ts'
import { binary } from './elementwise.ts'

/** a / b. d(a/b) = da/b − (a/b²) db; linear in a only. */
export const div = binary('div', (x, y) => x / y, {
  jvp([a, b], [ta, tb]) {
    const y = over(a, b)
    return [[y], [over(sub(ta, mul(y, tb)), b)]]
  },
  transpose([ct], [a, b]) {
    if (!isUndefined(a) || isUndefined(b)) throw new Error('div: only the numerator may be linear')
    return [over(ct, b as Tensor), null]
  },
})
