/**
 * ONNX Runtime as a backend: a Program is exported (src/onnx/export.ts) and
 * run in an ONNX Runtime session, created once per compiled Program (jit
 * compiles once per input signature) on its CPU execution provider, with
 * its graph optimisations. `onnxruntime-node` is an optional dependency:
 * `onnxruntimeBackend()` rejects with a one-line reason where it cannot be
 * loaded, and the default backend then moves on to the next.
 */
import { type Backend, type Executable, registerBackend, UnsupportedProgramError } from '../core/backend.ts'
import type { DType } from '../dtype.ts'
import type { Program } from '../ir/program.ts'
import { type ConcreteTensor, concrete, formatAval, type Tensor } from '../tensor.ts'
import { OnnxExportError, programToModel } from './export.ts'
import { encodeModel } from './proto.ts'

/** The parts of onnxruntime-node's API used here. */
interface OrtTensor {
  readonly data: ArrayLike<number> | ArrayLike<boolean>
  readonly dims: readonly number[]
  readonly type: string
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>
  release?(): Promise<void>
}
interface Ort {
  readonly Tensor: new (type: string, data: ArrayLike<number> | Uint8Array, dims: readonly number[]) => OrtTensor
  readonly InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> }
}

const ORT_TYPES: Record<DType, string> = { f32: 'float32', f64: 'float64', i32: 'int32', bool: 'bool' }

let loading: Promise<Ort> | null = null

/** onnxruntime-node, loaded once; rejects with the reason where it cannot be. */
export function loadOnnxRuntime(): Promise<Ort> {
  loading ??= (async () => {
    try {
      const name = 'onnxruntime-node'
      const mod = (await import(/* @vite-ignore */ name)) as Ort & { default?: Ort }
      return mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod
    } catch (e) {
      throw new Error(`onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]})`)
    }
  })()
  return loading
}

export interface OnnxRuntimeOptions {
  /** Threads for one operator (default: ONNX Runtime's choice, the physical cores). */
  readonly threads?: number
}

interface Counters {
  bytesRead: number
  bytesWritten: number
}

function compile(ort: Ort, program: Program, options: OnnxRuntimeOptions): Executable {
  let bytes: Uint8Array
  try {
    bytes = encodeModel(programToModel(program))
  } catch (e) {
    if (e instanceof OnnxExportError) throw new UnsupportedProgramError(e.message)
    throw e
  }
  const inputNames = program.inputs.map((_, i) => `input${i}`)
  const outputNames = program.outputs.map((_, i) => `output${i}`)
  let session: Promise<OrtSession> | null = null
  const open = () =>
    (session ??= ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
    }))
  const last: Counters = { bytesRead: 0, bytesWritten: 0 }
  return {
    program,
    kernels: program.eqns.length,
    async run(inputs: readonly Tensor[]): Promise<Tensor[]> {
      if (inputs.length !== program.inputs.length)
        throw new Error(`onnxruntime: the program takes ${program.inputs.length} inputs, got ${inputs.length}`)
      const feeds: Record<string, OrtTensor> = {}
      let written = 0
      program.inputs.forEach((v, i) => {
        const x = inputs[i].toConcrete()
        if (x.aval.dtype !== v.aval.dtype || x.aval.shape.join() !== v.aval.shape.join())
          throw new Error(`onnxruntime: input ${i} must be ${formatAval(v.aval)}, got ${formatAval(x.aval)}`)
        feeds[inputNames[i]] = new ort.Tensor(ORT_TYPES[x.aval.dtype], x.values, [...x.aval.shape])
        written += x.values.byteLength
      })
      const s = await open()
      const results = await s.run(feeds)
      let read = 0
      const outs = program.outputs.map((a, i) => {
        const r = results[outputNames[i]]
        const values = r.data as unknown as ConcreteTensor['values']
        read += values.byteLength
        return concrete(a.aval.shape, a.aval.dtype, values)
      })
      last.bytesRead = read
      last.bytesWritten = written
      return outs
    },
    stats: () => ({
      dispatches: 0,
      submissions: 0,
      bytesRead: last.bytesRead,
      bytesWritten: last.bytesWritten,
      bytesCheckpointed: 0,
    }),
  }
}

/** ONNX Runtime (its CPU execution provider) as a backend; rejects where onnxruntime-node cannot be loaded. */
export async function onnxruntimeBackend(options: OnnxRuntimeOptions = {}): Promise<Backend> {
  const ort = await loadOnnxRuntime()
  return { name: 'onnxruntime', compile: (program) => compile(ort, program, options) }
}

// After a hardware WebGPU adapter (10), before a software one and the interpreter (see defaultBackend).
registerBackend('onnxruntime', () => onnxruntimeBackend(), 5)
