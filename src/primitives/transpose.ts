import { invertPerm, transpose as tr } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { formatAval } from '../tensor.ts'

/** Permutes the axes: output axis i is input axis perm[i]. Linear; its transpose applies the inverse permutation. */
export const transpose: PrimitiveRule<'transpose'> = {
  abstractEval([x], { perm }) {
    const ok = perm.length === x.shape.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i)
    if (!ok)
      throw new Error(
        `transpose: [${perm.join(', ')}] is not a permutation of the ${x.shape.length} axes of ${formatAval(x)}`,
      )
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }]
  },
  cpu([x], { perm }, [out]) {
    const strides = stridesOf(x.aval.shape)
    const s = perm.map((p) => strides[p])
    return [
      generate(out.shape, out.dtype, (index) => {
        let o = 0
        for (let i = 0; i < s.length; i++) o += s[i] * index[i]
        return x.values[o]
      }),
    ]
  },
  jvp: ([x], [t], { perm }) => [[tr(x, perm)], [tr(t, perm)]],
  transpose: ([ct], _x, { perm }) => [tr(ct, invertPerm(perm))],
  batch: ([x], [d], { perm }) => {
    const b = d as number
    // Keep the batch axis where it is; renumber the others around it.
    const rest = perm.map((p) => (p >= b ? p + 1 : p))
    return [[tr(x, [b, ...rest])], [0]]
  },
}
