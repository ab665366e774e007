/**
 * A whole GAN training step (src/nn/gan.ts: noise drawn from the key, the
 * discriminator's gradient and Adam update, then the generator's against
 * the updated discriminator) compiles for WebGPU into one submission, with
 * parameters and optimiser states donated, and gives the CPU interpreter's
 * values: the random bits are the same on both.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, nn, optim, random, tree } from '../../src/index.ts'
import { ganStep } from '../../src/nn/gan.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend

describe.skipIf(backend === null)('a GAN step on WebGPU', () => {
  const generator = nn.sequential(nn.dense(4, 16), nn.relu, nn.dense(16, 2))
  const discriminator = nn.sequential(nn.dense(2, 16), nn.leakyRelu(0.2), nn.dense(16, 1))
  const optimizerG = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const optimizerD = optim.adam({ lr: 1e-3, beta1: 0.5 })
  const step = ganStep({ generator, discriminator, optimizerG, optimizerD, latentDim: 4 })
  const [kg, kd, kx] = random.split(random.key(1), 3)
  const real = random.normal(kx, [32, 2])
  const fresh = () => {
    const pG = generator.init(kg)
    const pD = discriminator.init(kd)
    return [pG, pD, optimizerG.init(pG), optimizerD.init(pD)] as const
  }
  const read = async (t: unknown) =>
    (await Promise.all(tree.flatten(t)[0].map(async (x) => Array.from(await x.data())))).flat()

  it('is one submission, donates its state, and matches the CPU', async () => {
    const onGpu = jit(step, { backend: backend!, donateArgnums: [0, 1, 2, 3] })
    const out = await onGpu(...fresh(), random.key(2), real)
    const expected = await jit(step, { backend: cpuBackend() })(...fresh(), random.key(2), real)
    expect((await onGpu.compiled(...fresh(), random.key(2), real)).stats().submissions).toBe(1)
    expectClose(await read(out), await read(expected), ofLargest(1e-4), 'parameters, states and losses')
  })
})
