/**
 * Lowering: Program → kernels.
 *
 * Only a few equations need a kernel of their own (roots): matmul, the
 * reductions, scatter-add, and the outputs. Everything else (elementwise
 * maths, broadcast, reshape, transpose, slice, pad, concat, gather) is an
 * index remapping or a scalar function, and is inlined into the kernels that
 * read it: a chain of elementwise and structural ops becomes one loop over
 * the consumer's indices, reading the roots' buffers directly. A value
 * consumed by several kernels is recomputed in each (cheap elementwise work
 * in exchange for a dispatch and a buffer); within a kernel, hash-consing
 * computes it once. Matmul operands must be buffers; a transpose of the last
 * two axes or a broadcast over batch axes of a buffer is absorbed into the
 * matmul's strides instead of being materialised.
 */
import type { DType } from '../src/dtype.ts'
import { UnsupportedProgramError } from '../src/core/backend.ts'
import type { Params } from '../src/core/primitive.ts'
import { Literal, Var, innerPrograms, type Atom, type Eqn, type Program } from '../src/ir/program.ts'
import { formatAval, sizeOf } from '../src/tensor.ts'
import { stridesOf } from '../src/shape/index.ts'
import {
  ACC_SLOT,
  ExprBuilder,
  bindingCount,
  type Expr,
  type Kernel,
  type LogicalBuffer,
  type Loop,
  type LoweredProgram,
  type MatmulKernel,
  type ReduceKernel,
  type ScalarType,
  type ScheduleItem,
  type UnaryOp,
} from './kernel.ts'
import { chooseReduction, type ReductionStrategy } from './kernels/reduce.ts'

const ROOTS = new Set(['matmul', 'sum', 'reduceMax', 'scatterAdd'])
const UNARY = new Set<string>(['neg', 'exp', 'log', 'tanh', 'logistic', 'sin', 'cos', 'sqrt', 'abs', 'sign'])

export function scalarType(dtype: DType, where: string): ScalarType {
  if (dtype === 'f64')
    throw new Error(
      `WebGPU has no f64: ${where} is f64. Trace with f32 tensors, or run f64 programs on the CPU backend`,
    )
  return dtype
}

interface MatmulOperand {
  readonly source: Var
  /** Where the operand starts in the source's buffer, in elements (a run of the source's leading axis). */
  readonly from: number
  readonly trans: boolean
  readonly broadcastBatch: boolean
}

export interface LowerOptions {
  /** Storage buffers one kernel may bind (the output included). */
  readonly maxBuffers: number
  /** How to run a reduction of `count` elements into each of `outputs`; default `chooseReduction`. */
  readonly reduction?: (outputs: number, count: number) => ReductionStrategy
}

/** Primitives with a lowering: the roots, the unary functions and those inlined below. */
const LOWERED = new Set<string>([
  ...ROOTS,
  ...UNARY,
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'max',
  'compare',
  'select',
  'convert',
  'stopGradient',
  'broadcast',
  'reshape',
  'transpose',
  'slice',
  'pad',
  'concat',
  'gather',
  'scan',
])

/** What the lowering knows of one Program (the top level, or a loop body): kept across attempts, roots may grow. */
interface Analysis {
  readonly producer: Map<Var, Eqn>
  readonly roots: Set<Var>
  readonly matmulOperand: (a: Atom) => MatmulOperand | null
  readonly stored: (a: Atom) => Var | null
  readonly leadingSlice: (a: Atom) => { readonly source: Var; readonly from: number } | null
}

