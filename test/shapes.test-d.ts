/**
 * Compile-time shapes. Every `@ts-expect-error` below is a program that must
 * not compile (an unused directive is itself an error, so each one is a real
 * check); the `expectTypeOf` lines pin the computed shapes and the text of
 * the error messages, which name the dimensions that disagree.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { ops, tensor, type DType, type Dim, type Shape, type Tensor } from '../src/index.ts'
import type {
  CheckAxes,
  CheckBinary,
  CheckBroadcast,
  CheckConcat,
  CheckDTypes,
  CheckMatMul,
  CheckPerm,
  CheckReshape,
  FormatShape,
  SizeOf,
} from '../src/shape/types.ts'

declare const m23: Tensor<[2, 3], 'f32'>
declare const m34: Tensor<[3, 4], 'f32'>
declare const m45: Tensor<[4, 5], 'f32'>
declare const v3: Tensor<[3], 'f32'>
declare const v4: Tensor<[4], 'f32'>
declare const b234: Tensor<[2, 3, 4], 'f32'>
declare const b546: Tensor<[5, 4, 6], 'f32'>
declare const b246: Tensor<[2, 4, 6], 'f32'>
declare const bt: Tensor<['B', 'T'], 'f32'>
declare const tb: Tensor<['T', 'B'], 'f32'>
declare const x784: Tensor<['B', 784], 'f32'>
declare const w: Tensor<[784, 10], 'f32'>
declare const f64: Tensor<[2, 3], 'f64'>
declare const mask: Tensor<[2, 3], 'bool'>
declare const idx: Tensor<['B', 'T'], 'i32'>
declare const any: Tensor
declare const anyShape: Tensor<number[], 'f32'>

describe('result shapes', () => {
  it('infers literal data and constructors', () => {
    expectTypeOf(
      tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(tensor([1, 2], { dtype: 'f64' })).toEqualTypeOf<Tensor<[2], 'f64'>>()
    expectTypeOf(tensor(7)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] })).toEqualTypeOf<Tensor<[3, 2], 'f32'>>()
    expectTypeOf(tensor(new Float32Array(4))).toEqualTypeOf<Tensor<[number], 'f32'>>()
    expectTypeOf(ops.zeros([2, 3])).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.ones([4], 'i32')).toEqualTypeOf<Tensor<[4], 'i32'>>()
    expectTypeOf(ops.eye(3)).toEqualTypeOf<Tensor<[3, 3], 'f32'>>()
    expectTypeOf(ops.arange(5)).toEqualTypeOf<Tensor<[5], 'f32'>>()
    expectTypeOf(ops.scalar(1, 'f64')).toEqualTypeOf<Tensor<[], 'f64'>>()
  })
  it('a declared shape may name run-time sizes', () => {
    const n = 7 as number
    const x: Tensor<['N', 2], 'f32'> = tensor(new Float32Array(2 * n), { shape: [n, 2] })
    expectTypeOf(x).toEqualTypeOf<Tensor<['N', 2], 'f32'>>()
  })
  it('broadcasts elementwise ops', () => {
    expectTypeOf(ops.add(m23, v3)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.mul(ops.ones([4, 1, 3]), m23)).toEqualTypeOf<Tensor<[4, 2, 3], 'f32'>>()
    expectTypeOf(ops.sub(x784, ops.ones([784]))).toEqualTypeOf<Tensor<['B', 784], 'f32'>>()
    expectTypeOf(ops.div(m23, 2)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.pow(2, f64)).toEqualTypeOf<Tensor<[2, 3], 'f64'>>()
    expectTypeOf(ops.less(m23, v3)).toEqualTypeOf<Tensor<[2, 3], 'bool'>>()
    expectTypeOf(ops.where(mask, m23, 0)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.where(mask, ops.ones([3]), ops.zeros([2, 1]))).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.tanh(x784)).toEqualTypeOf<Tensor<['B', 784], 'f32'>>()
    expectTypeOf(ops.astype(m23, 'i32')).toEqualTypeOf<Tensor<[2, 3], 'i32'>>()
  })
  it('matmul, including batched and 1-D operands', () => {
    expectTypeOf(ops.matmul(m23, m34)).toEqualTypeOf<Tensor<[2, 4], 'f32'>>()
    expectTypeOf(ops.matmul(x784, w)).toEqualTypeOf<Tensor<['B', 10], 'f32'>>()
    expectTypeOf(ops.matmul(b234, b246)).toEqualTypeOf<Tensor<[2, 3, 6], 'f32'>>()
    expectTypeOf(ops.matmul(ops.ones([7, 1, 2, 3]), ops.ones([5, 3, 4]))).toEqualTypeOf<Tensor<[7, 5, 2, 4], 'f32'>>()
    expectTypeOf(ops.matmul(v3, m34)).toEqualTypeOf<Tensor<[4], 'f32'>>()
    expectTypeOf(ops.matmul(m23, v3)).toEqualTypeOf<Tensor<[2], 'f32'>>()
    expectTypeOf(ops.dot(v3, v3)).toEqualTypeOf<Tensor<[], 'f32'>>()
  })
  it('reductions remove the axis, keep it as 1, or give a scalar', () => {
    expectTypeOf(ops.sum(b234, 1)).toEqualTypeOf<Tensor<[2, 4], 'f32'>>()
    expectTypeOf(ops.mean(b234, -1, { keepDims: true })).toEqualTypeOf<Tensor<[2, 3, 1], 'f32'>>()
    expectTypeOf(ops.max(b234, [0, 2])).toEqualTypeOf<Tensor<[3], 'f32'>>()
    expectTypeOf(ops.logsumexp(x784, 1)).toEqualTypeOf<Tensor<['B'], 'f32'>>()
    expectTypeOf(ops.sum(b234)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(ops.min(m23, undefined, { keepDims: true })).toEqualTypeOf<Tensor<[1, 1], 'f32'>>()
  })
  it('structure', () => {
    expectTypeOf(ops.reshape(m23, [3, 2])).toEqualTypeOf<Tensor<[3, 2], 'f32'>>()
    expectTypeOf(ops.reshape(b234, [-1])).toEqualTypeOf<Tensor<[24], 'f32'>>()
    expectTypeOf(ops.reshape(ops.zeros([32, 784]), [32, 28, 28])).toEqualTypeOf<Tensor<[32, 28, 28], 'f32'>>()
    expectTypeOf(ops.reshape(x784, [-1, 28, 28])).toEqualTypeOf<Tensor<[number, 28, 28], 'f32'>>()
    expectTypeOf(ops.transpose(b234, [2, 0, 1])).toEqualTypeOf<Tensor<[4, 2, 3], 'f32'>>()
    expectTypeOf(ops.transpose(b234, [0, -1, 1])).toEqualTypeOf<Tensor<[2, 4, 3], 'f32'>>()
    expectTypeOf(ops.transpose(bt)).toEqualTypeOf<Tensor<['T', 'B'], 'f32'>>()
    expectTypeOf(ops.concat([m23, ops.zeros([5, 3])])).toEqualTypeOf<Tensor<[7, 3], 'f32'>>()
    expectTypeOf(ops.concat([m23, m23, m23], -1)).toEqualTypeOf<Tensor<[2, 9], 'f32'>>()
    expectTypeOf(ops.concat([x784, x784], 0)).toEqualTypeOf<Tensor<[number, 784], 'f32'>>()
    expectTypeOf(ops.stack([v3, v3], 1)).toEqualTypeOf<Tensor<[3, 2], 'f32'>>()
    expectTypeOf(ops.slice(m23, [0, 1], [2, 2])).toEqualTypeOf<Tensor<[2, 2], 'f32'>>()
    expectTypeOf(ops.slice(m23, [1, 0])).toEqualTypeOf<Tensor<[number, 3], 'f32'>>()
    expectTypeOf(
      ops.pad(m23, [
        [1, 1],
        [0, 2],
      ]),
    ).toEqualTypeOf<Tensor<[4, 5], 'f32'>>()
    expectTypeOf(ops.expandDims(m23, -1)).toEqualTypeOf<Tensor<[2, 3, 1], 'f32'>>()
    expectTypeOf(ops.squeeze(ops.zeros([1, 3, 1]))).toEqualTypeOf<Tensor<[3], 'f32'>>()
    expectTypeOf(ops.squeeze(ops.zeros([1, 3, 1]), 0)).toEqualTypeOf<Tensor<[3, 1], 'f32'>>()
    expectTypeOf(ops.broadcastTo(v3, [2, 3])).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.take(ops.zeros([1000, 64]), idx)).toEqualTypeOf<Tensor<['B', 'T', 64], 'f32'>>()
  })
  it('untyped shapes stay permissive', () => {
    expectTypeOf(ops.add(any, m23)).toEqualTypeOf<Tensor<Shape, DType>>()
    expectTypeOf(ops.matmul(m23, any)).toEqualTypeOf<Tensor<Shape, 'f32'>>()
    expectTypeOf(ops.sum(anyShape, 5)).toEqualTypeOf<Tensor<Shape, 'f32'>>()
    expectTypeOf(ops.reshape(anyShape, [2, 2])).toEqualTypeOf<Tensor<[2, 2], 'f32'>>()
    expectTypeOf(ops.concat([any, m23], 3)).toEqualTypeOf<Tensor<Shape, DType>>()
  })
  it('generic code: dims that are type parameters', () => {
    const dense = <B extends Dim, I extends number, O extends number, D extends DType>(
      x: Tensor<[B, I], D>,
      w: Tensor<[I, O], D>,
      b: Tensor<[O], D>,
    ): Tensor<[B, O], D> => ops.relu(ops.add(ops.matmul(x, w), b))
    const softmax = <B extends Dim, C extends Dim, D extends DType>(z: Tensor<[B, C], D>): Tensor<[B, C], D> =>
      ops.exp(ops.sub(z, ops.logsumexp(z, -1, { keepDims: true })))
    const step = <S extends Shape, D extends DType>(p: Tensor<S, D>, g: Tensor<S, D>, lr: number): Tensor<S, D> =>
      ops.sub(p, ops.mul(g, lr))
    const mse = <S extends Shape>(a: Tensor<S>, b: Tensor<S>): Tensor<[]> => ops.mean(ops.square(ops.sub(a, b)))
    expectTypeOf(dense(x784, w, ops.zeros([10]))).toEqualTypeOf<Tensor<['B', 10], 'f32'>>()
    expectTypeOf(softmax(bt)).toEqualTypeOf<Tensor<['B', 'T'], 'f32'>>()
    expectTypeOf(step(m23, m23, 0.1)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(mse(v3, v3)).toEqualTypeOf<Tensor<[], DType>>()
  })
})

describe('error messages name the dimensions', () => {
  it('pins the message text', () => {
    expectTypeOf<
      CheckMatMul<[2, 3], [4, 5]>
    >().toEqualTypeOf<'matmul: inner dimensions differ: 3 (a [2, 3]) vs 4 (b [4, 5])'>()
    expectTypeOf<
      CheckMatMul<[2, 3, 4], [5, 4, 6]>
    >().toEqualTypeOf<'matmul: batch axes of a [2, 3, 4] and b [5, 4, 6] do not broadcast: 2 vs 5 at axis -3'>()
    expectTypeOf<
      CheckBroadcast<'add', [2, 3], [4]>
    >().toEqualTypeOf<'add: cannot broadcast [2, 3] with [4]: 3 vs 4 at axis -1'>()
    expectTypeOf<
      CheckBroadcast<'add', ['B', 3], ['T', 3]>
    >().toEqualTypeOf<'add: cannot broadcast [B, 3] with [T, 3]: B vs T at axis -2'>()
    expectTypeOf<
      CheckBinary<'mul', [3], [3], 'f32', 'f64'>
    >().toEqualTypeOf<'mul: dtypes differ: f32 vs f64; convert one with astype'>()
    expectTypeOf<
      CheckDTypes<'matmul', 'i32', 'f32'>
    >().toEqualTypeOf<'matmul: dtypes differ: i32 vs f32; convert one with astype'>()
    expectTypeOf<
      CheckReshape<[2, 3], [4, 2]>
    >().toEqualTypeOf<'reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)'>()
    expectTypeOf<CheckReshape<['B', 784], [-1, 28, 28]>>().toEqualTypeOf<unknown>()
    expectTypeOf<CheckAxes<'sum', [2, 3], 2>>().toEqualTypeOf<'sum: axis 2 is out of range for x [2, 3] (rank 2)'>()
    expectTypeOf<
      CheckPerm<[2, 3, 4], [1, 0]>
    >().toEqualTypeOf<'transpose: the permutation [1, 0] has 2 axes but x [2, 3, 4] has rank 3'>()
    expectTypeOf<
      CheckConcat<[[2, 3], [3, 4]], 1>
    >().toEqualTypeOf<'concat: shapes [2, 3] and [3, 4] differ at axis 0: 2 vs 3 (only axis 1 may differ)'>()
    expectTypeOf<FormatShape<['B', 784]>>().toEqualTypeOf<'[B, 784]'>()
    expectTypeOf<SizeOf<[32, 28, 28]>>().toEqualTypeOf<'25088'>()
  })
  it('valid shapes check to unknown', () => {
    expectTypeOf<CheckMatMul<['B', 784], [784, 10]>>().toEqualTypeOf<unknown>()
    expectTypeOf<CheckBroadcast<'add', ['B', 1], [number, 5]>>().toEqualTypeOf<unknown>()
    expectTypeOf<CheckBroadcast<'add', ['B', 3], [7, 3]>>().toEqualTypeOf<unknown>()
  })
})

describe('wrong shapes do not compile', () => {
  it('broadcasting', () => {
    // @ts-expect-error add: cannot broadcast [2, 3] with [4]: 3 vs 4 at axis -1
    ops.add(m23, v4)
    // @ts-expect-error mul: cannot broadcast [2, 3] with [4, 5]: 3 vs 5 at axis -1
    ops.mul(m23, m45)
    // @ts-expect-error lt: cannot broadcast [3] with [4]: 3 vs 4 at axis -1
    ops.less(v3, v4)
    // @ts-expect-error where: cannot broadcast [2, 3] with [4]: 3 vs 4 at axis -1
    ops.where(mask, m23, v4)
    // @ts-expect-error broadcastTo: cannot broadcast [3] with [2, 4]: 3 vs 4 at axis -1
    ops.broadcastTo(v3, [2, 4])
  })
  it('named dims', () => {
    // @ts-expect-error add: cannot broadcast [B, T] with [T, B]: T vs B at axis -1
    ops.add(bt, tb)
    // @ts-expect-error matmul: inner dimensions differ: T (a [B, T]) vs B (b [B, T])
    ops.matmul(bt, bt)
  })
  it('dtypes', () => {
    // @ts-expect-error add: dtypes differ: f32 vs f64; convert one with astype
    ops.add(m23, f64)
    // @ts-expect-error matmul: dtypes differ: f64 vs f32; convert one with astype
    ops.matmul(f64, m34)
  })
  it('matmul', () => {
    // @ts-expect-error matmul: inner dimensions differ: 3 (a [2, 3]) vs 4 (b [4, 5])
    ops.matmul(m23, m45)
    // @ts-expect-error matmul: inner dimensions differ: 3 (a [3]) vs 4 (b [4, 5])
    ops.matmul(v3, m45)
    // @ts-expect-error matmul: inner dimensions differ: 3 (a [3]) vs 4 (b [4])
    ops.dot(v3, v4)
    // @ts-expect-error matmul: batch axes of a [2, 3, 4] and b [5, 4, 6] do not broadcast: 2 vs 5 at axis -3
    ops.matmul(b234, b546)
    // @ts-expect-error matmul: operands must have rank >= 1, got a []
    ops.matmul(ops.scalar(2), v3)
  })
  it('reshape, transpose, expandDims, squeeze', () => {
    // @ts-expect-error reshape: cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)
    ops.reshape(m23, [4, 2])
    // @ts-expect-error reshape: at most one axis may be -1, got [-1, -1]
    ops.reshape(m23, [-1, -1])
    // @ts-expect-error transpose: the permutation [1, 0] has 2 axes but x [2, 3, 4] has rank 3
    ops.transpose(b234, [1, 0])
    // @ts-expect-error transpose: axis 3 is out of range for x [2, 3, 4] (rank 3)
    ops.transpose(b234, [0, 1, 3])
    // @ts-expect-error transpose: axis 1 appears twice in the permutation
    ops.transpose(b234, [1, 1, 0])
    // @ts-expect-error expandDims: axis 3 is out of range for a new axis of x [2, 3] (rank 2)
    ops.expandDims(m23, 3)
    // @ts-expect-error squeeze: axis 0 of x [2, 3] has size 2, not 1
    ops.squeeze(m23, 0)
  })
  it('reductions', () => {
    // @ts-expect-error sum: axis 2 is out of range for x [2, 3] (rank 2)
    ops.sum(m23, 2)
    // @ts-expect-error mean: axis -3 is out of range for x [2, 3] (rank 2)
    ops.mean(m23, -3)
    // @ts-expect-error logsumexp: axis 5 is out of range for x [2, 3, 4] (rank 3)
    ops.logsumexp(b234, [0, 5])
  })
  it('concat, stack, slice, pad, take', () => {
    // @ts-expect-error concat: shapes [2, 3] and [3, 4] differ at axis 0: 2 vs 3 (only axis 1 may differ)
    ops.concat([m23, m34], 1)
    // @ts-expect-error concat: ranks differ: [2, 3] vs [2, 3, 4]
    ops.concat([m23, b234])
    // @ts-expect-error concat: axis 2 is out of range for x [2, 3] (rank 2)
    ops.concat([m23, m23], 2)
    // @ts-expect-error stack: shapes [3] and [4] differ at axis 0: 3 vs 4
    ops.stack([v3, v4])
    // @ts-expect-error slice: 1 starts for x [2, 3] of rank 2
    ops.slice(m23, [0])
    // @ts-expect-error pad: 1 [before, after] pairs for x [2, 3] of rank 2
    ops.pad(m23, [[1, 1]])
    // @ts-expect-error take: axis 2 is out of range for x [2, 3] (rank 2)
    ops.take(m23, idx, 2)
  })
  it('declared shapes', () => {
    const needs4 = (v: Tensor<[4]>) => v
    // @ts-expect-error Tensor<[3]> where Tensor<[4]> is expected
    needs4(v3)
    // @ts-expect-error the product is [2, 4], not [2, 5]
    const y: Tensor<[2, 5]> = ops.matmul(m23, m34)
    // @ts-expect-error a name is not another name
    const z: Tensor<['T', 784]> = x784
    // @ts-expect-error tensor: shapes [5, 5] and [2, 3] differ at axis 0: 5 vs 2
    const t: Tensor<[5, 5]> = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] })
    void [y, z, t]
  })
  it('generic code', () => {
    const badLayer = <B extends Dim, I extends number, O extends number>(x: Tensor<[B, I]>, w: Tensor<[O, I]>) =>
      // @ts-expect-error matmul: inner dimensions differ: I (a [B, I]) vs O (b [O, I])
      ops.matmul(x, w)
    void badLayer
  })
})

describe('special functions, statistics and orderings', () => {
  it('keep or reduce shapes as their core counterparts do', () => {
    expectTypeOf(ops.softplus(b234)).toEqualTypeOf<Tensor<[2, 3, 4], 'f32'>>()
    expectTypeOf(ops.gelu(m23)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.erf(v3)).toEqualTypeOf<Tensor<[3], 'f32'>>()
    expectTypeOf(ops.clip(m23, 0, 1)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.var(b234, 1)).toEqualTypeOf<Tensor<[2, 4], 'f32'>>()
    expectTypeOf(ops.std(b234, [0, 2], { keepDims: true })).toEqualTypeOf<Tensor<[1, 3, 1], 'f32'>>()
    expectTypeOf(ops.argmax(b234, -1)).toEqualTypeOf<Tensor<[2, 3], 'i32'>>()
    expectTypeOf(ops.argmin(m23)).toEqualTypeOf<Tensor<[], 'i32'>>()
    expectTypeOf(ops.flip(m23, 0)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.cumsum(m23)).toEqualTypeOf<Tensor<[2, 3], 'f32'>>()
    expectTypeOf(ops.sort(b234)).toEqualTypeOf<Tensor<[2, 3, 4], 'f32'>>()
    expectTypeOf(ops.argsort(b234)).toEqualTypeOf<Tensor<[2, 3, 4], 'i32'>>()
    expectTypeOf(ops.topK(b234, 2)).toEqualTypeOf<[Tensor<[2, 3, 2], 'f32'>, Tensor<[2, 3, 2], 'i32'>]>()
  })
  it('reject an axis out of range', () => {
    // @ts-expect-error axis 3 of a rank-3 tensor
    ops.var(b234, 3)
    // @ts-expect-error axis 2 of a rank-2 tensor
    ops.argmax(m23, 2)
    // @ts-expect-error axis 2 of a rank-2 tensor
    ops.flip(m23, 2)
    // @ts-expect-error axis 5 of a rank-2 tensor
    ops.cumsum(m23, 5)
    // @ts-expect-error axis 3 of a rank-3 tensor
    ops.argsort(b234, 3)
    // @ts-expect-error axis −3 of a rank-2 tensor
    ops.sort(m23, -3)
  })
})

describe('tensor from booleans', () => {
  it('is bool, as in NumPy and JAX; numbers stay f32', () => {
    expectTypeOf(tensor(true)).toEqualTypeOf<Tensor<[], 'bool'>>()
    expectTypeOf(tensor([[true, false]])).toEqualTypeOf<Tensor<[1, 2], 'bool'>>()
    expectTypeOf(tensor([1, 2])).toEqualTypeOf<Tensor<[2], 'f32'>>()
    expectTypeOf(tensor([true], { dtype: 'f32' })).toEqualTypeOf<Tensor<[1], 'f32'>>()
  })
})
