/**
 * Lowering rules, one per primitive, in a table exhaustive in the primitive
 * type (like the library's other rule tables): a primitive added without its
 * lowering does not compile. What a rule is follows from the primitive's kind
 * (src/core/primitive.ts): an elementwise or structural primitive is an
 * expression for one output element, inlined into the kernels that read it;
 * a heavy one (contraction, reduction, scatter) is a kernel of its own; a loop
 * is lowered with its body (loops.ts). A primitive WebGPU cannot compile
 * says so with an `unsupported` rule, and the lowering refuses the Program.
 */
import type { Params, Primitive, UnaryPrimitive, primitiveKinds } from '../../src/core/index.ts'
import type { Atom, Eqn, Var } from '../../src/ir/index.ts'
import { stridesOf } from '../../src/shape/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import type { BinaryOp, Expr, ExprBuilder, Kernel, ReduceKernel, ScalarType } from '../kernel.ts'
import { reshapeIndex } from './indexing.ts'
import type { MatmulOperand } from './state.ts'

/** What a rule sees of the element it computes. */
interface ElementContext {
  readonly b: ExprBuilder
  /** The equation's operands. */
  readonly inputs: readonly Atom[]
  /** The output's element type. */
  readonly type: ScalarType
  /** The output element's index, one expression per axis. */
  readonly index: readonly Expr[]
  /** The element of `a` at `index`: a load from its buffer, or its producer inlined in turn. */
  readonly expr: (a: Atom, index: readonly Expr[]) => Expr
}

/** An inlined equation: the expression for one element of its output. */
export interface InlineContext extends ElementContext {
  readonly output: Var
}

/** A heavy equation: its kernel, whose loads go to the input buffers in `reads`. */
export interface KernelContext extends ElementContext {
  /** The root's shape (the index ranges over it). */
  readonly shape: readonly number[]
  /** The kernel's input buffers, in slot order; `expr` adds those it loads from. */
  readonly reads: readonly number[]
  readonly output: number
  /** A matmul operand read in place (the analysis made every matmul operand one). */
  readonly matmulOperand: (a: Atom) => MatmulOperand
  readonly bufferOf: (v: Var) => number
  /** The reduction as its strategy runs it: one kernel, or a split into parts. */
  readonly reduction: (kernel: ReduceKernel) => readonly ReduceKernel[]
  /** A new temporary buffer of `size` elements, for a rule that runs more than one kernel; its id. */
  readonly temp: (size: number, type: ScalarType) => number
}

interface InlineRule<P extends Primitive> {
  readonly kind: 'inline'
  readonly inline: (cx: InlineContext, params: Params<P>) => Expr
}
interface KernelRule<P extends Primitive> {
  readonly kind: 'kernel'
  readonly kernel: (cx: KernelContext, params: Params<P>) => Kernel | readonly Kernel[]
}
interface LoopRule {
  readonly kind: 'loop'
}
/**
 * Rewritten into other primitives before lowering (expand.ts): a call of a
 * Program is inlined, a cond becomes its branches and a select. It never
 * reaches a kernel.
 */
interface ExpandRule {
  readonly kind: 'expand'
}
/**
 * A cond or a bounded whileLoop at the top level: lowered with gates that
 * choose on the device what runs, dispatched indirectly (branches.ts).
 */
interface BranchRule {
  readonly kind: 'branch'
}
interface UnsupportedRule {
  readonly kind: 'unsupported'
}

/** The rule each kind of primitive takes: inlined, a kernel of its own (isHeavy), or a loop. */
interface RuleOfKind<P extends Primitive> {
  readonly unary: InlineRule<P>
  readonly elementwise: InlineRule<P>
  readonly structural: InlineRule<P>
  readonly contraction: KernelRule<P>
  readonly reduction: KernelRule<P>
  readonly scatter: KernelRule<P>
  readonly sort: KernelRule<P>
  readonly random: InlineRule<P>
  readonly call: ExpandRule
  readonly control: LoopRule | ExpandRule | BranchRule
}
/**
 * A primitive's rule: the one its kind takes, or `unsupported`. (A new kind of
 * primitive needs an entry in RuleOfKind: the index does not compile without.)
 */
export type LoweringRule<P extends Primitive> = RuleOfKind<P>[(typeof primitiveKinds)[P]] | UnsupportedRule

