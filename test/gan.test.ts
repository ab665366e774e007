/**
 * Generative adversarial networks (src/nn/gan.ts; Goodfellow et al. 2014;
 * Deep Learning, COMP613 Advanced Topics in Machine Learning (lecture
 * notes), "Adversarial Learning"; A. Martins, Deep Learning: A Shallow
 * Tutorial, NLPL Winter School 2018, "Generative Adversarial Networks").
 *
 * - The losses against their closed forms in f64, finite at extreme logits,
 *   and their derivatives against central differences and against the
 *   closed forms −(1 − D), D and −D (with the minimax and non-saturating
 *   forms told apart, so the check can fail).
 * - Why the non-saturating loss exists: where the discriminator confidently
 *   rejects the samples, the generator's gradient through it is far larger
 *   than the minimax one's; where it is fooled, the opposite (the planted
 *   case that the same comparison rejects).
 * - Proposition 1 of Goodfellow et al. (2014): for a fixed generator, a
 *   discriminator trained on L_D approaches D*(x) = p_data/(p_data + p_g),
 *   and its loss approaches log 4 − 2·JSD(p_data ‖ p_g) (their Theorem 1),
 *   computed here by quadrature. A discriminator trained on the loss with
 *   the wrong sign, or with the data and the samples swapped, fails the
 *   same check.
 * - ganStep jitted equals ganStep run eagerly, with the same key.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, nn, ops, optim, random, tensor, tree, valueAndGrad, type Tensor } from '../src/index.ts'
import { finiteDifferences } from '../laws/index.ts'
import { discriminatorLoss, ganStep, generatorLoss, optimalDiscriminator } from '../src/nn/gan.ts'
import { expectClose, within } from './lib/close.ts'
import { assertProperty } from './lib/property.ts'

const sigma = (a: number) => 1 / (1 + Math.exp(-a))
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
const f64 = (xs: number[]) => tensor(xs, { dtype: 'f64' })
const value = (t: Tensor) => t.dataSync()[0]
const logits = (n: number) => fc.array(fc.double({ min: -12, max: 12, noNaN: true }), { minLength: 1, maxLength: n })

describe('GAN losses: closed forms', () => {
  it('at logits 0 (D = ½): L_D = 2 log 2, non-saturating L_G = log 2, minimax L_G = −log 2', () => {
    const zero = ops.zeros([5, 1], 'f64')
    expect(value(discriminatorLoss(zero, ops.zeros([3, 1], 'f64')))).toBeCloseTo(2 * Math.log(2), 12)
    expect(value(generatorLoss(zero))).toBeCloseTo(Math.log(2), 12)
    expect(value(generatorLoss(zero, { nonSaturating: false }))).toBeCloseTo(-Math.log(2), 12)
  })

  it('equal −mean log D(x) − mean log(1 − D(G(z))) and the two generator losses, for random logits', () => {
    assertProperty(
      fc.property(logits(8), logits(8), (real, fake) => {
        const lossD = -mean(real.map((a) => Math.log(sigma(a)))) - mean(fake.map((a) => Math.log(1 - sigma(a))))
        expect(value(discriminatorLoss(f64(real), f64(fake)))).toBeCloseTo(lossD, 9)
        expect(value(generatorLoss(f64(fake)))).toBeCloseTo(-mean(fake.map((a) => Math.log(sigma(a)))), 9)
        const minimax = mean(fake.map((a) => Math.log(1 - sigma(a))))
        expect(value(generatorLoss(f64(fake), { nonSaturating: false }))).toBeCloseTo(minimax, 9)
      }),
      { numRuns: 50, seed: 2014 },
    )
  })

  it('stay finite at extreme logits, in f32, with their limits', () => {
    const big = 1e4
    const t = (xs: number[]) => tensor(xs)
    // A perfect discriminator costs nothing; a perfectly wrong one costs |logit| per example.
    expect(value(discriminatorLoss(t([big, big]), t([-big])))).toBe(0)
    expect(value(discriminatorLoss(t([-big]), t([big])))).toBeCloseTo(2 * big, 0)
    expect(value(generatorLoss(t([-big])))).toBeCloseTo(big, 0)
    expect(value(generatorLoss(t([-big]), { nonSaturating: false }))).toBeCloseTo(0, 6)
    expect(value(generatorLoss(t([big]), { nonSaturating: false }))).toBeCloseTo(-big, 0)
    const [gr, gf] = grad((r: Tensor, f: Tensor) => discriminatorLoss(r, f), { argnums: [0, 1] })(
      t([-big, big]),
      t([big, -big]),
    )
    expectClose([...gr.dataSync(), ...gf.dataSync()], [-0.5, 0, 0.5, 0], within(1e-7), 'gradient')
  })

  it('reject integer logits and mixed dtypes', () => {
    expect(() => generatorLoss(tensor([1], { dtype: 'i32' }) as never)).toThrow(
      'generatorLoss: fakeLogits must be f32 or f64 logits',
    )
    expect(() => discriminatorLoss(tensor([1]), f64([1]) as never)).toThrow('must have one dtype')
  })
})

describe('GAN losses: derivatives', () => {
  it('agree with central differences (f64)', () => {
    assertProperty(
      fc.property(logits(6), logits(6), fc.integer(), (real, fake, seed) => {
        const v = random.normal(random.key(seed), [real.length + fake.length], { dtype: 'f64' }).dataSync()
        const vr = f64(Array.from(v.slice(0, real.length)))
        const vf = f64(Array.from(v.slice(real.length)))
        const laws = [
          finiteDifferences(discriminatorLoss, [f64(real), f64(fake)], [vr, vf]),
          finiteDifferences((f: Tensor) => generatorLoss(f), [f64(fake)], [vf]),
          finiteDifferences((f: Tensor) => generatorLoss(f, { nonSaturating: false }), [f64(fake)], [vf]),
        ]
        for (const r of laws) if (!r.ok) throw new Error(r.detail)
      }),
      { numRuns: 20, seed: 2018 },
    )
  })

  it('are −(1 − D)/n on the data and D/n on the samples (L_D); −(1 − D)/n and −D/n (L_G)', () => {
    assertProperty(
      fc.property(logits(6), logits(6), (real, fake) => {
        const [gr, gf] = grad(discriminatorLoss, { argnums: [0, 1] })(f64(real), f64(fake))
        const ns = grad((f: Tensor) => generatorLoss(f))(f64(fake))
        const mm = grad((f: Tensor) => generatorLoss(f, { nonSaturating: false }))(f64(fake))
        const tight = within(1e-12)
        expectClose(
          gr,
          real.map((a) => -(1 - sigma(a)) / real.length),
          tight,
          '∂L_D/∂real',
        )
        expectClose(
          gf,
          fake.map((a) => sigma(a) / fake.length),
          tight,
          '∂L_D/∂fake',
        )
        expectClose(
          ns,
          fake.map((a) => -(1 - sigma(a)) / fake.length),
          tight,
          'non-saturating ∂L_G/∂fake',
        )
        expectClose(
          mm,
          fake.map((a) => -sigma(a) / fake.length),
          tight,
          'minimax ∂L_G/∂fake',
        )
      }),
      { numRuns: 30, seed: 7 },
    )
    // The closed forms tell the two generator losses apart: the comparison above would reject a swap.
    const fake = [2, -3]
    const mm = grad((f: Tensor) => generatorLoss(f, { nonSaturating: false }))(f64(fake))
    expect(() =>
      expectClose(
        mm,
        fake.map((a) => -(1 - sigma(a)) / 2),
        within(1e-6),
        'swapped',
      ),
    ).toThrow()
  })

  // A linear generator x = w z + b and a fixed logistic discriminator D(x) = σ(u x + c), in f64.
  const z = random.normal(random.key(3), [64, 1], { dtype: 'f64' })
  const generatorParams = { w: f64([0.3]), b: f64([1]) }
  type G = typeof generatorParams
  const generate = (p: G) => ops.add(ops.mul(z, p.w), p.b)
  const gradients = (u: number, c: number) => {
    const logit = (x: Tensor) => ops.add(ops.mul(x, u), c)
    const norm = (nonSaturating: boolean) => {
      const g = grad((p: G) => generatorLoss(logit(generate(p)), { nonSaturating }))(generatorParams)
      return Math.hypot(value(g.w), value(g.b))
    }
    return { nonSaturating: norm(true), minimax: norm(false) }
  }

  it('non-saturating: the generator still learns where the discriminator confidently rejects its samples', () => {
    // Samples near x = 1, D(x) = σ(−6x − 2) ≈ e^−8: the minimax gradient is ~D·|u|, the non-saturating ~(1 − D)·|u|.
    const rejected = gradients(-6, -2)
    expect(rejected.nonSaturating).toBeGreaterThan(1)
    expect(rejected.nonSaturating).toBeGreaterThan(100 * rejected.minimax)
    // Planted: where the discriminator is fooled (D ≈ 1), the same comparison fails: there the minimax is larger.
    const fooled = gradients(6, 2)
    expect(fooled.nonSaturating).not.toBeGreaterThan(100 * fooled.minimax)
    expect(fooled.minimax).toBeGreaterThan(100 * fooled.nonSaturating)
    // Both through the generator agree with central differences.
    const v = { w: f64([0.7]), b: f64([-0.4]) }
    for (const nonSaturating of [true, false]) {
      const r = finiteDifferences(
        (p: G) => generatorLoss(ops.add(ops.mul(generate(p), -6), -2), { nonSaturating }),
        [generatorParams],
        [v],
      )
      expect(r.ok, r.detail).toBe(true)
    }
  })
})

describe('the optimal discriminator (Goodfellow et al. 2014, Proposition 1)', () => {
  // p_data = N(−1, 0.5²) and a fixed generator p_g = N(1, 1), both sampled afresh each step.
  const normalDensity = (m: number, s: number) => (x: number) =>
    Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI))
  const pData = normalDensity(-1, 0.5)
  const pG = normalDensity(1, 1)
  // The grid where both densities exceed 0.02: x in [−1.45, 0.36].
  const GRID = Array.from({ length: 40 }, (_, i) => -1.45 + (1.81 * i) / 39)
  const BATCH = 256
  const STEPS = 150
  const discriminator = nn.sequential(nn.dense(1, 16), nn.tanh, nn.dense(16, 16), nn.tanh, nn.dense(16, 1))
  type P = nn.ParamsOf<typeof discriminator>
  const draw = (key: random.Key, n: number) => {
    const [kd, kg] = random.split(key, 2)
    return {
      real: random.normal(kd, [n, 1], { mean: -1, stddev: 0.5 }) as Tensor<['B', 1]>,
      fake: random.normal(kg, [n, 1], { mean: 1, stddev: 1 }) as Tensor<['B', 1]>,
    }
  }
  type Loss = (realLogits: Tensor, fakeLogits: Tensor) => Tensor

  /** Trains the discriminator alone on `loss` with Adam; gives D on the grid and L_D on a large fresh sample. */
  async function trainDiscriminator(loss: Loss) {
    const opt = optim.adam({ lr: 0.01 })
    const step = jit(
      (p: P, s: optim.FirstOrderState, key: random.Key) => {
        const { real, fake } = draw(key, BATCH)
        const [, g] = valueAndGrad((q: P) => loss(discriminator.apply(q, real), discriminator.apply(q, fake)))(p)
        return opt.update(g, s, p)
      },
      { backend: cpuBackend(), donateArgnums: [0, 1] },
    )
    let p = discriminator.init(random.key(11)) as P
    let s = opt.init(p)
    for (let i = 0; i < STEPS; i++) [p, s] = await step(p, s, random.foldIn(random.key(12), i))
    const d = ops.sigmoid(discriminator.apply(p, tensor(GRID, { shape: [GRID.length, 1] }))).dataSync()
    const { real, fake } = draw(random.key(13), 8192)
    const finalLoss = value(discriminatorLoss(discriminator.apply(p, real), discriminator.apply(p, fake)))
    const error = mean(GRID.map((x, i) => Math.abs(d[i] - optimalDiscriminator(pData(x), pG(x)))))
    return { error, finalLoss }
  }

  /** log 4 − 2·JSD(p_data ‖ p_g) = ∫ p_data log(1/D*) + p_g log(1/(1 − D*)), by the midpoint rule on [−8, 8]. */
  function minimumLoss(): number {
    const n = 16000
    const h = 16 / n
    let total = 0
    for (let i = 0; i < n; i++) {
      const x = -8 + (i + 0.5) * h
      const [a, b] = [pData(x), pG(x)]
      if (a > 0) total -= a * Math.log(a / (a + b)) * h
      if (b > 0) total -= b * Math.log(b / (a + b)) * h
    }
    return total
  }

  it('a trained discriminator approaches D* = p_data/(p_data + p_g) and the loss log 4 − 2·JSD', async () => {
    const { error, finalLoss } = await trainDiscriminator(discriminatorLoss)
    expect(error).toBeLessThan(0.05)
    const floor = minimumLoss()
    expect(floor).toBeGreaterThan(0)
    expect(floor).toBeLessThan(Math.log(4))
    expect(Math.abs(finalLoss - floor)).toBeLessThan(0.03)
  }, 20_000)

  it('planted: the wrong sign, or the data and samples swapped, fail the same check', async () => {
    const wrongSign = await trainDiscriminator((r, f) => ops.neg(discriminatorLoss(r, f)))
    expect(wrongSign.error).toBeGreaterThan(0.05)
    const swapped = await trainDiscriminator((r, f) => discriminatorLoss(f, r))
    expect(swapped.error).toBeGreaterThan(0.05)
  }, 20_000)

  it('optimalDiscriminator is p/(p + q), for numbers and tensors', () => {
    expect(optimalDiscriminator(3, 1)).toBe(0.75)
    expectClose(optimalDiscriminator(f64([1, 2, 0]), f64([1, 6, 5])), [0.5, 0.25, 0], within(0))
    expect(() => optimalDiscriminator(f64([1]), 2 as never)).toThrow('both densities as numbers or both as tensors')
  })
})

