import { compare as cmp, fullLike } from '../core/lax.ts'
import type { CompareOp, PrimitiveRule } from '../core/primitive.ts'
import { batchElementwise, checkSameShapes } from './elementwise.ts'
import { mapBinary } from './ndarray.ts'

const tests: { [K in CompareOp]: (x: number, y: number) => boolean } = {
  lt: (x, y) => x < y,
  le: (x, y) => x <= y,
  gt: (x, y) => x > y,
  ge: (x, y) => x >= y,
  eq: (x, y) => x === y,
  ne: (x, y) => x !== y,
}

/** Elementwise comparison with a bool result; piecewise constant, so its tangent is zero. */
export const compare: PrimitiveRule<'compare'> = {
  abstractEval(inputs) {
    checkSameShapes('compare', inputs)
    return [{ shape: inputs[0].shape, dtype: 'bool' }]
  },
  cpu: ([a, b], { op }) => [mapBinary(a, b, 'bool', (x, y) => (tests[op](x, y) ? 1 : 0))],
  jvp([a, b], _t, { op }) {
    const y = cmp(a, b, op)
    return [[y], [fullLike(y, 0)]]
  },
  batch(inputs, dims, { op }) {
    const [a, b] = batchElementwise(inputs, dims)
    return [[cmp(a, b, op)], [0]]
  },
}
