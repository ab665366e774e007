/**
 * adjoint's side of the benchmarks: the same three workloads as the peers,
 * each step one jitted call (forward, gradient and SGD update in one
 * program), parameters donated so they stay on the device.
 */
import {
  cpuBackend,
  grad,
  jit,
  ops,
  scan,
  tensor,
  tree,
  valueAndGrad,
  type Backend,
  type Tensor,
} from '../../src/index.ts'
import { webgpuBackend } from '../../gpu/index.ts'
import { MLP, RNN, mlpData, randomF32, rnnData, type Workloads } from './measure.ts'
import { installNavigatorShim, readGpuCounters } from './navigator.ts'

const sgd = <P extends Record<string, Tensor>>(p: P, g: P, lr: number): P =>
  tree.treeMap2(p, g, (a, d) => ops.sub(a, ops.mul(d, lr)))

/**
 * The MLP workload as adjoint code: one jitted call per step (forward,
 * gradient, SGD update), parameters donated; `run()` resolves to the loss.
 */
export async function mlpTraining(backend: Backend, batch: number = MLP.batch) {
  const d = mlpData(batch)
  const { input, hidden, output, lr } = MLP
  type P = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor; w3: Tensor; b3: Tensor }
  let p: P = {
    w1: tensor(d.w1, { shape: [input, hidden] }),
    b1: tensor(d.b1, { shape: [hidden] }),
    w2: tensor(d.w2, { shape: [hidden, hidden] }),
    b2: tensor(d.b2, { shape: [hidden] }),
    w3: tensor(d.w3, { shape: [hidden, output] }),
    b3: tensor(d.b3, { shape: [output] }),
  }
  const loss = (q: P, v: Tensor, t: Tensor) => {
    const h1 = ops.relu(ops.add(ops.matmul(v, q.w1), q.b1))
    const h2 = ops.relu(ops.add(ops.matmul(h1, q.w2), q.b2))
    const z = ops.add(ops.matmul(h2, q.w3), q.b3)
    return ops.mean(ops.sub(ops.logsumexp(z, 1), ops.sum(ops.mul(z, t), 1)))
  }
  const step = jit((q: P, v: Tensor, t: Tensor) => [sgd(q, grad(loss)(q, v, t), lr), loss(q, v, t)] as const, {
    backend,
    donateArgnums: [0],
  })
  // The data stays on the device, as the peers' does.
  const [x, y] = await jit((v: Tensor, t: Tensor) => [ops.add(v, 0), ops.add(t, 0)], { backend })(
    tensor(d.x, { shape: [batch, input] }),
    tensor(d.y, { shape: [batch, output] }),
  )
  return {
    async run(): Promise<number> {
      const [next, l] = await step(p, x, y)
      p = next
      return (await l.data())[0]
    },
    kernels: async () => (await step.compiled(p, x, y)).kernels,
  }
}

/**
 * The RNN workload as adjoint code: the loop as a `scan` (grad gives a
 * forward scan stacking the states and a reversed scan: BPTT), or unrolled
 * in the traced program; one jitted call per step (forward, gradient, SGD
 * update), parameters donated; `run()` resolves to the loss.
 */
export async function rnnTraining(backend: Backend, loop: 'scan' | 'unrolled' = 'scan') {
  const d = rnnData()
  const { input, hidden, steps, batch, lr } = RNN
  type P = { wx: Tensor; wh: Tensor; b: Tensor }
  let p: P = {
    wx: tensor(d.wx, { shape: [input, hidden] }),
    wh: tensor(d.wh, { shape: [hidden, hidden] }),
    b: tensor(d.b, { shape: [hidden] }),
  }
  const cell = (q: P, h: Tensor, xt: Tensor) =>
    ops.tanh(ops.add(ops.add(ops.matmul(xt, q.wx), ops.matmul(h, q.wh)), q.b))
  const loss = (q: P, x: Tensor) => {
    let h: Tensor = ops.zeros([batch, hidden])
    if (loop === 'scan') h = scan((c: Tensor, xt: Tensor) => [cell(q, c, xt), null] as const, h, x)[0]
    else
      for (let t = 0; t < steps; t++)
        h = cell(q, h, ops.reshape(ops.slice(x, [t, 0, 0], [1, batch, input]), [batch, input]))
    return ops.mean(ops.square(h))
  }
  const step = jit(
    (q: P, x: Tensor) => {
      const [value, g] = valueAndGrad(loss)(q, x)
      return [sgd(q, g, lr), value] as const
    },
    { backend, donateArgnums: [0] },
  )
  // The data stays on the device, as the peers' does.
  const xs = await jit((x: Tensor) => ops.add(x, 0), { backend })(tensor(d.x, { shape: [steps, batch, input] }))
  return {
    async run(): Promise<number> {
      const [next, l] = await step(p, xs)
      p = next
      return (await l.data())[0]
    },
    compiled: () => step.compiled(p, xs),
    /** The step's arguments as the compiled program takes them (its leaves). */
    inputs: () => tree.flatten([p, xs])[0] as Tensor[],
  }
}

export async function createAdjointPeer(kind: 'webgpu' | 'cpu'): Promise<Workloads & { describe(): string }> {
  // On WebGPU, the same adapter as the peers (the shim's), with the same dispatch counters.
  if (kind === 'webgpu') installNavigatorShim()
  const backend: Backend = kind === 'webgpu' ? await webgpuBackend() : cpuBackend()
  let lastLoss: number | undefined

  return {
    describe: () => `adjoint jit on ${backend.name}`,

    async matmul(n: number) {
      const a = tensor(randomF32(n * n, 21), { shape: [n, n] })
      const b = tensor(randomF32(n * n, 22), { shape: [n, n] })
      const mm = jit((x: Tensor, y: Tensor) => ops.slice(ops.matmul(x, y), [0, 0], [1, 1]), { backend })
      // Keep the operands on the device, as the peers do.
      const upload = jit((x: Tensor, y: Tensor) => [ops.add(x, 0), ops.add(y, 0)], { backend })
      const [da, db] = await upload(a, b)
      return async () => {
        await (await mm(da, db)).data()
      }
    },

    async mlpStep(batch: number) {
      const step = await mlpTraining(backend, batch)
      return async () => {
        lastLoss = await step.run()
      }
    },

    async rnnStep() {
      const step = await rnnTraining(backend, 'scan')
      return async () => {
        lastLoss = await step.run()
      }
    },

    lastLoss: () => lastLoss,
    ...(kind === 'webgpu' ? { counters: readGpuCounters } : {}),
  }
}
