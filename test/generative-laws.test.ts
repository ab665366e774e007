/**
 * The losses, bounds and energies of the generative and energy-based
 * modules (nn.vae, the GAN losses, energy.rbm, energy.hopfield) pass the
 * law bundle of `laws.layer` (shape contract, adjoint identity, finite
 * differences, jacfwd = jacrev, linearity of the derivative, vmap, tying)
 * on the CPU interpreter in f64, as the layers of nn-laws.test.ts do. A
 * function of a key (the reparameterised sample, the ELBO, the IWAE bound)
 * is checked with the key held fixed: then it is an ordinary differentiable
 * function of its parameters and input.
 *
 * Their gradients come from the primitives' rules. To show that the laws
 * see a wrong gradient here, each of three closed forms is also written
 * with its derivative given by hand (customJvp): the right rule passes
 * every law, and a planted slip, of the kind one makes writing these rules
 * (the ½ of ∂KL/∂log σ² forgotten, softplus' derivative taken as σ(−x), the
 * minimax generator's derivative given to the non-saturating loss), fails
 * the finite-difference law while forward and reverse mode still agree with
 * each other.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arb, checkLayer, domain, laws, type LayerArbitraries } from '../laws/index.ts'
import { customJvp, energy, nn, ops, random, tensor, type Tensor } from '../src/index.ts'

type AnyT = Tensor<any, any>
const { vae } = nn
const { rbm, hopfield } = energy
type RbmParams = energy.rbm.Params
const f64 = { dtype: 'f64' } as const

const obeys =
  (name: string, layer: (p: any, x: any) => unknown, arbs: LayerArbitraries<any, any>, order: 1 | 2 = 1) =>
  () => {
    laws.layer(layer, arbs, { name, order })
  }

/** (μ, log σ²) of a batch of 2 in a 3-dimensional latent space; log σ² kept in [−2, 2] so that σ² stays moderate. */
const gaussian = fc.record({ mu: arb.f64([2, 3]), logVar: arb.f64([2, 3], domain.real(2)) })

describe('nn.vae obeys the laws', () => {
  it(
    'gaussianKl, in μ and log σ² (second order too)',
    obeys(
      'gaussianKl',
      (_: null, q: { mu: AnyT; logVar: AnyT }) => vae.gaussianKl(q.mu, q.logVar),
      {
        params: fc.constant(null),
        input: gaussian,
      },
      2,
    ),
  )
  it(
    'gaussianLogDensity, in z, μ and log σ²',
    obeys('gaussianLogDensity', (q: { mu: AnyT; logVar: AnyT }, z: AnyT) => vae.gaussianLogDensity(z, q.mu, q.logVar), {
      params: gaussian,
      input: arb.f64([2, 3]),
    }),
  )
  it(
    'gaussianLogDensity against the standard normal (numbers for μ and log σ²)',
    obeys('gaussianLogDensity', (_: null, z: AnyT) => vae.gaussianLogDensity(z, 0, 0), {
      params: fc.constant(null),
      input: arb.f64([2, 3]),
    }),
  )
  it(
    'bernoulliLogLikelihood, in the logits and in x ∈ [0, 1]',
    obeys('bernoulliLogLikelihood', (x: AnyT, logits: AnyT) => vae.bernoulliLogLikelihood(logits, x), {
      params: arb.f64([2, 4], domain.positive(0, 1)),
      input: arb.f64([2, 4]),
    }),
  )
  it(
    'reparameterize with a fixed key, one sample and three',
    obeys(
      'reparameterize',
      (_: null, q: { mu: AnyT; logVar: AnyT }) => {
        const key = random.key(4)
        return [vae.reparameterize(key, q.mu, q.logVar), vae.reparameterize(key, q.mu, q.logVar, 3)]
      },
      { params: fc.constant(null), input: gaussian },
    ),
  )

  // A small VAE with tanh hidden units (no kinks for the differences to straddle): 4 → 3 → (μ, log σ²) in 2-D.
  const encoder = nn.sequential(nn.dense(4, 3, f64), nn.tanh, nn.dense(3, 4, f64))
  const decoder = nn.sequential(nn.dense(2, 3, f64), nn.tanh, nn.dense(3, 4, f64))
  type P = { encoder: ReturnType<typeof encoder.init>; decoder: ReturnType<typeof decoder.init> }
  const model: nn.vae.Vae<P> = {
    encode(p, x) {
      const h = encoder.apply(p.encoder, x as AnyT) as AnyT
      return { mu: ops.slice(h, [0, 0], [h.shape[0], 2]), logVar: ops.slice(h, [0, 2], [h.shape[0], 2]) }
    },
    decode: (p, z) => decoder.apply(p.decoder, z as AnyT),
  }
  const params = arb.seed().map((s) => {
    const [e, d] = random.split(random.key(s), 2)
    return { encoder: encoder.init(e), decoder: decoder.init(d) }
  })
  const batch = arb.f64([2, 4], domain.positive(0, 1))
  it(
    'elbo with a fixed key (two samples of z), in the parameters and in x',
    obeys('elbo', (p: P, x: AnyT) => vae.elbo(random.key(6), model, p, x, { samples: 2 }), { params, input: batch }),
  )
  it(
    'iwae with a fixed key (k = 3)',
    obeys('iwae', (p: P, x: AnyT) => vae.iwae(random.key(6), model, p, x, 3), { params, input: batch }),
  )
})

