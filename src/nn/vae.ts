/**
 * Variational autoencoders (Kingma and Welling 2014) and the
 * importance-weighted bound (Burda, Grosse and Salakhutdinov 2016), as pure
 * functions of tensors and keys, so that a whole training step (encode,
 * sample, decode, bound, gradient, update) is one jitted call that draws its
 * noise in-program.
 *
 * The model (D. Barber, Neural Nets (lecture notes), "Generative Models" and
 * "Variational Inference"): p(v, h) = p(v|h) p(h) with a standard normal
 * prior p(h) = N(0, I) and a network for p(v|h, θ); the marginal
 * p(v|θ) = ∫ p(v|h, θ) p(h) dh is intractable, and a variational
 * distribution q(h|v, φ) gives the lower bound that is maximised jointly in
 * φ and θ. Here, in the notation of Deep Learning, COMP613 Advanced Topics
 * in Machine Learning (lecture notes), "Inference in Prescribed Probabilistic
 * Models" and "Variational Latent Gaussian models", with x the data and z the
 * latent:
 *
 *   log p(x) ≥ F(x, q) = E_q(z)[log p(x|z)] − KL[q(z) ‖ p(z)]          (Jensen)
 *   q(z|x) = Π_i N(z_i | μ_i, σ_i²),  (μ, log σ²) = encoder(x)
 *   KL[q ‖ N(0, I)] = ½ Σ_i (σ_i² + μ_i² − 1 − log σ_i²)                (closed form)
 *   z = μ + σ ⊙ ε,  ε ~ N(0, I)                                         (reparameterisation)
 *
 * The expectation is estimated by Monte Carlo over reparameterised samples
 * ("doubly stochastic estimation" in the COMP613 notes, "Variational
 * Optimisation"), so its gradient in φ is the gradient through the sample.
 *
 * Laws:
 *  - gaussianKl ≥ 0, with equality exactly at μ = 0, log σ² = 0; it equals
 *    E_q[log q(z) − log p(z)] (gaussianLogDensity twice), and its gradient
 *    is (μ, ½(σ² − 1));
 *  - gaussianLogDensity(z, μ, log σ²) = −½ Σ (log 2π + log σ² + (z − μ)²/σ²);
 *  - elbo ≤ log p(x) for every q; it equals log p(x) when q(z|x) = p(z|x);
 *  - iwae with k samples: log (1/k) Σ_i p(x, z_i)/q(z_i|x), z_i ~ q; its
 *    expectation rises with k from the ELBO (k = 1) to log p(x) (Burda et al.
 *    2016, Theorem 1), and every sample of it is log p(x) when q is the
 *    exact posterior.
 */
import type { DType, FloatDType } from '../dtype.ts'
import * as ops from '../ops.ts'
import { expm1 } from '../ops/math.ts'
import * as random from '../random.ts'
import type { Shape } from '../shape/types.ts'
import { formatAval, formatShape, type Tensor } from '../tensor.ts'
import { sequential } from './combinators.ts'
import { dense, relu, type ParamOptions } from './layers.ts'
import type { BatchOf } from './losses.ts'
import { sigmoidCrossEntropy } from './losses.ts'

type T<S extends Shape = Shape, D extends DType = DType> = Tensor<S, D>
const untyped = (x: Tensor): T<any, any> => x as T<any, any>
const LOG_2PI = Math.log(2 * Math.PI)

/** A diagonal Gaussian over the last axis: mean μ and log-variance log σ², each [..., L]. */
export interface DiagonalGaussian<S extends Shape = Shape, D extends DType = DType> {
  readonly mu: T<S, D>
  readonly logVar: T<S, D>
}

/**
 * A VAE as two functions of one set of parameters P: the encoder gives
 * q(z|x), the decoder the parameters of p(x|z) (Bernoulli logits unless
 * `logLikelihood` says otherwise). `decode` receives z as [N, L] and gives
 * [N, ...]; samples are folded into N before the call.
 */
export interface Vae<P> {
  encode(params: P, x: Tensor): DiagonalGaussian
  decode(params: P, z: Tensor): Tensor
  /**
   * log p(x|z) summed over the last axis, from the decoder's output for k samples of z, [k, N, ...], and the
   * batch x, [N, ...], which it broadcasts: [k, N] (default `bernoulliLogLikelihood`; `gaussianLogLikelihood`
   * with a fixed variance for real-valued x).
   */
  logLikelihood?(decoded: Tensor, x: Tensor): Tensor
}

