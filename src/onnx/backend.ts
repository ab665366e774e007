/**
 * ONNX Runtime as a backend: a Program is exported (src/onnx/export.ts) and
 * run in an ONNX Runtime session, created once per compiled Program (jit
 * compiles once per input signature) on its CPU execution provider, with
 * its graph optimisations. A call returns `RuntimeTensor`s over the arrays
 * ONNX Runtime wrote; one donated to a later call (`donateArgnums`) gives
 * its array to be written by a later call's output of its size, so a
 * training loop's parameters stop allocating after the first steps.
 * `onnxruntime-node` is an optional dependency:
 * `onnxruntimeBackend()` rejects with a one-line reason where it cannot be
 * loaded, and the default backend then moves on to the next.
 */
import {
  type Backend,
  type Executable,
  registerBackend,
  type RunOptions,
  UnsupportedProgramError,
} from '../core/backend.ts'
import type { DType, TypedArray } from '../dtype.ts'
import type { Program } from '../ir/program.ts'
import { type Aval, type ConcreteTensor, concrete, formatAval, sizeOf, Tensor } from '../tensor.ts'
import { OnnxExportError, programToModel } from './export.ts'
import { importByName } from '../io/import.ts'
import { encodeModel } from './proto.ts'

/** The parts of onnxruntime-node's API used here. */
interface OrtTensor {
  readonly data: ArrayLike<number> | ArrayLike<boolean>
  readonly dims: readonly number[]
  readonly type: string
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>, fetches?: Record<string, OrtTensor | null>): Promise<Record<string, OrtTensor>>
  release?(): Promise<void>
}
interface Ort {
  readonly Tensor: new (type: string, data: ArrayLike<number> | Uint8Array, dims: readonly number[]) => OrtTensor
  readonly InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> }
}

/** ONNX Runtime's names of adjoint's element types (its `Tensor` constructor takes them). */
export const ORT_TYPES: Record<DType, string> = { f32: 'float32', f64: 'float64', i32: 'int32', bool: 'bool' }

let loading: Promise<Ort> | null = null

/** onnxruntime-node, loaded once; rejects with the reason where it cannot be. */
export function loadOnnxRuntime(): Promise<Ort> {
  loading ??= (async () => {
    try {
      // By name, so that no bundler resolves it (see src/io/import.ts); in a browser it rejects.
      const mod = (await importByName('onnxruntime-node')) as Ort & { default?: Ort }
      return mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod
    } catch (e) {
      throw new Error(`onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]})`)
    }
  })()
  return loading
}

/** Options of the ONNX Runtime backend. */
export interface OnnxRuntimeOptions {
  /** Threads for one operator (default: ONNX Runtime's choice, the physical cores). */
  readonly threads?: number
}

interface Counters {
  bytesRead: number
  bytesWritten: number
}

/**
 * A tensor an ONNX Runtime call returned. Its values are the array ONNX
 * Runtime wrote; donated to a later call (`donateArgnums`), that array is
 * written again by a later call's output of the same size, so the tensor is
 * released: reading it then fails and says so. Reading it before copies.
 */
export class RuntimeTensor extends Tensor {
  readonly aval: Aval
  private values: TypedArray | null
  private gone = ''
  constructor(aval: Aval, values: TypedArray) {
    super()
    this.aval = aval
    this.values = values
  }
  /** The values without a copy, for the backend's next call; fails once released. */
  storage(): TypedArray {
    if (this.values === null)
      throw new Error(`this ${formatAval(this.aval)} tensor ${this.gone}; it cannot be used again`)
    return this.values
  }
  /** Gives up the values' array (to be written by a later call): true the first time; the tensor cannot be read after. */
  release(why: string): boolean {
    const had = this.values !== null
    this.values = null
    this.gone ||= why
    return had
  }
  dataSync(): TypedArray {
    return this.storage().slice()
  }
  override toConcrete(): ConcreteTensor {
    return concrete(this.aval.shape, this.aval.dtype, this.dataSync())
  }
}

/** Arrays given up by donated tensors, by dtype and length: the storage of later calls' outputs. */
class Spare {
  private readonly free = new Map<string, TypedArray[]>()
  take(aval: Aval): TypedArray | undefined {
    return this.free.get(keyOf(aval))?.pop()
  }
  give(aval: Aval, values: TypedArray): void {
    const key = keyOf(aval)
    const list = this.free.get(key) ?? []
    // A few of each size are enough for a training loop's parameters; more would only hold memory.
    if (list.length < 64) list.push(values)
    this.free.set(key, list)
  }
}
const keyOf = (a: Aval) => `${a.dtype}:${sizeOf(a.shape)}`

function compile(ort: Ort, program: Program, options: OnnxRuntimeOptions, spare: Spare): Executable {
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
    async run(inputs: readonly Tensor[], runOptions: RunOptions = {}): Promise<Tensor[]> {
      if (inputs.length !== program.inputs.length)
        throw new Error(`onnxruntime: the program takes ${program.inputs.length} inputs, got ${inputs.length}`)
      const feeds: Record<string, OrtTensor> = {}
      const taken: [Aval, TypedArray][] = []
      let written = 0
      // Every input checked before any donated one is taken, so that a call refused loses nothing.
      const arrays = program.inputs.map((v, i) => {
        const x = inputs[i]
        if (x.aval.dtype !== v.aval.dtype || x.aval.shape.join() !== v.aval.shape.join())
          throw new Error(`onnxruntime: input ${i} must be ${formatAval(v.aval)}, got ${formatAval(x.aval)}`)
        return x instanceof RuntimeTensor ? x.storage() : x.toConcrete().values
      })
      program.inputs.forEach((v, i) => {
        const x = inputs[i]
        // A donated tensor of this backend is taken now, as WebGPU takes one at submission: a concurrent call
        // that donates it too fails, and its array goes to a later call's output once this call is done.
        if (runOptions.donate?.[i] === true && x instanceof RuntimeTensor && x.release('was donated to a jitted call'))
          taken.push([x.aval, arrays[i]])
        feeds[inputNames[i]] = new ort.Tensor(ORT_TYPES[v.aval.dtype], arrays[i], [...v.aval.shape])
        written += arrays[i].byteLength
      })
      // Outputs written into the arrays of tensors donated to earlier calls, where there are some of their size.
      const given = program.outputs.map((a) => spare.take(a.aval))
      const fetches: Record<string, OrtTensor | null> = {}
      program.outputs.forEach((a, i) => {
        const into = given[i]
        fetches[outputNames[i]] =
          into === undefined ? null : new ort.Tensor(ORT_TYPES[a.aval.dtype], into, [...a.aval.shape])
      })
      const s = await open()
      let results: Record<string, OrtTensor>
      try {
        results = await s.run(feeds, fetches)
      } catch (e) {
        given.forEach((v, i) => v !== undefined && spare.give(program.outputs[i].aval, v))
        for (const [aval, values] of taken) spare.give(aval, values)
        throw e
      }
      let read = 0
      const outs = program.outputs.map((a, i) => {
        const values = given[i] ?? (results[outputNames[i]].data as unknown as TypedArray)
        read += values.byteLength
        return new RuntimeTensor(a.aval, values)
      })
      for (const [aval, values] of taken) spare.give(aval, values)
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
  const spare = new Spare()
  return { name: 'onnxruntime', compile: (program) => compile(ort, program, options, spare) }
}

// After a hardware WebGPU adapter (10), before a software one and the interpreter (see defaultBackend).
registerBackend('onnxruntime', () => onnxruntimeBackend(), 5)
