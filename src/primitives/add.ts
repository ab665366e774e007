import { add as plus } from '../core/lax.ts'
import { isUndefined } from '../core/primitive.ts'
import { binary } from './elementwise.ts'

/** a + b. Linear in both operands; the transpose hands the cotangent to each. */
export const add = binary('add', (x, y) => x + y, {
  jvp: ([a, b], [ta, tb]) => [[plus(a, b)], [plus(ta, tb)]],
  transpose: ([ct], [a, b]) => [isUndefined(a) ? ct : null, isUndefined(b) ? ct : null],
})
