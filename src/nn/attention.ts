/**
 * Attention: each query takes a convex combination of the values, weighted
 * by how well it matches each key (Bahdanau et al. 2015; A. Martins, Deep
 * Learning: A Shallow Tutorial, NLPL Winter School 2018, "Attention
 * Mechanism"): scores z_{q,k}, weights a_q = normalise(z_q) over the
 * keys, context c_q = Σ_k a_{q,k} v_k (Martins's c_t = F a_t with the
 * values as the columns of F). Every function is batched over a leading
 * axis B, and returns the context vectors [B, Q, V] together with the
 * weights [B, Q, K], the attention matrix of each example.
 *
 * Scores:
 *  - dot product: z_{q,k} = ⟨s_q, h_k⟩ / √d with d the query size, so that
 *    the scores of unit-variance vectors have unit variance whatever d;
 *  - additive (Bahdanau et al. 2015): z_{q,k} = vᵀ tanh(W s_q + U h_k + b),
 *    W, U, b, v parameters of a layer value.
 * Normalisers (Martins, "Attention Mechanisms"): softmax, or sparsemax
 * (Martins and Astudillo 2016), the projection onto the simplex, whose
 * weights can be exactly 0.
 *
 * The derivatives come from the primitives (no hand-written rules), so the
 * Jacobian ∂c_q/∂h_k that Deep Learning, COMP613 Advanced Topics in Machine
 * Learning (lecture notes), "Attention & Memory in Deep Learning", reads
 * attention from is `jacrev` of these functions.
 */
import type { DType, FloatDType } from '../dtype.ts'
import * as ops from '../ops.ts'
import * as random from '../random.ts'
import type { Dim, Shape } from '../shape/types.ts'
import { formatAval, type Tensor } from '../tensor.ts'
import * as F from './functional.ts'
import { glorotUniform, zeros, type Initializer } from './init.ts'
import { expectParams, expectParamShape } from './layer.ts'

type AnyT = Tensor<any, any>
const untyped = (x: Tensor): AnyT => x as AnyT

/** What attention returns: the context vector of each query, and its weights over the keys. */
export interface Attended<B extends Dim, Q extends Dim, K extends Dim, V extends Dim, D extends DType = DType> {
  /** The context vectors, [B, Q, V]: c_q = Σ_k a_{q,k} v_k. */
  readonly context: Tensor<[B, Q, V], D>
  /** The weights, [B, Q, K]: a_q, on the simplex over the unmasked keys. */
  readonly weights: Tensor<[B, Q, K], D>
}

/** How scores become weights: softmax (every weight positive) or sparsemax (exact zeros possible). */
export type Normaliser = 'softmax' | 'sparsemax'

/** Options of attention: the mask of the keys each query may attend to, and the normaliser of the scores. */
export interface AttentionOptions {
  /**
   * Which keys each query may attend to: a bool tensor that broadcasts to
   * [B, Q, K] (e.g. [B, 1, K] for padding, [Q, K] for a causal mask); false
   * gives weight exactly 0. A query with no key allowed gets all-zero
   * weights and a zero context.
   */
  readonly mask?: Tensor<Shape, 'bool'>
  /** Default 'softmax'. */
  readonly normaliser?: Normaliser
}

/**
 * The score given to masked keys before normalising: far enough below any
 * real score that softmax gives it weight exp(−1e9) = 0 and sparsemax leaves
 * it outside the support (τ ≥ max z − 1), and finite, so that no ∞ − ∞
 * arises in the sparsemax support test or in a row that is masked entirely.
 */
const MASKED_SCORE = -1e9

function checkRank3(op: string, what: string, x: Tensor): void {
  if (x.ndim !== 3)
    throw new Error(
      `${op}: expected ${what} of shape [B, ${what === 'queries' ? 'Q' : 'K'}, size], got ${formatAval(x.aval)}`,
    )
}

function checkAgree(op: string, a: Tensor, b: Tensor, axis: number, what: string): void {
  if (a.aval.shape[axis] !== b.aval.shape[axis])
    throw new Error(`${op}: ${what} must agree, got ${formatAval(a.aval)} and ${formatAval(b.aval)}`)
}

function checkNormaliser(op: string, normaliser: unknown): asserts normaliser is Normaliser {
  if (normaliser !== 'softmax' && normaliser !== 'sparsemax')
    throw new Error(`${op}: normaliser must be 'softmax' or 'sparsemax', got ${String(normaliser)}`)
}

/**
 * Weights and context from scores [B, Q, K] and values [B, K, V]: a_q =
 * normalise(z_q) over the keys (the last axis), c = a · values. Masked
 * scores are replaced by MASKED_SCORE before normalising, and the weights
 * multiplied by the mask after, so that a fully masked row gives zeros
 * rather than a uniform distribution over forbidden keys.
 */
