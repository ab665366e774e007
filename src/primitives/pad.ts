import { moveAxis, pad as pd, slice } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { formatAval } from '../tensor.ts'

/** Zero padding: lo[i] zeros before and hi[i] after axis i. Linear; its transpose slices the cotangent. */
export const pad: PrimitiveRule<'pad'> = {
  abstractEval([x], { lo, hi }) {
    const n = x.shape.length
    if (lo.length !== n || hi.length !== n)
      throw new Error(
        `pad: expected ${n} low and high paddings for ${formatAval(x)}, got ${lo.length} and ${hi.length}`,
      )
    if ([...lo, ...hi].some((p) => !Number.isInteger(p) || p < 0))
      throw new Error(`pad: paddings must be non-negative integers, got lo [${lo.join(', ')}], hi [${hi.join(', ')}]`)
    return [{ shape: x.shape.map((d, i) => lo[i] + d + hi[i]), dtype: x.dtype }]
  },
  cpu([x], { lo }, [out]) {
    const shape = x.aval.shape
    const strides = stridesOf(shape)
    return [
      generate(out.shape, out.dtype, (index) => {
        let o = 0
        for (let i = 0; i < strides.length; i++) {
          const j = index[i] - lo[i]
          if (j < 0 || j >= shape[i]) return 0
          o += strides[i] * j
        }
        return x.values[o]
      }),
    ]
  },
  jvp: ([x], [t], { lo, hi }) => [[pd(x, lo, hi)], [pd(t, lo, hi)]],
  transpose: ([ct], [x], { lo }) => [
    slice(
      ct,
      lo,
      x.aval.shape.map((d, i) => lo[i] + d),
    ),
  ],
  batch([x], [d], { lo, hi }) {
    return [[pd(moveAxis(x, d as number, 0), [0, ...lo], [0, ...hi])], [0]]
  },
}
