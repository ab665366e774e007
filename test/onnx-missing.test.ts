/**
 * Where onnxruntime-node cannot load (not installed, or its native module
 * does not fit the platform), the library still imports and runs: the
 * ONNX Runtime backend rejects with the reason, and the default backend
 * moves on with a one-line notice. Exporting needs no runtime at all.
 */
import { describe, expect, it, vi } from 'vitest'
import { defaultBackend, jit, ops, tensor, type Tensor } from '../src/index.ts'
import { exportFunction, onnxruntimeBackend } from '../src/onnx/index.ts'

vi.mock('onnxruntime-node', () => {
  throw new Error('onnxruntime_binding.node: cannot open shared object file')
})

describe('without onnxruntime-node', () => {
  it('the backend rejects with the reason', async () => {
    await expect(onnxruntimeBackend()).rejects.toThrow(/^onnxruntime-node could not be loaded \(.+\)$/)
  })

  it('the default backend moves on with a notice, and jit runs', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const backend = await defaultBackend()
    expect(backend.name).toBe('cpu')
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^adjoint: onnxruntime unavailable \(onnxruntime-node could not be loaded/),
    )
    const y = await jit((x: Tensor) => ops.exp(x))(tensor([0, 1]))
    expect(Array.from(await y.data())).toEqual([1, Math.fround(Math.E)])
  })

  it('exporting a model needs no runtime', () => {
    const bytes = exportFunction((x: Tensor) => ops.tanh(x), [tensor([1, 2])])
    expect(bytes.length).toBeGreaterThan(50)
  })
})