function analyse(program: Program): Analysis {
  const missing = program.eqns.find((e) => !LOWERED.has(e.prim))
  if (missing !== undefined)
    throw new UnsupportedProgramError(`lowering: WebGPU does not compile '${missing.prim}' yet`)
  const producer = new Map<Var, Eqn>()
  for (const e of program.eqns) for (const v of e.outputs) producer.set(v, e)
  const roots = new Set<Var>()
  for (const e of program.eqns) {
    if (ROOTS.has(e.prim)) roots.add(e.outputs[0])
    if (e.prim === 'scan') for (const v of e.outputs) roots.add(v)
  }
  for (const a of program.outputs) if (a instanceof Var && producer.has(a)) roots.add(a)
  const materialized = (v: Var) => roots.has(v) || !producer.has(v)

  // A buffer holding a's elements in row-major order: a itself, or the source of a reshape (which keeps that order).
  const stored = (a: Atom): Var | null => {
    if (!(a instanceof Var)) return null
    if (materialized(a)) return a
    const e = producer.get(a) as Eqn
    return e.prim === 'reshape' && e.inputs[0] instanceof Var && materialized(e.inputs[0]) ? e.inputs[0] : null
  }
  // A run of a value's leading axis (every other axis whole): the value and the run's first index.
  const leadingSlice = (a: Atom): { readonly source: Var; readonly from: number } | null => {
    const e = a instanceof Var ? producer.get(a) : undefined
    if (e?.prim !== 'slice' || !(e.inputs[0] instanceof Var)) return null
    const { starts, limits } = e.params as { starts: readonly number[]; limits: readonly number[] }
    const shape = e.inputs[0].aval.shape
    return starts.every((s, i) => i === 0 || s === 0) && limits.every((l, i) => i === 0 || l === shape[i])
      ? { source: e.inputs[0], from: starts[0] }
      : null
  }
  // A contiguous run of a buffer holding a's elements in row-major order: a stored value, a reshape of a run, or a
  // run of a run's leading axis.
  const run = (a: Atom): { readonly source: Var; readonly from: number } | null => {
    if (!(a instanceof Var)) return null
    if (materialized(a)) return { source: a, from: 0 }
    const e = producer.get(a) as Eqn
    if (e.prim === 'reshape') return run(e.inputs[0])
    const slice = leadingSlice(a)
    const inner = slice === null ? null : run(slice.source)
    return inner === null || slice === null
      ? null
      : { source: inner.source, from: inner.from + slice.from * sizeOf(slice.source.aval.shape.slice(1)) }
  }
  const matmulOperand = (a: Atom): MatmulOperand | null => {
    if (!(a instanceof Var)) return null
    const direct = run(a)
    if (direct !== null) return { ...direct, trans: false, broadcastBatch: false }
    const e = producer.get(a) as Eqn
    const x = e.inputs[0]
    const source = run(x)
    if (e.prim === 'transpose' && source !== null) {
      const perm = (e.params as { perm: readonly number[] }).perm
      const n = perm.length
      if (perm.every((p, i) => (i < n - 2 ? p === i : p === (i === n - 2 ? n - 1 : n - 2))))
        return { ...source, trans: true, broadcastBatch: false }
    }
    if (e.prim === 'broadcast' && x instanceof Var) {
      const inner = matmulOperand(x)
      const from = x.aval.shape
      const to = a.aval.shape
      // Only new leading (batch) axes: the matrix itself is unchanged.
      if (
        inner !== null &&
        !inner.broadcastBatch &&
        from.length === 2 &&
        to.length > 2 &&
        to[to.length - 2] === from[0] &&
        to[to.length - 1] === from[1]
      )
        return { ...inner, broadcastBatch: true }
    }
    return null
  }
  // An operand that is none of those becomes a buffer; for a reshape, its source does, so that other readers of
  // the source (e.g. the bias gradient beside a weight gradient) read that buffer instead of recomputing it, and so
  // does the source of a run of the leading axis that is at least half of it (read in place from the run's start);
  // for a transpose of the last two axes, what it transposes does (written in its own order, read transposed).
  const sourceOf = (a: Atom): Atom => {
    if (!(a instanceof Var) || materialized(a)) return a
    const from = producer.get(a)
    const slice = leadingSlice(a)
    const inner =
      from?.prim === 'reshape'
        ? from.inputs[0]
        : slice !== null && 2 * sizeOf(a.aval.shape) >= sizeOf(slice.source.aval.shape)
          ? slice.source
          : a
    return inner === a ? a : sourceOf(inner)
  }
  for (const e of program.eqns)
    if (e.prim === 'matmul')
      for (const a of e.inputs) {
        if (!(a instanceof Var) || matmulOperand(a) !== null) continue
        const from = producer.get(a)
        const perm = from?.prim === 'transpose' ? (from.params as { perm: readonly number[] }).perm : undefined
        const swapsLastTwo =
          perm !== undefined &&
          perm.every((p, i) =>
            i < perm.length - 2 ? p === i : p === (i === perm.length - 2 ? perm.length - 1 : perm.length - 2),
          )
        const inner = swapsLastTwo ? sourceOf((from as Eqn).inputs[0]) : null
        roots.add((inner instanceof Var && producer.has(inner) ? inner : sourceOf(a)) as Var)
      }
  // A loop binds its operands' buffers (a reshape's source keeps the row-major order); an xs that is a run of
  // the leading axis of a value is a view of that value's buffer.
  for (const e of program.eqns)
    if (e.prim === 'scan') {
      const { numConsts, numCarry } = e.params as Params<'scan'>
      e.inputs.forEach((a, i) => {
        if (!(a instanceof Var) || stored(a) !== null) return
        const run = i >= numConsts + numCarry ? leadingSlice(a) : null
        roots.add(run === null ? a : (stored(run.source) ?? run.source))
      })
    }
  return { producer, roots, matmulOperand, stored, leadingSlice }
}

