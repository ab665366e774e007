/**
 * "Within tolerance of what was expected", once for every suite. Each suite
 * states the tolerance it needs as a `Closeness`: element i of `actual`
 * agrees with eᵢ of `expected` when
 *
 *   |aᵢ − eᵢ| ≤ atol + rtol·max(floor, |eᵢ|) + largest·max(floor, maxⱼ |eⱼ|)
 *
 * (every part 0 unless given; the maximum is over the finite eⱼ). So
 * `{ atol: t, rtol: t }` is t·(1 + |eᵢ|), `{ rtol: r, floor: 1 }` is
 * r·max(1, |eᵢ|), and `{ largest: r, floor: 1 }` is relative to the largest
 * magnitude expected (at least 1), as rounding in f32 kernels is judged.
 *
 * A value that is not finite agrees with nothing, unless `nonFinite` is
 * 'match': then NaN agrees with NaN and an infinity with itself.
 */
import { expect } from 'vitest'
import { compareTrees, type Tolerance } from '../../laws/numeric.ts'

export interface Closeness {
  /** Absolute part. */
  readonly atol?: number
  /** Relative to the element expected. */
  readonly rtol?: number
  /** Relative to the largest finite magnitude expected. */
  readonly largest?: number
  /** The least magnitude that the relative parts scale (default 0). */
  readonly floor?: number
  /** 'match': a NaN or infinity expected must be given exactly. Default: a value that is not finite fails. */
  readonly nonFinite?: 'fail' | 'match'
}

/** tol·(1 + |eᵢ|): absolute near zero, relative away from it. */
export const within = (tol: number): Closeness => ({ atol: tol, rtol: tol })

/** rtol·max(1, maxⱼ |eⱼ|): relative to the largest magnitude expected (at least 1), as f32 kernels' rounding is judged. */
export const ofLargest = (rtol: number): Closeness => ({ largest: rtol, floor: 1 })

/** Numbers: an array, a single number, or a (concrete) tensor, read with `dataSync`. */
export type Values = ArrayLike<number> | number | { dataSync(): ArrayLike<number> }

const numbers = (v: Values): ArrayLike<number> => (typeof v === 'number' ? [v] : 'dataSync' in v ? v.dataSync() : v)

export interface Far {
  /** The first element that disagrees, the two values there and the bound they had to meet. */
  readonly index: number
  readonly actual: number
  readonly expected: number
  readonly bound: number
}

/** The first element of `actual` not within `tol` of `expected` (of the same length), or undefined when all are. */
export function firstFar(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Closeness): Far | undefined {
  const { atol = 0, rtol = 0, largest = 0, floor = 0, nonFinite = 'fail' } = tol
  let scale = 0
  for (let i = 0; i < expected.length; i++)
    if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]))
  const common = atol + largest * Math.max(floor, scale)
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]]
    const bound = common + rtol * Math.max(floor, Math.abs(e))
    const ok =
      Number.isFinite(a) && Number.isFinite(e)
        ? Math.abs(a - e) <= bound
        : nonFinite === 'match' && (a === e || (Number.isNaN(a) && Number.isNaN(e)))
    if (!ok) return { index: i, actual: a, expected: e, bound }
  }
  return undefined
}

/** `actual` has the length of `expected` and each element is within `tol` of the one expected (see the header). */
export function expectClose(actual: Values, expected: Values, tol: Closeness, what = 'values'): void {
  const [a, e] = [numbers(actual), numbers(expected)]
  expect(a.length, `${what}: length`).toBe(e.length)
  const far = firstFar(a, e, tol)
  if (far !== undefined)
    expect.fail(
      `${what}: element ${far.index} is ${far.actual}, expected ${far.expected} (|difference| ${Math.abs(far.actual - far.expected)} > ${far.bound})`,
    )
}

/**
 * Trees of concrete tensors agree leaf by leaf within `tol`, norm-wise
 * (`compareTrees` of laws/numeric.ts: ‖expected − actual‖∞ ≤ atol + rtol·max(‖expected‖∞, ‖actual‖∞)).
 * Expected first, as in `compareTrees`.
 */
export function expectTreesClose(expected: unknown, actual: unknown, tol: Tolerance): void {
  const c = compareTrees(expected, actual, tol)
  expect(c.ok, `${c.where}: ‖difference‖∞ = ${c.error} > ${c.bound}`).toBe(true)
}
