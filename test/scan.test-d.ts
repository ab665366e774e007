/**
 * Compile-time types of scan: the carry keeps its type, each step sees one
 * slice of the xs, and the ys gain the scan's length as a leading axis.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { ops, type Tensor } from '../src/index.ts'
import { scan } from '../src/recurrent/scan.ts'

declare const h0: Tensor<['B', 16], 'f32'>
declare const xs: Tensor<['T', 'B', 8], 'f32'>
declare const w: Tensor<[16, 16], 'f32'>
declare const u: Tensor<[8, 16], 'f32'>
declare const ids: Tensor<[12], 'i32'>

describe('scan', () => {
  it('keeps the carry type and stacks the ys on the leading axis of the xs', () => {
    const [h, ys] = scan(
      (c, x) => {
        expectTypeOf(x).toEqualTypeOf<Tensor<['B', 8], 'f32'>>()
        const next = ops.tanh(ops.add(ops.matmul(c, w), ops.matmul(x, u)))
        return [next, next]
      },
      h0,
      xs,
    )
    expectTypeOf(h).toEqualTypeOf<Tensor<['B', 16], 'f32'>>()
    expectTypeOf(ys).toEqualTypeOf<Tensor<['T', 'B', 16], 'f32'>>()
  })

  it('takes its length from the options when there are no xs, and maps pytrees', () => {
    const [, steps] = scan((c) => [c, { h: c, twice: ops.add(c, c) }], h0, null, { length: 5 })
    expectTypeOf(steps).toEqualTypeOf<{
      readonly h: Tensor<[5, 'B', 16], 'f32'>
      readonly twice: Tensor<[5, 'B', 16], 'f32'>
    }>()
    const [count] = scan(
      (n, id) => {
        expectTypeOf(id).toEqualTypeOf<Tensor<[], 'i32'>>()
        return [ops.add(n, id), null]
      },
      ops.zeros([], 'i32'),
      ids,
    )
    expectTypeOf(count).toEqualTypeOf<Tensor<[], 'i32'>>()
  })

  it('rejects a body that changes the carry shape', () => {
    // @ts-expect-error the carry comes back as [B, 8], not [B, 16]
    scan((c, x) => [x, c], h0, xs)
  })
})
