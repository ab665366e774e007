import { broadcast, moveAxis, reshape, sum as total } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { checkAxes, reduce } from './ndarray.ts'
import { formatAval } from '../tensor.ts'

const reducedShape = (shape: readonly number[], axes: readonly number[]) => shape.filter((_, i) => !axes.includes(i))
export const keepDimsShape = (shape: readonly number[], axes: readonly number[]) =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d))

/** Sum over `axes` (removed from the shape). Linear; its transpose broadcasts the cotangent back. */
export const sum: PrimitiveRule<'sum'> = {
  abstractEval([x], { axes }) {
    checkAxes('sum', axes, x.shape.length)
    if (x.dtype === 'bool') throw new Error(`sum: cannot sum a bool tensor ${formatAval(x)}; convert it first`)
    return [{ shape: reducedShape(x.shape, axes), dtype: x.dtype }]
  },
  cpu: ([x], { axes }, [out]) => [reduce(x, axes, out.shape, 0, (a, v) => a + v)],
  jvp: ([x], [t], { axes }) => [[total(x, axes)], [total(t, axes)]],
  transpose([ct], [x], { axes }) {
    const shape = x.aval.shape
    return [broadcast(reshape(ct, keepDimsShape(shape, axes)), shape)]
  },
  batch: ([x], [d], { axes }) => [
    [
      total(
        moveAxis(x, d as number, 0),
        axes.map((a) => a + 1),
      ),
    ],
    [0],
  ],
}
