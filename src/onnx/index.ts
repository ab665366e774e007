/**
 * ONNX: programs out as model files, and ONNX Runtime as a backend.
 *
 *   const bytes = onnx.exportFunction(step, [params, state, x, y], { argNames: ['params', 'state', 'x', 'y'] })
 *   await fs.writeFile('step.onnx', bytes)
 *
 * exports a whole training step (forward, gradient, optimiser update) with
 * its parameters as named inputs and outputs; `jit(f, { backend: await
 * onnx.onnxruntimeBackend() })`, or ADJOINT_BACKEND=onnxruntime, runs
 * programs in ONNX Runtime; `onnx.importModel(bytes)` turns a model file
 * into a function of (params, ...inputs) that every transform takes.
 */
import { traceProgram } from '../transforms.ts'
import { type ExportOptions, programToModel } from './export.ts'
import { encodeModel, type ModelProto } from './proto.ts'

export {
  exportProgram,
  programToModel,
  rules,
  OnnxExportError,
  type ExportOptions,
} from './export.ts'
export { onnxruntimeBackend, loadOnnxRuntime, RuntimeTensor, type OnnxRuntimeOptions } from './backend.ts'
export {
  importModel,
  supportedOperators,
  OnnxImportError,
  type ImportedModel,
  type ImportOptions,
  type ValueDescription,
} from './import.ts'
export {
  encodeModel,
  decodeModel,
  tensorValues,
  IR_VERSION,
  OPSET_VERSION,
  type ModelProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from './proto.ts'

/** Options of `exportFunction`: the names of the arguments and outputs, beside those of the export. */
export interface FunctionExportOptions extends ExportOptions {
  /** Names of the arguments, prefixing their leaves' paths (default arg0, arg1, …): `params.w`, `x`. */
  readonly argNames?: readonly string[]
  /** Names of the outputs' prefix (default `output`): `output[0].w`, `output[1]`. */
  readonly outputName?: string
}

/** `[1].w` of argument paths as `name.w`, with the argument's name. */
function named(path: string, names: (k: number) => string): string {
  const m = /^\[(\d+)\](.*)$/.exec(path)
  if (m === null) return path
  const rest = m[2]
  return `${names(Number(m[1]))}${rest}`
}

/**
 * The ONNX model of `f` traced at `args` (tensors or pytrees of them): its
 * inputs named by the arguments' paths (`params.layers[0].w`), its outputs
 * by theirs (`output[0].w`; a single tensor is `output`), captured values
 * as initializers.
 */
export function functionToModel(
  f: (...args: any[]) => unknown,
  args: readonly unknown[],
  options: FunctionExportOptions = {},
): ModelProto {
  const { program, inputPaths, outputPaths } = traceProgram(f, args, 'onnx.exportFunction')
  const argName = (k: number) => options.argNames?.[k] ?? `arg${k}`
  const out = options.outputName ?? 'output'
  return programToModel(program, {
    ...options,
    inputNames: options.inputNames ?? inputPaths.map((p) => named(p, argName)),
    outputNames: options.outputNames ?? outputPaths.map((p) => (p === '(top)' ? out : `${out}${p}`)),
  })
}

/** The ONNX file (protobuf bytes) of `f` traced at `args`; see `functionToModel`. */
export const exportFunction = (
  f: (...args: any[]) => unknown,
  args: readonly unknown[],
  options: FunctionExportOptions = {},
): Uint8Array => encodeModel(functionToModel(f, args, options))
