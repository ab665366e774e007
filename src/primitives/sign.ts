import { fullLike } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** sign(x) ∈ {−1, 0, 1}; its derivative is zero wherever it exists. */
export const sign = unary(
  'sign',
  (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  (_x, t) => fullLike(t, 0),
  { floatOnly: false },
)
