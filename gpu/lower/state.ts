/**
 * What the lowering stages share: the options, what the analysis found of a
 * Program, the state of one attempt (every Program's buffers and kernels go
 * into one table, so a loop body's kernels sit beside the top level's) and
 * the scope of the one Program being lowered. Kept apart from the stages so
 * that each stage reads and extends the same tables without importing
 * another stage, and the stages import one another in one direction only.
 */
import type { DType } from '../../src/dtype.ts'
import type { Atom, Eqn, Program, Var } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import type {
  Branches,
  ExprBuilder,
  Kernel,
  LogicalBuffer,
  Loop,
  ScalarType,
  ScheduleItem,
  WhileLoop,
} from '../kernel.ts'
import type { Digit } from '../kernels/matmul.ts'
import type { ReductionStrategy } from '../kernels/reduce.ts'

export interface LowerOptions {
  /** Storage buffers one kernel may bind (the output included). */
  readonly maxBuffers: number
  /** How to run a reduction of `count` elements into each of `outputs`; default `chooseReduction`. */
  readonly reduction?: (outputs: number, count: number) => ReductionStrategy
}

/** A matmul operand read in place: a run of a buffer, possibly transposed, possibly the same matrix for every batch. */
export interface MatmulOperand {
  readonly source: Var
  /** Where the operand starts in the source's buffer, in elements (a run of the source's leading axis). */
  readonly from: number
  readonly trans: boolean
  readonly broadcastBatch: boolean
  /**
   * Read through strides instead, from `from` on (trans and broadcastBatch then say nothing): the digits of the
   * batch, of the matrix's rows and of its columns (windows.ts).
   */
  readonly window?: {
    readonly batch: readonly Digit[]
    readonly rows: readonly Digit[]
    readonly cols: readonly Digit[]
  }
}

/** What the lowering knows of one Program (the top level, or a loop body): kept across attempts, roots may grow. */
export interface Analysis {
  readonly producer: Map<Var, Eqn>
  readonly roots: Set<Var>
  readonly matmulOperand: (a: Atom) => MatmulOperand | null
  readonly stored: (a: Atom) => Var | null
  readonly leadingSlice: (a: Atom) => { readonly source: Var; readonly from: number } | null
}

/** The element type of a value on the device: WebGPU has no f64. */
export function scalarType(dtype: DType, where: string): ScalarType {
  if (dtype === 'f64')
    throw new Error(
      `WebGPU has no f64: ${where} is f64. Trace with f32 tensors, or run f64 programs on the CPU backend`,
    )
  return dtype
}

/**
 * How a loop body's inputs and outputs are bound: buffers for its inputs, and
 * what its outputs become; `sameAs`: the output is the same variable as that
 * earlier one (a y that is a carry), so the kernel that computes the earlier
 * one stores it too.
 */
export interface BodyBinding {
  readonly inputs: readonly number[]
  readonly output: (i: number) => Pick<LogicalBuffer, 'role' | 'of' | 'loop'> & { readonly sameAs?: number }
}

/** The state of one attempt at lowering: every Program's buffers and kernels go into one table. */
export interface Lowering {
  readonly options: LowerOptions
  readonly analyses: Map<Program, Analysis>
  readonly buffers: LogicalBuffer[]
  readonly kernels: Kernel[]
  readonly loops: Loop[]
  readonly conds: Branches[]
  readonly whiles: WhileLoop[]
  readonly b: ExprBuilder
  /** The first kernel found binding too many buffers, with the inline variable to materialise instead. */
  over: { readonly analysis: Analysis; readonly kernel: Kernel; readonly candidate: Var | undefined } | null
}

/** A loop among a Program's kernels while they are fused: it reads `inputs` and writes no kernel's output. */
export interface LoopEntry {
  readonly kind: 'loop'
  readonly loop: number
  readonly inputs: readonly number[]
  readonly output: -1
}
/** A cond among a Program's kernels while they are fused: it reads `inputs` (the index first) and writes its outputs. */
export interface CondEntry {
  readonly kind: 'cond'
  readonly cond: number
  readonly inputs: readonly number[]
  readonly output: -1
}
/** A whileLoop among a Program's kernels while they are fused: it reads `inputs` (its consts and carries). */
export interface WhileEntry {
  readonly kind: 'while'
  readonly loop: number
  readonly inputs: readonly number[]
  readonly output: -1
}
export type Entry = Kernel | LoopEntry | CondEntry | WhileEntry

/** Whether an entry is a kernel (not a loop, cond or whileLoop). */
export const isKernel = (e: Entry): e is Kernel => e.kind !== 'loop' && e.kind !== 'cond' && e.kind !== 'while'

/** The kernel among `entries` that writes `id` and can store it a second time (it has no second output yet), or −1. */
export const writerOf = (entries: readonly Entry[], id: number): number =>
  entries.findIndex((e) => isKernel(e) && e.output === id && e.also === undefined)

/** A Program's schedule and the buffers that hold its outputs. */
export interface Lowered {
  readonly schedule: ScheduleItem[]
  readonly outputs: number[]
}

/** One Program being lowered (the top level, or a loop body): where its values live and what it runs, in order. */
export interface Scope {
  readonly state: Lowering
  readonly program: Program
  readonly analysis: Analysis
  readonly bufferOf: Map<Var, number>
  /** Kernels and loops in the order they run; an epilogue may still fuse two kernels. */
  readonly kernels: Entry[]
  /** Per entry: the heaviest inline variable of a kernel, a candidate to materialise if it binds too many buffers. */
  readonly inlineVars: (Var | undefined)[]
  /** Lowers a loop body into the same tables. */
  readonly lowerBody: (body: Program, binding: BodyBinding) => Lowered
}

/** A new logical buffer; its id. */
export const addRecord = (state: Lowering, record: Omit<LogicalBuffer, 'id'>): number =>
  state.buffers.push({ id: state.buffers.length, ...record }) - 1

/** A new logical buffer that holds `v`; its id. */
export function addBuffer(scope: Scope, v: Var, role: LogicalBuffer['role'], where: string, index?: number): number {
  const id = addRecord(scope.state, {
    size: sizeOf(v.aval.shape),
    type: scalarType(v.aval.dtype, where),
    role,
    index,
  })
  scope.bufferOf.set(v, id)
  return id
}