/**
 * How a loop body's inputs and outputs are bound: buffers for its inputs, and
 * what its outputs become; `sameAs`: the output is the same variable as that
 * earlier one (a y that is a carry), so the kernel that computes the earlier
 * one stores it too.
 */
interface BodyBinding {
  readonly inputs: readonly number[]
  readonly output: (i: number) => Pick<LogicalBuffer, 'role' | 'of' | 'loop'> & { readonly sameAs?: number }
}

/** The state of one attempt at lowering: every Program's buffers and kernels go into one table. */
interface Lowering {
  readonly options: LowerOptions
  readonly analyses: Map<Program, Analysis>
  readonly buffers: LogicalBuffer[]
  readonly kernels: Kernel[]
  readonly loops: Loop[]
  readonly b: ExprBuilder
  /** The first kernel found binding too many buffers, with the inline variable to materialise instead. */
  over: { readonly analysis: Analysis; readonly kernel: Kernel; readonly candidate: Var | undefined } | null
}

export function lower(program: Program, options: LowerOptions): LoweredProgram {
  const analyses = new Map<Program, Analysis>()
  const eqnCount = (p: Program): number =>
    p.eqns.reduce((n, e) => n + 1 + innerPrograms(e).reduce((m, q) => m + eqnCount(q), 0), 0)
  // Split kernels that would bind more buffers than the adapter allows.
  for (let attempt = 0; ; attempt++) {
    const state: Lowering = { options, analyses, buffers: [], kernels: [], loops: [], b: new ExprBuilder(), over: null }
    const top = build(state, program, null)
    if (state.over === null)
      return {
        buffers: state.buffers,
        kernels: state.kernels,
        schedule: top.schedule,
        loops: state.loops,
        outputs: top.outputs,
        outputShapes: program.outputs.map((a) => a.aval.shape),
      }
    const { analysis, kernel, candidate } = state.over
    if (candidate === undefined || attempt > eqnCount(program))
      throw new Error(
        `lowering: a kernel needs ${bindingCount(kernel)} storage buffers, more than the adapter's ${options.maxBuffers}`,
      )
    analysis.roots.add(candidate)
  }
}

/** A loop among a Program's kernels while they are fused: it reads `inputs` and writes no kernel's output. */
interface LoopEntry {
  readonly kind: 'loop'
  readonly loop: number
  readonly inputs: readonly number[]
  readonly output: -1
}
type Entry = Kernel | LoopEntry

