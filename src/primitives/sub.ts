import { neg, sub as minus } from '../core/lax.ts'
import { isUndefined } from '../core/primitive.ts'
import { binary } from './elementwise.ts'

/** a − b. Linear in both operands. */
export const sub = binary('sub', (x, y) => x - y, {
  jvp: ([a, b], [ta, tb]) => [[minus(a, b)], [minus(ta, tb)]],
  transpose: ([ct], [a, b]) => [isUndefined(a) ? ct : null, isUndefined(b) ? neg(ct) : null],
})