export function attend<B extends Dim, Q extends Dim, K extends Dim, V extends Dim, D extends DType>(
  scores: Tensor<[B, Q, K], D>,
  values: Tensor<[B, NoInfer<K>, V], D>,
  options: AttentionOptions = {},
): Attended<B, Q, K, V, D> {
  const op = 'attend'
  const { mask, normaliser = 'softmax' } = options
  checkNormaliser(op, normaliser)
  if (scores.ndim !== 3) throw new Error(`${op}: expected scores of shape [B, Q, K], got ${formatAval(scores.aval)}`)
  checkRank3(op, 'values', values)
  checkAgree(op, scores, values, 0, 'the batch sizes of the scores and values')
  if (scores.aval.shape[2] !== values.aval.shape[1])
    throw new Error(
      `${op}: the scores [B, Q, K] and values [B, K, V] must have the same number of keys, got ${formatAval(scores.aval)} and ${formatAval(values.aval)}`,
    )
  let z = untyped(scores)
  if (mask !== undefined) {
    if (mask.aval.dtype !== 'bool') throw new Error(`${op}: the mask must be bool, got ${formatAval(mask.aval)}`)
    const joint = ops.broadcastShapes(`${op}: the mask and the scores`, mask.aval.shape, scores.aval.shape)
    if (joint.some((n, i) => n !== scores.aval.shape[i]))
      throw new Error(
        `${op}: the mask must broadcast to the scores [B, Q, K], got ${formatAval(mask.aval)} for scores ${formatAval(scores.aval)}`,
      )
    z = ops.where(untyped(mask), z, MASKED_SCORE)
  }
  let weights = normaliser === 'softmax' ? F.softmax(z, -1) : F.sparsemax(z)
  if (mask !== undefined) weights = ops.where(untyped(mask), weights, 0)
  const context = ops.matmul(weights, untyped(values))
  return { context, weights } as Attended<B, Q, K, V, D>
}

/**
 * Scaled dot-product attention: z_{q,k} = ⟨s_q, h_k⟩ / √d for queries
 * [B, Q, d] and keys [B, K, d], then `attend` with values [B, K, V].
 */
export function dotProductAttention<
  B extends Dim,
  Q extends Dim,
  K extends Dim,
  E extends Dim,
  V extends Dim,
  D extends DType,
>(
  queries: Tensor<[B, Q, E], D>,
  keys: Tensor<[NoInfer<B>, K, NoInfer<E>], NoInfer<D>>,
  values: Tensor<[NoInfer<B>, NoInfer<K>, V], NoInfer<D>>,
  options: AttentionOptions = {},
): Attended<B, Q, K, V, D> {
  const op = options.normaliser === 'sparsemax' ? 'sparsemaxAttention' : 'dotProductAttention'
  checkRank3(op, 'queries', queries)
  checkRank3(op, 'keys', keys)
  checkRank3(op, 'values', values)
  checkAgree(op, queries, keys, 0, 'the batch sizes of the queries and keys')
  checkAgree(op, queries, keys, 2, 'the sizes of the queries and keys')
  checkAgree(op, keys, values, 1, 'the numbers of keys and values')
  const d = queries.aval.shape[2]
  const scores = ops.div(ops.matmul(untyped(queries), ops.transpose(untyped(keys), [0, 2, 1])), Math.sqrt(d))
  return attend(untyped(scores), untyped(values), options) as Attended<B, Q, K, V, D>
}

/**
 * Dot-product attention with sparsemax weights (Martins and Astudillo 2016,
 * Martins, "Sparse Attention"): a = max(z − τ, 0), so a key whose scaled
 * score is at least 1 below the best gets weight exactly 0.
 */
export function sparsemaxAttention<
  B extends Dim,
  Q extends Dim,
  K extends Dim,
  E extends Dim,
  V extends Dim,
  D extends DType,
>(
  queries: Tensor<[B, Q, E], D>,
  keys: Tensor<[NoInfer<B>, K, NoInfer<E>], NoInfer<D>>,
  values: Tensor<[NoInfer<B>, NoInfer<K>, V], NoInfer<D>>,
  options: { readonly mask?: Tensor<Shape, 'bool'> } = {},
): Attended<B, Q, K, V, D> {
  return dotProductAttention(queries, keys, values, { mask: options.mask, normaliser: 'sparsemax' })
}

// ---------------------------------------------------------------- additive (Bahdanau) attention

/** W [S, H] maps queries, U [Hk, H] maps keys, b [H] the bias, v [H] reads a score off the hidden layer. */
export type AdditiveAttentionParams<S extends number, Hk extends number, H extends number> = {
  readonly w: Tensor<[S, H]>
  readonly u: Tensor<[Hk, H]>
  readonly b: Tensor<[H]>
  readonly v: Tensor<[H]>
}