/** Lowers one Program (the top level, or a loop body under `binding`) into the shared tables; its schedule and output buffers. */
function build(
  state: Lowering,
  program: Program,
  binding: BodyBinding | null,
): { schedule: ScheduleItem[]; outputs: number[] } {
  let analysis = state.analyses.get(program)
  if (analysis === undefined) state.analyses.set(program, (analysis = analyse(program)))
  const { producer, roots, matmulOperand, stored, leadingSlice } = analysis
  const { options, buffers, b } = state
  const bufferOf = new Map<Var, number>()
  const addRecord = (record: Omit<LogicalBuffer, 'id'>) => buffers.push({ id: buffers.length, ...record }) - 1
  const addBuffer = (v: Var, role: LogicalBuffer['role'], where: string, index?: number) => {
    const id = addRecord({ size: sizeOf(v.aval.shape), type: scalarType(v.aval.dtype, where), role, index })
    bufferOf.set(v, id)
    return id
  }
  if (binding === null) program.inputs.forEach((v, i) => addBuffer(v, 'input', `input ${i}`, i))
  else program.inputs.forEach((v, i) => bufferOf.set(v, binding.inputs[i]))
  program.constVars.forEach((v, i) => addBuffer(v, 'const', `captured constant ${i} (${formatAval(v.aval)})`, i))

  const kernels: Entry[] = []
  const inlineVars: (Var | undefined)[] = []
  const choose = options.reduction ?? chooseReduction

  /**
   * A reduction as its strategy runs it. Split into parts: the first kernel
   * reduces chunk g of output o's elements (flat reduced index g·chunk + j)
   * into part[o, g], from the identity; the second reduces the parts from
   * init. Each kernel binds only the inputs its expressions load from.
   */
  const reduction = (kernel: ReduceKernel): readonly ReduceKernel[] => {
    const count = sizeOf(kernel.reduced)
    const type = kernel.init.t
    const strategy = type === 'bool' ? {} : choose(sizeOf(kernel.shape), count)
    const workgroup = strategy.workgroup === undefined ? {} : { workgroup: strategy.workgroup }
    const parts = Math.min(strategy.parts ?? 1, Math.ceil(count / 2))
    if (parts <= 1) return [{ ...kernel, ...workgroup }]
    const chunk = Math.ceil(count / parts)
    const rank = kernel.shape.length
    const flat = b.bin('add', b.bin('mul', b.idx(`o${rank}`), b.lit(chunk, 'i32')), b.idx('r0'))
    const padded = chunk * parts > count
    const at = padded ? b.bin('min', flat, b.lit(count - 1, 'i32')) : flat
    const strides = stridesOf(kernel.reduced)
    const from = kernel.reduced.map((d, i) =>
      d === 1 ? b.lit(0, 'i32') : b.bin('mod', b.bin('div', at, b.lit(strides[i], 'i32')), b.lit(d, 'i32')),
    )
    const element = b.rewrite(kernel.body, {
      idx: (name) => (name.startsWith('r') ? from[Number(name.slice(1))] : undefined),
    })
    const unit = b.lit(kernel.op === 'sum' ? 0 : type === 'i32' ? -(2 ** 31) : -Infinity, type)
    const [partInputs, [partBody]] = compactSlots(b, kernel.inputs, [
      padded ? b.sel(b.cmp('lt', flat, b.lit(count, 'i32')), element, unit) : element,
    ])
    const partShape = [...kernel.shape, parts]
    const part = buffers.length
    buffers.push({ id: part, size: sizeOf(partShape), type, role: 'temp' })
    const partStrides = stridesOf(partShape)
    const ofPart = b.load(
      kernel.inputs.length,
      b.affine(
        [...kernel.shape.map((_, i) => b.idx(`o${i}`)), b.idx('r0')].map(
          (e, i) => [partShape[i] === 1 ? b.lit(0, 'i32') : e, partStrides[i]] as const,
        ),
      ),
      type,
    )
    const [finalInputs, [init, body]] = compactSlots(b, [...kernel.inputs, part], [kernel.init, ofPart])
    return [
      {
        ...kernel,
        inputs: partInputs,
        output: part,
        shape: partShape,
        reduced: [chunk],
        init: unit,
        body: partBody,
        ...workgroup,
      },
      ...reduction({
        kind: 'reduce',
        op: kernel.op,
        inputs: finalInputs,
        output: kernel.output,
        shape: kernel.shape,
        reduced: [parts],
        init,
        body,
      }),
    ]
  }

  const emit = (root: Var, record: Pick<LogicalBuffer, 'role' | 'index' | 'of' | 'loop'>) => {
    const inputs: number[] = []
    const slot = (buf: number) => {
      let s = inputs.indexOf(buf)
      if (s < 0) s = inputs.push(buf) - 1
      return s
    }
    // The heaviest inline variable of this kernel, a candidate to materialise if it binds too many buffers.
    let heaviest: Var | undefined
    let heaviestLoads = -1
    const memo = new Map<string, Expr>()
    const exprOf = (a: Atom, index: readonly Expr[]): Expr => {
      if (a instanceof Literal) {
        const t = scalarType(a.aval.dtype, 'a literal')
        return b.lit(a.value.toConcrete().values[0], t)
      }
      const t = scalarType(a.aval.dtype, formatAval(a.aval))
      const shape = a.aval.shape
      if (a !== root && (roots.has(a) || !producer.has(a))) {
        const strides = stridesOf(shape)
        const offset = b.affine(index.map((e, i) => [shape[i] === 1 ? b.lit(0, 'i32') : e, strides[i]] as const))
        return b.load(slot(bufferOf.get(a) as number), offset, t)
      }
      const key = `${program.eqns.indexOf(producer.get(a) as Eqn)}:${index.map((e) => e.id).join(',')}`
      const known = memo.get(key)
      if (known !== undefined) return known
      const before = inputs.length
      const e = inline(producer.get(a) as Eqn, index)
      if (a !== root && inputs.length - before > heaviestLoads) {
        heaviestLoads = inputs.length - before
        heaviest = a
      }
      memo.set(key, e)
      return e
    }

    const inline = (eqn: Eqn, index: readonly Expr[]): Expr => {
      const [x, y, z] = eqn.inputs
      const p = eqn.params as Record<string, unknown>
      const out = eqn.outputs[0]
      const t = scalarType(out.aval.dtype, formatAval(out.aval))
      if (UNARY.has(eqn.prim)) return b.un(eqn.prim as UnaryOp, exprOf(x, index))
      switch (eqn.prim) {
        case 'add':
        case 'sub':
        case 'mul':
        case 'div':
        case 'pow':
        case 'max':
          return b.bin(eqn.prim, exprOf(x, index), exprOf(y, index))
        case 'compare':
          return b.cmp(p.op as never, exprOf(x, index), exprOf(y, index))
        case 'select':
          return b.sel(exprOf(x, index), exprOf(y, index), exprOf(z, index))
        case 'convert':
          return b.cast(exprOf(x, index), t)
        case 'stopGradient':
          return exprOf(x, index)
        case 'broadcast': {
          const from = x.aval.shape
          const lead = index.length - from.length
          return exprOf(
            x,
            from.map((d, i) => (d === 1 ? b.lit(0, 'i32') : index[lead + i])),
          )
        }
        case 'reshape':
          return exprOf(x, reshapeIndex(b, index, out.aval.shape, x.aval.shape))
        case 'transpose': {
          const perm = p.perm as readonly number[]
          const from: Expr[] = new Array(perm.length)
          perm.forEach((q, i) => (from[q] = index[i]))
          return exprOf(x, from)
        }
        case 'slice': {
          const starts = p.starts as readonly number[]
          return exprOf(
            x,
            index.map((e, i) => b.bin('add', e, b.lit(starts[i], 'i32'))),
          )
        }
        case 'pad': {
          const lo = p.lo as readonly number[]
          const from = index.map((e, i) => b.bin('sub', e, b.lit(lo[i], 'i32')))
          let inside: Expr = b.lit(1, 'bool')
          x.aval.shape.forEach((d, i) => {
            if (d === out.aval.shape[i]) return
            const ok = b.sel(
              b.cmp('ge', from[i], b.lit(0, 'i32')),
              b.cmp('lt', from[i], b.lit(d, 'i32')),
              b.lit(0, 'bool'),
            )
            inside = inside.k === 'lit' ? ok : b.sel(inside, ok, b.lit(0, 'bool'))
          })
          return b.sel(inside, exprOf(x, from), b.lit(0, t))
        }
        case 'concat': {
          const axis = p.axis as number
          let offset = 0
          const parts = eqn.inputs.map((part) => {
            const start = offset
            offset += part.aval.shape[axis]
            return { part, start, end: offset }
          })
          let result: Expr | null = null
          for (const { part, start, end } of parts.reverse()) {
            const from = index.map((e, i) => (i === axis ? b.bin('sub', e, b.lit(start, 'i32')) : e))
            const value = exprOf(part, from)
            result = result === null ? value : b.sel(b.cmp('lt', index[axis], b.lit(end, 'i32')), value, result)
          }
          return result as Expr
        }
        case 'gather': {
          const axis = p.axis as number
          const ni = y.aval.shape.length
          const which = b.cast(exprOf(y, index.slice(axis, axis + ni)), 'i32')
          return exprOf(x, [...index.slice(0, axis), which, ...index.slice(axis + ni)])
        }
        default:
          throw new UnsupportedProgramError(`lowering: WebGPU does not compile '${eqn.prim}' yet`)
      }
    }

    const eqn = producer.get(root) as Eqn
    const outType = scalarType(root.aval.dtype, formatAval(root.aval))
    const output = addRecord({ size: sizeOf(root.aval.shape), type: outType, ...record })
    const shape = root.aval.shape
    const o = shape.map((_, i) => b.idx(`o${i}`))
    let kernel: Kernel | readonly Kernel[]
    if (eqn.prim === 'matmul') {
      const [A, B] = eqn.inputs.map((a) => matmulOperand(a) as MatmulOperand)
      const r = shape.length
      const [m, n] = shape.slice(r - 2)
      const k = eqn.inputs[0].aval.shape[r - 1]
      const batch = sizeOf(shape.slice(0, r - 2))
      kernel = {
        kind: 'matmul',
        inputs: [bufferOf.get(A.source) as number, bufferOf.get(B.source) as number],
        output,
        batch,
        m,
        n,
        k,
        transA: A.trans,
        transB: B.trans,
        startA: A.from,
        startB: B.from,
        batchStrideA: A.broadcastBatch ? 0 : m * k,
        batchStrideB: B.broadcastBatch ? 0 : k * n,
      }
    } else if (eqn.prim === 'sum' || eqn.prim === 'reduceMax') {
      const axes = (eqn.params as { axes: readonly number[] }).axes
      const x = eqn.inputs[0]
      const reduced = axes.map((a) => x.aval.shape[a])
      const from: Expr[] = []
      let oi = 0
      x.aval.shape.forEach((_, i) => from.push(axes.includes(i) ? b.idx(`r${axes.indexOf(i)}`) : o[oi++]))
      const body = exprOf(x, from)
      const init = b.lit(eqn.prim === 'sum' ? 0 : outType === 'i32' ? -(2 ** 31) : -Infinity, outType)
      kernel = reduction({
        kind: 'reduce',
        op: eqn.prim === 'sum' ? 'sum' : 'max',
        inputs,
        output,
        shape,
        reduced,
        init,
        body,
      })
    } else if (eqn.prim === 'scatterAdd') {
      const axis = (eqn.params as { axis: number }).axis
      const [x, idx, upd] = eqn.inputs
      const ni = idx.aval.shape.length
      const r = idx.aval.shape.map((_, i) => b.idx(`r${i}`))
      const init = exprOf(x, o)
      const hit = b.cmp('eq', b.cast(exprOf(idx, r), 'i32'), o[axis])
      const body = b.sel(hit, exprOf(upd, [...o.slice(0, axis), ...r, ...o.slice(axis + 1)]), b.lit(0, outType))
      const reduced = idx.aval.shape.slice(0, ni)
      kernel = reduction({ kind: 'reduce', op: 'sum', inputs, output, shape, reduced, init, body })
    } else {
      kernel = { kind: 'map', inputs, output, shape, value: exprOf(root, o) }
    }
    for (const k of Array.isArray(kernel) ? kernel : [kernel]) {
      kernels.push(k)
      inlineVars.push(heaviest)
    }
    bufferOf.set(root, output)
  }

  /** A copy of `a` into a new buffer (an input, constant or literal that must be a buffer of its own). */
  const copyOf = (a: Atom, record: Pick<LogicalBuffer, 'role' | 'index' | 'of' | 'loop'>) => {
    const copy = new Var(a.aval)
    producer.set(copy, { prim: 'stopGradient', inputs: [a], params: {}, outputs: [copy] })
    emit(copy, record)
    return bufferOf.get(copy) as number
  }

  /**
   * A scan: its body lowered once into kernels that run at every step, its
   * xs read and its ys written through views of the stacked buffers, each
   * carry alternating between its result buffer and a spare.
   */
  const emitLoop = (eqn: Eqn<'scan'>) => {
    const { body, length, reverse, numConsts: nC, numCarry: nK } = eqn.params
    if (length === 0) throw new UnsupportedProgramError('lowering: WebGPU does not compile a scan of length 0')
    // Its index, taken now: the loops in its body come first in the table.
    const loop = state.loops.push(null as unknown as Loop) - 1
    // An xs that is a run of another value's leading axis: that value's buffer, from the run's first slice on. In a
    // loop body, a const or init that is one step's slice of an enclosing loop's value is copied (a carry or const
    // is bound as a whole buffer).
    const offsets = eqn.inputs.map(() => 0)
    const operands = eqn.inputs.map((a, i) => {
      const source = stored(a)
      if (source !== null && (i >= nC + nK || buffers[bufferOf.get(source) as number].role !== 'view'))
        return bufferOf.get(source) as number
      if (source !== null) return copyOf(a, { role: 'temp' })
      const run = i >= nC + nK ? leadingSlice(a) : null
      const whole = run === null ? null : stored(run.source)
      if (run === null || whole === null) return copyOf(a, { role: 'temp' })
      offsets[i] = run.from * sizeOf(a.aval.shape.slice(1))
      return bufferOf.get(whole) as number
    })
    const bodyInputs = body.inputs.map((v, i) => {
      const record = { size: sizeOf(v.aval.shape), type: scalarType(v.aval.dtype, `scan operand ${i}`) }
      if (i < nC) return operands[i]
      if (i < nC + nK) return addRecord({ ...record, role: 'carry' })
      return addRecord({ ...record, role: 'view', of: operands[i], offset: offsets[i], loop })
    })
    const results = eqn.outputs.map((v, i) => addBuffer(v, 'temp', `scan output ${i}`))
    const sameAs = (i: number) => {
      const k = body.outputs.indexOf(body.outputs[i])
      return k < nK && k < i ? k : undefined
    }
    const inner = build(state, body, {
      inputs: bodyInputs,
      output: (i) => (i < nK ? { role: 'carry' } : { role: 'view', of: results[i], loop, sameAs: sameAs(i) }),
    })
    const carries = results.slice(0, nK).map((result, k) => ({
      read: bodyInputs[nC + k],
      write: inner.outputs[k],
      init: operands[nC + k],
      result,
      spare: addRecord({ size: buffers[result].size, type: buffers[result].type, role: 'temp' }),
    }))
    state.loops[loop] = { length, reverse, body: inner.schedule, carries }
    kernels.push({ kind: 'loop', loop, inputs: operands, output: -1 })
    inlineVars.push(undefined)
  }

  for (const e of program.eqns) {
    const v = e.outputs[0]
    if (e.prim === 'scan') emitLoop(e as Eqn<'scan'>)
    else if (roots.has(v)) emit(v, { role: 'temp' })
  }
  // Outputs: every output gets a buffer of its own (a root computed above is relabelled; an input, constant or literal
  // is copied). A loop body's outputs are its carries and views of its ys.
  const outputs: number[] = []
  program.outputs.forEach((a, i) => outputs.push(outputBuffer(a, i)))
  function outputBuffer(a: Atom, i: number): number {
    const { sameAs, ...record } = binding === null ? { role: 'output' as const, index: i } : binding.output(i)
    // The kernel that writes the earlier output stores this one too (where it has no second output yet).
    const writer =
      sameAs === undefined
        ? -1
        : kernels.findIndex((k) => k.output === outputs[sameAs] && k.kind !== 'loop' && k.also === undefined)
    if (writer >= 0) {
      const also = addRecord({
        size: sizeOf(a.aval.shape),
        type: scalarType(a.aval.dtype, formatAval(a.aval)),
        ...record,
      })
      kernels[writer] = { ...(kernels[writer] as Kernel), also }
      return also
    }
    if (a instanceof Var && roots.has(a) && producer.has(a)) {
      const id = bufferOf.get(a) as number
      const prev = buffers[id]
      if (prev.role === 'temp') {
        buffers[id] = { ...prev, ...record }
        return id
      }
    }
    return copyOf(a, record)
  }
  fuseEpilogues(b, kernels, inlineVars, buffers, options.maxBuffers)
  const schedule = kernels.map((k, i): ScheduleItem => {
    if (k.kind === 'loop') return { loop: k.loop }
    if (bindingCount(k) > options.maxBuffers && state.over === null)
      state.over = { analysis, kernel: k, candidate: inlineVars[i] }
    return { kernel: state.kernels.push(k) - 1 }
  })
  return { schedule, outputs }
}

