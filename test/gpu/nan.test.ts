/**
 * NaN is propagated the same way on both backends, as IEEE 754 and the CPU
 * interpreter do: the maximum and minimum of anything and NaN is NaN
 * (elementwise and as a reduction), relu(NaN) is NaN. WGSL's own max and min
 * may drop a NaN operand, and its x ≠ x may be folded to false; the
 * compiled kernels test the bits instead.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, nn, ops, tensor, type Tensor } from '../../src/index.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { edgeCases } from '../lib/edges.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const NaN_ = Number.NaN

describe.skipIf(backend === null)(`NaN on ${backend?.name ?? 'no adapter'} and on the CPU`, () => {
  const x = tensor([
    [NaN_, 1, -2, 3],
    [0, -1, NaN_, 5],
    [2, 4, 6, -8],
  ])
  const cases: [string, (v: Tensor) => Tensor][] = [
    ['maximum with 0', (v) => ops.maximum(v, 0)],
    ['minimum with 0', (v) => ops.minimum(v, 0)],
    ['max over rows', (v) => ops.max(v, 1)],
    ['max over columns', (v) => ops.max(v, 0)],
    ['min of all', (v) => ops.min(v)],
    ['relu', (v) => ops.relu(v)],
    ['argmax', (v) => ops.argmax(v, 1)],
    ['sparsemax (a row with a NaN is NaN)', (v) => nn.functional.sparsemax(v)],
    ['cumsum, flip, sort', (v) => ops.concat([ops.cumsum(v, 1), ops.flip(v, 0), ops.sort(v, 1)])],
  ]
  for (const [name, f] of cases)
    it(`${name}: the same values, NaN where the CPU has NaN`, async () => {
      // Zeros compare equal whatever their sign (IEEE 754 leaves the sign of max(−0, +0) open).
      const values = (a: ArrayLike<number>) => Array.from(a, (v) => (v === 0 ? 0 : v))
      const want = values(f(x).dataSync())
      const got = values(await (await jit(f, { backend: backend! })(x)).data())
      const cpu = values(await (await jit(f, { backend: cpuBackend() })(x)).data())
      expect(got).toEqual(want)
      expect(cpu).toEqual(want)
    })

  for (const [name, make] of edgeCases)
    it(`${name}, compiled`, async () => {
      const { fn, args, expected } = make()
      const got = Array.from(await (await jit(fn, { backend: backend! })(...args)).data())
      got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5))
      expect(got.map(Number.isFinite)).toEqual(expected.map(Number.isFinite))
    })

  it('one integer rule: f32 → i32 toward zero, saturated, NaN to 0; integer division by zero is 0', async () => {
    const toInt = (v: Tensor) => ops.astype(v, 'i32')
    const floats = tensor([3e9, -3e9, NaN_, 1.7, -1.7, Infinity, -Infinity, 2147483520])
    const want = [2147483647, -2147483648, 0, 1, -1, 2147483647, -2147483648, 2147483520]
    expect(Array.from(toInt(floats).dataSync())).toEqual(want)
    expect(Array.from(await (await jit(toInt, { backend: backend! })(floats)).data())).toEqual(want)
    const divide = (a: Tensor, b: Tensor) => ops.div(a, b)
    const [a, b] = [tensor([7, -7, 0, 9], { dtype: 'i32' }), tensor([0, 2, 0, -2], { dtype: 'i32' })]
    expect(Array.from(divide(a, b).dataSync())).toEqual([0, -3, 0, -4])
    expect(Array.from(await (await jit(divide, { backend: backend! })(a, b)).data())).toEqual([0, -3, 0, -4])
  })

  it('0 to a negative power is ∞, so the gradient of x^0.5 at 0 is ∞ on both', async () => {
    const slope = (v: Tensor) => grad((u: Tensor) => ops.sum(ops.pow(u, 0.5)))(v)
    const x = tensor([0, 4])
    expect(Array.from(slope(x).dataSync())).toEqual([Infinity, 0.25])
    expect(Array.from(await (await jit(slope, { backend: backend! })(x)).data())).toEqual([Infinity, 0.25])
  })

  it('log1p, expm1 and erf: NaN where the CPU has NaN, the values within f32 rounding', async () => {
    const f = (v: Tensor) => ops.concat([ops.log1p(ops.abs(v)), ops.expm1(ops.tanh(v)), ops.erf(v)])
    const got = await (await jit(f, { backend: backend! })(x)).data()
    expectClose(got, f(x).dataSync(), { ...ofLargest(1e-5), nonFinite: 'match' })
  })

  it('integers: cumsum wraps as i32 does, flip and argsort keep ties in order, on both', async () => {
    const ints = tensor(
      [
        [2147483647, 1, -5, 7],
        [3, 3, -3, 3],
      ],
      { dtype: 'i32' },
    )
    const f = (v: Tensor) => ops.concat([ops.cumsum(v, 1), ops.flip(v, 1), ops.argsort(v, 1)])
    const want = Array.from(f(ints).dataSync())
    expect(want.slice(0, 4)).toEqual([2147483647, -2147483648, 2147483643, -2147483646])
    expect(Array.from(await (await jit(f, { backend: backend! })(ints)).data())).toEqual(want)
  })

  it('the expected values themselves: NaN propagates', () => {
    expect(Array.from(ops.max(x, 1).dataSync())).toEqual([NaN_, NaN_, 6])
    expect(Array.from(ops.maximum(tensor([NaN_, 2]), 0).dataSync())).toEqual([NaN_, 2])
    expect(Array.from(ops.relu(tensor([NaN_, -1, 2])).dataSync())).toEqual([NaN_, 0, 2])
    expect(Array.from(nn.functional.sparsemax(tensor([NaN_, -1, 2])).dataSync())).toEqual([NaN_, NaN_, NaN_])
  })
})