function isFloat(op: string, what: string, x: Tensor): void {
  if (x.dtype !== 'f32' && x.dtype !== 'f64')
    throw new Error(`${op}: ${what} must be f32 or f64, got ${formatAval(x.aval)}`)
}

function sameShapes(op: string, a: Tensor, b: Tensor, what: [string, string]): void {
  if (formatShape(a.aval.shape) !== formatShape(b.aval.shape) || a.dtype !== b.dtype)
    throw new Error(`${op}: ${what[1]} ${formatAval(b.aval)} must match ${what[0]} ${formatAval(a.aval)}`)
  if (a.ndim === 0) throw new Error(`${op}: expected a latent axis (the last), got ${formatAval(a.aval)}`)
}

/**
 * KL[N(μ, diag σ²) ‖ N(0, I)] = ½ Σ_i (σ_i² + μ_i² − 1 − log σ_i²) over the
 * last axis (COMP613 notes, "Variational Latent Gaussian models"), one value
 * per leading index. Written as ½ Σ (expm1(log σ²) − log σ² + μ²), which
 * keeps its accuracy where σ² is near 1 (there σ² − 1 − log σ² ≈ ½(log σ²)²).
 */
export function gaussianKl<S extends Shape, D extends DType>(
  mu: T<S, D>,
  logVar: T<NoInfer<S>, NoInfer<D>>,
): T<BatchOf<S>, D> {
  isFloat('gaussianKl', 'μ', mu)
  sameShapes('gaussianKl', mu, logVar, ['μ', 'log σ²'])
  const v = untyped(logVar)
  const terms = ops.add(ops.sub(expm1(v), v), ops.square(untyped(mu)))
  return ops.mul(ops.sum(terms, -1), 0.5) as T<any, D>
}

/**
 * log N(z; μ, diag σ²) = −½ Σ_i (log 2π + log σ_i² + (z_i − μ_i)²/σ_i²),
 * summed over the last axis; μ and log σ² broadcast against z (numbers
 * included: `gaussianLogDensity(z, 0, 0)` is the standard normal prior).
 */
export function gaussianLogDensity<S extends Shape, D extends DType>(
  z: T<S, D>,
  mu: T<Shape, NoInfer<D>> | number,
  logVar: T<Shape, NoInfer<D>> | number,
): T<BatchOf<S>, D> {
  isFloat('gaussianLogDensity', 'z', z)
  if (z.ndim === 0) throw new Error(`gaussianLogDensity: expected an event axis (the last), got ${formatAval(z.aval)}`)
  const diff = typeof mu === 'number' ? ops.sub(untyped(z), mu) : ops.sub(untyped(z), untyped(mu))
  const terms =
    typeof logVar === 'number'
      ? ops.add(ops.mul(ops.square(diff), Math.exp(-logVar)), logVar + LOG_2PI)
      : ops.add(ops.add(ops.mul(ops.square(diff), ops.exp(ops.neg(untyped(logVar)))), untyped(logVar)), LOG_2PI)
  if (formatShape(terms.aval.shape) !== formatShape(z.aval.shape))
    throw new Error(
      `gaussianLogDensity: μ and log σ² must broadcast to z ${formatAval(z.aval)}, giving ${formatShape(terms.aval.shape)}`,
    )
  return ops.mul(ops.sum(terms, -1), -0.5) as T<any, D>
}

/**
 * log N(x; mean, σ² I) summed over the last axis: a Gaussian p(x|z) whose
 * decoder gives the mean, with log σ² a number or a tensor broadcast against
 * it; x broadcasts against the mean (one x for several samples of z). The
 * density is symmetric in x and the mean, so this is gaussianLogDensity
 * with the mean in the place of z.
 */
export function gaussianLogLikelihood<S extends Shape, D extends DType>(
  mean: T<S, D>,
  x: T<Shape, NoInfer<D>>,
  logVar: T<Shape, NoInfer<D>> | number,
): T<BatchOf<S>, D> {
  return gaussianLogDensity(mean, x, logVar)
}