/**
 * Epilogues: an elementwise (map) kernel that reads the result of a matmul or
 * reduce kernel only at its own index, where no other kernel reads that
 * result, is computed by the producer as it stores each element (bias,
 * activation, an SGD update; mean = sum·(1/n), the log of logsumexp, a
 * normaliser), saving a dispatch and the result's buffer. The fused kernel
 * runs where the map kernel ran (after every kernel the map reads), with the
 * map's output and its other inputs.
 */
function fuseEpilogues(
  b: ExprBuilder,
  kernels: Entry[],
  inlineVars: (Var | undefined)[],
  buffers: readonly LogicalBuffer[],
  maxBuffers: number,
): void {
  for (let i = 0; i < kernels.length; i++) {
    const k = kernels[i]
    if (k.kind !== 'map') continue
    const strides = stridesOf(k.shape)
    const identity = b.affine(k.shape.map((d, j) => [d === 1 ? b.lit(0, 'i32') : b.idx(`o${j}`), strides[j]] as const))
    for (const [slot, buf] of k.inputs.entries()) {
      const at = kernels.findIndex(
        (q) => (q.kind === 'matmul' || q.kind === 'reduce') && q.output === buf && q.epilogue === undefined,
      )
      if (at < 0 || buffers[buf].role !== 'temp') continue
      const producer = kernels[at] as MatmulKernel | ReduceKernel
      if (!epilogueFits(producer, k.shape, buffers[k.output].type)) continue
      if (kernels.some((q, j) => j !== i && q.inputs.includes(buf)) || !readsOnlyAt(k.value, slot, identity)) continue
      // The fused kernel's inputs: the producer's, then the map's others. A
      // matmul names its own operands A and B, so its extra inputs start at 2.
      const inputs = [...producer.inputs]
      const firstExtra = producer.kind === 'matmul' ? 2 : 0
      const slotOf = (s: number) => {
        const at = inputs.indexOf(k.inputs[s], firstExtra)
        return at >= 0 ? at : inputs.push(k.inputs[s]) - 1
      }
      // A reduce kernel's epilogue is written over the reduce kernel's own
      // indices (the map's shape may differ from it in axes of size 1).
      const index =
        producer.kind === 'reduce' && !sameDims(producer.shape, k.shape)
          ? reshapeIndex(
              b,
              producer.shape.map((_, j) => b.idx(`o${j}`)),
              producer.shape,
              k.shape,
            )
          : undefined
      const value = b.rewrite(k.value, {
        idx: index && ((name) => index[Number(name.slice(1))]),
        load: (s, offset, t) => (s === slot ? b.load(ACC_SLOT, b.lit(0, 'i32'), t) : b.load(slotOf(s), offset, t)),
      })
      if (bindingCount({ inputs, output: k.output, also: k.also }) > maxBuffers) continue
      const shape = producer.kind === 'reduce' ? producer.shape : k.shape
      kernels[i] = { ...producer, inputs, output: k.output, also: k.also, epilogue: { value, shape } }
      kernels.splice(at, 1)
      inlineVars.splice(at, 1)
      if (at < i) i--
      break
    }
  }
}

