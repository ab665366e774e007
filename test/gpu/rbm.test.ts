/**
 * A restricted Boltzmann machine's whole CD-k and PCD update (Gibbs chain,
 * statistics, momentum step; src/energy/rbm.ts) compiles for WebGPU into
 * one submission, the k Gibbs steps a loop inside it, and gives the CPU
 * interpreter's values: the random bits are the same on both, so the chains
 * agree sample for sample.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, ops, random, type Tensor } from '../../src/index.ts'
import * as rbm from '../../src/energy/rbm.ts'
import { expectClose, within } from '../lib/close.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const flat = (p: rbm.Params): number[] => [p.W, p.b, p.c].flatMap((t) => Array.from(t.dataSync()))
const read = async (p: rbm.Params): Promise<number[]> =>
  (await Promise.all([p.W, p.b, p.c].map(async (t) => Array.from(await t.data())))).flat()

describe.skipIf(backend === null)('RBM training steps on WebGPU', () => {
  const V = 24
  const H = 8
  const p = rbm.init(random.key(1), V, H, { scale: 0.5 })
  const v = ops.astype(random.bernoulli(random.key(2), 0.3, [16, V]), 'f32') as Tensor<[16, number]>
  const chains = ops.astype(random.bernoulli(random.key(3), 0.5, [12, V]), 'f32') as Tensor<[12, number]>
  const key = random.key(4)

  it('a CD-3 step is one submission and matches the CPU', async () => {
    const step = rbm.cdStep({ k: 3, lr: 0.1, momentum: 0.5 })
    const onGpu = jit(step, { backend: backend! })
    const [q, velocity, error] = await onGpu(p, rbm.initVelocity(p), key, v)
    const [cq, cVelocity, cError] = await jit(step, { backend: cpuBackend() })(p, rbm.initVelocity(p), key, v)
    expect((await onGpu.compiled(p, rbm.initVelocity(p), key, v)).stats().submissions).toBe(1)
    expectClose(await read(q), flat(cq), within(1e-5), 'parameters')
    expectClose(await read(velocity), flat(cVelocity), within(1e-5), 'velocity')
    expectClose(await error.data(), cError.dataSync(), within(1e-5), 'reconstruction error')
  })

  it('a PCD-1 step is one submission and advances the chains as the CPU does', async () => {
    const step = rbm.pcdStep({ k: 1, lr: 0.1 })
    const onGpu = jit(step, { backend: backend! })
    const [q, , next] = await onGpu(p, rbm.initVelocity(p), chains, key, v)
    const [cq, , cNext] = await jit(step, { backend: cpuBackend() })(p, rbm.initVelocity(p), chains, key, v)
    expect((await onGpu.compiled(p, rbm.initVelocity(p), chains, key, v)).stats().submissions).toBe(1)
    expect(Array.from(await next.data())).toEqual(Array.from(cNext.dataSync()))
    expectClose(await read(q), flat(cq), within(1e-5), 'parameters')
  })
})
