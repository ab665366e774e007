/**
 * Generative adversarial networks (Goodfellow et al. 2014), as pure
 * functions of tensors and keys, so that a whole training step (a
 * discriminator update, then a generator update, the noise drawn in-program)
 * traces into one Program and is one jitted call.
 *
 * The setting (Deep Learning, COMP613 Advanced Topics in Machine Learning
 * (lecture notes), "Learning in Implicit Probabilistic Models": "Estimation
 * by comparison" and "Adversarial Learning"; A. Martins, Deep Learning: A
 * Shallow Tutorial, NLPL Winter School 2018, "Generative Models": "Generative
 * Adversarial Networks"): an implicit model q_Φ(x) draws x = f_Φ(z), z ~ p(z),
 * with no density to evaluate, and is compared with the data p*(x) by a
 * classifier D_Θ(x) = σ(logit_Θ(x)), the probability that x came from the
 * data. Writing G = f_Φ (the generator), p_g = q_Φ and p_data = p*:
 *
 *   comparison loss (D):  L_D = −E_{p_data}[log D(x)] − E_{p(z)}[log(1 − D(G(z)))]
 *   generative loss (G):  minimax          L_G = E_{p(z)}[log(1 − D(G(z)))]
 *                         non-saturating   L_G = −E_{p(z)}[log D(G(z))]
 *
 * each minimised by its own player (the notes write the same as gradient
 * ascent on −L_D and descent on L_G). With the logit a = logit(x),
 * −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a), so the losses are
 * computed from logits and stay finite for logits of any magnitude.
 *
 * Laws:
 *  - at logits 0 (D = ½ everywhere) L_D = 2 log 2, the minimax L_G = −log 2
 *    and the non-saturating L_G = log 2;
 *  - ∂L_G/∂a per fake example (before the mean): −σ(a) = −D for the minimax
 *    loss, −(1 − σ(a)) = −(1 − D) for the non-saturating one. Early in
 *    training D rejects the fakes (D(G(z)) → 0), where the minimax gradient
 *    vanishes and the non-saturating one tends to −1: the reason
 *    Goodfellow et al. (2014, section 3) train G on −log D(G(z));
 *  - for a fixed generator the discriminator that minimises L_D is
 *    D*(x) = p_data(x)/(p_data(x) + p_g(x)) (Goodfellow et al. 2014,
 *    Proposition 1): the density-ratio identity of the COMP613 notes,
 *    p*(x)/q(x) = D(x)/(1 − D(x)), solved for D; `optimalDiscriminator`.
 */