/** Whether a map kernel over `shape`, storing `type`, can be the epilogue of `producer`. */
function epilogueFits(producer: MatmulKernel | ReduceKernel, shape: readonly number[], type: ScalarType): boolean {
  if (producer.kind === 'reduce') return sizeOf(shape) === sizeOf(producer.shape)
  // A matmul stores f32 (C is array<f32>); the map runs over its elements in their order, in any shape of that size.
  return type === 'f32' && sizeOf(shape) === producer.batch * producer.m * producer.n
}

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])

/** Whether every load from `slot` in `e` is at `offset`. */
function readsOnlyAt(e: Expr, slot: number, offset: Expr, seen = new Set<number>()): boolean {
  if (seen.has(e.id)) return true
  seen.add(e.id)
  switch (e.k) {
    case 'load':
      return e.slot === slot ? e.offset === offset : readsOnlyAt(e.offset, slot, offset, seen)
    case 'un':
    case 'cast':
      return readsOnlyAt(e.a, slot, offset, seen)
    case 'bin':
    case 'cmp':
      return readsOnlyAt(e.a, slot, offset, seen) && readsOnlyAt(e.b, slot, offset, seen)
    case 'sel':
      return (
        readsOnlyAt(e.c, slot, offset, seen) &&
        readsOnlyAt(e.a, slot, offset, seen) &&
        readsOnlyAt(e.b, slot, offset, seen)
      )
    default:
      return true
  }
}

