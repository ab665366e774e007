/**
 * The closed set of primitives and the mapped interface of their parameters.
 * Every transform is an interpreter with one rule per primitive; the rule
 * tables are exhaustive mapped types over `Primitive`, so adding a primitive
 * without its rules does not compile.
 */
import type { DType } from '../dtype.ts'
import type { Aval, ConcreteTensor, Tensor } from '../tensor.ts'
import type { Program } from '../ir/program.ts'

export type CompareOp = 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne'

type None = Record<string, never>

/** The parameters of each primitive, by name: one field per primitive of the IR. */
export interface PrimitiveParams {
  // elementwise unary
  neg: None
  exp: None
  log: None
  log1p: None
  expm1: None
  tanh: None
  logistic: None
  sin: None
  cos: None
  sqrt: None
  abs: None
  sign: None
  erf: None
  convert: { readonly dtype: DType }
  stopGradient: None
  // elementwise binary (operands of equal shape; broadcasting is explicit)
  add: None
  sub: None
  mul: None
  div: None
  pow: None
  max: None
  compare: { readonly op: CompareOp }
  select: None
  // reductions
  sum: { readonly axes: readonly number[] }
  reduceMax: { readonly axes: readonly number[] }
  cumsum: { readonly axis: number; readonly reverse: boolean }
  // structure
  broadcast: { readonly shape: readonly number[] }
  reshape: { readonly shape: readonly number[] }
  transpose: { readonly perm: readonly number[] }
  slice: { readonly starts: readonly number[]; readonly limits: readonly number[] }
  pad: { readonly lo: readonly number[]; readonly hi: readonly number[] }
  concat: { readonly axis: number }
  rev: { readonly axes: readonly number[] }
  // linear algebra and indexing
  matmul: None
  /**
   * The first `batchDims` axes of x and of the indices are paired (one
   * gather per batch element, as XLA's batching dims), so `axis` ≥ batchDims.
   */
  gather: { readonly axis: number; readonly batchDims: number }
  scatterAdd: { readonly axis: number; readonly batchDims: number }
  argsort: { readonly axis: number; readonly descending: boolean }
  // randomness
  /**
   * Threefry-2×32 bits from keys i32[..., 2] and counter offsets i32[...]
   * (src/primitives/random-bits.ts): raw bits (i32) or uniform floats on
   * [0, 1) (f32, f64), of shape [...keys' batch, ...shape].
   */
  randomBits: { readonly shape: readonly number[]; readonly stream: number; readonly dtype: 'i32' | 'f32' | 'f64' }
  // control flow
  /**
   * One of the closed `branches`, chosen by the index input (an i32 scalar,
   * clamped to [0, n − 1]); inputs [index, ...operands], each branch taking
   * the operands and returning outputs of the same shapes.
   */
  cond: { readonly branches: readonly Program[] }
  /**
   * carry = init; while cond(condConsts, carry): carry = body(bodyConsts, carry),
   * at most `maxIterations` times when it is a number. Inputs
   * [...condConsts, ...bodyConsts, ...init]; outputs the final carry.
   */
  /**
   * A function with its own forward-mode rule (src/control/custom.ts):
   * inputs [...funConsts, ...ruleConsts, ...operands].
   */
  customJvp: { readonly fun: Program; readonly rule: Program; readonly funConsts: number; readonly ruleConsts: number }
  /**
   * A function with its own reverse-mode rule, a forward pass `fwd` that also
   * returns residuals and a backward pass `bwd`: inputs [...funConsts,
   * ...fwdConsts, ...bwdConsts, ...operands].
   */
  customVjp: {
    readonly fun: Program
    readonly fwd: Program
    readonly bwd: Program
    readonly funConsts: number
    readonly fwdConsts: number
    readonly bwdConsts: number
  }
  /**
   * The tangent of a customVjp: linear in its tangent inputs, its transpose
   * the backward pass; inputs [...bwdConsts, ...residuals, ...float operand
   * tangents], outputs the float outputs' tangents.
   */
  customVjpLin: {
    readonly bwd: Program
    readonly bwdConsts: number
    readonly numResiduals: number
    readonly floatIn: readonly boolean[]
    readonly outAvals: readonly Aval[]
    readonly allOutAvals: readonly Aval[]
  }
  /** `fun` applied to the inputs, its residuals recomputed rather than stored under reverse mode. */
  checkpoint: { readonly fun: Program }
  /** A jitted function called inside a transform: `fun` (named `name`) applied to the inputs. */
  jitCall: { readonly fun: Program; readonly name: string }
  whileLoop: {
    readonly cond: Program
    readonly body: Program
    readonly condConsts: number
    readonly bodyConsts: number
    readonly maxIterations: number | null
  }
  /**
   * A loop over the leading axis of the xs. `body` is closed (no captured
   * values): its inputs are [...consts, ...carry, ...x] (x: one slice of each
   * xs), its outputs [...carry, ...y]; the scan's inputs are
   * [...consts, ...init, ...xs] and its outputs [...final carry, ...ys], each
   * y stacked on a new leading axis of size `length`.
   */
  scan: {
    readonly length: number
    readonly reverse: boolean
    readonly numConsts: number
    readonly numCarry: number
    readonly body: Program
  }
}

