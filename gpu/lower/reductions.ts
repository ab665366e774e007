/**
 * Reductions as their strategy runs them (kernels/reduce.ts chooses): one
 * kernel, with a workgroup per output element or one invocation each, or,
 * for few outputs of many elements each, split into parts so that enough
 * invocations run at once: the first kernel reduces chunks into a temporary
 * of parts, the second reduces the parts.
 */
import { stridesOf } from '../../src/shape/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import type { Expr, ExprBuilder, ReduceKernel } from '../kernel.ts'
import { chooseReduction } from '../kernels/reduce.ts'
import type { Lowering } from './state.ts'

/**
 * A reduction as its strategy runs it. Split into parts: the first kernel
 * reduces chunk g of output o's elements (flat reduced index g·chunk + j)
 * into part[o, g], from the identity; the second reduces the parts from
 * init. Each kernel binds only the inputs its expressions load from.
 */
export function reduction(state: Lowering, kernel: ReduceKernel): readonly ReduceKernel[] {
  const { b, buffers } = state
  const choose = state.options.reduction ?? chooseReduction
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
    ...reduction(state, {
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

/**
 * The inputs that `exprs` load from, in order of first use, and the
 * expressions with their slots renumbered to match.
 */
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