/** The inputs that `exprs` load from, in order of first use, and the expressions with their slots renumbered to match. */
function compactSlots(b: ExprBuilder, inputs: readonly number[], exprs: readonly Expr[]): [number[], Expr[]] {
  const kept: number[] = []
  const memo = new Map<number, Expr>()
  const renumbered = exprs.map((e) =>
    b.rewrite(
      e,
      {
        load: (slot, offset, t) => {
          let s = kept.indexOf(inputs[slot])
          if (s < 0) s = kept.push(inputs[slot]) - 1
          return b.load(s, offset, t)
        },
      },
      memo,
    ),
  )
  return [kept, renumbered]
}

/** The source index of a reshape: through the flat offset, or axis by axis when only size-1 axes change. */
function reshapeIndex(
  b: ExprBuilder,
  index: readonly Expr[],
  outShape: readonly number[],
  inShape: readonly number[],
): Expr[] {
  const outBig = outShape.flatMap((d, i) => (d === 1 ? [] : [i]))
  const inBig = inShape.flatMap((d, i) => (d === 1 ? [] : [i]))
  if (outBig.length === inBig.length && outBig.every((i, j) => outShape[i] === inShape[inBig[j]])) {
    const from = inShape.map(() => b.lit(0, 'i32'))
    inBig.forEach((i, j) => (from[i] = index[outBig[j]]))
    return from
  }
  const flat = b.affine(index.map((e, i) => [e, stridesOf(outShape)[i]] as const))
  const inStrides = stridesOf(inShape)
  // The first axis needs no remainder: flat / its stride is below its size.
  return inShape.map((d, i) => {
    if (d === 1) return b.lit(0, 'i32')
    const q = b.bin('div', flat, b.lit(inStrides[i], 'i32'))
    return i === inBig[0] ? q : b.bin('mod', q, b.lit(d, 'i32'))
  })
}
