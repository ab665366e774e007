/**
 * Reductions on WebGPU against the CPU interpreter: the workgroup reduction
 * (gpu/kernels/reduce.wgsl), the split of a reduction into two kernels, the
 * serial kernel past llvmpipe's loop limit, reduction epilogues, and planted
 * bugs in the workgroup kernel that these comparisons must catch.
 *
 * Tolerances. Most inputs are small integers held in f32: every partial sum
 * is then an integer below 2²⁴, exact in f32, so a sum in any order equals
 * the CPU's exactly, and a lost, repeated or misplaced element shows. Maxima
 * and i32 sums are exact. Sums of normal values may differ from the CPU's by
 * rounding in another order: allowed 1e-5·Σ|xᵢ| (the rounding of an order
 * whose longest chain of additions has d terms is at most d·2⁻²⁴·Σ|xᵢ|, and
 * typically about √d·2⁻²⁴·Σ|xᵢ|: about 1e-6 for these kernels). An epilogue
 * that divides is allowed 1e-6 relative (WGSL's f32 division is within 2.5 ULP).
 */
import { describe, expect, it } from 'vitest'
import { jit, makeProgram, ops, random, tensor, type Tensor } from '../../src/index.ts'
import type { Kernel, LoweredProgram, ReduceKernel } from '../../gpu/kernel.ts'
import { chooseReduction, type ReductionStrategy } from '../../gpu/kernels/reduce.ts'
import { lower } from '../../gpu/lower/index.ts'
import { expectClose, type Closeness } from '../lib/close.ts'
import { executableOf, gpu } from './setup.ts'

const backend = gpu.backend

/** Integers in [−range, range] as a tensor of `dtype` (an LCG, so the values are the same everywhere). */
function ints(shape: readonly number[], seed: number, range = 3, dtype: 'f32' | 'i32' = 'f32'): Tensor {
  const n = shape.reduce((a, d) => a * d, 1)
  const values = dtype === 'f32' ? new Float32Array(n) : new Int32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    values[i] = (s % (2 * range + 1)) - range
  }
  return tensor(values, { shape, dtype })
}

function exact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length)
  for (let i = 0; i < expected.length; i++)
    if (actual[i] !== expected[i]) expect.fail(`${what}[${i}]: ${actual[i]}, expected ${expected[i]}`)
}

/** rtol·max(1, |eᵢ|) per element. */
const relative = (rtol: number): Closeness => ({ rtol, floor: 1 })

interface Compiled {
  readonly lowered: LoweredProgram
  readonly values: ArrayLike<number>[]
}

/**
 * `f` compiled as the backend does it, except that `reduction` (when given)
 * chooses how each reduction runs and `patch` (when given) edits each
 * kernel's WGSL; its outputs for `inputs`.
 */
async function compile(
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Tensor[],
  options: { reduction?: (outputs: number, count: number) => ReductionStrategy; patch?: (code: string) => string } = {},
): Promise<Compiled> {
  const context = backend!.context
  const program = makeProgram(f)(...inputs)
  const lowered = lower(program, {
    maxBuffers: context.limits.maxStorageBuffersPerShaderStage,
    reduction: options.reduction,
  })
  const outputs = await executableOf(program, lowered, options.patch).run(inputs)
  return { lowered, values: await Promise.all(outputs.map((t) => t.data())) }
}

const reduces = (l: LoweredProgram) => l.kernels.filter((k): k is ReduceKernel => k.kind === 'reduce')
const parallel = (l: LoweredProgram) => reduces(l).filter((k) => k.workgroup !== undefined)
const cpu = (f: (...xs: Tensor[]) => Tensor | Tensor[], ...xs: Tensor[]) => {
  const out = f(...xs)
  return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync())
}

