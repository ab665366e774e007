/**
 * Epilogue fusion, the last stage of lowering a Program: over its kernels in
 * the order they run, an elementwise kernel that alone reads a matmul's or a
 * reduction's result, element by element, is folded into that kernel, which
 * applies it as it stores. A training step's bias, activation and update
 * thus cost no dispatch and no buffer of their own.
 */
import { stridesOf } from '../../src/shape/index.ts'
import type { Var } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import {
  ACC_SLOT,
  bindingCount,
  type Expr,
  type ExprBuilder,
  type LogicalBuffer,
  type MatmulKernel,
  type ReduceKernel,
  type ScalarType,
} from '../kernel.ts'
import { reshapeIndex } from './indexing.ts'
import type { Entry } from './state.ts'

/**
 * Epilogues: an elementwise (map) kernel that reads the result of a matmul or
 * reduce kernel only at its own index, where no other kernel reads that
 * result, is computed by the producer as it stores each element (bias,
 * activation, an SGD update; mean = sum·(1/n), the log of logsumexp, a
 * normaliser), saving a dispatch and the result's buffer. The fused kernel
 * runs where the map kernel ran (after every kernel the map reads), with the
 * map's output and its other inputs.
 */
export function fuseEpilogues(
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
      if (bindingCount({ kind: producer.kind, inputs, output: k.output, also: k.also }, buffers) > maxBuffers) continue
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
    case 'rand':
      return e.args.every((a) => readsOnlyAt(a, slot, offset, seen))
    default:
      return true
  }
}
