/**
 * The default backend's order: a backend on a hardware adapter first, then
 * ONNX Runtime, then a software adapter (llvmpipe, SwiftShader), then the
 * interpreter; a backend that cannot start is passed over with a one-line
 * notice that says why. Fake backends stand for the real ones here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defaultBackend, registerBackend, setBackend, type Backend } from '../src/index.ts'
import '../src/onnx/index.ts'

const fake = (name: string, software = false): Backend => ({
  name,
  software,
  compile: () => {
    throw new Error('not used')
  },
})
const failing = (why: string) => async (): Promise<Backend> => {
  throw new Error(why)
}

describe('the default backend', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    setBackend(null)
  })

  it('passes over a software adapter for a backend that is not one, whatever their priorities', async () => {
    registerBackend('software-gpu', async () => fake('software-gpu', true), 30)
    registerBackend('native', async () => fake('native'), 25)
    expect((await defaultBackend()).name).toBe('native')
  })

  it('takes the software adapter before the interpreter, saying what could not start', async () => {
    registerBackend('software-gpu', async () => fake('software-gpu', true), 30)
    registerBackend('native', failing('no native module'), 25)
    registerBackend('onnxruntime', failing('onnxruntime-node could not be loaded'), 5)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    expect((await defaultBackend()).name).toBe('software-gpu')
    expect(warn).toHaveBeenCalledWith(
      'adjoint: native unavailable (no native module); onnxruntime unavailable (onnxruntime-node could not be loaded); using software-gpu',
    )
  })

  it('falls back to the interpreter when nothing else starts', async () => {
    registerBackend('software-gpu', failing('no adapter'), 30)
    registerBackend('native', failing('no native module'), 25)
    registerBackend('onnxruntime', failing('not installed'), 5)
    vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    expect((await defaultBackend()).name).toBe('cpu')
  })

  it('a hardware adapter comes first', async () => {
    registerBackend('software-gpu', async () => fake('software-gpu', true), 30)
    registerBackend('native', async () => fake('native'), 25)
    registerBackend('hardware-gpu', async () => fake('hardware-gpu'), 40)
    expect((await defaultBackend()).name).toBe('hardware-gpu')
  })
})