describe.skipIf(backend === null)('reductions with one workgroup per output element, compiled = interpreted', () => {
  it('sum and max over one large axis, inner and outer', async () => {
    const x = ints([3, 50000], 1)
    const xt = ints([50000, 3], 2)
    const f = (v: Tensor, w: Tensor) => [ops.sum(v, 1), ops.max(v, 1), ops.sum(w, 0), ops.max(w, 0)]
    const { lowered, values } = await compile(f, [x, xt])
    // 3 outputs of 50000 elements each: the workgroup form, in one kernel per reduction.
    expect(parallel(lowered).length).toBe(4)
    expect(lowered.kernels.length).toBe(4)
    cpu(f, x, xt).forEach((want, i) => exact(values[i], want, `output ${i}`))
  })

  it('sum and max over several axes, split into parts', async () => {
    const x = ints([6, 2, 40, 250], 3)
    const y = ints([4, 3, 128, 256], 4)
    const f = (v: Tensor, w: Tensor) => [
      ops.sum(v, [0, 2, 3]),
      ops.max(v, [0, 2, 3]),
      ops.sum(w, [0, 2, 3]),
      ops.max(w, [0, 3]),
    ]
    const { lowered, values } = await compile(f, [x, y])
    // y over [0, 2, 3]: 3 outputs of 131072 elements, split into parts (two kernels).
    expect(chooseReduction(3, 131072).parts).toBeGreaterThan(1)
    expect(reduces(lowered).some((k) => k.shape.length === 2 && k.shape[0] === 3 && k.workgroup !== undefined)).toBe(
      true,
    )
    cpu(f, x, y).forEach((want, i) => exact(values[i], want, `output ${i}`))
  })

  it('keepdims-like shapes (a reshape of the result)', async () => {
    const x = ints([2, 50000], 5)
    const y = ints([100, 3, 200], 6)
    const f = (v: Tensor, w: Tensor) => [
      ops.sum(v, 1, { keepDims: true }),
      ops.max(w, [0, 2], { keepDims: true }),
      ops.sub(w, ops.max(w, [0, 2], { keepDims: true })),
    ]
    const { lowered, values } = await compile(f, [x, y])
    expect(parallel(lowered).length).toBeGreaterThanOrEqual(2)
    const want = cpu(f, x, y)
    want.forEach((w, i) => exact(values[i], w, `output ${i}`))
  })

  it('i32 sums and maxima (exact), one of them split', async () => {
    const x = ints([2, 70000], 7, 1000, 'i32')
    const f = (v: Tensor) => [ops.sum(v, 1), ops.max(v, 1), ops.sum(v), ops.max(ops.neg(v))]
    const { lowered, values } = await compile(f, [x])
    expect(lowered.buffers[lowered.outputs[0]].type).toBe('i32')
    expect(parallel(lowered).length).toBeGreaterThanOrEqual(4)
    cpu(f, x).forEach((want, i) => exact(values[i], want, `output ${i}`))
  })

  it('a full reduction to a scalar: sum, max, mean, and a sum of normal values', async () => {
    const x = ints([2 ** 20], 8)
    const z = random.normal(random.key(9), [2 ** 20])
    const f = (v: Tensor, w: Tensor) => [ops.sum(v), ops.max(v), ops.mean(v), ops.sum(w), ops.max(w)]
    const { lowered, values } = await compile(f, [x, z])
    // Each split into parts: a first kernel over [parts], then the parts.
    expect(reduces(lowered).filter((k) => k.shape.length === 1 && k.workgroup !== undefined).length).toBe(5)
    const want = cpu(f, x, z)
    exact(values[0], want[0], 'sum')
    exact(values[1], want[1], 'max')
    expectClose(values[2], want[2], relative(1e-6), 'mean')
    let magnitude = 0
    for (const v of z.dataSync()) magnitude += Math.abs(v)
    expectClose(values[3], want[3], { atol: 1e-5 * magnitude }, 'sum of normal values')
    exact(values[4], want[4], 'max of normal values')
  })

  it('logsumexp of values far below 0: −∞ and +∞ in one kernel stay two constants', async () => {
    // A max reduction starts at −∞ and logsumexp tests |max| < +∞: the kernel's literals were once keyed by
    // JSON, which writes both as null, so the test read max < −∞ and the shift was dropped (exp underflowed).
    const x = tensor([
      [-550, -560, -700],
      [-551, -500, -800],
    ])
    const f = (v: Tensor) => ops.logsumexp(v, 0)
    const got = await (await jit(f, { backend: backend! })(x)).data()
    expectClose(got, f(x).dataSync(), relative(1e-6), 'logsumexp')
  })

  it('more elements per output than the loop limit of llvmpipe (65535 iterations per invocation)', async () => {
    const f = (v: Tensor) => ops.sum(v, 1)
    for (const shape of [
      [4, 100000],
      [16, 70000],
    ]) {
      const x = ops.ones(shape)
      const got = await (await jit(f, { backend: backend! })(x)).data()
      exact(got, new Float32Array(shape[0]).fill(shape[1]), `sum over the rows of ones${JSON.stringify(shape)}`)
    }
  })

  it('scatter-add with many indices into a small table (workgroups, split)', async () => {
    const table = ints([4, 3], 10)
    const ids = tensor(
      Int32Array.from({ length: 70000 }, (_, i) => (i * 7) % 4),
      { shape: [70000], dtype: 'i32' },
    )
    const updates = ints([70000, 3], 11)
    const f = (t: Tensor, i: Tensor, u: Tensor) => ops.scatterAdd(t, i as Tensor<[number], 'i32'>, u)
    const { lowered, values } = await compile(f, [table, ids, updates])
    expect(parallel(lowered).length).toBeGreaterThanOrEqual(1)
    exact(values[0], cpu(f, table, ids, updates)[0], 'scatter-add')
  })

  it('every strategy gives the same values: serial, workgroups of 8 to 256, splits with a short last chunk', async () => {
    const x = ints([3, 5001], 12)
    const xi = ints([3, 5001], 13, 50, 'i32')
    const table = ints([5, 2], 14)
    const ids = tensor(
      Int32Array.from({ length: 3001 }, (_, i) => (i * 3) % 5),
      { shape: [3001], dtype: 'i32' },
    )
    const updates = ints([3001, 2], 15)
    const f = (v: Tensor, vi: Tensor, t: Tensor, i: Tensor, u: Tensor) => [
      ops.sum(v, 1),
      ops.max(v, 1),
      ops.sum(v),
      ops.sum(vi, 1),
      ops.max(vi),
      ops.scatterAdd(t, i as Tensor<[number], 'i32'>, u),
      ops.mean(v, 0),
    ]
    const want = cpu(f, x, xi, table, ids, updates)
    const strategies: ReductionStrategy[] = [
      {},
      { workgroup: 8 },
      { workgroup: 64 },
      { workgroup: 256 },
      { workgroup: 128, parts: 3 },
      { parts: 7 },
      { workgroup: 32, parts: 2 },
    ]
    for (const strategy of strategies) {
      const { lowered, values } = await compile(f, [x, xi, table, ids, updates], {
        reduction: (_, count) => (count > 8 ? strategy : {}),
      })
      const what = JSON.stringify(strategy)
      if (strategy.workgroup !== undefined) expect(parallel(lowered).length, what).toBeGreaterThan(0)
      if ((strategy.parts ?? 1) > 1) expect(reduces(lowered).length, what).toBeGreaterThan(7)
      want.forEach((w, i) =>
        i === 6
          ? expectClose(values[i], w, relative(1e-6), `${what} output ${i}`)
          : exact(values[i], w, `${what} output ${i}`),
      )
    }
  })
})

