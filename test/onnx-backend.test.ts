/**
 * The ONNX Runtime backend's calls: donation honoured (a donated output of
 * an earlier call cannot be read again, and its array is written by a later
 * call instead of a new one), a concurrent call donating the same tensor
 * fails, a refused call loses nothing, and a training loop equal to the
 * interpreter's.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, ops, tensor, type Tensor } from '../src/index.ts'
import { onnxruntimeBackend, type RuntimeTensor } from '../src/onnx/backend.ts'
import { expectClose, ofLargest } from './lib/close.ts'

const backend = await onnxruntimeBackend().catch(() => null)

type P = { w: Tensor; b: Tensor }
const step = (p: P, x: Tensor): readonly [P, Tensor] => {
  const y = ops.tanh(ops.add(ops.matmul(x, p.w), p.b)) as Tensor
  const w = ops.sub(p.w, ops.mul(ops.matmul(ops.transpose(x), y), 0.1)) as Tensor
  return [{ w, b: ops.sub(p.b, ops.mean(y, 0)) as Tensor }, ops.sum(y) as Tensor] as const
}
const start = (): P => ({
  w: tensor([
    [0.1, -0.2],
    [0.3, 0.4],
    [-0.5, 0.6],
  ]),
  b: tensor([0.01, -0.02]),
})
const x = tensor([
  [1, 2, 3],
  [-1, 0.5, 2],
]) as Tensor

describe.skipIf(backend === null)('calls on ONNX Runtime', () => {
  it('a donated tensor cannot be read again, and its array holds a later output', async () => {
    const f = jit(step, { backend: backend!, donateArgnums: [0] })
    let [p] = await f(start(), x)
    const first = p.w as RuntimeTensor
    const array = first.storage()
    ;[p] = await f(p, x)
    expect(() => first.dataSync()).toThrow('this f32[3,2] tensor was donated to a jitted call; it cannot be used again')
    // Refused before anything is taken: p itself is still there.
    await expect(f({ w: first, b: p.b }, x)).rejects.toThrow(/was donated/)
    ;[p] = await f(p, x)
    expect((p.w as RuntimeTensor).storage()).toBe(array)
  })

  it('a concurrent call donating the same tensor fails', async () => {
    const f = jit(step, { backend: backend!, donateArgnums: [0] })
    const [p] = await f(start(), x)
    const calls = await Promise.allSettled([f(p, x), f(p, x)])
    expect(calls.map((c) => c.status)).toEqual(['fulfilled', 'rejected'])
    expect((calls[1] as PromiseRejectedResult).reason.message).toMatch(/was donated/)
  })

  it('ten donated steps give the interpreter’s parameters and losses', async () => {
    const f = jit(step, { backend: backend!, donateArgnums: [0] })
    const g = jit(step, { backend: cpuBackend() })
    let [p, q] = [start(), start()]
    for (let i = 0; i < 10; i++) {
      const [pNext, lp] = await f(p, x)
      const [qNext, lq] = await g(q, x)
      expectClose(await lp.data(), await lq.data(), ofLargest(1e-6))
      ;[p, q] = [pNext, qNext]
    }
    expectClose(await p.w.data(), await q.w.data(), ofLargest(1e-6))
  })

  it('an input of another shape is refused by name', async () => {
    const exe = backend!.compile(jit(step).lower(start(), x))
    await expect(exe.run([tensor([1, 2]), tensor([1, 2]), x])).rejects.toThrow(
      'onnxruntime: input 1 must be f32[3,2], got f32[2]',
    )
  })
})
