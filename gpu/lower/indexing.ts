/**
 * Index arithmetic shared by the stages: where an element of a reshaped value
 * sits in its source, for inlining a reshape and for writing an epilogue over
 * the indices of the kernel it is fused into.
 */
import { stridesOf } from '../../src/shape/index.ts'
import type { Expr, ExprBuilder } from '../kernel.ts'

/** The source index of a reshape: through the flat offset, or axis by axis when only size-1 axes change. */
export function reshapeIndex(
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