describe.skipIf(backend === null)(
  'reduction epilogues: a map that reads a reduction only at its own index is fused into it',
  () => {
    const epilogued = (l: LoweredProgram) => reduces(l).filter((k) => k.epilogue !== undefined)

    it('mean = sum · (1/n): one kernel instead of two', async () => {
      const x = random.normal(random.key(20), [16, 30])
      const f = (v: Tensor) => ops.mean(v, 1)
      const { lowered, values } = await compile(f, [x])
      expect(lowered.kernels.map((k) => k.kind)).toEqual(['reduce'])
      expect(epilogued(lowered).length).toBe(1)
      const [want] = cpu(f, x)
      expectClose(values[0], want, relative(1e-6), 'mean')
    })

    it('logsumexp: the log and the maximum added back, in the sum kernel (two kernels instead of three)', async () => {
      const x = random.normal(random.key(21), [8, 50], { stddev: 4 })
      const f = (v: Tensor) => ops.logsumexp(v, 1)
      const { lowered, values } = await compile(f, [x])
      expect(lowered.kernels.length).toBe(2)
      expect(epilogued(lowered).map((k) => k.op)).toEqual(['sum'])
      const [want] = cpu(f, x)
      expectClose(values[0], want, relative(1e-5), 'logsumexp')
    })

    it('a normaliser over a keepdims shape, an update with another input, an i32 sum converted, a bool result', async () => {
      const x = ints([6, 40], 22)
      const b = ints([40], 23)
      const xi = ints([6, 40], 24, 100, 'i32')
      const f = (v: Tensor, w: Tensor, vi: Tensor) => [
        ops.div(1, ops.sum(v, 1, { keepDims: true })),
        ops.sub(w, ops.mul(ops.sum(v, 0), 0.5)),
        ops.mul(ops.astype(ops.sum(vi, 1), 'f32'), 0.25),
        ops.greater(ops.sum(v, 1), 0),
      ]
      const { lowered, values } = await compile(f, [x, b, xi])
      expect(lowered.kernels.length).toBe(4)
      expect(epilogued(lowered).length).toBe(4)
      const want = cpu(f, x, b, xi)
      expectClose(values[0], want[0], relative(1e-6), 'normaliser')
      exact(values[1], want[1], 'update')
      exact(values[2], want[2], 'converted i32 sum')
      exact(values[3], want[3], 'comparison')
    })

    it('on the workgroup form, and on the second kernel of a split', async () => {
      const x = ints([3, 50000], 25)
      const y = ints([2 ** 20], 26)
      const f = (v: Tensor, w: Tensor) => [ops.mean(v, 1), ops.mean(w)]
      const { lowered, values } = await compile(f, [x, y])
      // mean over rows: one kernel; mean of y: the parts, then their sum with the scale.
      expect(lowered.kernels.length).toBe(3)
      expect(epilogued(lowered).length).toBe(2)
      expect(epilogued(lowered).some((k) => k.workgroup !== undefined)).toBe(true)
      const want = cpu(f, x, y)
      want.forEach((w, i) => expectClose(values[i], w, relative(1e-6), `mean ${i}`))
    })

    it('not fused where another kernel reads the result, or where it is read at another index', async () => {
      const x = ints([6, 40], 27)
      const twice = (v: Tensor) => {
        const s = ops.sum(v, 1)
        return [ops.mul(s, 2), ops.add(s, 1)]
      }
      const shifted = (v: Tensor) => {
        const s = ops.sum(v, 1)
        return ops.sub(s, ops.concat([ops.slice(s, [1], [5]), ops.slice(s, [0], [1])], 0))
      }
      for (const [f, kernels] of [
        [twice, 3],
        [shifted, 2],
      ] as const) {
        const { lowered, values } = await compile(f, [x])
        expect(lowered.kernels.length).toBe(kernels)
        expect(epilogued(lowered).length).toBe(0)
        cpu(f, x).forEach((w, i) => exact(values[i], w, `output ${i}`))
      }
    })
  },
)

