import { concat as cat, slice } from '../core/lax.ts'
import { isUndefined, type PrimitiveRule } from '../core/primitive.ts'
import { generate } from './ndarray.ts'
import { formatAval } from '../tensor.ts'
import { batchElementwise } from './elementwise.ts'

/** Joins tensors along `axis`; the other axes must agree. Linear; its transpose slices the cotangent apart. */
export const concat: PrimitiveRule<'concat'> = {
  abstractEval(xs, { axis }) {
    if (xs.length === 0) throw new Error('concat: needs at least one tensor')
    const first = xs[0]
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.shape.length)
      throw new Error(`concat: axis ${axis} is out of range for ${formatAval(first)}`)
    for (const x of xs) {
      const ok =
        x.dtype === first.dtype &&
        x.shape.length === first.shape.length &&
        x.shape.every((d, i) => i === axis || d === first.shape[i])
      if (!ok) throw new Error(`concat: ${formatAval(x)} does not match ${formatAval(first)} off axis ${axis}`)
    }
    const shape = [...first.shape]
    shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0)
    return [{ shape, dtype: first.dtype }]
  },
  cpu(xs, { axis }, [out]) {
    const offsets: number[] = []
    let total = 0
    for (const x of xs) {
      offsets.push(total)
      total += x.aval.shape[axis]
    }
    return [
      generate(out.shape, out.dtype, (index) => {
        let k = xs.length - 1
        while (offsets[k] > index[axis]) k--
        const x = xs[k]
        const shape = x.aval.shape
        let o = 0
        for (let i = 0; i < shape.length; i++) o = o * shape[i] + (i === axis ? index[i] - offsets[k] : index[i])
        return x.values[o]
      }),
    ]
  },
  jvp: (xs, ts, { axis }) => [[cat(xs, axis)], [cat(ts, axis)]],
  transpose([ct], xs, { axis }) {
    let offset = 0
    return xs.map((x) => {
      const shape = x.aval.shape
      const starts = shape.map((_, i) => (i === axis ? offset : 0))
      const limits = shape.map((d, i) => (i === axis ? offset + d : ct.aval.shape[i]))
      offset += shape[axis]
      return isUndefined(x) ? slice(ct, starts, limits) : null
    })
  },
  batch: (xs, dims, { axis }) => [[cat(batchElementwise(xs, dims), axis + 1)], [0]],
}
