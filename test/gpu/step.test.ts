/**
 * A whole training step as one submission; device memory that does not grow
 * over 1,000 steps; errors that name the limit or the kernel.
 */
import { describe, expect, it } from 'vitest'
import { grad, jit, makeProgram, ops, random, tensor, tree, type Tensor } from '../../src/index.ts'
import { lower } from '../../gpu/lower/index.ts'
import { webgpuBackend } from '../../gpu/index.ts'
import { WebGpuExecutable } from '../../gpu/executable.ts'
import { renderKernel, UNARY_WGSL } from '../../gpu/wgsl/render.ts'
import { expectClose } from '../lib/close.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend

type Params = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor; w3: Tensor; b3: Tensor }

function mlp(sizes: readonly [number, number, number, number], seed: number): Params {
  const k = random.split(random.key(seed), 3)
  const w = (key: random.Key, m: number, n: number) => random.normal(key, [m, n], { stddev: Math.sqrt(2 / m) })
  return {
    w1: w(k[0], sizes[0], sizes[1]),
    b1: ops.zeros([sizes[1]]),
    w2: w(k[1], sizes[1], sizes[2]),
    b2: ops.zeros([sizes[2]]),
    w3: w(k[2], sizes[2], sizes[3]),
    b3: ops.zeros([sizes[3]]),
  }
}

/** Softmax cross-entropy of a ReLU MLP; y is one-hot. */
const loss = (p: Params, x: Tensor, y: Tensor) => {
  const h1 = ops.relu(ops.add(ops.matmul(x, p.w1), p.b1))
  const h2 = ops.relu(ops.add(ops.matmul(h1, p.w2), p.b2))
  const z = ops.add(ops.matmul(h2, p.w3), p.b3)
  return ops.mean(ops.sub(ops.logsumexp(z, 1), ops.sum(ops.mul(z, y), 1)))
}

const sgdStep = (p: Params, x: Tensor, y: Tensor): [Params, Tensor] => {
  const g = grad(loss)(p, x, y)
  return [tree.treeMap2(p, g, (a, d) => ops.sub(a, ops.mul(d, 0.05))), loss(p, x, y)]
}

function batch(n: number, features: number, classes: number, seed: number): [Tensor, Tensor] {
  const [a, b] = random.split(random.key(seed))
  const x = random.normal(a, [n, features])
  const labels = Array.from(random.uniform(b, [n]).dataSync(), (u) => Math.floor(u * classes))
  const y = ops.astype(
    ops.equal(ops.reshape(tensor(labels, { dtype: 'i32' }), [n, 1]), ops.arange(classes, undefined, 1, 'i32')),
    'f32',
  )
  return [x, y]
}

describe.skipIf(backend === null)('a training step on WebGPU', () => {
  it('784-256-256-10, batch 128: one submission per step, the kernel count pinned, the same values as the CPU', async () => {
    const p = mlp([784, 256, 256, 10], 1)
    const [x, y] = batch(128, 784, 10, 2)
    const step = jit(sgdStep, { backend: backend! })
    const [p1, l1] = await step(p, x, y)
    const exe = await step.compiled(p, x, y)
    const stats = exe.stats()
    expect(stats.submissions).toBe(1)
    expect(stats.dispatches).toBe(exe.kernels)
    // 16 kernels. Forward: 3 matmuls, the first two storing their bias+ReLU maps beside the pre-activations
    // (stores, not epilogues: the backward pass reads the pre-activations too), max and Σexp of logsumexp. Backward: the softmax cotangent (a map), 2 matmuls with
    // the ReLU masks as epilogues, 3 bias-gradient sums with their SGD updates as epilogues, 3 weight-gradient
    // matmuls with theirs. Loss: the row sums of z·y, then the mean: a sum with ·(1/128) as its epilogue.
    expect(exe.kernels).toMatchInlineSnapshot(`16`)
    // The loss, a scalar, comes back with the call (4 bytes); the rest only when it is read.
    expect(stats.bytesRead).toBe(4)
    const [q1, m1] = sgdStep(p, x, y)
    expect(Math.abs((await l1.data())[0] - m1.item())).toBeLessThan(1e-5)
    expect(exe.stats()).toMatchObject({ submissions: 1, bytesRead: 4 })
    expectClose(await p1.w1.data(), q1.w1.dataSync(), { atol: 1e-5 }, 'w1')
  })

  it('kernelCosts: a cost per kernel from calls that leave it out, and the calls after it are right', async () => {
    const p = mlp([12, 16, 16, 3], 4)
    const [x, y] = batch(8, 12, 3, 5)
    const step = jit(sgdStep, { backend: backend! })
    const exe = (await step.compiled(p, x, y)) as WebGpuExecutable
    const costs = await exe.kernelCosts(tree.flatten([p, x, y])[0] as Tensor[], 2)
    expect(costs.map((c) => c.kernel)).toEqual(exe.lowered.kernels.map((_, k) => k))
    expect(costs.reduce((n, c) => n + c.dispatches, 0)).toBe(exe.dispatches.length)
    for (const c of costs) expect(Number.isFinite(c.ms)).toBe(true)
    await expect(exe.kernelCosts(tree.flatten([p, x, y])[0] as Tensor[], 0)).rejects.toThrow(
      /rounds must be a whole number of at least 1, got 0/,
    )
    // Nothing of the profiling calls stays behind: the next call computes the step.
    const [got, loss] = await step(p, x, y)
    const [want, wantLoss] = sgdStep(p, x, y)
    expect(Math.abs((await loss.data())[0] - wantLoss.item())).toBeLessThan(1e-5)
    expectClose(await got.w2.data(), want.w2.dataSync(), { atol: 1e-5 }, 'w2')
  })

  it('device memory after 1,000 steps equals that after 10 (parameters donated)', async () => {
    let p = mlp([12, 16, 16, 3], 3)
    const [x, y] = batch(8, 12, 3, 4)
    const step = jit(sgdStep, { backend: backend!, donateArgnums: [0] })
    const pool = backend!.pool
    let first = 0
    let lossValue: Tensor | null = null
    for (let i = 1; i <= 1000; i++) {
      ;[p, lossValue] = await step(p, x, y)
      // Losses are released as they are dropped, not left to the garbage collector.
      ;(lossValue as { dispose?: () => void }).dispose?.()
      if (i === 10) first = pool.bytesInUse
    }
    expect(pool.bytesInUse).toBe(first)
    const w = await p.w1.data()
    expect(w.every(Number.isFinite)).toBe(true)
  })

  it('a donated tensor cannot be used again, and says why', async () => {
    const p = mlp([4, 4, 4, 2], 5)
    const [x, y] = batch(2, 4, 2, 6)
    const step = jit(sgdStep, { backend: backend!, donateArgnums: [0] })
    const [p1] = await step(p, x, y)
    const [p2] = await step(p1, x, y)
    expect(p2.w1.shape).toEqual([4, 4])
    await expect(step(p1, x, y)).rejects.toThrow(/was donated to a jitted call; it cannot be used again/)
  })

  it('concurrent calls donating one tensor: the first takes it and the rest fail, before and after compiling', async () => {
    const make = jit((a: Tensor) => ops.mul(a, 1), { backend: backend! })
    const double = jit((a: Tensor) => ops.mul(a, 2), { backend: backend!, donateArgnums: 0 })
    for (const when of ['while compiling', 'compiled']) {
      const x = await make(tensor([1, 2, 3]))
      const calls = await Promise.allSettled([1, 2, 3, 4, 5].map(() => double(x)))
      const outcome = await Promise.all(
        calls.map(async (c) =>
          c.status === 'fulfilled' ? Array.from(await c.value.data()).join(',') : (c.reason as Error).message,
        ),
      )
      expect(outcome, when).toEqual([
        '2,4,6',
        ...Array.from({ length: 4 }, () => 'this f32[3] tensor was donated to a jitted call; it cannot be used again'),
      ])
    }
  })
})