describe.skipIf(backend === null)('a wrong workgroup reduction is caught', () => {
  // Each plant edits the rendered workgroup kernel; the comparison that the
  // suites above use must reject the result.
  const plants: readonly { name: string; from: string; to: string }[] = [
    { name: 'a tree step that skips levels', from: 's /= 2u', to: 's /= 4u' },
    {
      name: 'a span that reads one element twice and skips another',
      from: 'first + i + 2u * LANES',
      to: 'first + i + LANES',
    },
    {
      name: 'a tail loop that skips elements',
      from: 'i < COUNT; i += WORKGROUP',
      to: 'i < COUNT; i += 2u * WORKGROUP',
    },
  ]
  const x = ints([3, 50000], 30)
  const f = (v: Tensor) => ops.sum(v, 1)
  const isWorkgroupReduce = (k: Kernel) => k.kind === 'reduce' && k.workgroup !== undefined

  for (const plant of plants) {
    it(plant.name, async () => {
      let planted = 0
      const patch = (code: string) => {
        if (!code.includes('var<workgroup>')) return code
        expect(code).toContain(plant.from)
        planted++
        return code.replace(plant.from, plant.to)
      }
      const { lowered, values } = await compile(f, [x], { patch })
      expect(lowered.kernels.filter(isWorkgroupReduce).length).toBe(1)
      expect(planted).toBe(1)
      const [want] = cpu(f, x)
      expect(() => exact(values[0], want, 'planted')).toThrow()
      const right = await compile(f, [x])
      exact(right.values[0], want, 'as rendered')
    })
  }
})
