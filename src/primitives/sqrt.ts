import { div, scale } from '../core/lax.ts'
import { unary } from './elementwise.ts'

/** d √x = dx / (2√x) */
export const sqrt = unary('sqrt', Math.sqrt, (_x, t, y) => div(t, scale(y, 2)))
