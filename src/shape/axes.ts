/** Axis arguments as the operations take them: an axis (negative counts from the end), a list, or all axes. */

/** `axis` of a rank-`ndim` tensor as a non-negative index, or an error naming `op`. */
export const normAxis = (op: string, axis: number, ndim: number): number => {
  const a = axis < 0 ? axis + ndim : axis
  if (!Number.isInteger(a) || a < 0 || a >= ndim)
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${ndim}`)
  return a
}

/** An axis, a list of axes, or every axis (undefined), as non-negative indices. */
export const normAxes = (op: string, axis: number | readonly number[] | undefined, ndim: number): number[] =>
  axis === undefined
    ? Array.from({ length: ndim }, (_, i) => i)
    : (typeof axis === 'number' ? [axis] : axis).map((a) => normAxis(op, a, ndim))
