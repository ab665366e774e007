/**
 * adjoint: neural networks as pure functions over immutable, shape-typed
 * tensors; derivatives as program transforms.
 */
export { Tensor, ConcreteTensor, type Aval } from './tensor.ts'
export type { DType, FloatDType, TypedArray } from './dtype.ts'
export type { Dim, Shape, RuntimeShape } from './shape/types.ts'
export * as ops from './ops/index.ts'
/** The primitives one by one, strict (no broadcasting, no dtype promotion): what `ops` calls after checking. */
export * as lax from './core/lax.ts'
export { tensor, scalar, zeros, ones, full, arange, eye } from './ops.ts'
export * as random from './random.ts'
export * as tree from './tree.ts'
export {
  jvp,
  linearize,
  vjp,
  grad,
  valueAndGrad,
  jacfwd,
  jacrev,
  hessian,
  hvp,
  vmap,
  makeProgram,
  type GradOptions,
  type JacobianOptions,
  type VmapOptions,
  type InAxes,
  type AxisTree,
} from './transforms.ts'
export { untie, type Untied } from './ad/tie.ts'
export { Program, Var, Literal, type Eqn, type Atom } from './ir/program.ts'
export { evalProgram, typecheck } from './core/interpret.ts'
export { transposeProgram } from './ad/transpose.ts'
export { runProgram, type RunOptions } from './cpu/interpreter.ts'
export type { Primitive, PrimitiveParams, PrimitiveRule, RuleTable } from './core/primitive.ts'
export { rules } from './rules.ts'
export { cpuBackend } from './cpu/backend.ts'
export {
  registerBackend,
  setBackend,
  defaultBackend,
  DeviceLostError,
  UnsupportedProgramError,
  type Backend,
  type Executable,
  type ExecutableStats,
} from './core/backend.ts'
export { jit, type JitOptions, type Jitted } from './jit.ts'
export * as shape from './shape/index.ts'
export { tensorCodec, tensorRecord, decodeTensor, formatDecodeError } from './shape/codec.ts'
export * as optim from './optim/index.ts'
export * as io from './io/index.ts'
export * as train from './train/index.ts'
export * as plot from './plot/index.ts'
export * as nn from './nn/index.ts'
export * as energy from './energy/index.ts'
export * as onnx from './onnx/index.ts'
export { scan, type ScanOptions, type Stacked, type Unstacked } from './recurrent/scan.ts'
export { cond, switchCase, whileLoop, foriLoop, type WhileOptions } from './control/flow.ts'
export { customJvp, customVjp, checkpoint, remat } from './control/derivatives.ts'
export { savedResiduals, type SavedResiduals } from './ad/residuals.ts'
export * as recurrent from './recurrent/index.ts'
export { bptt, type BpttOptions } from './recurrent/bptt.ts'
export { rtrl, rtrlOnline, type RtrlOptions } from './recurrent/rtrl.ts'
