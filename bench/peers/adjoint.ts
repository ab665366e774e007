/**
 * adjoint's side of the benchmarks: the same workloads as the peers, each
 * step one jitted call (forward, gradient and update in one program; the
 * random draws of the RBM, VAE and GAN steps made in-program from a key
 * that the step splits and hands back), parameters and optimiser states
 * donated so they stay on the device.
 */
import {
  cpuBackend,
  energy,
  grad,
  jit,
  nn,
  ops,
  optim,
  random,
  scan,
  tensor,
  tree,
  valueAndGrad,
  type Backend,
  type Tensor,
} from '../../src/index.ts'
import { ganStep } from '../../src/nn/gan.ts'
import { gru, lstm } from '../../src/recurrent/index.ts'
import { mnistCnn } from '../../examples/lib/mnist-cnn.ts'
import { webgpuBackend } from '../../gpu/index.ts'
import { onnxruntimeBackend } from '../../src/onnx/backend.ts'
import {
  GAN,
  LSTM,
  MLP,
  RBM,
  RNN,
  VAE,
  CNN,
  cnnData,
  ganData,
  lstmData,
  mlpData,
  randomF32,
  rbmData,
  rnnData,
  vaeData,
  type Workloads,
} from './measure.ts'
import { installNavigatorShim, readGpuCounters } from './navigator.ts'

const sgd = <P extends tree.Tree>(p: P, g: P, lr: number): P =>
  tree.treeMap2(p, g, (a, d) => ops.sub(a, ops.mul(d, lr))) as P

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
    compiled: () => step.compiled(p, x, y),
    /** The step's arguments as the compiled program takes them (its leaves). */
    inputs: () => tree.flatten([p, x, y])[0] as Tensor[],
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

/** A copy of `x` made on `backend`, so that the data stays on the device as the peers' does. */
const onDevice = (backend: Backend) => jit((x: Tensor) => ops.add(x, 0), { backend })

/** A dense layer's parameters from measure.ts's arrays. */
const denseParams = (d: { w: Float32Array; b: Float32Array }, fanIn: number, fanOut: number) => ({
  w: tensor(d.w, { shape: [fanIn, fanOut] }),
  b: tensor(d.b, { shape: [fanOut] }),
})

/**
 * The RBM workload as adjoint code: `energy.rbm.cdStep({ k: 1, lr })`
 * (Hinton 2002) jitted into one call, parameters, velocity and key donated;
 * `run()` resolves to the reconstruction error before the update.
 */
export async function rbmTraining(backend: Backend) {
  const d = rbmData()
  const { visible, hidden, batch, k, lr } = RBM
  let p: energy.rbm.Params = {
    W: tensor(d.W, { shape: [visible, hidden] }),
    b: tensor(d.b, { shape: [visible] }),
    c: tensor(d.c, { shape: [hidden] }),
  }
  let velocity = energy.rbm.initVelocity(p)
  let key: random.Key = random.key(0)
  const cd = energy.rbm.cdStep({ k, lr })
  const step = jit(
    (q: energy.rbm.Params, vel: energy.rbm.Velocity, kk: random.Key, v: Tensor<[number, number]>) => {
      const [now, next] = random.split(kk, 2)
      const [q2, vel2, error] = cd(q, vel, now, v)
      return [q2, vel2, next, error] as const
    },
    { backend, donateArgnums: [0, 1, 2] },
  )
  const v = (await onDevice(backend)(tensor(d.v, { shape: [batch, visible] }))) as Tensor<[number, number]>
  return {
    async run(): Promise<number> {
      let error: Tensor
      ;[p, velocity, key, error] = await step(p, velocity, key, v)
      return (await error.data())[0]
    },
  }
}

/**
 * The VAE workload as adjoint code: `nn.vae.vaeModel` and `nn.vae.elbo`
 * (Kingma and Welling 2014; one reparameterised sample drawn in-program),
 * `valueAndGrad` of −mean ELBO and an `optim.adam` step in one jitted call;
 * `run()` resolves to −ELBO before the update.
 */
