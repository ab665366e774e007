/**
 * Gathers, scatter-adds and sorts: indices out of range clamped (gather) or
 * dropped (scatter-add), batch axes merged into the indexed one, and a
 * stable argsort with NaN where the interpreter puts it.
 */
import { isFloat } from '../dtype.ts'
import { sizeOf } from '../tensor.ts'
import { attr } from './proto.ts'
import { cast, type Graph, inAval, type OnnxType, type Rule, where } from './graph.ts'

export const clampIndex = (g: Graph, i: string, n: number) =>
  g.op1('Min', [g.op1('Max', [i, g.scalar('i32', 0)]), g.scalar('i32', Math.max(n - 1, 0))])

/** The axes of `perm` read as a permutation of [0, n). */
export const permutation = (order: readonly number[]) => attr.ints('perm', order)

/**
 * x [..batch (b), ...pre, n, ...post] laid out as [B·n, ...pre, ...post]
 * (the axis moved next to the batch axes, which merge with it), and the
 * inverse of that layout; B = the product of the batch axes.
 */
export function gatherLayout(shape: readonly number[], axis: number, batchDims: number) {
  const batch = shape.slice(0, batchDims)
  const pre = shape.slice(batchDims, axis)
  const post = shape.slice(axis + 1)
  const n = shape[axis]
  const order = [
    ...batch.map((_, i) => i),
    axis,
    ...pre.map((_, i) => batchDims + i),
    ...post.map((_, i) => axis + 1 + i),
  ]
  return { batch, pre, post, n, order, B: sizeOf(batch) }
}

/** For each index, its row of the merged [B·n, ...] layout: b·n + i for the batch position b of the index. */
export function flatIndices(
  g: Graph,
  indices: string,
  idxShape: readonly number[],
  batchDims: number,
  n: number,
): string {
  if (batchDims === 0) return indices
  const B = sizeOf(idxShape.slice(0, batchDims))
  const rest = idxShape.slice(batchDims)
  const base = g.constant(
    'i32',
    [...idxShape.slice(0, batchDims), ...rest.map(() => 1)],
    Array.from({ length: B }, (_, b) => b * n),
  )
  return g.op1('Add', [indices, base])
}

export const gatherRule: Rule<'gather'> = ({ g }, [x, indices], eqn) => {
  const { axis, batchDims } = eqn.params
  const shape = inAval(eqn).shape
  const idxShape = inAval(eqn, 1).shape
  const n = shape[axis]
  const clamped = clampIndex(g, indices, n)
  if (batchDims === 0) return [g.op1('Gather', [x, clamped], [attr.int('axis', axis)])]
  const { pre, post, order, B } = gatherLayout(shape, axis, batchDims)
  const moved = g.op1('Transpose', [x], [permutation(order)])
  const merged = g.op1('Reshape', [moved, g.i64([B * n, ...pre, ...post])], [attr.int('allowzero', 1)])
  const rows = flatIndices(g, clamped, idxShape, batchDims, n)
  // [batch, idx rest, pre, post] → [batch, pre, idx rest, post]
  const got = g.op1('Gather', [merged, rows], [attr.int('axis', 0)])
  const nb = batchDims
  const nr = idxShape.length - batchDims
  const back = [
    ...Array.from({ length: nb }, (_, i) => i),
    ...pre.map((_, i) => nb + nr + i),
    ...Array.from({ length: nr }, (_, i) => nb + i),
    ...post.map((_, i) => nb + nr + pre.length + i),
  ]
  return [g.op1('Transpose', [got], [permutation(back)])]
}

export const scatterAddRule: Rule<'scatterAdd'> = ({ g }, [x, indices, updates], eqn) => {
  const { axis, batchDims } = eqn.params
  const shape = inAval(eqn).shape
  const idxShape = inAval(eqn, 1).shape
  const dtype = inAval(eqn).dtype
  const { pre, post, order, B, n } = gatherLayout(shape, axis, batchDims)
  if (n === 0 || sizeOf(idxShape) === 0) return [g.op1('Identity', [x])]
  // Updates out of range are dropped: their index clamped, their value made 0.
  const inRange = g.op1('And', [
    g.op1('GreaterOrEqual', [indices, g.scalar('i32', 0)]),
    g.op1('Less', [indices, g.scalar('i32', n)]),
  ])
  const rows = flatIndices(g, clampIndex(g, indices, n), idxShape, batchDims, n)
  const nb = batchDims
  const nr = idxShape.length - batchDims
  // updates [batch, pre, idx rest, post] → [batch, idx rest, pre, post], then [K, pre, post].
  const toRows = [
    ...Array.from({ length: nb }, (_, i) => i),
    ...Array.from({ length: nr }, (_, i) => nb + pre.length + i),
    ...pre.map((_, i) => nb + i),
    ...post.map((_, i) => nb + pre.length + nr + i),
  ]
  const K = sizeOf(idxShape)
  const u = g.op1(
    'Reshape',
    [g.op1('Transpose', [updates], [permutation(toRows)]), g.i64([K, ...pre, ...post])],
    [attr.int('allowzero', 1)],
  )
  const keep = g.op1(
    'Reshape',
    [inRange, g.i64([K, ...pre.map(() => 1), ...post.map(() => 1)])],
    [attr.int('allowzero', 1)],
  )
  const kept = where(g, keep, u, g.scalar(dtype as OnnxType, 0))
  const at = g.op1('Reshape', [cast(g, rows, 'i64'), g.i64([K, 1])], [attr.int('allowzero', 1)])
  const moved = g.op1('Transpose', [x], [permutation(order)])
  const merged = g.op1('Reshape', [moved, g.i64([B * n, ...pre, ...post])], [attr.int('allowzero', 1)])
  const summed = g.op1('ScatterND', [merged, at, kept], [attr.string('reduction', 'add')])
  const unmerged = g.op1('Reshape', [summed, g.i64(order.map((a) => shape[a]))], [attr.int('allowzero', 1)])
  const inverse = order.map((_, i) => order.indexOf(i))
  return [g.op1('Transpose', [unmerged], [permutation(inverse)])]
}

/**
 * argsort by two stable TopK passes: by value with NaN as +∞, then by
 * "is NaN" (stable), so that NaN sorts after +∞ ascending and before it
 * descending, ties first-come, as the interpreter sorts.
 */
export const argsortRule: Rule<'argsort'> = ({ g }, [x], eqn) => {
  const { axis, descending } = eqn.params
  const { shape, dtype } = inAval(eqn)
  const n = shape[axis]
  if (n === 0 || sizeOf(shape) === 0) return [g.constant('i32', shape, [])]
  const k = g.i64([n])
  const topk = (v: string, largest: boolean) =>
    g.op('TopK', [v, k], [attr.int('axis', axis), attr.int('largest', largest ? 1 : 0), attr.int('sorted', 1)], 2)[1]
  if (!isFloat(dtype)) {
    const key = dtype === 'bool' ? cast(g, x, 'i32') : x
    return [cast(g, topk(key, descending), 'i32')]
  }
  const nan = g.op1('IsNaN', [x])
  const key = where(g, nan, g.scalar(dtype as OnnxType, Infinity), x)
  const first = topk(key, descending)
  const nanInOrder = cast(g, g.op1('GatherElements', [nan, first], [attr.int('axis', axis)]), 'i32')
  const second = topk(nanInOrder, descending)
  return [cast(g, g.op1('GatherElements', [first, second], [attr.int('axis', axis)]), 'i32')]
}
