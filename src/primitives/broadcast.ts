import { broadcast as bcast, moveAxis, reshape, unbroadcast } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { stridesOf } from '../shape/strides.ts'
import { checkShape, formatAval, formatShape } from '../tensor.ts'

/**
 * Broadcasts to `shape`, aligning trailing axes (NumPy's rule): each input
 * axis is 1 or equal to the output axis. Its transpose sums the copies.
 */
export const broadcast: PrimitiveRule<'broadcast'> = {
  abstractEval([x], { shape }) {
    checkShape('broadcast', shape)
    const lead = shape.length - x.shape.length
    const ok = lead >= 0 && x.shape.every((d, i) => d === 1 || d === shape[lead + i])
    if (!ok) throw new Error(`broadcast: cannot broadcast ${formatAval(x)} to ${formatShape(shape)}`)
    return [{ shape, dtype: x.dtype }]
  },
  cpu([x], { shape }, [out]) {
    const lead = shape.length - x.aval.shape.length
    const strides = stridesOf(x.aval.shape).map((s, i) => (x.aval.shape[i] === 1 ? 0 : s))
    return [
      generate(shape, out.dtype, (index) => {
        let o = 0
        for (let i = 0; i < strides.length; i++) o += strides[i] * index[lead + i]
        return x.values[o]
      }),
    ]
  },
  jvp: ([x], [t], { shape }) => [[bcast(x, shape)], [bcast(t, shape)]],
  transpose: ([ct], [x]) => [unbroadcast(ct, x.aval.shape)],
  batch([x], [d], { shape }) {
    const front = moveAxis(x, d as number, 0)
    const [size, ...rest] = front.aval.shape
    const padded = reshape(front, [size, ...new Array<number>(shape.length - rest.length).fill(1), ...rest])
    return [[bcast(padded, [size, ...shape])], [0]]
  },
}
