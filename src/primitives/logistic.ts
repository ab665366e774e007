import { fullLike, mul, sub } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/**
 * σ(x) = 1 / (1 + e^{−x}), computed without overflow; dσ = σ(1 − σ) dx
 * (Multi-level networks (lecture notes), "Activation Functions").
 */
const f = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))
export const logistic = unary('logistic', f, (_x, t, y) => mul(t, mul(y, sub(fullLike(y, 1), y))))