export async function vaeTraining(backend: Backend) {
  const d = vaeData()
  const { input, hidden, latent, batch, lr } = VAE
  const model = nn.vae.vaeModel({ input, hidden, latent })
  type P = nn.vae.VaeParams
  const shell = model.init(random.key(0))
  let p: P = {
    encoder: [denseParams(d.e1, input, hidden), shell.encoder[1], denseParams(d.e2, hidden, 2 * latent)],
    decoder: [denseParams(d.d1, latent, hidden), shell.decoder[1], denseParams(d.d2, hidden, input)],
  } as P
  const opt = optim.adam({ lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 })
  let state = opt.init(p)
  let key: random.Key = random.key(1)
  const loss = (q: P, x: Tensor, kk: random.Key) => ops.neg(ops.mean(nn.vae.elbo(kk, model, q, x) as Tensor<[number]>))
  const step = jit(
    (q: P, s: optim.FirstOrderState, kk: random.Key, x: Tensor) => {
      const [now, next] = random.split(kk, 2)
      const [value, g] = valueAndGrad(loss)(q, x, now)
      const [q2, s2] = opt.update(g, s, q) as [P, optim.FirstOrderState]
      return [q2, s2, next, value] as const
    },
    { backend, donateArgnums: [0, 1, 2] },
  )
  const x = await onDevice(backend)(tensor(d.x, { shape: [batch, input] }))
  return {
    async run(): Promise<number> {
      let value: Tensor
      ;[p, state, key, value] = await step(p, state, key, x)
      return (await value.data())[0]
    },
  }
}

/**
 * The GAN workload as adjoint code: `ganStep` (src/nn/gan.ts; Goodfellow et
 * al. 2014, Algorithm 1 with one D update per G update, non-saturating G
 * loss) with `optim.adam` for both players, jitted into one call;
 * `run()` resolves to the discriminator's loss before its update.
 */
export async function ganTraining(backend: Backend) {
  const d = ganData()
  const { latent, hidden, data, batch, lr, beta1, slope } = GAN
  const G = nn.sequential(nn.dense(latent, hidden), nn.relu, nn.dense(hidden, hidden), nn.relu, nn.dense(hidden, data))
  const D = nn.sequential(
    nn.dense(data, hidden),
    nn.leakyRelu(slope),
    nn.dense(hidden, hidden),
    nn.leakyRelu(slope),
    nn.dense(hidden, 1),
  )
  type PG = nn.ParamsOf<typeof G>
  type PD = nn.ParamsOf<typeof D>
  type S = optim.FirstOrderState
  let pG = [
    denseParams(d.g1, latent, hidden),
    null,
    denseParams(d.g2, hidden, hidden),
    null,
    denseParams(d.g3, hidden, data),
  ] as unknown as PG
  let pD = [
    denseParams(d.d1, data, hidden),
    null,
    denseParams(d.d2, hidden, hidden),
    null,
    denseParams(d.d3, hidden, 1),
  ] as unknown as PD
  const optimizerG = optim.adam({ lr, beta1, beta2: 0.999, eps: 1e-8 })
  const optimizerD = optim.adam({ lr, beta1, beta2: 0.999, eps: 1e-8 })
  let sG: S = optimizerG.init(pG)
  let sD: S = optimizerD.init(pD)
  let key: random.Key = random.key(2)
  const gan = ganStep<PG, PD, S, S>({ generator: G, discriminator: D, optimizerG, optimizerD, latentDim: latent })
  const step = jit(
    (g: PG, dd: PD, sg: S, sd: S, kk: random.Key, real: Tensor) => {
      const [now, next] = random.split(kk, 2)
      const [g2, d2, sg2, sd2, losses] = gan(g, dd, sg, sd, now, real)
      return [g2, d2, sg2, sd2, next, losses.lossD, losses.lossG] as const
    },
    { backend, donateArgnums: [0, 1, 2, 3, 4] },
  )
  const real = await onDevice(backend)(tensor(d.real, { shape: [batch, data] }))
  return {
    async run(): Promise<number> {
      let lossD: Tensor
      ;[pG, pD, sG, sD, key, lossD] = await step(pG, pD, sG, sD, key, real)
      return (await lossD.data())[0]
    },
  }
}

