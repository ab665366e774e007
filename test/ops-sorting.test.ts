/**
 * Orderings against plain JavaScript: flip and cumsum against loops,
 * argsort against Array.prototype.sort (stable) with NaN, ±∞ and ties,
 * sort and topK with their gradients (each value's cotangent returns to the
 * position it came from), on the CPU; test/gpu/ops-math.test.ts compiles
 * them for WebGPU.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { grad, ops, tensor, vmap, type Tensor } from '../src/index.ts'
import { arb, laws } from '../laws/index.ts'

const f64 = (data: number[] | number[][]) => tensor(data as number[], { dtype: 'f64' }) as Tensor
const values = (t: Tensor) => Array.from(t.dataSync())

/** The stable ascending order with NaN last, or its reverse with ties still in order. */
function referenceOrder(row: readonly number[], descending = false): number[] {
  const rank = (v: number) => (Number.isNaN(v) ? 1 : 0)
  return row
    .map((_, i) => i)
    .sort((i, j) => {
      const [a, b] = descending ? [row[j], row[i]] : [row[i], row[j]]
      if (rank(a) !== rank(b)) return rank(a) - rank(b)
      if (a < b) return -1
      if (a > b) return 1
      return i - j
    })
}

describe('orderings', () => {
  const x = f64([
    [3, -1, 2, 2],
    [0, 5, -4, 1],
  ])

  it('flip reverses along the axes given, or all', () => {
    expect(values(ops.flip(x, 1))).toEqual([2, 2, -1, 3, 1, -4, 5, 0])
    expect(values(ops.flip(x))).toEqual([1, -4, 5, 0, 2, 2, -1, 3])
    expect(values(grad((v: Tensor) => ops.sum(ops.mul(ops.flip(v, 0), f64([1, 2, 3]))))(f64([0, 0, 0])))).toEqual([
      3, 2, 1,
    ])
  })

  it('cumsum: running sums either way, its gradient the running sum the other way', () => {
    expect(values(ops.cumsum(x))).toEqual([3, 2, 4, 6, 0, 5, 1, 2])
    expect(values(ops.cumsum(x, 0))).toEqual([3, -1, 2, 2, 3, 4, -2, 3])
    expect(values(ops.cumsum(x, 1, { reverse: true }))).toEqual([6, 3, 4, 2, 2, 2, -3, 1])
    expect(values(ops.cumsum(tensor([2 ** 31 - 1, 1], { dtype: 'i32' }) as Tensor))).toEqual([2 ** 31 - 1, -(2 ** 31)])
    expect(values(grad((v: Tensor) => ops.sum(ops.cumsum(v)))(f64([1, 1, 1, 1])))).toEqual([4, 3, 2, 1])
  })

  it('argsort is the stable order of plain JavaScript, NaN last (first descending), on random rows', () => {
    const special = [Number.NaN, Infinity, -Infinity, 0, -0, 1, 1]
    const rows = fc.sample(fc.array(fc.constantFrom(...special, -2, 3), { minLength: 1, maxLength: 12 }), {
      numRuns: 60,
      seed: 9,
    })
    for (const row of rows)
      for (const descending of [false, true])
        expect(values(ops.argsort(f64(row), -1, { descending })), `${row} ${descending}`).toEqual(
          referenceOrder(row, descending),
        )
  })

  it('sort and topK: values, indices, and gradients back to where the values came from', () => {
    expect(values(ops.sort(x))).toEqual([-1, 2, 2, 3, -4, 0, 1, 5])
    expect(values(ops.sort(x, 0, { descending: true }))).toEqual([3, 5, 2, 2, 0, -1, -4, 1])
    const [top, at] = ops.topK(x, 2)
    expect(top.shape).toEqual([2, 2])
    expect(values(top)).toEqual([3, 2, 5, 1])
    expect(values(at)).toEqual([0, 2, 1, 3])
    const weights = f64([
      [10, 20, 30, 40],
      [1, 2, 3, 4],
    ])
    const g = grad((v: Tensor) => ops.sum(ops.mul(ops.sort(v), weights)))(x)
    // Row 0 sorts as [x1, x2, x3, x0]: x1 gets 10, x2 20, x3 30, x0 40.
    expect(values(g)).toEqual([40, 10, 20, 30, 2, 4, 1, 3])
    expect(() => ops.topK(x, 5)).toThrow('topK: k must be an integer in [0, 4]')
    laws.layer(
      (_: null, v: Tensor) => ops.sort(v, 1),
      { params: fc.constant(null), input: arb.f64([2, 3], 'distinct') },
      {
        name: 'sort',
      },
    )
  })

  it('takeAlongAxis reads each row at its own indices; vmap of argsort is argsort of the batch', () => {
    const idx = tensor(
      [
        [3, 3],
        [0, 1],
      ],
      { dtype: 'i32' },
    ) as Tensor<[2, 2], 'i32'>
    expect(values(ops.takeAlongAxis(x, idx, 1))).toEqual([2, 2, 0, 5])
    expect(values(vmap((row: Tensor) => ops.argsort(row))(x))).toEqual(values(ops.argsort(x, 1)))
    expect(() => ops.takeAlongAxis(x, idx, 0)).toThrow('takeAlongAxis: expected i32 indices')
  })
})
