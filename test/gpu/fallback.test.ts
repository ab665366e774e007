/**
 * A program the WebGPU compiler does not lower (a scan of length 0) runs on the CPU
 * when jitted for the default backend, with a one-line notice; with WebGPU
 * asked for explicitly, the error names what is missing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { UnsupportedProgramError, jit, ops, registerBackend, scan, tensor, type Tensor } from '../../src/index.ts'
import { webgpuBackend } from '../../gpu/index.ts'
import { gpu } from './setup.ts'

/** c plus the sum of the rows of xs [n, 2], as a scan: with no rows, c itself. */
const cumulative = (c: Tensor, xs: Tensor) =>
  scan((s: Tensor, row: Tensor) => [ops.add(s, row), null] as const, c, xs)[0]
const noRows = () => ops.zeros([0, 2]) as Tensor

describe.skipIf(gpu.backend === null)('programs WebGPU does not compile yet', () => {
  afterEach(() => vi.restoreAllMocks())

  it('run on the CPU, with a notice, when jitted for the default backend', async () => {
    // Taken for a hardware adapter, so that the default order puts it first whatever this machine's adapter is.
    registerBackend('webgpu-test', async () => ({ ...(await webgpuBackend()), software: false }), 100)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const ys = await jit(cumulative)(tensor([1, 2]), noRows())
    expect(Array.from(await ys.data())).toEqual([1, 2])
    expect(warn).toHaveBeenCalledWith(
      'adjoint: lowering: WebGPU does not compile a scan of length 0; running this function on the CPU',
    )
    // A function WebGPU compiles still runs there.
    expect((await jit((x: Tensor) => ops.exp(x)).compiled(tensor([1]))).kernels).toBe(1)
  })

  it('fail with the reason when WebGPU is asked for', async () => {
    await expect(jit(cumulative, { backend: gpu.backend! })(tensor([1, 2]), noRows())).rejects.toThrow(
      UnsupportedProgramError,
    )
  })
})
