import { fullLike, stopGradient as sg } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'

/** The identity with a zero derivative: what flows through it is treated as a constant. Not linear. */
export const stopGradient: PrimitiveRule<'stopGradient'> = {
  abstractEval: ([x]) => [x],
  cpu: ([x]) => [x],
  jvp: ([x]) => [[sg(x)], [fullLike(x, 0)]],
  batch: ([x], [d]) => [[sg(x)], [d]],
}