describe.skipIf(backend === null)('WebGPU errors', () => {
  it('a tensor larger than maxStorageBufferBindingSize names the limit', () => {
    const limit = backend!.context.limits.maxStorageBufferBindingSize
    const n = Math.floor(limit / 4) + 1
    const program = makeProgram((v: Tensor) => ops.reshape(v, [n]))(ops.zeros([n]))
    expect(() => backend!.compile(program)).toThrow(
      new RegExp(
        `f32\\[${n}\\] tensor needs ${4 * n} bytes, more than this adapter's maxStorageBufferBindingSize of ${limit} bytes`,
      ),
    )
  })
  it('a shader that fails to compile names the kernel', async () => {
    const program = makeProgram((v: Tensor) => ops.exp(v))(ops.ones([4]))
    const lowered = lower(program, { maxBuffers: 8 })
    const broken = lowered.kernels.map((k, i) => ({
      ...renderKernel(k, lowered.buffers),
      code: 'fn main() { let x: f32 = ; }',
      label: `#${i} (${k.kind})`,
    }))
    const exe = new WebGpuExecutable(program, lowered, broken, backend!.context, backend!.pool)
    await expect(exe.run([ops.ones([4])])).rejects.toThrow(/WebGPU could not compile kernel #0 \(map\)/)
  })
  it('a lost device fails the next call with the reason, instead of hanging', async () => {
    const own = await webgpuBackend()
    const f = jit((v: Tensor) => ops.exp(v), { backend: own })
    const x = tensor([1, 2])
    const before = await (await f(x)).data()
    expect(Math.abs(before[1] - Math.exp(2))).toBeLessThan(1e-5)
    own.context.device.destroy()
    await own.context.device.lost
    await expect(f(x)).rejects.toThrow(/cannot run: the WebGPU device was lost \(destroyed/)
  })
  it('f64 programs are refused with the reason', () => {
    const program = makeProgram((v: Tensor) => ops.exp(v))(tensor([1], { dtype: 'f64' }))
    expect(() => backend!.compile(program)).toThrow(/WebGPU has no f64: input 0 is f64/)
  })
  it('the compiled law catches a wrong WGSL rule (sin rendered as cos)', async () => {
    const f = (v: Tensor) => ops.sin(v)
    const x = tensor([0.5, 1, 2])
    const saved = UNARY_WGSL.sin
    try {
      UNARY_WGSL.sin = (a) => `cos(${a})`
      const wrong = await (await jit(f, { backend: backend! })(x)).data()
      expect(Math.abs(wrong[0] - Math.sin(0.5))).toBeGreaterThan(0.1)
    } finally {
      UNARY_WGSL.sin = saved
    }
    const right = await (await jit((v: Tensor) => ops.sin(v), { backend: backend! })(x)).data()
    expect(Math.abs(right[0] - Math.sin(0.5))).toBeLessThan(2 ** -11)
  })
})
