/**
 * Where the `webgpu` package (Dawn's Node binding, an optional dependency)
 * cannot load, the package entry still imports and runs: the WebGPU backend
 * rejects with the reason, and the default backend moves on to the next one
 * with a one-line notice. (test/package.test.ts checks the same in a project
 * where the package is not installed at all.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defaultBackend, jit, ops, tensor, webgpuBackend, type Tensor } from '../index.ts'

vi.mock('webgpu', () => {
  throw new Error('dawn.node: cannot open shared object file')
})

afterEach(() => {
  vi.unstubAllEnvs()
  vi.restoreAllMocks()
})

describe('without the webgpu package', () => {
  it('the WebGPU backend rejects, naming the package and the reason', async () => {
    const failure = await webgpuBackend().then(
      () => null,
      (e: unknown) => e,
    )
    expect(failure).toBeInstanceOf(Error)
    const message = (failure as Error).message
    expect(message).toMatch(/`?webgpu`? package/)
    expect(message).toMatch(/could not be loaded/)
    // One line, whatever the loader's own message was.
    expect(message).not.toContain('\n')
  })

  it('the default backend is another one, with a notice that says why, and jit runs on it', async () => {
    vi.stubEnv('ADJOINT_BACKEND', '')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    const backend = await defaultBackend()
    expect(backend.name).not.toMatch(/webgpu/)
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^adjoint: webgpu unavailable \(.*could not be loaded/))
    const y = await jit((x: Tensor) => ops.mul(ops.exp(x), 2))(tensor([0, 1]))
    expect(Array.from(await y.data())).toEqual([2, Math.fround(2 * Math.fround(Math.E))])
  })
})
