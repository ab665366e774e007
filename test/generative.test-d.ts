/**
 * Compile-time shapes of the generative and energy-based modules: the VAE's
 * densities reduce the event axis and keep the batch; an RBM's sizes are in
 * its parameters' type, so a batch of the wrong width, or hidden units given
 * where visible ones are expected, does not compile; the Hopfield weights
 * are square in the patterns' width; the GAN losses are scalars of their
 * logits' dtype; the perceptron's predictions are one label per row.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { energy, nn, type random, type Tensor } from '../src/index.ts'

declare const key: random.Key
declare const mu: Tensor<['B', 8], 'f32'>
declare const logVar: Tensor<['B', 8], 'f32'>
declare const wide: Tensor<['B', 9], 'f32'>
declare const mu64: Tensor<['B', 8], 'f64'>
declare const v: Tensor<[32, 6], 'f32'>
declare const h: Tensor<[32, 4], 'f32'>
declare const patterns: Tensor<[5, 100]>
declare const s: Tensor<[3, 100]>
declare const real: Tensor<[64, 1], 'f32'>
declare const fake: Tensor<[64, 1], 'f32'>
declare const w: Tensor<[3], 'f64'>
declare const b: Tensor<[], 'f64'>
declare const x: Tensor<[10, 3], 'f64'>

describe('nn.vae', () => {
  it('the KL and the log densities reduce the last axis', () => {
    expectTypeOf(nn.vae.gaussianKl(mu, logVar)).toEqualTypeOf<Tensor<['B'], 'f32'>>()
    expectTypeOf(nn.vae.gaussianLogDensity(mu, 0, 0)).toEqualTypeOf<Tensor<['B'], 'f32'>>()
    expectTypeOf(nn.vae.bernoulliLogLikelihood(mu, logVar)).toEqualTypeOf<Tensor<['B'], 'f32'>>()
  })
  it('μ and log σ² of different shapes or dtypes do not compile', () => {
    // @ts-expect-error: log σ² is [B, 9] for μ [B, 8]
    nn.vae.gaussianKl(mu, wide)
    // @ts-expect-error: log σ² is f64 for an f32 μ
    nn.vae.gaussianKl(mu, mu64)
    // @ts-expect-error: the same for the reparameterised sample
    nn.vae.reparameterize(key, mu, wide)
  })
})

describe('energy.rbm', () => {
  const p = energy.rbm.init(key, 6, 4)
  it('the sizes live in the parameters', () => {
    expectTypeOf(p).toEqualTypeOf<energy.rbm.Params<6, 4, 'f32'>>()
    expectTypeOf(energy.rbm.init(key, 6, 4, { dtype: 'f64' })).toEqualTypeOf<energy.rbm.Params<6, 4, 'f64'>>()
  })
  it('the conditionals map [B, V] to [B, H] and back, and energies are one per row', () => {
    expectTypeOf(energy.rbm.hiddenProbs(p, v)).toEqualTypeOf<Tensor<[32, 4], 'f32'>>()
    expectTypeOf(energy.rbm.visibleProbs(p, h)).toEqualTypeOf<Tensor<[32, 6], 'f32'>>()
    expectTypeOf(energy.rbm.freeEnergy(p, v)).toEqualTypeOf<Tensor<[32], 'f32'>>()
    expectTypeOf(energy.rbm.energy(p, v, h)).toEqualTypeOf<Tensor<[32], 'f32'>>()
  })
  it('a batch of the wrong width, or the layers swapped, does not compile', () => {
    // @ts-expect-error: 4 hidden units given where 6 visible ones are expected
    energy.rbm.hiddenProbs(p, h)
    // @ts-expect-error: 6 visible units given where 4 hidden ones are expected
    energy.rbm.visibleProbs(p, v)
    // @ts-expect-error: v and h swapped
    energy.rbm.energy(p, h, v)
  })
  it('rows whose width the compiler does not know (untyped data) are checked when called', () => {
    expectTypeOf(energy.rbm.freeEnergy(p, {} as Tensor<[number, number], 'f32'>)).toEqualTypeOf<
      Tensor<[number], 'f32'>
    >()
    expectTypeOf(energy.rbm.cdGradient(key, p, {} as Tensor<[number, number], 'f32'>, 1)).toEqualTypeOf<
      energy.rbm.Params<6, 4, 'f32'>
    >()
  })
})

describe('energy.hopfield', () => {
  it('the Hebbian weights are square in the patterns’ width', () => {
    expectTypeOf(energy.hopfield.hebbian(patterns)).toEqualTypeOf<Tensor<[100, 100]>>()
  })
  it('an update keeps the states’ type; the energy drops the last axis', () => {
    const W = energy.hopfield.hebbian(patterns)
    expectTypeOf(energy.hopfield.updateSync(W, s)).toEqualTypeOf<Tensor<[3, 100]>>()
    expectTypeOf(energy.hopfield.energy(W, s)).toEqualTypeOf<Tensor<[3]>>()
  })
})

describe('the GAN losses and the perceptron', () => {
  it('the losses are scalars of the logits’ dtype', () => {
    expectTypeOf(nn.discriminatorLoss(real, fake)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(nn.generatorLoss(fake, { nonSaturating: false })).toEqualTypeOf<Tensor<[], 'f32'>>()
    // @ts-expect-error: logits of two dtypes
    nn.discriminatorLoss(real, {} as Tensor<[64, 1], 'f64'>)
  })
  it('perceptronPredict gives one label per row, and refuses rows of another width', () => {
    expectTypeOf(nn.perceptronPredict({ w, b }, x)).toEqualTypeOf<Tensor<[10], 'f64'>>()
    // @ts-expect-error: rows of 4 for a classifier of 3 weights
    nn.perceptronPredict({ w, b }, {} as Tensor<[10, 4], 'f64'>)
    expectTypeOf(nn.perceptronPredict({ w, b }, {} as Tensor<[number, number], 'f64'>)).toEqualTypeOf<
      Tensor<[number], 'f64'>
    >()
  })
})