/**
 * The CNN workload as adjoint code: the MNIST CNN of examples/lib/mnist-cnn.ts
 * (`nn.conv2d`, `nn.maxPool2d`, dense layers) with measure.ts's parameters,
 * `nn.softmaxCrossEntropy`, gradient and SGD update in one jitted call,
 * parameters donated; `run()` resolves to the loss before the update.
 */
export async function cnnTraining(backend: Backend) {
  const d = cnnData()
  const { size, kernel, c1, c2, hidden, output, batch, lr } = CNN
  const model = mnistCnn()
  type P = nn.ParamsOf<typeof model>
  const shell = model.init(random.key(0)) as unknown as unknown[]
  const conv = (q: { w: Float32Array; b: Float32Array }, cin: number, cout: number) => ({
    w: tensor(q.w, { shape: [kernel, kernel, cin, cout] }),
    b: tensor(q.b, { shape: [cout] }),
  })
  // The layers with parameters: conv 1 → 16, conv 16 → 32, dense 1568 → 128, dense 128 → 10.
  const ours: Record<number, unknown> = {
    1: conv(d.k1, 1, c1),
    4: conv(d.k2, c1, c2),
    8: denseParams(d.d1, (size / 4) * (size / 4) * c2, hidden),
    10: denseParams(d.d2, hidden, output),
  }
  let p = shell.map((q, i) => ours[i] ?? q) as unknown as P
  const loss = (q: P, x: Tensor, y: Tensor) => nn.softmaxCrossEntropy(model.apply(q, x as never), y as never)
  const step = jit(
    (q: P, x: Tensor, y: Tensor) => {
      const [value, g] = valueAndGrad(loss)(q, x, y)
      return [tree.treeMap2(q, g as P, (a: Tensor, dd: Tensor) => ops.sub(a, ops.mul(dd, lr))), value] as const
    },
    { backend, donateArgnums: [0] },
  )
  const x = await onDevice(backend)(tensor(d.x, { shape: [batch, size, size, 1] }))
  const y = await onDevice(backend)(tensor(d.y, { shape: [batch, output] }))
  return {
    async run(): Promise<number> {
      let value: Tensor
      ;[p, value] = await step(p, x, y)
      return (await value.data())[0]
    },
    compiled: () => step.compiled(p, x, y),
    /** The step's arguments as the compiled program takes them (its leaves). */
    inputs: () => tree.flatten([p, x, y])[0] as Tensor[],
  }
}

/**
 * The LSTM workload as adjoint code: the char-level language model's
 * embedding (`ops.take`), the library's `lstm` cell under `scan` (grad
 * gives the forward scan and a reversed one: BPTT), the output layer on
 * every step's state at once and the mean sparse softmax cross-entropy;
 * gradient and SGD update in one jitted call, parameters donated; `run()`
 * resolves to the loss before the update.
 */
export async function lstmTraining(backend: Backend) {
  const d = lstmData()
  const { embed, hidden } = LSTM
  return characterTraining(backend, lstm(embed, hidden), {
    wx: tensor(d.wx, { shape: [embed, 4 * hidden] }),
    wh: tensor(d.wh, { shape: [hidden, 4 * hidden] }),
    b: tensor(d.b, { shape: [4 * hidden] }),
  })
}

/**
 * The LSTM benchmark's character-level model with a GRU cell in place of the LSTM (its weights from the cell's
 * init): adjoint only, for `bench/ab.ts` and `bench/profile.ts` (the peers have no GRU step here).
 */
export async function gruTraining(backend: Backend) {
  const cell = gru(LSTM.embed, LSTM.hidden)
  return characterTraining(backend, cell, cell.init(random.key(1)))
}

/** `gruTraining` with the GRU that resets after its product (`gru(…, { resetAfter: true })`). */
export async function gruResetAfterTraining(backend: Backend) {
  const cell = gru(LSTM.embed, LSTM.hidden, { resetAfter: true })
  return characterTraining(backend, cell, cell.init(random.key(1)))
}