describe('ganStep', () => {
  const LATENT = 3
  const generator = nn.sequential(nn.dense(LATENT, 8), nn.relu, nn.dense(8, 2))
  const discriminator = nn.sequential(nn.dense(2, 8), nn.leakyRelu(0.2), nn.dense(8, 1))
  const optimizerG = optim.adam({ lr: 1e-2, beta1: 0.5 })
  const optimizerD = optim.adam({ lr: 1e-2, beta1: 0.5 })
  const [kg, kd, kx] = random.split(random.key(5), 3)
  const pG = generator.init(kg)
  const pD = discriminator.init(kd)
  const real = random.normal(kx, [16, 2])
  const step = ganStep({ generator, discriminator, optimizerG, optimizerD, latentDim: LATENT })
  const leaves = (t: unknown) => tree.flatten(t)[0].flatMap((x) => Array.from(x.dataSync()))

  it('jitted equals eager, with the same key', async () => {
    const eager = step(pG, pD, optimizerG.init(pG), optimizerD.init(pD), random.key(9), real)
    const jitted = await jit(step, { backend: cpuBackend() })(
      pG,
      pD,
      optimizerG.init(pG),
      optimizerD.init(pD),
      random.key(9),
      real,
    )
    expectClose(leaves(jitted), leaves(eager), within(1e-5), 'parameters, states and losses')
    // It moved both players, and a different key gives a different step.
    expect(leaves(eager[0])).not.toEqual(leaves(pG))
    expect(leaves(eager[1])).not.toEqual(leaves(pD))
    const other = step(pG, pD, optimizerG.init(pG), optimizerD.init(pD), random.key(10), real)
    expect(leaves(other[0])).not.toEqual(leaves(eager[0]))
  })

  it('updates D on L_D first, then G on L_G against the updated D (Algorithm 1, k = 1)', () => {
    // Plain gradient steps: Adam's first step is lr·sign(g), blind to the size of the gradient.
    const [optimizerG, optimizerD] = [optim.sgd({ lr: 0.5 }), optim.sgd({ lr: 0.5 })]
    const sgdStep = ganStep({ generator, discriminator, optimizerG, optimizerD, latentDim: LATENT })
    const [next, nextD, , , losses] = sgdStep(pG, pD, optimizerG.init(pG), optimizerD.init(pD), random.key(9), real)
    const [keyD, keyG] = random.split(random.key(9), 2)
    const zD = random.normal(keyD, [16, LATENT])
    const zG = random.normal(keyG, [16, LATENT])
    const lossD = (q: typeof pD) =>
      discriminatorLoss(discriminator.apply(q, real), discriminator.apply(q, generator.apply(pG, zD)))
    const [expectedD] = optimizerD.update(grad(lossD)(pD), optimizerD.init(pD), pD)
    const lossG = (q: typeof pG) => generatorLoss(discriminator.apply(expectedD, generator.apply(q, zG)))
    const [expectedG] = optimizerG.update(grad(lossG)(pG), optimizerG.init(pG), pG)
    expectClose(leaves(nextD), leaves(expectedD), within(1e-6), 'discriminator')
    expectClose(leaves(next), leaves(expectedG), within(1e-6), 'generator')
    expectClose(losses.lossD, [value(lossD(pD))], within(1e-6), 'lossD')
    expectClose(losses.lossG, [value(lossG(pG))], within(1e-6), 'lossG')
    // Planted: the generator judged by the discriminator before its update is a different step.
    const stale = (q: typeof pG) => generatorLoss(discriminator.apply(pD, generator.apply(q, zG)))
    const [staleG] = optimizerG.update(grad(stale)(pG), optimizerG.init(pG), pG)
    expect(() => expectClose(leaves(next), leaves(staleG), within(1e-6), 'stale')).toThrow()
  })

  it('checks its options', () => {
    expect(() => ganStep({ generator, discriminator, optimizerG, optimizerD })).toThrow(
      'ganStep: latentDim must be a positive integer',
    )
    expect(() => ganStep({ generator, discriminator, optimizerG, optimizerD, latentDim: 2, batchSize: 0 })).toThrow(
      'batchSize must be a positive integer',
    )
  })
})