/** The name of a primitive of the IR (`add`, `matmul`, `scan`, ...). */
export type Primitive = keyof PrimitiveParams

/**
 * What a primitive does with its operands' elements, for the passes and
 * backends that treat whole families alike: an elementwise function of one
 * operand (`unary`) or several (`elementwise`), a reduction over axes, a
 * rearrangement of elements (`structural`, including `gather`), a
 * contraction (`matmul`), an accumulation into an output (`scatter`), an ordering of elements
 * (`sort`: each output element depends on its whole row), a
 * function of its element's position and its operands (`random`: each
 * element a hash of a key and a counter), a call of a Program `fun`
 * (`call`: the same values as `fun`, with rules of its own), or a Program
 * run conditionally or in a loop (`control`).
 */
export type PrimitiveKind =
  | 'unary'
  | 'elementwise'
  | 'reduction'
  | 'structural'
  | 'contraction'
  | 'scatter'
  | 'sort'
  | 'random'
  | 'call'
  | 'control'

export const primitiveKinds = {
  neg: 'unary',
  exp: 'unary',
  log: 'unary',
  log1p: 'unary',
  expm1: 'unary',
  tanh: 'unary',
  logistic: 'unary',
  sin: 'unary',
  cos: 'unary',
  sqrt: 'unary',
  abs: 'unary',
  sign: 'unary',
  erf: 'unary',
  convert: 'elementwise',
  stopGradient: 'elementwise',
  add: 'elementwise',
  sub: 'elementwise',
  mul: 'elementwise',
  div: 'elementwise',
  pow: 'elementwise',
  max: 'elementwise',
  compare: 'elementwise',
  select: 'elementwise',
  sum: 'reduction',
  reduceMax: 'reduction',
  cumsum: 'reduction',
  broadcast: 'structural',
  reshape: 'structural',
  transpose: 'structural',
  slice: 'structural',
  pad: 'structural',
  concat: 'structural',
  rev: 'structural',
  gather: 'structural',
  matmul: 'contraction',
  scatterAdd: 'scatter',
  argsort: 'sort',
  randomBits: 'random',
  scan: 'control',
  cond: 'control',
  customJvp: 'call',
  customVjp: 'call',
  customVjpLin: 'control',
  checkpoint: 'call',
  jitCall: 'call',
  whileLoop: 'control',
} as const satisfies { readonly [P in Primitive]: PrimitiveKind }

/** The elementwise functions of one operand, by name (the WGSL renderer's unary operators). */
export type UnaryPrimitive = { [P in Primitive]: (typeof primitiveKinds)[P] extends 'unary' ? P : never }[Primitive]