describe('the GAN losses obey the laws', () => {
  it(
    'discriminatorLoss, in both batches of logits (second order too)',
    obeys(
      'discriminatorLoss',
      (real: AnyT, fake: AnyT) => nn.discriminatorLoss(real, fake),
      {
        params: arb.f64([3, 1]),
        input: arb.f64([4, 1]),
      },
      2,
    ),
  )
  for (const nonSaturating of [true, false])
    it(
      `generatorLoss, ${nonSaturating ? 'non-saturating' : 'minimax'}`,
      obeys('generatorLoss', (_: null, fake: AnyT) => nn.generatorLoss(fake, { nonSaturating }), {
        params: fc.constant(null),
        input: arb.f64([4, 1]),
      }),
    )
})

describe('energy.rbm and energy.hopfield obey the laws', () => {
  // Weights of either sign and size 1: the softplus terms are neither flat nor linear.
  const rbmParams = fc.record({ W: arb.f64([3, 2], domain.real(1)), b: arb.f64([3]), c: arb.f64([2]) })
  const visible = arb.f64([2, 3], domain.positive(0, 1))
  it(
    'freeEnergy, in W, b, c and a real-valued v (second order too)',
    obeys('freeEnergy', (p: RbmParams, v: AnyT) => rbm.freeEnergy(p, v), { params: rbmParams, input: visible }, 2),
  )
  it(
    'energy(v, h)',
    obeys('energy', (p: RbmParams, s: { v: AnyT; h: AnyT }) => rbm.energy(p, s.v, s.h), {
      params: rbmParams,
      input: fc.record({ v: visible, h: arb.f64([2, 2], domain.positive(0, 1)) }),
    }),
  )
  it(
    'hiddenProbs and visibleProbs',
    obeys(
      'conditionals',
      (p: RbmParams, v: AnyT) => {
        const h = rbm.hiddenProbs(p, v)
        return [h, rbm.visibleProbs(p, h)]
      },
      { params: rbmParams, input: visible },
    ),
  )
  // The negative samples are held fixed (stopGradient) by design, so they are a constant here, not an input.
  const samples = tensor([0.2, 0.9, 0.4, 0.7, 0.1, 0.6], { shape: [2, 3], dtype: 'f64' })
  it(
    'freeEnergyGap (the loss whose gradient is CD-k), in the parameters and the data',
    obeys('freeEnergyGap', (p: RbmParams, v: AnyT) => rbm.freeEnergyGap(p, v, samples), {
      params: rbmParams,
      input: visible,
    }),
  )
  it(
    'hopfield energy, in W, s and the biases',
    obeys('hopfield.energy', (p: { W: AnyT; b: AnyT }, s: AnyT) => hopfield.energy(p.W, s, p.b), {
      params: fc.record({ W: arb.f64([4, 4]), b: arb.f64([4]) }),
      input: arb.f64([2, 4]),
    }),
  )
})

// ---------------------------------------------------------------- planted bugs