/**
 * log p(x | logits) = Σ_j [x_j log σ(l_j) + (1 − x_j) log(1 − σ(l_j))] over
 * the last axis, for x in [0, 1]: minus the summed sigmoid cross-entropy,
 * which never exponentiates a positive number. x broadcasts against the
 * logits (one x for several samples of z).
 */
export function bernoulliLogLikelihood<S extends Shape, D extends DType>(
  logits: T<S, D>,
  x: T<Shape, NoInfer<D>>,
): T<BatchOf<S>, D> {
  isFloat('bernoulliLogLikelihood', 'the logits', logits)
  if (logits.ndim === 0)
    throw new Error(`bernoulliLogLikelihood: expected an event axis (the last), got ${formatAval(logits.aval)}`)
  const target = formatShape(x.aval.shape) === formatShape(logits.aval.shape) ? x : broadcastLike(x, logits)
  const perElement = sigmoidCrossEntropy(untyped(logits), untyped(target), { reduction: 'none' })
  return ops.neg(ops.sum(perElement, -1)) as T<any, D>
}

function broadcastLike(x: Tensor, like: Tensor): Tensor {
  const [s, t] = [x.aval.shape, like.aval.shape]
  const fits = s.length <= t.length && s.every((d, i) => d === 1 || d === t[t.length - s.length + i])
  if (!fits)
    throw new Error(
      `bernoulliLogLikelihood: x ${formatAval(x.aval)} does not broadcast to the logits ${formatAval(like.aval)}`,
    )
  return ops.broadcastTo(untyped(x), t)
}

/**
 * z = μ + exp(½ log σ²) ⊙ ε with ε ~ N(0, I) drawn from `key` (Kingma and
 * Welling 2014, section 2.4): a sample of q whose gradient in (μ, log σ²)
 * flows through the sample. With `samples`, z is [samples, ...shape of μ].
 */
export function reparameterize<S extends Shape, D extends DType>(
  key: random.Key,
  mu: T<S, D>,
  logVar: T<NoInfer<S>, NoInfer<D>>,
  samples?: number,
): T<Shape, D> {
  isFloat('reparameterize', 'μ', mu)
  sameShapes('reparameterize', mu, logVar, ['μ', 'log σ²'])
  if (samples !== undefined && !(Number.isInteger(samples) && samples >= 1))
    throw new Error(`reparameterize: samples must be a positive integer, got ${samples}`)
  const shape = samples === undefined ? mu.aval.shape : [samples, ...mu.aval.shape]
  const eps = random.normal(key, shape as number[], { dtype: mu.dtype as FloatDType })
  return ops.add(untyped(mu), ops.mul(ops.exp(ops.mul(untyped(logVar), 0.5)), eps)) as T<Shape, D>
}

/** decode on z [S, N, L]: the samples folded into the batch for the call, then unfolded: [S, N, ...]. */
function decodeSamples<P>(model: Vae<P>, params: P, z: Tensor): Tensor {
  const [s, n, l] = z.aval.shape
  const out = model.decode(params, ops.reshape(untyped(z), [s * n, l]))
  return ops.reshape(untyped(out), [s, n, ...out.aval.shape.slice(1)])
}

const logLikelihoodOf = <P>(model: Vae<P>) => model.logLikelihood ?? bernoulliLogLikelihood

function checkBatch(op: string, x: Tensor, q: DiagonalGaussian): void {
  if (x.ndim < 1 || q.mu.ndim !== 2 || q.mu.aval.shape[0] !== x.aval.shape[0])
    throw new Error(
      `${op}: the encoder must give μ and log σ² of shape [N, L] for a batch x of N, got μ ${formatAval(q.mu.aval)} for x ${formatAval(x.aval)}`,
    )
}

function checkCount(op: string, what: string, k: number): void {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`${op}: ${what} must be a positive integer, got ${k}`)
}

export interface ElboOptions {
  /** Monte Carlo samples of z per example for E_q[log p(x|z)] (default 1). */
  readonly samples?: number
}

/**
 * The evidence lower bound per example, [N]:
 * F(x, q) = E_q(z|x)[log p(x|z)] − KL[q(z|x) ‖ N(0, I)] (COMP613 notes,
 * "Variational Latent Gaussian models"; Kingma and Welling 2014, eq. 10),
 * the expectation a mean over `samples` reparameterised draws from `key`,
 * the KL in closed form. Negate and average it for a loss.
 */