/** Elementwise primitives: unary functions and the maps of several operands of one shape. */
export const isElementwise = (prim: Primitive): boolean => {
  const kind: PrimitiveKind = primitiveKinds[prim]
  return kind === 'unary' || kind === 'elementwise'
}

/**
 * Primitives each of whose output elements combines many input elements (a
 * contraction, a reduction or a scatter): worth a kernel of their own on a
 * backend, and worth moving out of a loop when their inputs allow it.
 */
export const isHeavy = (prim: Primitive): boolean => {
  const kind: PrimitiveKind = primitiveKinds[prim]
  return kind === 'contraction' || kind === 'reduction' || kind === 'scatter' || kind === 'sort'
}
export type Params<P extends Primitive> = PrimitiveParams[P]

/** Marks an input of a linear equation whose primal value is not known: the variable being transposed. */
export class UndefinedPrimal {
  constructor(readonly aval: Aval) {}
}
export const isUndefined = (x: unknown): x is UndefinedPrimal => x instanceof UndefinedPrimal

/** A batch dimension: the axis that `vmap` maps over, or null where an input is not batched. */
export type BatchDim = number | null

/** The rules of one primitive: its shape and dtype inference, evaluation, and its jvp, transpose and batching rules. */
export interface PrimitiveRule<P extends Primitive> {
  /** Output shapes and dtypes; throws a clear error for inputs of the wrong shape. */
  abstractEval(inputs: readonly Aval[], params: Params<P>): Aval[]
  /** Reference kernel on concrete tensors (the CPU interpreter). */
  cpu(inputs: readonly ConcreteTensor[], params: Params<P>, outs: readonly Aval[]): ConcreteTensor[]
  /** Forward mode: output primals and tangents from input primals and tangents. */
  jvp(primals: readonly Tensor[], tangents: readonly Tensor[], params: Params<P>): [Tensor[], Tensor[]]
  /**
   * Linear primitives only: cotangents of the undefined (linear) inputs from
   * the output cotangents; null where an input is not linear or gets zero.
   */
  transpose?(
    cts: readonly Tensor[],
    inputs: readonly (Tensor | UndefinedPrimal)[],
    params: Params<P>,
  ): (Tensor | null)[]
  /** Vectorisation: outputs and their batch dimensions from batched inputs. */
  batch(inputs: readonly Tensor[], dims: readonly BatchDim[], params: Params<P>): [Tensor[], BatchDim[]]
  /**
   * Partial evaluation where the default (any unknown input makes the whole
   * equation unknown) would stage work that could run now: given inputs of
   * which some are known, compute what is known now and `emit` the rest.
   * Only primitives with a Program inside need it.
   */
  partialEval?(inputs: readonly PartialValue[], params: Params<P>, emit: Emit): PartialValue[]
  /**
   * Dead-code elimination inside the equation: given which outputs are used,
   * the parameters of a smaller equation and the inputs and outputs it keeps;
   * null to keep the equation as it is.
   */
  dce?(
    params: Params<P>,
    usedOutputs: readonly boolean[],
  ): { params: Params<P>; keepInputs: boolean[]; keepOutputs: boolean[] } | null
}

/** A value while a Program is staged: known (computed now) or unknown (a variable of the Program being built). */
export interface PartialValue {
  readonly aval: Aval
  /** The value, or null where it is unknown. */
  readonly known: Tensor | null
}

/** Records an equation as it is (its known inputs becoming constants) and returns its outputs, all unknown. */
export type Emit = <Q extends Primitive>(prim: Q, inputs: readonly PartialValue[], params: Params<Q>) => PartialValue[]

/** One `PrimitiveRule` for every primitive: the table that the interpreters and transforms read. */
export type RuleTable = { readonly [P in Primitive]: PrimitiveRule<P> }
