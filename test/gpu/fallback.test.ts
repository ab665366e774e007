/**
 * A program the WebGPU compiler does not lower yet (a scan inside a scan body) runs on the CPU
 * when jitted for the default backend, with a one-line notice; with WebGPU
 * asked for explicitly, the error names what is missing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { UnsupportedProgramError, jit, ops, registerBackend, scan, tensor, type Tensor } from '../../src/index.ts'
import { webgpuBackend } from '../../gpu/index.ts'
import { gpu } from './setup.ts'

/** Row sums of a [n, m] matrix, then their running sum: a scan in a scan. */
const cumulative = (xs: Tensor) =>
  scan((c: Tensor, row: Tensor) => {
    const next = ops.add(c, scan((d: Tensor, x: Tensor) => [ops.add(d, x), null] as const, tensor(0) as Tensor, row)[0])
    return [next, next] as const
  }, tensor(0) as Tensor, xs)[1]

describe.skipIf(gpu.backend === null)('programs WebGPU does not compile yet', () => {
  afterEach(() => vi.restoreAllMocks())

  it('run on the CPU, with a notice, when jitted for the default backend', async () => {
    registerBackend('webgpu-test', () => webgpuBackend(), 100)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const ys = await jit(cumulative)(tensor([[1, 2], [3, 4]]))
    expect(Array.from(await ys.data())).toEqual([3, 10])
    expect(warn).toHaveBeenCalledWith('adjoint: lowering: WebGPU does not compile a scan inside a scan body yet; running this function on the CPU')
    // A function WebGPU compiles still runs there.
    expect((await jit((x: Tensor) => ops.exp(x)).compiled(tensor([1]))).kernels).toBe(1)
  })

  it('fail with the reason when WebGPU is asked for', async () => {
    await expect(jit(cumulative, { backend: gpu.backend! })(tensor([[1, 2]]))).rejects.toThrow(UnsupportedProgramError)
  })
})
