import { exp, fullLike, mul, neg } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/**
 * The error function erf(x) = 2/√π ∫₀ˣ e^{−t²} dt, in double precision
 * through the regularised incomplete gamma function, erf(x) = P(½, x²):
 * its series below x² = 1.5 and, above, the continued fraction of
 * Q(½, x²) = erfc(x) (Press et al., "Numerical Recipes", §6.2), to a
 * relative 1e-15.
 */
export function erfOf(x: number): number {
  if (Number.isNaN(x)) return x
  const z = x * x
  if (z < 1.5) {
    // P(½, z) = e^{−z} z^{½} / Γ(3/2) · Σₙ zⁿ / ((3/2)(5/2)⋯(½ + n))
    let term = 1 / 0.5
    let sum = term
    for (let n = 1; n < 300; n++) {
      term *= z / (0.5 + n)
      sum += term
      if (term < sum * 1e-17) break
    }
    return Math.sign(x) * sum * Math.exp(-z + 0.5 * Math.log(z) - LOG_GAMMA_HALF)
  }
  if (!Number.isFinite(z)) return Math.sign(x)
  // Q(½, z) by the modified Lentz method.
  const tiny = 1e-300
  let b = z + 0.5
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 300; i++) {
    const an = -i * (i - 0.5)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-16) break
  }
  const erfc = Math.exp(-z + 0.5 * Math.log(z) - LOG_GAMMA_HALF) * h
  return Math.sign(x) * (1 - erfc)
}
/** log Γ(½) = log √π. */
const LOG_GAMMA_HALF = 0.5 * Math.log(Math.PI)

/** d erf(x) = 2/√π e^{−x²} dx. */
export const erf = unary('erf', erfOf, (x, t) => mul(t, mul(fullLike(x, 2 / Math.sqrt(Math.PI)), exp(neg(mul(x, x))))))
