/**
 * How reductions are lowered, without a GPU: the strategies stay within
 * llvmpipe's loop limit (65535 iterations per invocation), a split binds only
 * what each of its kernels reads, and epilogues are fused into reduce kernels.
 */
import { describe, expect, it } from 'vitest'
import { makeProgram, ops, type Tensor } from '../../src/index.ts'
import type { ReduceKernel } from '../../gpu/kernel.ts'
import { CHUNK_LIMIT, REDUCE_WORKGROUP, SERIAL_LIMIT, chooseReduction } from '../../gpu/kernels/reduce.ts'
import { lower } from '../../gpu/lower/index.ts'
import { renderKernel } from '../../gpu/wgsl/render.ts'

describe('chooseReduction', () => {
  const sizes = [
    1,
    2,
    7,
    8,
    15,
    16,
    100,
    4096,
    16383,
    16384,
    32768,
    60000,
    60001,
    65536,
    100000,
    2 ** 20,
    2 ** 22 + 3,
    2 ** 26,
  ]
  it('never loops serially past SERIAL_LIMIT, nor gives a workgroup more than CHUNK_LIMIT elements', () => {
    for (const outputs of sizes)
      for (const count of sizes) {
        const { workgroup, parts = 1 } = chooseReduction(outputs, count)
        const chunk = Math.ceil(count / Math.min(parts, Math.ceil(count / 2)))
        if (workgroup === undefined) expect(chunk, `${outputs}×${count}`).toBeLessThanOrEqual(SERIAL_LIMIT)
        else expect(chunk, `${outputs}×${count}`).toBeLessThanOrEqual(CHUNK_LIMIT)
      }
  })
  it('keeps the serial form for many outputs and for few elements', () => {
    expect(chooseReduction(64, 30000)).toEqual({})
    expect(chooseReduction(1, 1000)).toEqual({})
    expect(chooseReduction(1, 30000)).toEqual({ workgroup: REDUCE_WORKGROUP })
    expect(chooseReduction(64, 65536)).toEqual({ workgroup: REDUCE_WORKGROUP })
    expect(chooseReduction(1, 2 ** 22)).toEqual({ workgroup: REDUCE_WORKGROUP, parts: 16 })
  })
})

describe('lowering reductions', () => {
  const kernelsOf = (f: (...xs: Tensor[]) => Tensor | Tensor[], ...xs: Tensor[]) =>
    lower(makeProgram(f)(...xs), { maxBuffers: 8 })

  it('splits a full reduction in two kernels, each binding only what it reads', () => {
    const lowered = kernelsOf((v: Tensor) => ops.sum(v), ops.zeros([2 ** 20]))
    const [parts, total] = lowered.kernels as ReduceKernel[]
    expect(lowered.kernels).toHaveLength(2)
    expect(parts.shape).toEqual([16])
    expect(parts.reduced).toEqual([2 ** 16])
    expect(parts.workgroup).toBe(REDUCE_WORKGROUP)
    expect(parts.inputs).toEqual([0])
    expect(lowered.buffers[parts.output]).toMatchObject({ size: 16, type: 'f32', role: 'temp' })
    expect(total.shape).toEqual([])
    expect(total.reduced).toEqual([16])
    expect(total.workgroup).toBeUndefined()
    expect(total.inputs).toEqual([parts.output])
    expect(lowered.outputs).toEqual([total.output])
    // A scatter-add: the parts read the indices and updates, the second kernel the table it adds into and the parts.
    const ids = ops.zeros([70000], 'i32')
    const scatter = kernelsOf(
      (t: Tensor, i: Tensor, u: Tensor) => ops.scatterAdd(t, i as Tensor<[number], 'i32'>, u),
      ops.zeros([4, 3]),
      ids,
      ops.zeros([70000, 3]),
    )
    const [scatterParts, scatterTotal] = scatter.kernels as ReduceKernel[]
    expect(scatter.kernels).toHaveLength(2)
    expect(scatterParts.inputs).toEqual([1, 2])
    expect(scatterTotal.inputs).toEqual([0, scatterParts.output])
  })

  it('pads the last chunk with the identity when the parts do not divide the elements', () => {
    const lowered = lower(makeProgram((v: Tensor) => ops.max(v))(ops.zeros([1001])), {
      maxBuffers: 8,
      reduction: (_, c) => (c > 10 ? { workgroup: 8, parts: 10 } : {}),
    })
    const [parts, total] = lowered.kernels as ReduceKernel[]
    expect(parts.reduced).toEqual([101])
    expect(total.reduced).toEqual([10])
    expect(renderKernel(parts, lowered.buffers).code).toContain('f32_bits(0xff800000u)')
  })

  it('fuses a map that reads a reduction at its own index: one kernel for a mean, none for two readers', () => {
    const x = ops.zeros([5, 7])
    const mean = kernelsOf((v: Tensor) => ops.mean(v, 1), x)
    expect(mean.kernels).toHaveLength(1)
    expect((mean.kernels[0] as ReduceKernel).epilogue).toBeDefined()
    expect(mean.outputs).toEqual([mean.kernels[0].output])
    const two = kernelsOf((v: Tensor) => {
      const s = ops.sum(v, 1)
      return [ops.exp(s), ops.log(s)]
    }, x)
    expect(two.kernels.map((k) => k.kind)).toEqual(['reduce', 'map', 'map'])
  })

  it('fuses only within the adapter’s storage buffers', () => {
    const x = ops.zeros([5, 7])
    const extra = [1, 2, 3, 4].map(() => ops.zeros([5]))
    const f = (v: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) =>
      ops.add(ops.add(ops.add(ops.add(ops.sum(v, 1), a), b), c), d)
    const program = makeProgram(f)(x, extra[0], extra[1], extra[2], extra[3])
    // Fused: x, a, b, c, d and the output are 6 buffers.
    expect(lower(program, { maxBuffers: 6 }).kernels).toHaveLength(1)
    for (const maxBuffers of [4, 5]) {
      const lowered = lower(program, { maxBuffers })
      expect(lowered.kernels.length).toBeGreaterThan(1)
      for (const k of lowered.kernels) expect(k.inputs.length + 1).toBeLessThanOrEqual(maxBuffers)
    }
  })

  it('renders a workgroup reduction only for a power of two from 8 to 256 invocations', () => {
    const lowered = kernelsOf((v: Tensor) => ops.sum(v), ops.zeros([50000]))
    const k = lowered.kernels[0] as ReduceKernel
    expect(k.workgroup).toBe(REDUCE_WORKGROUP)
    expect(renderKernel(k, lowered.buffers).code).toContain('var<workgroup> partial')
    for (const workgroup of [4, 100, 512])
      expect(() => renderKernel({ ...k, workgroup }, lowered.buffers)).toThrow(/power of two from 8 to 256/)
  })
})