const unary = <P extends UnaryPrimitive>(op: P): InlineRule<P> => ({
  kind: 'inline',
  inline: ({ b, inputs: [x], index, expr }) => b.un(op, expr(x, index)),
})
const binary = <P extends BinaryOp & Primitive>(op: P): InlineRule<P> => ({
  kind: 'inline',
  inline: ({ b, inputs: [x, y], index, expr }) => b.bin(op, expr(x, index), expr(y, index)),
})
const reduce = <P extends 'sum' | 'reduceMax'>(op: 'sum' | 'max'): KernelRule<P> => ({
  kind: 'kernel',
  kernel: ({ b, inputs: [x], type, index: o, expr, reads, output, shape, reduction }, { axes }) => {
    const reduced = axes.map((a) => x.aval.shape[a])
    const from: Expr[] = []
    let oi = 0
    x.aval.shape.forEach((_, i) => from.push(axes.includes(i) ? b.idx(`r${axes.indexOf(i)}`) : o[oi++]))
    const body = expr(x, from)
    const init = b.lit(op === 'sum' ? 0 : type === 'i32' ? -(2 ** 31) : -Infinity, type)
    return reduction({ kind: 'reduce', op, inputs: reads, output, shape, reduced, init, body })
  },
})

/** `index` with its entry at `axis` replaced by `at`. */
const along = (index: readonly Expr[], axis: number, at: Expr) => index.map((e, i) => (i === axis ? at : e))

/**
 * Whether a comes strictly before b in ascending order with NaN last (a NaN
 * test is x ≠ x, which the renderer emits as a test of the bits).
 */
function sortsBefore(b: ExprBuilder, x: Expr, y: Expr): Expr {
  const isNan = (e: Expr) => b.cmp('ne', e, e)
  const no = b.lit(0, 'bool')
  const yes = b.lit(1, 'bool')
  return b.sel(isNan(x), no, b.sel(isNan(y), yes, b.cmp('lt', x, y)))
}

