/**
 * Analysis: which values of a Program get a buffer of their own (roots) and
 * how the kernels that need buffers can read them in place.
 *
 * Only a few equations need a kernel of their own: the heavy ones (matmul,
 * the reductions, scatter-add), the loops, and the outputs. Everything else
 * is inlined into the kernels that read it. Matmul operands and loop
 * operands must be buffers: a run of a buffer's leading axis, a reshape (same
 * row-major order), a transpose of the last two axes or a broadcast over batch
 * axes is read in place through the matmul's strides and offsets, any other
 * rearrangement of a stored value (a convolution's windows, windows.ts)
 * through the strides of its digits, and anything else is made a root (or,
 * where it rearranges a smaller value, that value is). The analysis of a
 * Program is kept across attempts at lowering it, and its roots may grow
 * between them.
 */
import { UnsupportedProgramError, isHeavy, type Params } from '../../src/core/index.ts'
import { type Atom, type Eqn, type Program, Var } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import { loweringOf } from './rules.ts'
import type { Analysis, MatmulOperand } from './state.ts'
import { normalDigits, windowOf } from './windows.ts'

/** Whether a transpose's permutation swaps the last two axes and keeps the others. */
const swapsLastTwo = (perm: readonly number[]): boolean =>
  perm.every((p, i) =>
    i < perm.length - 2 ? p === i : p === (i === perm.length - 2 ? perm.length - 1 : perm.length - 2),
  )

/** Loads an element of a value takes, from which it is stored rather than computed again for each repeat. */
const REPEATED_LOADS = 4

export function analyse(program: Program): Analysis {
  for (const e of program.eqns)
    if (loweringOf(e).kind === 'unsupported')
      throw new UnsupportedProgramError(`lowering: WebGPU does not compile '${e.prim}' yet`)
  const producer = new Map<Var, Eqn>()
  for (const e of program.eqns) for (const v of e.outputs) producer.set(v, e)
  const roots = new Set<Var>()
  for (const e of program.eqns) {
    if (isHeavy(e.prim)) roots.add(e.outputs[0])
    const kind = loweringOf(e).kind
    if (kind === 'loop' || kind === 'branch') for (const v of e.outputs) roots.add(v)
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
    const { starts, limits } = e.params as Params<'slice'>
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
  // An operand read through a window of the value it rearranges (windows.ts). That value is stored for it where it
  // is smaller than the operand (a convolution's windows of its padded input), and a stored one is read in place.
  const windowOperand = (a: Atom): MatmulOperand | null => {
    const w = windowOf(a, producer, materialized)
    const r = a.aval.shape.length
    if (w === null || r < 2) return null
    const window = {
      batch: normalDigits(w.axes.slice(0, r - 2).flat()),
      rows: normalDigits(w.axes[r - 2]),
      cols: normalDigits(w.axes[r - 1]),
    }
    return { source: w.source, from: w.from, trans: false, broadcastBatch: false, window }
  }
  const matmulOperand = (a: Atom): MatmulOperand | null => {
    if (!(a instanceof Var)) return null
    const direct = run(a)
    if (direct !== null) return { ...direct, trans: false, broadcastBatch: false }
    const e = producer.get(a) as Eqn
    const x = e.inputs[0]
    const source = run(x)
    if (e.prim === 'transpose' && source !== null && swapsLastTwo((e.params as Params<'transpose'>).perm))
      return { ...source, trans: true, broadcastBatch: false }
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
    const window = windowOperand(a)
    return window !== null && materialized(window.source) ? window : null
  }
  const smaller = (w: MatmulOperand, a: Atom) => sizeOf(w.source.aval.shape) < sizeOf(a.aval.shape)
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
        const window = windowOperand(a)
        if (window !== null && smaller(window, a)) {
          roots.add(window.source)
          continue
        }
        const from = producer.get(a)
        const transposed = from?.prim === 'transpose' && swapsLastTwo((from.params as Params<'transpose'>).perm)
        const inner = transposed ? sourceOf((from as Eqn).inputs[0]) : null
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
  // A value read through a broadcast that repeats each of its elements, where computing one element takes several
  // loads, is stored once rather than computed again for every repeat: a convolution's input gradient, added back
  // from its windows (nine loads a 3×3 kernel), then spread over the 2×2 pooling window that it flows back through.
  const loads = new Map<Var, number>()
  const loadsOf = (a: Atom): number => {
    if (!(a instanceof Var)) return 0
    if (materialized(a)) return 1
    const known = loads.get(a)
    if (known !== undefined) return known
    const e = producer.get(a) as Eqn
    const parts = e.inputs.map(loadsOf)
    // (A concatenation's element reads one of its parts.)
    const n = e.prim === 'concat' ? Math.max(...parts) : parts.reduce((x, y) => x + y, 0)
    loads.set(a, n)
    return n
  }
  for (const e of program.eqns) {
    let [x] = e.inputs
    if (
      e.prim === 'broadcast' &&
      x instanceof Var &&
      !materialized(x) &&
      sizeOf(e.outputs[0].aval.shape) >= 2 * sizeOf(x.aval.shape) &&
      loadsOf(x) >= REPEATED_LOADS
    ) {
      // (The value before any reshape, so that its other readers read the same buffer.)
      for (let from = producer.get(x); from?.prim === 'reshape'; from = producer.get(x)) {
        const [inner] = from.inputs
        if (!(inner instanceof Var) || materialized(inner)) break
        x = inner
      }
      roots.add(x)
      loads.clear()
    }
  }
  return { producer, roots, matmulOperand, stored, leadingSlice }
}
