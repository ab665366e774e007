/**
 * Kernels for roots, by inlining. A root's kernel computes each element of
 * its output from the buffers of the roots and inputs it reads: every value
 * in between (elementwise maths, broadcast, reshape, transpose, slice, pad,
 * concat, gather) is an index remapping or a scalar function, inlined by its
 * rule (rules.ts) into one loop over the root's indices. A value read by
 * several kernels is recomputed in each (cheap elementwise work in exchange
 * for a dispatch and a buffer); within a kernel, hash-consing computes it
 * once. A heavy root's rule makes its kernel (a matmul, a reduction); any
 * other root is a map kernel over its own shape.
 */
import { UnsupportedProgramError } from '../../src/core/index.ts'
import { type Atom, type Eqn, Literal, Var } from '../../src/ir/index.ts'
import { stridesOf } from '../../src/shape/index.ts'
import { formatAval, sizeOf } from '../../src/tensor.ts'
import type { Expr, Kernel, LogicalBuffer } from '../kernel.ts'
import { reduction } from './reductions.ts'
import { loweringOf } from './rules.ts'
import { addRecord, type MatmulOperand, type Scope, scalarType } from './state.ts'

/** What a new buffer is besides its size and type. */
export type BufferRecord = Pick<LogicalBuffer, 'role' | 'index' | 'of' | 'loop'>

/** Appends the kernel (or kernels) that computes `root` into a buffer of its own, described by `record`. */
export function emitKernel(scope: Scope, root: Var, record: BufferRecord): void {
  const { state, program, analysis, bufferOf, kernels, inlineVars } = scope
  const { producer, roots, matmulOperand } = analysis
  const { b } = state
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
    const output = eqn.outputs[0]
    const type = scalarType(output.aval.dtype, formatAval(output.aval))
    const rule = loweringOf(eqn)
    if (rule.kind !== 'inline') throw new UnsupportedProgramError(`lowering: WebGPU does not compile '${eqn.prim}' yet`)
    return rule.inline({ b, inputs: eqn.inputs, output, type, index, expr: exprOf }, eqn.params)
  }

  const eqn = producer.get(root) as Eqn
  const type = scalarType(root.aval.dtype, formatAval(root.aval))
  const output = addRecord(state, { size: sizeOf(root.aval.shape), type, ...record })
  const shape = root.aval.shape
  const o = shape.map((_, i) => b.idx(`o${i}`))
  const rule = loweringOf(eqn)
  const kernel: Kernel | readonly Kernel[] =
    rule.kind === 'kernel'
      ? rule.kernel(
          {
            b,
            inputs: eqn.inputs,
            type,
            index: o,
            expr: exprOf,
            shape,
            reads: inputs,
            output,
            matmulOperand: (a) => matmulOperand(a) as MatmulOperand,
            bufferOf: (v) => bufferOf.get(v) as number,
            reduction: (k) => reduction(state, k),
            temp: (size, t) => {
              const id = state.buffers.length
              state.buffers.push({ id, size, type: t, role: 'temp' })
              return id
            },
          },
          eqn.params,
        )
      : { kind: 'map', inputs, output, shape, value: exprOf(root, o) }
  for (const k of Array.isArray(kernel) ? kernel : [kernel]) {
    kernels.push(k)
    inlineVars.push(heaviest)
  }
  bufferOf.set(root, output)
}

/** A copy of `a` into a new buffer (an input, constant or literal that must be a buffer of its own); its id. */
export function copyOf(scope: Scope, a: Atom, record: BufferRecord): number {
  const copy = new Var(a.aval)
  scope.analysis.producer.set(copy, { prim: 'stopGradient', inputs: [a], params: {}, outputs: [copy] })
  emitKernel(scope, copy, record)
  return scope.bufferOf.get(copy) as number
}