export function elbo<P>(key: random.Key, model: Vae<P>, params: P, x: Tensor, options: ElboOptions = {}): Tensor {
  const samples = options.samples ?? 1
  checkCount('elbo', 'samples', samples)
  const q = model.encode(params, x)
  checkBatch('elbo', x, q)
  const z = reparameterize(key, q.mu, q.logVar, samples)
  const reconstruction = logLikelihoodOf(model)(decodeSamples(model, params, z), x)
  return ops.sub(ops.mean(untyped(reconstruction), 0), gaussianKl(q.mu, q.logVar))
}

/**
 * log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x) for k draws z_i ~ q(z|x)
 * from `key`: [k, N]. Their mean is a Monte Carlo ELBO (with the KL
 * sampled, not in closed form), their log-mean-exp the IWAE bound.
 */
export function logImportanceWeights<P>(key: random.Key, model: Vae<P>, params: P, x: Tensor, k: number): Tensor {
  checkCount('logImportanceWeights', 'k', k)
  const q = model.encode(params, x)
  checkBatch('logImportanceWeights', x, q)
  const z = reparameterize(key, q.mu, q.logVar, k)
  const logLikelihood = logLikelihoodOf(model)(decodeSamples(model, params, z), x)
  const logPrior = gaussianLogDensity(untyped(z), 0, 0)
  const logPosterior = gaussianLogDensity(untyped(z), untyped(q.mu), untyped(q.logVar))
  return ops.sub(ops.add(untyped(logLikelihood), logPrior), logPosterior)
}

/**
 * The importance-weighted bound per example, [N] (Burda, Grosse and
 * Salakhutdinov 2016): L_k = log (1/k) Σ_i p(x, z_i)/q(z_i|x), z_i ~ q(z|x),
 * computed as logsumexp_i(log w_i) − log k. E[L_1] is the ELBO, E[L_k]
 * rises with k and tends to log p(x).
 */
export function iwae<P>(key: random.Key, model: Vae<P>, params: P, x: Tensor, k: number): Tensor {
  const logW = logImportanceWeights(key, model, params, x, k)
  return ops.sub(ops.logsumexp(untyped(logW), 0), Math.log(k))
}

// ---------------------------------------------------------------- a multilayer perceptron VAE

export interface VaeDims {
  /** Size of x (784 for MNIST). */
  readonly input: number
  /** Units of the one hidden layer of the encoder and of the decoder. */
  readonly hidden: number
  /** Size of z. */
  readonly latent: number
}

/**
 * The encoder and decoder of Kingma and Welling 2014 (appendix C), with ReLU
 * hidden units and Bernoulli outputs: x → ReLU(dense(input → hidden)) →
 * dense(hidden → 2·latent), split into (μ, log σ²); z →
 * ReLU(dense(latent → hidden)) → dense(hidden → input), the logits of p(x|z).
 */
export function vaeModel(dims: VaeDims, options: ParamOptions = {}) {
  const { input, hidden, latent } = dims
  const encoder = sequential(dense(input, hidden, options), relu, dense(hidden, 2 * latent, options))
  const decoder = sequential(dense(latent, hidden, options), relu, dense(hidden, input, options))
  type Params = {
    readonly encoder: ReturnType<typeof encoder.init>
    readonly decoder: ReturnType<typeof decoder.init>
  }
  const model = {
    dims,
    encoder,
    decoder,
    init(key: random.Key): Params {
      const [e, d] = random.split(key, 2)
      return { encoder: encoder.init(e), decoder: decoder.init(d) }
    },
    encode(params: Params, x: Tensor): DiagonalGaussian {
      const h = untyped(encoder.apply(params.encoder, untyped(x)))
      const n = h.aval.shape[0]
      return { mu: ops.slice(h, [0, 0], [n, latent]), logVar: ops.slice(h, [0, latent], [n, latent]) }
    },
    decode(params: Params, z: Tensor): Tensor {
      return decoder.apply(params.decoder, untyped(z))
    },
  }
  return model satisfies Vae<Params>
}

/** The parameters of a `vaeModel`. */
export type VaeParams = ReturnType<ReturnType<typeof vaeModel>['init']>
