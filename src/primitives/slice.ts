import { moveAxis, pad, slice as sl } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { formatAval } from '../tensor.ts'

/** The block starts[i] ≤ index[i] < limits[i]. Linear; its transpose pads the cotangent with zeros. */
export const slice: PrimitiveRule<'slice'> = {
  abstractEval([x], { starts, limits }) {
    const n = x.shape.length
    if (starts.length !== n || limits.length !== n)
      throw new Error(
        `slice: expected ${n} starts and limits for ${formatAval(x)}, got ${starts.length} and ${limits.length}`,
      )
    x.shape.forEach((d, i) => {
      if (!Number.isInteger(starts[i]) || !Number.isInteger(limits[i]))
        throw new Error(
          `slice: axis ${i} of ${formatAval(x)}: start and limit must be integers, got start ${starts[i]}, limit ${limits[i]}`,
        )
      if (!(0 <= starts[i] && starts[i] <= limits[i] && limits[i] <= d))
        throw new Error(
          `slice: axis ${i} of ${formatAval(x)}: need 0 ≤ start ≤ limit ≤ ${d}, got start ${starts[i]}, limit ${limits[i]}`,
        )
    })
    return [{ shape: limits.map((l, i) => l - starts[i]), dtype: x.dtype }]
  },
  cpu([x], { starts }, [out]) {
    const strides = stridesOf(x.aval.shape)
    return [
      generate(out.shape, out.dtype, (index) => {
        let o = 0
        for (let i = 0; i < strides.length; i++) o += strides[i] * (index[i] + starts[i])
        return x.values[o]
      }),
    ]
  },
  jvp: ([x], [t], { starts, limits }) => [[sl(x, starts, limits)], [sl(t, starts, limits)]],
  transpose: ([ct], [x], { starts, limits }) => [
    pad(
      ct,
      starts,
      x.aval.shape.map((d, i) => d - limits[i]),
    ),
  ],
  batch([x], [d], { starts, limits }) {
    const front = moveAxis(x, d as number, 0)
    return [[sl(front, [0, ...starts], [front.aval.shape[0], ...limits])], [0]]
  },
}
