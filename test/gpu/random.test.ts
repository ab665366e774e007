/**
 * Randomness compiled for WebGPU: the bits of the `randomBits` kernel equal
 * the CPU reference's bit for bit, the samplers pass the same statistical
 * checks as on the CPU, and a jitted training step with dropout (and a
 * VAE-style step that samples its noise) draws on the device from the key
 * it is given, in one submission.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, lax, nn, ops, random, tensor, valueAndGrad, vmap, type Tensor } from '../../src/index.ts'
import { expectClose, within } from '../lib/close.ts'
import { samplerChecks } from '../lib/samplers.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const keyOf = (hi: number, lo: number) => tensor([hi | 0, lo | 0], { dtype: 'i32' }) as random.Key

describe.skipIf(backend === null)(`random bits on ${backend?.name ?? 'no adapter'}`, () => {
  // Words with the sign bit set, zero, and ordinary seeds; a batch of keys with their own counter offsets.
  const keys = [keyOf(0, 0), keyOf(0xffffffff, 0x80000000), random.key(42), random.key(-7)]
  const cases: [string, (key: random.Key) => Tensor][] = [
    ['i32 bits of an odd count', (k) => lax.randomBits(k, tensor(0, { dtype: 'i32' }), [7, 3], 2, 'i32')],
    ['f32 uniforms', (k) => lax.randomBits(k, tensor(0, { dtype: 'i32' }), [5, 4], 2, 'f32')],
    ['a counter offset near 2³¹', (k) => lax.randomBits(k, tensor(2 ** 31 - 2, { dtype: 'i32' }), [9], 7, 'i32')],
    ['split and foldIn', (k) => ops.concat([...random.split(k, 3), random.foldIn(k, 12345)])],
  ]
  for (const [name, f] of cases)
    it(`${name}: the same bits as the CPU`, async () => {
      const compiled = jit(f, { backend: backend! })
      for (const k of keys) expect(Array.from(await (await compiled(k)).data())).toEqual(Array.from(f(k).dataSync()))
    })

  it('a batch of keys (vmap) with a traced fold-in: the same bits as the CPU', async () => {
    const f = (ks: Tensor, t: Tensor) =>
      vmap((k: random.Key) => random.bits(random.foldIn(k, t as Tensor<[], 'i32'>), [3]))(ks)
    const ks = ops.stack(keys)
    const t = tensor(-3, { dtype: 'i32' })
    const got = await (await jit(f, { backend: backend! })(ks, t)).data()
    expect(Array.from(got)).toEqual(Array.from(f(ks, t).dataSync()))
  })
})

describe.skipIf(backend === null)(`samplers compiled for ${backend?.name ?? 'no adapter'}`, () => {
  for (const { name, check } of samplerChecks)
    it(name, () => check(async (sampler, key) => (await jit(sampler, { backend: backend! })(key)).data()))
})

describe.skipIf(backend === null)('training steps that draw on the device', () => {
  const model = nn.sequential(nn.dense(8, 32), nn.relu, nn.dropout(0.5), nn.dense(32, 1))
  type P = ReturnType<typeof model.init>
  const params = model.init(random.key(5))
  const x = random.normal(random.key(6), [16, 8])
  const y = random.normal(random.key(7), [16, 1])

  /** A step returns the gradient; its first layer's weight gradient shows which hidden units dropout kept. */
  type Step = (p: P, x: Tensor, y: Tensor, key: random.Key) => Promise<[Tensor, P]>
  const lossOf = (key: random.Key) => (p: P, xb: Tensor, yb: Tensor) => {
    const [out] = model.forward(p, model.initState(), xb as Tensor<[16, 8]>, nn.training(key))
    return ops.mean(ops.square(ops.sub(out as Tensor, yb)))
  }
  /** What the tests ask of a step: the same key gives the same mask, a new key a new one. */
  const resamples = async (step: Step) => {
    const grads = async (seed: number) => Array.from(await (await step(params, x, y, random.key(seed)))[1][0].w.data())
    const first = await grads(1)
    return { repeats: equal(await grads(1), first), changes: !equal(await grads(2), first) }
  }
  const equal = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i])

  it('dropout: new keys resample the mask, the same key repeats it, in one submission', async () => {
    const step = jit((p: P, xb: Tensor, yb: Tensor, key: random.Key) => valueAndGrad(lossOf(key))(p, xb, yb), {
      backend: backend!,
    })
    expect(await resamples(step as unknown as Step)).toEqual({ repeats: true, changes: true })
    expect((await step.compiled(params, x, y, random.key(1))).stats().submissions).toBe(1)
    // And the device's masks are the CPU's.
    const cpu = jit((p: P, xb: Tensor, yb: Tensor, key: random.Key) => valueAndGrad(lossOf(key))(p, xb, yb), {
      backend: cpuBackend(),
    })
    const [[, g1], [, g2]] = [await step(params, x, y, random.key(3)), await cpu(params, x, y, random.key(3))]
    expectClose(await g1[0].w.data(), await g2[0].w.data(), within(1e-5), 'first layer gradient')
  })

  it('the old behaviour, a mask drawn on the host when the step is traced, fails that test', async () => {
    const traced = random.key(1)
    const step = jit((p: P, xb: Tensor, yb: Tensor, _key: random.Key) => valueAndGrad(lossOf(traced))(p, xb, yb), {
      backend: backend!,
    })
    const { changes } = await resamples(step as unknown as Step)
    expect(changes).toBe(false)
  })

  it('a VAE-style step (sample ε, reparameterise, ELBO, gradient, update) is one submission, equal to the CPU', async () => {
    type V = { we: Tensor; wm: Tensor; ws: Tensor; wd: Tensor }
    const v: V = {
      we: random.normal(random.key(11), [8, 16], { stddev: 0.3 }),
      wm: random.normal(random.key(12), [16, 2], { stddev: 0.3 }),
      ws: random.normal(random.key(13), [16, 2], { stddev: 0.3 }),
      wd: random.normal(random.key(14), [2, 8], { stddev: 0.3 }),
    }
    const negElbo = (q: V, xb: Tensor, key: random.Key) => {
      const h = ops.tanh(ops.matmul(xb, q.we))
      const mu = ops.matmul(h, q.wm)
      const logSigma = ops.matmul(h, q.ws)
      const eps = random.normal(key, [16, 2])
      const z = ops.add(mu, ops.mul(ops.exp(logSigma), eps))
      const recon = ops.mean(ops.sum(ops.square(ops.sub(ops.matmul(z, q.wd), xb)), 1))
      const kl = ops.mean(
        ops.sum(
          ops.mul(
            ops.sub(ops.add(ops.square(mu), ops.exp(ops.mul(logSigma, 2))), ops.add(ops.mul(logSigma, 2), 1)),
            0.5,
          ),
          1,
        ),
      )
      return ops.add(recon, kl)
    }
    const step = (q: V, xb: Tensor, key: random.Key) => {
      const [loss, g] = valueAndGrad(negElbo)(q, xb, key)
      const next = Object.fromEntries(Object.entries(q).map(([n, w]) => [n, ops.sub(w, ops.mul(g[n as keyof V], 0.1))]))
      return [next as V, loss] as const
    }
    const onGpu = jit(step, { backend: backend! })
    const onCpu = jit(step, { backend: cpuBackend() })
    const [a, la] = await onGpu(v, x, random.key(21))
    const [b, lb] = await onCpu(v, x, random.key(21))
    expectClose(await la.data(), await lb.data(), within(1e-4), 'loss')
    expectClose(await a.wd.data(), await b.wd.data(), within(1e-4), 'decoder weights')
    expect((await onGpu.compiled(v, x, random.key(21))).stats().submissions).toBe(1)
    const [, other] = await onGpu(v, x, random.key(22))
    expect((await other.data())[0]).not.toBe((await la.data())[0])
  })
})