import type { DType } from '../dtype.ts'
import * as ops from '../ops.ts'
import type { Optimiser } from '../optim/optimiser.ts'
import * as random from '../random.ts'
import type { Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'
import { valueAndGrad } from '../transforms.ts'
import type { Tree } from '../tree.ts'
import { sigmoidCrossEntropy } from './losses.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
const untyped = (x: Tensor): T<any, any> => x as T<any, any>

function floatLogits(op: string, what: string, x: Tensor): void {
  if (x.dtype !== 'f32' && x.dtype !== 'f64')
    throw new Error(`${op}: ${what} must be f32 or f64 logits, got ${formatAval(x.aval)}`)
}

/** E[−log σ(a)] = E[softplus(−a)] over every element of `logits`: the loss of calling them all real. */
const meanSoftplusOfNegative = (logits: Tensor) => sigmoidCrossEntropy(untyped(logits), ops.onesLike(untyped(logits)))
/** E[−log(1 − σ(a))] = E[softplus(a)] over every element: the loss of calling them all fake. */
const meanSoftplus = (logits: Tensor) => sigmoidCrossEntropy(untyped(logits), ops.zerosLike(untyped(logits)))

/**
 * The discriminator's loss from its logits on a batch of data and a batch of
 * generated samples (any shapes, e.g. [B, 1]; each averaged over its own
 * elements): −E[log D(x)] − E[log(1 − D(G(z)))], the comparison loss of the
 * COMP613 notes, "Adversarial Learning", negated to be minimised.
 */
export function discriminatorLoss<D extends DType>(
  realLogits: T<Shape, D>,
  fakeLogits: T<Shape, NoInfer<D>>,
): T<[], D> {
  floatLogits('discriminatorLoss', 'realLogits', realLogits)
  floatLogits('discriminatorLoss', 'fakeLogits', fakeLogits)
  if (realLogits.dtype !== fakeLogits.dtype)
    throw new Error(
      `discriminatorLoss: realLogits ${formatAval(realLogits.aval)} and fakeLogits ${formatAval(fakeLogits.aval)} must have one dtype`,
    )
  return ops.add(meanSoftplusOfNegative(realLogits), meanSoftplus(fakeLogits)) as T<[], D>
}

/** Options of `generatorLoss`. */
export interface GeneratorLossOptions {
  /**
   * true (default): −E[log D(G(z))], whose gradient does not vanish where the
   * discriminator confidently rejects the samples; false: the minimax
   * E[log(1 − D(G(z)))] of the game's value function.
   */
  readonly nonSaturating?: boolean
}

/** The generator's loss from the discriminator's logits on generated samples (see the header). */
export function generatorLoss<D extends DType>(fakeLogits: T<Shape, D>, options: GeneratorLossOptions = {}): T<[], D> {
  floatLogits('generatorLoss', 'fakeLogits', fakeLogits)
  const { nonSaturating = true } = options
  return (nonSaturating ? meanSoftplusOfNegative(fakeLogits) : ops.neg(meanSoftplus(fakeLogits))) as T<[], D>
}

/**
 * D*(x) = p_data(x)/(p_data(x) + p_g(x)), the best discriminator for a fixed
 * generator (Goodfellow et al. 2014, Proposition 1), from the two densities
 * at the same points (numbers or tensors of one shape; where both are 0 it
 * is undefined and gives NaN).
 */
export function optimalDiscriminator(pData: number, pG: number): number
export function optimalDiscriminator<S extends Shape, D extends DType>(
  pData: T<S, D>,
  pG: T<NoInfer<S>, NoInfer<D>>,
): T<S, D>
export function optimalDiscriminator(pData: number | Tensor, pG: number | Tensor): number | Tensor {
  if (typeof pData === 'number' && typeof pG === 'number') return pData / (pData + pG)
  if (typeof pData === 'number' || typeof pG === 'number')
    throw new Error('optimalDiscriminator: pass both densities as numbers or both as tensors')
  return ops.div(untyped(pData), ops.add(untyped(pData), untyped(pG)))
}

// ---------------------------------------------------------------- the training step

/** What ganStep needs of a network: an `apply` (every nn layer has one). */
export interface Network<P> {
  apply(params: P, x: Tensor<any, any>): Tensor<any, any>
}

/** Options of `ganStep`: the generator and discriminator, their optimisers, the latent and the batch size. */
export interface GanStepOptions<PG, PD> {
  /** G: latent z [N, ...] → samples shaped like the data batch. */
  readonly generator: Network<PG>
  /** D: samples [N, ...] → logits (e.g. [N, 1]); D(x) = σ(logit). */
  readonly discriminator: Network<PD>
  readonly optimizerG: Optimiser<any>
  readonly optimizerD: Optimiser<any>
  /** The latent's size: z ~ N(0, I) of shape [N, latentDim] (unless `sampleLatent` is given). */
  readonly latentDim?: number
  /** Draws the latent batch of n rows from a key (default: standard normal [n, latentDim]). */
  readonly sampleLatent?: (key: random.Key, n: number) => Tensor
  /** Generated samples per update (default: the rows of the data batch). */
  readonly batchSize?: number
  /** The generator's loss (default true: non-saturating; see `generatorLoss`). */
  readonly nonSaturating?: boolean
}

/** The losses of one GAN training step. */
export interface GanLosses {
  /** L_D on this step's batches, before the discriminator's update. */
  readonly lossD: Tensor<[]>
  /** L_G on the generator's batch, against the updated discriminator, before the generator's update. */
  readonly lossG: Tensor<[]>
}

/**
 * One training step of a GAN, as `ganStep` builds it: the parameters and optimiser states of both
 * networks, a key and a batch of data in; their updates and the losses out.
 */
export type GanStep<PG, PD, SG, SD> = (
  paramsG: PG,
  paramsD: PD,
  optStateG: SG,
  optStateD: SD,
  key: random.Key,
  realBatch: Tensor,
) => [PG, PD, SG, SD, GanLosses]

/**
 * One step of Goodfellow et al. (2014), Algorithm 1, with k = 1
 * discriminator update per generator update: draw z for a fake batch, update
 * D on L_D(real, G(z)); draw fresh z, update G on L_G against the updated D.
 * The step is a pure function of its arguments, the noise drawn from `key`,
 * so `jit(ganStep(options), { donateArgnums: [0, 1, 2, 3] })` compiles it
 * into one call.
 */
export function ganStep<PG extends Tree, PD extends Tree, SG extends Tree = Tree, SD extends Tree = Tree>(
  options: GanStepOptions<PG, PD>,
): GanStep<PG, PD, SG, SD> {
  const { generator, discriminator, optimizerG, optimizerD, nonSaturating = true } = options
  if (options.sampleLatent === undefined) {
    const d = options.latentDim
    if (d === undefined || !Number.isInteger(d) || d < 1)
      throw new Error(`ganStep: latentDim must be a positive integer (or pass sampleLatent), got ${String(d)}`)
  }
  if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1))
    throw new Error(`ganStep: batchSize must be a positive integer, got ${options.batchSize}`)
  const sampleLatent =
    options.sampleLatent ?? ((key: random.Key, n: number) => random.normal(key, [n, options.latentDim as number]))

  const lossD = (pD: PD, pG: PG, z: Tensor, real: Tensor) =>
    discriminatorLoss(discriminator.apply(pD, real), discriminator.apply(pD, generator.apply(pG, z)))
  const lossG = (pG: PG, pD: PD, z: Tensor) =>
    generatorLoss(discriminator.apply(pD, generator.apply(pG, z)), { nonSaturating })
  const gradD = valueAndGrad(lossD)
  const gradG = valueAndGrad(lossG)

  return (paramsG, paramsD, optStateG, optStateD, key, realBatch) => {
    if (realBatch.ndim < 1)
      throw new Error(`ganStep: realBatch must have a batch axis, got ${formatAval(realBatch.aval)}`)
    const n = options.batchSize ?? realBatch.aval.shape[0]
    const [keyD, keyG] = random.split(key, 2)
    const [valueD, gD] = gradD(paramsD, paramsG, sampleLatent(keyD, n), realBatch)
    const [nextD, nextStateD] = optimizerD.update(gD as PD, optStateD, paramsD)
    const [valueG, gG] = gradG(paramsG, nextD, sampleLatent(keyG, n))
    const [nextG, nextStateG] = optimizerG.update(gG as PG, optStateG, paramsG)
    return [
      nextG,
      nextD,
      nextStateG as SG,
      nextStateD as SD,
      { lossD: valueD as Tensor<[]>, lossG: valueG as Tensor<[]> },
    ]
  }
}
