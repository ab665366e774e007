import { describe, expect, it } from 'vitest'
import { grad, jit, jvp, makeProgram, ops, tensor, transposeProgram, vjp, vmap, type Tensor } from '../src/index.ts'

const x = tensor([1, 2, 3], { dtype: 'f64' })

describe('errors say what was expected and where', () => {
  it('grad of a non-scalar function', () => {
    expect(() => grad(ops.sin)(x)).toThrow(
      /grad requires a function with a scalar floating-point output \(shape \[\]\), got f64\[3\]/,
    )
  })
  it('grad with respect to an integer input', () => {
    expect(() => grad((i: Tensor) => ops.sum(ops.astype(i, 'f32')))(tensor([1, 2], { dtype: 'i32' }))).toThrow(
      /only differentiate with respect to floating-point inputs, but args\[0\] is i32\[2\]/,
    )
  })
  it('mismatched pytree structures', () => {
    const f = (p: { a: Tensor; b: Tensor }) => ops.add(p.a, p.b)
    expect(() => jvp(f, [{ a: x, b: x }], [{ a: x }])).toThrow(
      /jvp: tangents must have the structure of primals: expected \[\{a: \*, b: \*\}\], got \[\{a: \*\}\]/,
    )
  })
  it('tangents of the wrong shape or dtype', () => {
    expect(() => jvp(ops.sin, [x], [tensor([1, 2], { dtype: 'f64' })])).toThrow(
      /tangents at \[0\] is f64\[2\], expected f64\[3\]/,
    )
    expect(() => jvp(ops.sin, [x], [tensor([1, 2, 3], { dtype: 'f32' })])).toThrow(
      /tangents at \[0\] is f32\[3\], expected f64\[3\]/,
    )
  })
  it('a cotangent of the wrong shape', () => {
    const [, pullback] = vjp(ops.sin, x)
    expect(() => pullback(tensor([1], { dtype: 'f64' }))).toThrow(/cotangent at \(top\) is f64\[1\], expected f64\[3\]/)
  })
  it('a primitive without a transpose rule', () => {
    const program = makeProgram(ops.exp)(x)
    expect(() => transposeProgram(program, [x])).toThrow(/'exp' has no transpose rule: it is not linear/)
  })
  it('vmap over axes of different sizes', () => {
    expect(() => vmap(ops.add)(x, tensor([1, 2], { dtype: 'f64' }))).toThrow(
      /vmap: mapped axes must have one size: args\[0\] has size 3 on axis 0, but args\[1\] has size 2 on axis 0/,
    )
  })
  it('a tracer that escapes its transform', () => {
    let leaked: Tensor | null = null
    grad((v: Tensor) => {
      leaked = v
      return ops.sum(v)
    })(x)
    expect(() => ops.sin(leaked as unknown as Tensor)).toThrow(/traced by a finished jvp was used after it returned/)
  })
  it('reading values inside a transform', () => {
    expect(() => grad((v: Tensor) => ops.sum(ops.mul(v, v.dataSync()[0])))(x)).toThrow(
      /cannot read the values of a tensor f64\[3\] that is being traced by jvp/,
    )
  })
  it('shapes that do not broadcast, and matmul inner dimensions (untyped data; typed code would not compile)', () => {
    const untyped = (t: Tensor): Tensor => t
    expect(() => ops.add(untyped(x), untyped(tensor([1, 2], { dtype: 'f64' })))).toThrow(
      /add: shapes \[3\] and \[2\] do not broadcast/,
    )
    const a = untyped(tensor([[1, 2, 3]], { dtype: 'f64' }))
    expect(() => ops.matmul(a, a)).toThrow(/matmul: f64\[1,3\] × f64\[1,3\]: the inner dimensions 3 and 1 differ/)
  })
  it('non-tensor leaves are named by path', () => {
    expect(() => grad((p: { w: Tensor }) => ops.sum(p.w))({ w: 'three' } as unknown as { w: Tensor })).toThrow(
      /at args\[0\]\.w, got a string/,
    )
  })
  it('ragged data', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged data: expected 2 entries at depth 1, got 1/)
  })
  it('an index out of range', () => {
    expect(() => ops.take(x, tensor([3], { dtype: 'i32' }))).toThrow(
      /gather: index 3 is out of range for axis 0 of size 3/,
    )
  })
})

describe('unchecked input is refused, naming what was expected and what came', () => {
  it('fractional slice bounds, i32 data that is not an integer, an unknown dtype, a bad checkpointEvery', () => {
    const x = tensor([1, 2, 3])
    expect(() => ops.slice(x, [0.5], [1])).toThrow('slice: axis 0 of f32[3]: start and limit must be integers')
    expect(() => tensor([1.5, 3e9], { dtype: 'i32' })).toThrow(
      'i32 data must be integers in [−2³¹, 2³¹ − 1], got 1.5 at position 0',
    )
    expect(() => tensor([1, 3e9], { dtype: 'i32' })).toThrow('got 3000000000 at position 1')
    expect(() => tensor([1], { dtype: 'u8' as never })).toThrow(
      'tensor: expected a dtype of f32, f64, i32, bool, got u8',
    )
    expect(() => jit((a: Tensor) => a, { checkpointEvery: -1 })).toThrow(
      'checkpointEvery must be a non-negative integer',
    )
    expect(() => jit((a: Tensor) => a, { checkpointEvery: Number.NaN })).toThrow('got NaN')
  })

  it('shapes that are not lists of non-negative integers, wherever a shape is given', () => {
    const x = tensor([1, 2, 3, 4, 5, 6])
    expect(() => tensor([1, 2, 3, 4, 5, 6], { shape: [1.5, 4] })).toThrow(
      'tensor: shape must be non-negative integers, got [1.5, 4]',
    )
    expect(() => ops.broadcastTo(x, [2.5, 6])).toThrow('broadcast: shape must be non-negative integers, got [2.5, 6]')
    expect(() => ops.zeros([Number.NaN])).toThrow('full: shape must be non-negative integers, got [NaN]')
    expect(() => ops.eye(2.5)).toThrow('eye: n must be a non-negative integer, got 2.5')
    expect(() => ops.reshape(x, [1.5, 4] as never)).toThrow('reshape: cannot reshape f32[6] (6 elements) to [1.5, 4]')
  })

  it('a jitted function called with fewer arguments than it declares', async () => {
    const step = jit(function step(a: Tensor, b: Tensor) {
      return ops.add(a, b)
    })
    const call = step as unknown as (...args: Tensor[]) => Promise<Tensor>
    await expect(call(tensor([1]))).rejects.toThrow('jit(step): expected at least 2 arguments, got 1')
    expect(() => grad((x: Tensor) => ops.sum(call(x) as unknown as Tensor))(tensor([1]))).toThrow(
      'expected at least 2 arguments, got 1',
    )
    // Parameters with defaults may be left out.
    const scaled = jit((a: Tensor, k = 2) => ops.mul(a, k))
    expect(Array.from(await (await scaled(tensor([3]))).data())).toEqual([6])
  })
})
