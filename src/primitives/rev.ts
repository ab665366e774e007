import { moveAxis, rev as reverse } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { stridesOf } from '../shape/strides.ts'
import { formatAval } from '../tensor.ts'
import { generate } from './ndarray.ts'

/** The elements in reverse order along `axes`. Linear, and its own transpose. */
export const rev: PrimitiveRule<'rev'> = {
  abstractEval([x], { axes }) {
    if (axes.some((a, i) => !Number.isInteger(a) || a < 0 || a >= x.shape.length || axes.indexOf(a) !== i))
      throw new Error(`rev: axes [${axes.join(', ')}] must be distinct axes of ${formatAval(x)}`)
    return [x]
  },
  cpu([x], { axes }, [out]) {
    const strides = stridesOf(x.aval.shape)
    const shape = x.aval.shape
    return [
      generate(out.shape, out.dtype, (index) => {
        let o = 0
        for (let i = 0; i < strides.length; i++)
          o += strides[i] * (axes.includes(i) ? shape[i] - 1 - index[i] : index[i])
        return x.values[o]
      }),
    ]
  },
  jvp: ([x], [t], { axes }) => [[reverse(x, axes)], [reverse(t, axes)]],
  transpose: ([ct], _x, { axes }) => [reverse(ct, axes)],
  batch: ([x], [d], { axes }) => [
    [
      reverse(
        moveAxis(x, d as number, 0),
        axes.map((a) => a + 1),
      ),
    ],
    [0],
  ],
}
