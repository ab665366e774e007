import { neg as negate } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** −x. Linear: its transpose is itself. */
export const neg = {
  ...unary(
    'neg',
    (x) => -x,
    (_x, t) => negate(t),
    { floatOnly: false },
  ),
  transpose: ([ct]: readonly import('../tensor.ts').Tensor[]) => [negate(ct)],
}