/** Options of the additive (Bahdanau) attention layer. */
export interface AdditiveAttentionOptions {
  /** The initialiser of W, U and v (default: Glorot uniform); b starts at zero. */
  readonly init?: Initializer
  /** The dtype of the parameters (default f32). */
  readonly dtype?: FloatDType
  /** Default 'softmax', as in Bahdanau et al. 2015. */
  readonly normaliser?: Normaliser
}

/** A layer value: parameters from `init(key)`, and attention of queries over keys by `apply`. */
export interface AdditiveAttention<S extends number, Hk extends number, H extends number> {
  readonly name: string
  init(key: random.Key): AdditiveAttentionParams<S, Hk, H>
  /**
   * Queries [B, Q, S] (decoder states s), keys [B, K, Hk] (encoder
   * annotations h), values [B, K, V] (in Bahdanau et al. 2015 the annotations again).
   */
  apply<B extends Dim, Q extends Dim, K extends Dim, V extends Dim, D extends DType>(
    params: AdditiveAttentionParams<S, Hk, H>,
    queries: Tensor<[B, Q, S], D>,
    keys: Tensor<[NoInfer<B>, K, Hk], NoInfer<D>>,
    values: Tensor<[NoInfer<B>, NoInfer<K>, V], NoInfer<D>>,
    options?: { readonly mask?: Tensor<Shape, 'bool'> },
  ): Attended<B, Q, K, V, D>
}

/**
 * Additive attention (Bahdanau et al. 2015; Martins, "Attention Mechanism",
 * z_{t,i} = v · g(W h_i + U s_{t−1} + b) with g = tanh):
 * z_{q,k} = vᵀ tanh(W s_q + U h_k + b).
 * Written with row vectors, s_q W + h_k U is formed once per query and once
 * per key and the two broadcast against each other to [B, Q, K, H].
 */
export function additiveAttention<const S extends number, const Hk extends number, const H extends number>(
  querySize: S,
  keySize: Hk,
  hiddenSize: H,
  options: AdditiveAttentionOptions = {},
): AdditiveAttention<S, Hk, H> {
  const name = `additiveAttention(${querySize}, ${keySize} → ${hiddenSize})`
  for (const [what, n] of [
    ['the query size', querySize],
    ['the key size', keySize],
    ['the hidden size', hiddenSize],
  ] as const)
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new Error(`${name}: ${what} must be a positive integer, got ${String(n)}`)
  const { init = glorotUniform, dtype = 'f32', normaliser = 'softmax' } = options
  checkNormaliser(name, normaliser)
  return Object.freeze({
    name,
    init(key: random.Key) {
      const [kw, ku, kv] = random.split(key, 3)
      return {
        w: init(kw, [querySize, hiddenSize], { dtype }),
        u: init(ku, [keySize, hiddenSize], { dtype }),
        b: zeros(kv, [hiddenSize], { dtype }),
        // v is the single column of a [H, 1] map: its fans are H in, 1 out.
        v: init(kv, [hiddenSize], { dtype, fanIn: hiddenSize, fanOut: 1 }),
      } as AdditiveAttentionParams<S, Hk, H>
    },
    apply(
      params: unknown,
      queries: Tensor,
      keys: Tensor,
      values: Tensor,
      call: { readonly mask?: Tensor<Shape, 'bool'> } = {},
    ) {
      expectParams(name, params, ['w', 'u', 'b', 'v'])
      expectParamShape(name, 'w', params.w, [querySize, hiddenSize])
      expectParamShape(name, 'u', params.u, [keySize, hiddenSize])
      expectParamShape(name, 'b', params.b, [hiddenSize])
      expectParamShape(name, 'v', params.v, [hiddenSize])
      checkRank3(name, 'queries', queries)
      checkRank3(name, 'keys', keys)
      checkRank3(name, 'values', values)
      if (queries.aval.shape[2] !== querySize)
        throw new Error(`${name}: expected queries [B, Q, ${querySize}], got ${formatAval(queries.aval)}`)
      if (keys.aval.shape[2] !== keySize)
        throw new Error(`${name}: expected keys [B, K, ${keySize}], got ${formatAval(keys.aval)}`)
      checkAgree(name, queries, keys, 0, 'the batch sizes of the queries and keys')
      checkAgree(name, keys, values, 1, 'the numbers of keys and values')
      const sw = ops.add(ops.matmul(untyped(queries), untyped(params.w)), untyped(params.b)) // [B, Q, H]
      const hu = ops.matmul(untyped(keys), untyped(params.u)) // [B, K, H]
      const hidden = ops.tanh(ops.add(ops.expandDims(sw, 2), ops.expandDims(hu, 1))) // [B, Q, K, H]
      const scores = ops.sum(ops.mul(hidden, untyped(params.v)), -1) // [B, Q, K]
      return attend(untyped(scores), untyped(values), { mask: call.mask, normaliser })
    },
  }) as AdditiveAttention<S, Hk, H>
}
