import { add, mul as times } from '../core/lax.ts'
import { isUndefined } from '../core/primitive.ts'
import type { Tensor } from '../tensor.ts'
import { binary } from './elementwise.ts'

/** a · b. d(ab) = b da + a db; linear in each operand when the other is fixed. */
export const mul = binary('mul', (x, y) => x * y, {
  jvp: ([a, b], [ta, tb]) => [[times(a, b)], [add(times(ta, b), times(a, tb))]],
  transpose([ct], [a, b]) {
    if (isUndefined(a) && isUndefined(b)) throw new Error('mul: both operands are linear; the program is not linear')
    return isUndefined(a) ? [times(ct, b as Tensor), null] : [null, times(a as Tensor, ct)]
  },
})