export const loweringRules: { readonly [P in Primitive]: LoweringRule<P> } = {
  neg: unary('neg'),
  exp: unary('exp'),
  log: unary('log'),
  log1p: unary('log1p'),
  expm1: unary('expm1'),
  tanh: unary('tanh'),
  logistic: unary('logistic'),
  sin: unary('sin'),
  cos: unary('cos'),
  sqrt: unary('sqrt'),
  abs: unary('abs'),
  sign: unary('sign'),
  erf: unary('erf'),
  convert: { kind: 'inline', inline: ({ b, inputs: [x], index, expr, type }) => b.cast(expr(x, index), type) },
  stopGradient: { kind: 'inline', inline: ({ inputs: [x], index, expr }) => expr(x, index) },
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow'),
  max: binary('max'),
  compare: {
    kind: 'inline',
    inline: ({ b, inputs: [x, y], index, expr }, { op }) => b.cmp(op, expr(x, index), expr(y, index)),
  },
  select: {
    kind: 'inline',
    inline: ({ b, inputs: [x, y, z], index, expr }) => b.sel(expr(x, index), expr(y, index), expr(z, index)),
  },
  sum: reduce('sum'),
  reduceMax: reduce('max'),
  cumsum: {
    kind: 'kernel',
    // y[o] = Σ_r x[o with axis = r] over r ≤ o[axis] (r ≥ o[axis] reversed): a reduction over the axis.
    kernel: ({ b, inputs: [x], type, index: o, expr, reads, output, shape, reduction }, { axis, reverse }) => {
      const r = b.idx('r0')
      const inside = b.cmp(reverse ? 'ge' : 'le', r, o[axis])
      const body = b.sel(inside, expr(x, along(o, axis, r)), b.lit(0, type))
      return reduction({
        kind: 'reduce',
        op: 'sum',
        inputs: reads,
        output,
        shape,
        reduced: [shape[axis]],
        init: b.lit(0, type),
        body,
      })
    },
  },
  broadcast: {
    kind: 'inline',
    inline: ({ b, inputs: [x], index, expr }) => {
      const from = x.aval.shape
      const lead = index.length - from.length
      return expr(
        x,
        from.map((d, i) => (d === 1 ? b.lit(0, 'i32') : index[lead + i])),
      )
    },
  },
  reshape: {
    kind: 'inline',
    inline: ({ b, inputs: [x], output, index, expr }) =>
      expr(x, reshapeIndex(b, index, output.aval.shape, x.aval.shape)),
  },
  transpose: {
    kind: 'inline',
    inline: ({ inputs: [x], index, expr }, { perm }) => {
      const from: Expr[] = new Array(perm.length)
      perm.forEach((q, i) => (from[q] = index[i]))
      return expr(x, from)
    },
  },
  slice: {
    kind: 'inline',
    inline: ({ b, inputs: [x], index, expr }, { starts }) =>
      expr(
        x,
        index.map((e, i) => b.bin('add', e, b.lit(starts[i], 'i32'))),
      ),
  },
  pad: {
    kind: 'inline',
    inline: ({ b, inputs: [x], output, type, index, expr }, { lo }) => {
      const from = index.map((e, i) => b.bin('sub', e, b.lit(lo[i], 'i32')))
      let inside: Expr = b.lit(1, 'bool')
      x.aval.shape.forEach((d, i) => {
        if (d === output.aval.shape[i]) return
        const ok = b.sel(b.cmp('ge', from[i], b.lit(0, 'i32')), b.cmp('lt', from[i], b.lit(d, 'i32')), b.lit(0, 'bool'))
        inside = inside.k === 'lit' ? ok : b.sel(inside, ok, b.lit(0, 'bool'))
      })
      // Lazy: outside the operand, its expression (a gate of a cell, in a backward pass) is not evaluated.
      return b.sel(inside, expr(x, from), b.lit(0, type), true)
    },
  },
  rev: {
    kind: 'inline',
    inline: ({ b, inputs: [x], index, expr }, { axes }) =>
      expr(
        x,
        index.map((e, i) => (axes.includes(i) ? b.bin('sub', b.lit(x.aval.shape[i] - 1, 'i32'), e) : e)),
      ),
  },
  concat: {
    kind: 'inline',
    inline: ({ b, inputs, index, expr }, { axis }) => {
      let offset = 0
      const parts = inputs.map((part) => {
        const start = offset
        offset += part.aval.shape[axis]
        return { part, start, end: offset }
      })
      let result: Expr | null = null
      for (const { part, start, end } of parts.reverse()) {
        const from = index.map((e, i) => (i === axis ? b.bin('sub', e, b.lit(start, 'i32')) : e))
        const value = expr(part, from)
        // Lazy: an element reads one block, so only that block's expression is evaluated.
        result = result === null ? value : b.sel(b.cmp('lt', index[axis], b.lit(end, 'i32')), value, result, true)
      }
      return result as Expr
    },
  },
  matmul: {
    kind: 'kernel',
    kernel: ({ b, inputs, shape, output, matmulOperand, bufferOf }) => {
      const r = shape.length
      const [m, n] = shape.slice(r - 2)
      const k = inputs[0].aval.shape[r - 1]
      const batch = sizeOf(shape.slice(0, r - 2))
      // An empty product has nothing to compute; a product over k = 0 is zeros.
      if (batch * m * n === 0) return []
      if (k === 0) return { kind: 'map', inputs: [], output, shape, value: b.lit(0, 'f32') }
      const [A, B] = inputs.map((a) => matmulOperand(a))
      return {
        kind: 'matmul',
        inputs: [bufferOf(A.source), bufferOf(B.source)],
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
        windowA: A.window && { batch: A.window.batch, mn: A.window.rows, k: A.window.cols },
        windowB: B.window && { batch: B.window.batch, mn: B.window.cols, k: B.window.rows },
      }
    },
  },
  gather: {
    kind: 'inline',
    // An index out of range reads the nearest element (clamped), as on the CPU: no load leaves the tensor.
    inline: ({ b, inputs: [x, y], index, expr }, { axis, batchDims: k }) => {
      const ni = y.aval.shape.length - k
      const at = b.cast(expr(y, [...index.slice(0, k), ...index.slice(axis, axis + ni)]), 'i32')
      const which = b.bin('min', b.bin('max', at, b.lit(0, 'i32')), b.lit(x.aval.shape[axis] - 1, 'i32'))
      return expr(x, [...index.slice(0, axis), which, ...index.slice(axis + ni)])
    },
  },
  scatterAdd: {
    kind: 'kernel',
    // Each output element sums the updates whose index names it, so an update out of range is dropped. The
    // select is lazy (an if): an update is loaded only where its index names the element, once in V for a
    // table of V rows (an embedding's gradient), where a select would load every update for every element.
    kernel: (
      { b, inputs: [x, idx, upd], type, index: o, expr, reads, output, shape, reduction },
      { axis, batchDims: k },
    ) => {
      const r = idx.aval.shape.slice(k).map((_, i) => b.idx(`r${i}`))
      const init = expr(x, o)
      const hit = b.cmp('eq', b.cast(expr(idx, [...o.slice(0, k), ...r]), 'i32'), o[axis])
      const body = b.sel(hit, expr(upd, [...o.slice(0, axis), ...r, ...o.slice(axis + 1)]), b.lit(0, type), true)
      const reduced = idx.aval.shape.slice(k)
      return reduction({ kind: 'reduce', op: 'sum', inputs: reads, output, shape, reduced, init, body })
    },
  },
  argsort: {
    kind: 'kernel',
    // Two reductions over the axis: each element's rank (how many elements sort before it, ties by
    // position), then for each position the index whose rank it is. O(n²) work per row of n.
    kernel: ({ b, inputs: [x], index: o, expr, reads, output, shape, reduction, temp }, { axis, descending }) => {
      const n = shape[axis]
      const r = b.idx('r0')
      const [mine, other] = [expr(x, o), expr(x, along(o, axis, r))]
      const first = descending ? sortsBefore(b, mine, other) : sortsBefore(b, other, mine)
      const tie = b.sel(
        first,
        b.lit(0, 'bool'),
        b.sel(
          descending ? sortsBefore(b, other, mine) : sortsBefore(b, mine, other),
          b.lit(0, 'bool'),
          b.lit(1, 'bool'),
        ),
      )
      const before = b.sel(first, b.lit(1, 'bool'), b.sel(tie, b.cmp('lt', r, o[axis]), b.lit(0, 'bool')))
      const zero = b.lit(0, 'i32')
      const rank = temp(sizeOf(shape), 'i32')
      const ranks = reduction({
        kind: 'reduce',
        op: 'sum',
        inputs: reads,
        output: rank,
        shape,
        reduced: [n],
        init: zero,
        body: b.sel(before, b.lit(1, 'i32'), zero),
      })
      const strides = stridesOf(shape)
      const rankOf = b.load(0, b.affine(along(o, axis, r).map((e, i) => [e, strides[i]] as const)), 'i32')
      const body = b.sel(b.cmp('eq', rankOf, o[axis]), r, zero)
      return [
        ...ranks,
        ...reduction({ kind: 'reduce', op: 'sum', inputs: [rank], output, shape, reduced: [n], init: zero, body }),
      ]
    },
  },
  randomBits: {
    kind: 'inline',
    // Element i of a key's draw: bits, word i mod 2 of threefry(key, (stream, offset + ⌊i/2⌋)); f32, the top 24
    // bits of word 0 of threefry(key, (stream, offset + i)). (f64 has no WGSL type.)
    inline: ({ b, inputs: [key, offset], index, expr, type }, { shape, stream }) => {
      if (type !== 'i32' && type !== 'f32') throw new Error(`randomBits: WebGPU draws i32 bits or f32, not ${type}`)
      const lead = index.length - shape.length
      const batch = index.slice(0, lead)
      const strides = stridesOf(shape)
      const i = b.affine(shape.map((_, a) => [index[lead + a], strides[a]] as const))
      const two = b.lit(2, 'i32')
      const [k0, k1] = [0, 1].map((w) => expr(key, [...batch, b.lit(w, 'i32')]))
      const base = expr(offset, batch)
      const c0 = b.lit(stream | 0, 'i32')
      if (type === 'f32') return b.rand([k0, k1, c0, b.bin('add', base, i), b.lit(0, 'i32')], type)
      return b.rand([k0, k1, c0, b.bin('add', base, b.bin('div', i, two)), b.bin('mod', i, two)], type)
    },
  },
  scan: { kind: 'loop' },
  // At the top level a cond's branches are dispatched indirectly; inside a loop or a branch it is expanded.
  cond: { kind: 'branch' },
  // With maxIterations, gated steps at the top level and a scan inside a loop; without a bound it is refused.
  whileLoop: { kind: 'branch' },
  customJvp: { kind: 'expand' },
  customVjp: { kind: 'expand' },
  checkpoint: { kind: 'expand' },
  jitCall: { kind: 'expand' },
  // Only a linearized customVjp holds it, which transposition replaces by the backward pass.
  customVjpLin: { kind: 'unsupported' },
}

/** The lowering rule of an equation's primitive (beside core's `ruleOf`, which gives its transform rules). */
export const loweringOf = <P extends Primitive>(eqn: Eqn<P>): LoweringRule<P> => loweringRules[eqn.prim]