/** ½ Σ (σ² + μ² − 1 − log σ²) with its forward-mode rule written by hand; `half` = 1 is the bug. */
const klByHand = (half: number) =>
  customJvp(
    (mu: AnyT, logVar: AnyT) => vae.gaussianKl(mu, logVar),
    ([mu, logVar], [dmu, dlogVar]) => {
      const value = vae.gaussianKl(mu, logVar)
      // ∂/∂μ = μ, ∂/∂log σ² = ½(σ² − 1)
      const dLogVar = ops.mul(ops.mul(ops.sub(ops.exp(logVar), 1), half), dlogVar)
      return [value, ops.sum(ops.add(ops.mul(mu, dmu), dLogVar), -1)]
    },
  )

/** F(v) = −bᵀv − Σ softplus(c + vW) with a hand rule; softplus' = σ(x), and `flipped` takes σ(−x). */
const freeEnergyByHand = (flipped: boolean) =>
  customJvp(
    (p: RbmParams, v: AnyT) => rbm.freeEnergy(p, v),
    ([p, v], [dp, dv]) => {
      const x = ops.add(ops.matmul(v, p.W as AnyT), p.c as AnyT)
      const s = ops.sigmoid(flipped ? ops.neg(x) : x)
      const dx = ops.add(ops.add(ops.matmul(dv, p.W as AnyT), ops.matmul(v, dp.W as AnyT)), dp.c as AnyT)
      const tangent = ops.neg(
        ops.add(ops.add(ops.matmul(dv, p.b as AnyT), ops.matmul(v, dp.b as AnyT)), ops.sum(ops.mul(s, dx), 1)),
      )
      return [rbm.freeEnergy(p, v), tangent as AnyT]
    },
  )

/** −mean log σ(l) with a hand rule: its derivative is −(1 − σ(l))/n; `minimax` gives −σ(l)/n instead. */
const generatorByHand = (minimax: boolean) =>
  customJvp(
    (l: AnyT) => nn.generatorLoss(l),
    ([l], [dl]) => {
      const n = l.size
      const slope = minimax ? ops.neg(ops.sigmoid(l)) : ops.sub(ops.sigmoid(l), 1)
      return [nn.generatorLoss(l), ops.div(ops.sum(ops.mul(slope, dl)), n)]
    },
  )

describe('the laws catch a planted bug in each hand-written derivative', () => {
  const thorough = { endOnFailure: true }
  const verdicts = (layer: (p: any, x: any) => unknown, arbs: LayerArbitraries<any, any>) =>
    Object.fromEntries(
      checkLayer(layer, arbs, { laws: ['adjoint', 'jacobians', 'finiteDifferences'] }, thorough).map((r) => [
        r.law,
        r.ok,
      ]),
    )
  const rbmParams = fc.record({ W: arb.f64([3, 2], domain.real(1)), b: arb.f64([3]), c: arb.f64([2]) })
  const cases: {
    name: string
    layer: (right: boolean) => (p: any, x: any) => unknown
    arbs: LayerArbitraries<any, any>
  }[] = [
    {
      name: 'KL[q ‖ N(0, I)]: the ½ of ∂/∂log σ² forgotten',
      layer: (right: boolean) => (_: null, q: { mu: AnyT; logVar: AnyT }) => klByHand(right ? 0.5 : 1)(q.mu, q.logVar),
      arbs: { params: fc.constant(null), input: gaussian },
    },
    {
      name: "the RBM's free energy: softplus' taken as σ(−x)",
      layer: (right: boolean) => (p: RbmParams, v: AnyT) => freeEnergyByHand(!right)(p, v),
      arbs: { params: rbmParams, input: arb.f64([2, 3], domain.positive(0, 1)) },
    },
    {
      name: "the non-saturating generator loss given the minimax loss's derivative",
      layer: (right: boolean) => (_: null, l: AnyT) => generatorByHand(!right)(l),
      arbs: { params: fc.constant(null), input: arb.f64([4, 1]) },
    },
  ]
  for (const c of cases)
    it(c.name, () => {
      laws.layer(c.layer(true), c.arbs, { name: `${c.name} (the right rule)` })
      expect(verdicts(c.layer(false), c.arbs)).toEqual({ adjoint: true, jacobians: true, finiteDifferences: false })
    })
})