/** The character-level model of `lstmTraining` around a recurrent cell with these weights. */
async function characterTraining(
  backend: Backend,
  cell: { step(p: never, s: never, x: never): readonly unknown[]; initialState(batch: number): unknown },
  weights: Readonly<Record<string, Tensor>>,
) {
  const d = lstmData()
  const { vocab, embed, hidden, steps, batch, lr } = LSTM
  type P = { table: Tensor; cell: Readonly<Record<string, Tensor>>; wo: Tensor; bo: Tensor }
  let p: P = {
    table: tensor(d.table, { shape: [vocab, embed] }),
    cell: weights,
    wo: tensor(d.wo, { shape: [hidden, vocab] }),
    bo: tensor(d.bo, { shape: [vocab] }),
  }
  const loss = (q: P, inputs: Tensor, targets: Tensor) => {
    const e = ops.take(q.table, inputs as Tensor<[number, number], 'i32'>, 0) // [steps, batch, embed]
    const [, hs] = scan(
      (s: unknown, x: Tensor) => {
        const [next, y] = cell.step(q.cell as never, s as never, x as never)
        return [next, y as Tensor] as const
      },
      cell.initialState(batch),
      e,
    )
    const logits = ops.add(ops.matmul(ops.reshape(hs, [steps * batch, hidden]), q.wo), q.bo)
    return nn.sparseSoftmaxCrossEntropy(logits as never, ops.reshape(targets, [steps * batch]) as never) as Tensor
  }
  const step = jit(
    (q: P, inputs: Tensor, targets: Tensor) => {
      const [value, g] = valueAndGrad(loss)(q, inputs, targets)
      return [sgd(q, g, lr), value] as const
    },
    { backend, donateArgnums: [0] },
  )
  // The data stays on the device, as the peers' does.
  const [inputs, targets] = await jit(
    (ids: Tensor) => [ops.slice(ids, [0, 0], [steps, batch]), ops.slice(ids, [1, 0], [steps, batch])],
    { backend },
  )(tensor(d.ids, { shape: [steps + 1, batch], dtype: 'i32' }))
  return {
    async run(): Promise<number> {
      const [next, l] = await step(p, inputs, targets)
      p = next
      return (await l.data())[0]
    },
    compiled: () => step.compiled(p, inputs, targets),
    /** The step's arguments as the compiled program takes them (its leaves). */
    inputs: () => tree.flatten([p, inputs, targets])[0] as Tensor[],
  }
}

export async function createAdjointPeer(
  kind: 'webgpu' | 'cpu' | 'onnxruntime',
): Promise<Workloads & { describe(): string }> {
  // On WebGPU, the same adapter as the peers (the shim's), with the same dispatch counters.
  if (kind === 'webgpu') installNavigatorShim()
  const backend: Backend =
    kind === 'webgpu' ? await webgpuBackend() : kind === 'onnxruntime' ? await onnxruntimeBackend() : cpuBackend()
  let lastLoss: number | undefined
  /** A training's step as the benchmark calls it: one step, its loss kept for `lastLoss`. */
  const recordingLoss = async (training: Promise<{ run(): Promise<number> }>) => {
    const step = await training
    return async () => {
      lastLoss = await step.run()
    }
  }

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

    mlpStep: (batch: number) => recordingLoss(mlpTraining(backend, batch)),

    rnnStep: () => recordingLoss(rnnTraining(backend, 'scan')),

    rbmStep: () => recordingLoss(rbmTraining(backend)),

    vaeStep: () => recordingLoss(vaeTraining(backend)),

    ganStep: () => recordingLoss(ganTraining(backend)),

    cnnStep: () => recordingLoss(cnnTraining(backend)),

    lstmStep: () => recordingLoss(lstmTraining(backend)),

    lastLoss: () => lastLoss,
    ...(kind === 'webgpu' ? { counters: readGpuCounters } : {}),
  }
}
