/**
 * Cross-check against an independent implementation: every function here is
 * written twice, once with adjoint and once with TensorFlow.js (CPU backend,
 * float32), and the values and gradients are compared on the same random
 * inputs. Agreement with a library whose gradients are hand-written per op
 * catches sign, transpose, broadcasting and accumulation mistakes that
 * self-consistency checks (jvp against vjp, finite differences in f32) miss.
 *
 * Two closed forms are pinned as well, in f64, so that a shared convention
 * error could not hide behind agreement between the two libraries.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { ops, tensor, grad, valueAndGrad, jvp, vjp, jacrev, hessian, random, type Tensor } from '../src/index.ts'
import { expectClose, type Closeness } from './lib/close.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await tf.ready()
})

// ---------------------------------------------------------------- helpers

/** Relative tolerance for f32 comparisons. */
const RTOL = 1e-4

/**
 * |actual − expected| ≤ rtol·(|expected| + 0.01·max|expected| + 1e-30): relative per
 * element, except that entries far below the tensor's largest are judged
 * against 1% of it, since f32 cancellation makes their relative error
 * meaningless.
 */
const relative = (rtol = RTOL): Closeness => ({ rtol, largest: 0.01 * rtol, atol: 1e-30 * rtol })

/** Independent normal tensors for one test, from a per-test seed. */
function sampler(seed: number): (shape: readonly number[]) => Tensor {
  const base = random.key(seed)
  let i = 0
  return (shape) => random.normal(random.foldIn(base, i++), shape, { dtype: 'f32' })
}

const f32 = (values: ArrayLike<number>, shape: readonly number[]): Tensor =>
  tensor(Array.from(values), { shape, dtype: 'f32' })
const mapValues = (x: Tensor, f: (v: number, i: number) => number): Tensor => f32(Array.from(x.dataSync(), f), x.shape)
/** Values in [0.5, ∞): inside the domain of log, sqrt and pow's base. */
const positive = (x: Tensor): Tensor => mapValues(x, (v) => Math.abs(v) + 0.5)
/** Values with |v| ≥ 0.1: away from the kink of abs. */
const awayFromZero = (x: Tensor): Tensor => mapValues(x, (v) => (v < 0 ? v - 0.1 : v + 0.1))

const toTf = (x: Tensor): tf.Tensor => tf.tensor(Float32Array.from(x.dataSync()), [...x.shape], 'float32')

type AdjointLoss = (...xs: Tensor[]) => Tensor
type TfLoss = (...xs: tf.Tensor[]) => tf.Scalar

/**
 * Value and gradient with respect to every argument of a scalar loss, from
 * both libraries. Non-differentiable data (indices, labels) belongs in the
 * closures, not in `inputs`.
 */
function compareLoss(label: string, inputs: Tensor[], fa: AdjointLoss, ft: TfLoss, rtol = RTOL): void {
  const argnums = inputs.map((_, i) => i)
  const [value, grads] = valueAndGrad(fa, { argnums })(...inputs)
  const ref = tf.tidy(() => {
    const { value: v, grads: gs } = tf.valueAndGrads(ft)(inputs.map(toTf))
    return { value: v.dataSync().slice(), grads: gs.map((g) => g.dataSync().slice()) }
  })
  expect(value.shape).toEqual([])
  expectClose(value.dataSync(), ref.value, relative(rtol), `${label}: value`)
  expect(grads).toHaveLength(inputs.length)
  grads.forEach((g, i) => {
    expect(g.shape, `${label}: shape of gradient ${i}`).toEqual(inputs[i].shape)
    expectClose(g.dataSync(), ref.grads[i], relative(rtol), `${label}: gradient ${i}`)
  })
}

/** Σ f(x)·w with a random w, so that the cotangent reaching f is not all ones. */
const weightedA = (y: Tensor, w: Tensor): Tensor => ops.sum(ops.mul(y, w))
const weightedT = (y: tf.Tensor, w: tf.Tensor): tf.Scalar => tf.sum(tf.mul(y, w))

// ---------------------------------------------------------------- models

describe('reference: models against TensorFlow.js', () => {
  it('2-layer tanh MLP with softmax cross-entropy', () => {
    const rand = sampler(1)
    const x = rand([6, 4])
    const params = [rand([4, 8]), rand([8]), rand([8, 3]), rand([3])]
    const labels = [0, 2, 1, 1, 0, 2]
    const onehot = f32(
      labels.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0))),
      [6, 3],
    )
    const logitsA = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor =>
      ops.add(ops.matmul(ops.tanh(ops.add(ops.matmul(x, w1), b1)), w2), b2)
    compareLoss(
      'tanh MLP + softmax CE',
      params,
      (w1, b1, w2, b2) => {
        const logits = logitsA(w1, b1, w2, b2)
        return ops.mean(ops.sub(ops.logsumexp(logits, -1), ops.sum(ops.mul(logits, onehot), -1)))
      },
      (w1, b1, w2, b2) => {
        const logits = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(toTf(x), w1), b1)), w2), b2)
        // default reduction SUM_BY_NONZERO_WEIGHTS: the mean over the batch
        return tf.losses.softmaxCrossEntropy(toTf(onehot), logits) as tf.Scalar
      },
    )
  })

  it('ReLU MLP with squared loss', () => {
    const rand = sampler(2)
    const x = rand([7, 5])
    const y = rand([7, 2])
    const params = [rand([5, 6]), rand([6]), rand([6, 2]), rand([2])]
    compareLoss(
      'ReLU MLP + MSE',
      params,
      (w1, b1, w2, b2) => {
        const pred = ops.add(ops.matmul(ops.relu(ops.add(ops.matmul(x, w1), b1)), w2), b2)
        return ops.mean(ops.square(ops.sub(pred, y)))
      },
      (w1, b1, w2, b2) => {
        const pred = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(toTf(x), w1), b1)), w2), b2)
        return tf.mean(tf.squaredDifference(pred, toTf(y))) as tf.Scalar
      },
    )
  })

  it("sigmoid binary cross-entropy (naive log σ against tf's stable logits form)", () => {
    const rand = sampler(3)
    const x = rand([8, 3])
    const y = f32([1, 0, 0, 1, 1, 0, 1, 0], [8])
    compareLoss(
      'sigmoid BCE',
      [rand([3]), rand([])],
      (w, b) => {
        const p = ops.sigmoid(ops.add(ops.matmul(x, w), b))
        const ll = ops.add(ops.mul(y, ops.log(p)), ops.mul(ops.sub(1, y), ops.log(ops.sub(1, p))))
        return ops.neg(ops.mean(ll))
      },
      (w, b) => {
        const logits = tf.add(tf.squeeze(tf.matMul(toTf(x), tf.reshape(w, [3, 1])), [1]), b)
        return tf.losses.sigmoidCrossEntropy(toTf(y), logits) as tf.Scalar
      },
    )
  })

  it('embedding lookup with repeated indices (scatter-add gradient)', () => {
    const rand = sampler(4)
    // rows 1 and 4 repeat, rows 2 and 3 are never read: their gradient must be 0
    const idx = [1, 4, 1, 1, 0, 4, 5]
    const w = rand([7, 3])
    const table = rand([6, 3])
    compareLoss(
      'embedding',
      [table],
      (t) => weightedA(ops.tanh(ops.take(t, tensor(idx, { dtype: 'i32' }))), w),
      (t) => weightedT(tf.tanh(tf.gather(t, tf.tensor1d(idx, 'int32'))), toTf(w)),
    )
    const g = grad((t: Tensor) => ops.sum(ops.take(t, tensor(idx, { dtype: 'i32' }))))(table).dataSync()
    expect(Array.from(g)).toEqual([1, 1, 1, 3, 3, 3, 0, 0, 0, 0, 0, 0, 2, 2, 2, 1, 1, 1])
  })

  it('embedding lookup with 2-D indices and along axis 1', () => {
    const rand = sampler(5)
    const idx2 = [
      [0, 3, 3],
      [2, 0, 3],
    ]
    const w2 = rand([2, 3, 4])
    compareLoss(
      'take, 2-D indices',
      [rand([5, 4])],
      (t) => weightedA(ops.take(t, tensor(idx2, { dtype: 'i32' })), w2),
      (t) => weightedT(tf.gather(t, tf.tensor2d(idx2, [2, 3], 'int32')), toTf(w2)),
    )
    const idx = [2, 0, 2, 2]
    const w = rand([3, 4])
    compareLoss(
      'take, axis 1',
      [rand([3, 5])],
      (t) => weightedA(ops.take(t, tensor(idx, { dtype: 'i32' }), 1), w),
      (t) => weightedT(tf.gather(t, tf.tensor1d(idx, 'int32'), 1), toTf(w)),
    )
  })
})

// ---------------------------------------------------------------- ops

describe('reference: ops against TensorFlow.js', () => {
  it('broadcasting: bias add over a batch, outer product, scalar', () => {
    const rand = sampler(6)
    const w = rand([5, 4])
    compareLoss(
      'bias add',
      [rand([5, 4]), rand([4])],
      (x, b) => weightedA(ops.sin(ops.add(x, b)), w),
      (x, b) => weightedT(tf.sin(tf.add(x, b)), toTf(w)),
    )
    compareLoss(
      'outer broadcast [5,1]·[1,4]',
      [rand([5, 1]), rand([1, 4])],
      (a, b) => weightedA(ops.mul(a, b), w),
      (a, b) => weightedT(tf.mul(a, b), toTf(w)),
    )
    compareLoss(
      'rank-3 broadcast [2,1,4] − [3,1] and a scalar',
      [rand([2, 1, 4]), rand([3, 1]), rand([])],
      (a, b, s) => ops.sum(ops.tanh(ops.mul(ops.sub(a, b), s))),
      (a, b, s) => tf.sum(tf.tanh(tf.mul(tf.sub(a, b), s))),
    )
  })

  it('reductions: max over an axis, mean, sum over several axes, logsumexp', () => {
    const rand = sampler(7)
    // normal samples in f32: ties in a max have probability ~0
    compareLoss(
      'max over axis 1',
      [rand([4, 6])],
      (x) => weightedA(ops.max(x, 1), f32([1, -2, 3, 0.5], [4])),
      (x) => weightedT(tf.max(x, 1), tf.tensor1d([1, -2, 3, 0.5])),
    )
    compareLoss(
      'max over axis 0, keepDims',
      [rand([4, 6])],
      (x) => ops.sum(ops.exp(ops.max(x, 0, { keepDims: true }))),
      (x) => tf.sum(tf.exp(tf.max(x, 0, true))),
    )
    const w = rand([3])
    compareLoss(
      'mean over axis 0 and over all',
      [rand([5, 3])],
      (x) => ops.add(weightedA(ops.mean(x, 0), w), ops.mean(ops.square(x))),
      (x) => tf.add(weightedT(tf.mean(x, 0), toTf(w)), tf.mean(tf.square(x))),
    )
    const w2 = rand([3])
    compareLoss(
      'sum over axes [0, 2]',
      [rand([2, 3, 4])],
      (x) => weightedA(ops.sum(ops.sin(x), [0, 2]), w2),
      (x) => weightedT(tf.sum(tf.sin(x), [0, 2]), toTf(w2)),
    )
    compareLoss(
      'logsumexp over the last axis',
      [mapValues(rand([3, 5]), (v) => 4 * v)],
      (x) => weightedA(ops.logsumexp(x, -1), w),
      (x) => weightedT(tf.logSumExp(x, -1), toTf(w)),
    )
    compareLoss(
      'min over axis 1',
      [rand([3, 5])],
      (x) => weightedA(ops.min(x, 1), w),
      (x) => weightedT(tf.min(x, 1), toTf(w)),
    )
  })

  const unaryCases: [string, (x: Tensor) => Tensor, (x: tf.Tensor) => tf.Tensor, (x: Tensor) => Tensor][] = [
    ['exp', ops.exp, tf.exp, (x) => x],
    ['log', ops.log, tf.log, positive],
    ['sqrt', ops.sqrt, tf.sqrt, positive],
    ['sin', ops.sin, tf.sin, (x) => mapValues(x, (v) => 3 * v)],
    ['cos', ops.cos, tf.cos, (x) => mapValues(x, (v) => 3 * v)],
    ['tanh', ops.tanh, tf.tanh, (x) => x],
    ['sigmoid', ops.sigmoid, tf.sigmoid, (x) => mapValues(x, (v) => 3 * v)],
    ['abs', ops.abs, tf.abs, awayFromZero],
    ['relu', ops.relu, tf.relu, awayFromZero],
    ['square', ops.square, tf.square, (x) => x],
    ['neg', ops.neg, tf.neg, (x) => x],
  ]

  it.each(unaryCases)('elementwise %s', (name, fa, ft, domain) => {
    const rand = sampler(100 + name.length * 7 + name.charCodeAt(0))
    const x = domain(rand([3, 4]))
    const w = rand([3, 4])
    compareLoss(
      name,
      [x],
      (a) => weightedA(fa(a), w),
      (a) => weightedT(ft(a), toTf(w)),
    )
  })

  it('elementwise pow with a positive base, gradient in base and exponent', () => {
    const rand = sampler(8)
    const w = rand([3, 4])
    compareLoss(
      'pow',
      [positive(rand([3, 4])), rand([3, 4])],
      (a, b) => weightedA(ops.pow(a, b), w),
      (a, b) => weightedT(tf.pow(a, b), toTf(w)),
    )
    compareLoss(
      'pow with a constant exponent',
      [positive(rand([3, 4]))],
      (a) => weightedA(ops.pow(a, 2.5), w),
      (a) => weightedT(tf.pow(a, tf.scalar(2.5)), toTf(w)),
    )
  })

  it('elementwise div, sub, mul, with the divisor away from 0', () => {
    const rand = sampler(9)
    const w = rand([3, 4])
    compareLoss(
      'div',
      [rand([3, 4]), awayFromZero(positive(rand([3, 4])))],
      (a, b) => weightedA(ops.div(a, b), w),
      (a, b) => weightedT(tf.div(a, b), toTf(w)),
    )
    compareLoss(
      'div by a negative broadcast row',
      [rand([3, 4]), mapValues(positive(rand([4])), (v) => -v)],
      (a, b) => weightedA(ops.div(a, b), w),
      (a, b) => weightedT(tf.div(a, b), toTf(w)),
    )
    compareLoss(
      'sub, mul',
      [rand([3, 4]), rand([3, 4])],
      (a, b) => weightedA(ops.mul(ops.sub(a, b), a), w),
      (a, b) => weightedT(tf.mul(tf.sub(a, b), a), toTf(w)),
    )
  })

  it('elementwise maximum and minimum away from ties', () => {
    const rand = sampler(10)
    const a = rand([4, 5])
    const gap = rand([4, 5])
    // b differs from a by at least 0.1 in either direction, so both branches are taken and none ties
    const b = f32(
      Array.from(a.dataSync(), (v, i) => v + (gap.dataSync()[i] < 0 ? -0.1 : 0.1) + gap.dataSync()[i]),
      [4, 5],
    )
    const w = rand([4, 5])
    compareLoss(
      'maximum',
      [a, b],
      (x, y) => weightedA(ops.maximum(x, y), w),
      (x, y) => weightedT(tf.maximum(x, y), toTf(w)),
    )
    compareLoss(
      'minimum',
      [a, b],
      (x, y) => weightedA(ops.minimum(x, y), w),
      (x, y) => weightedT(tf.minimum(x, y), toTf(w)),
    )
  })

  it('structure: reshape, transpose, concat, slice, pad', () => {
    const rand = sampler(11)
    const w34 = rand([3, 4])
    compareLoss(
      'reshape [2,6] → [3,4]',
      [rand([2, 6])],
      (x) => weightedA(ops.reshape(x, [3, 4]), w34),
      (x) => weightedT(tf.reshape(x, [3, 4]), toTf(w34)),
    )
    const wT = rand([4, 2, 3])
    compareLoss(
      'transpose [2,3,4] by [2,0,1]',
      [rand([2, 3, 4])],
      (x) => weightedA(ops.transpose(x, [2, 0, 1]), wT),
      (x) => weightedT(tf.transpose(x, [2, 0, 1]), toTf(wT)),
    )
    const wC1 = rand([2, 8])
    compareLoss(
      'concat along axis 1',
      [rand([2, 3]), rand([2, 5])],
      (x, y) => weightedA(ops.concat([x, y], 1), wC1),
      (x, y) => weightedT(tf.concat([x, y], 1), toTf(wC1)),
    )
    const wC0 = rand([4, 3])
    compareLoss(
      'concat along axis 0, one operand twice',
      [rand([1, 3]), rand([2, 3])],
      (x, y) => weightedA(ops.concat([x, y, x], 0), wC0),
      (x, y) => weightedT(tf.concat([x, y, x], 0), toTf(wC0)),
    )
    const wS = rand([2, 3])
    compareLoss(
      'slice [1,2] size [2,−1] of [4,5]',
      [rand([4, 5])],
      (x) => weightedA(ops.slice(x, [1, 2], [2, -1]), wS),
      (x) => weightedT(tf.slice(x, [1, 2], [2, -1]), toTf(wS)),
    )
    const wP = rand([3, 6])
    compareLoss(
      'pad [[1,0],[2,1]] of [2,3]',
      [rand([2, 3])],
      (x) =>
        weightedA(
          ops.pad(x, [
            [1, 0],
            [2, 1],
          ]),
          wP,
        ),
      (x) =>
        weightedT(
          tf.pad(x, [
            [1, 0],
            [2, 1],
          ]),
          toTf(wP),
        ),
    )
    const wAll = rand([4, 5])
    compareLoss(
      'reshape → transpose → concat → slice → pad, with nonlinearities between',
      [rand([2, 6]), rand([4, 2])],
      (x, y) => {
        const t = ops.transpose(ops.tanh(ops.reshape(x, [3, 4])))
        const c = ops.concat([t, ops.sin(y)], 1)
        return weightedA(
          ops.pad(ops.square(ops.slice(c, [0, 1], [4, 3])), [
            [0, 0],
            [1, 1],
          ]),
          wAll,
        )
      },
      (x, y) => {
        const t = tf.transpose(tf.tanh(tf.reshape(x, [3, 4])))
        const c = tf.concat([t, tf.sin(y)], 1)
        return weightedT(
          tf.pad(tf.square(tf.slice(c, [0, 1], [4, 3])), [
            [0, 0],
            [1, 1],
          ]),
          toTf(wAll),
        )
      },
    )
  })

  it('batched matmul [2,3,4] × [2,4,5], and a broadcast batch', () => {
    const rand = sampler(12)
    const w = rand([2, 3, 5])
    compareLoss(
      'batched matmul',
      [rand([2, 3, 4]), rand([2, 4, 5])],
      (a, b) => weightedA(ops.matmul(a, b), w),
      (a, b) => weightedT(tf.matMul(a, b), toTf(w)),
    )
    compareLoss(
      'matmul [3,4] × [2,4,5]',
      [rand([3, 4]), rand([2, 4, 5])],
      (a, b) => weightedA(ops.matmul(a, b), w),
      (a, b) => weightedT(tf.matMul(tf.broadcastTo(a, [2, 3, 4]), b), toTf(w)),
    )
    const wv = rand([3])
    compareLoss(
      'matrix × vector',
      [rand([3, 4]), rand([4])],
      (a, v) => weightedA(ops.matmul(a, v), wv),
      (a, v) => weightedT(tf.squeeze(tf.matMul(a, tf.reshape(v, [4, 1])), [1]), toTf(wv)),
    )
  })
})

// ---------------------------------------------------------------- other transforms

describe('reference: jvp, vjp, jacrev, hessian against TensorFlow.js', () => {
  const rand = sampler(13)
  const A = rand([3, 4])
  const fa = (x: Tensor): Tensor => ops.add(ops.tanh(ops.matmul(A, x)), ops.sum(ops.sin(x)))
  const ft = (x: tf.Tensor): tf.Tensor =>
    tf.add(tf.tanh(tf.squeeze(tf.matMul(toTf(A), tf.reshape(x, [4, 1])), [1])), tf.sum(tf.sin(x)))
  const x = rand([4])

  it('vjp of a vector-valued function equals tf.grad with that cotangent', () => {
    const c = rand([3])
    const [y, pullback] = vjp(fa, x)
    const [gx] = pullback(c)
    const ref = tf.tidy(() => ({
      y: ft(toTf(x)).dataSync().slice(),
      g: tf.grad(ft)(toTf(x), toTf(c)).dataSync().slice(),
    }))
    expectClose(y.dataSync(), ref.y, relative(), 'vjp value')
    expectClose(gx.dataSync(), ref.g, relative(), 'vjp cotangent')
  })

  it('jacrev rows equal tf.grad with one-hot cotangents', () => {
    const J = jacrev(fa)(x) as Tensor
    expect(J.shape).toEqual([3, 4])
    const rows = tf.tidy(() => [0, 1, 2].map((i) => tf.grad(ft)(toTf(x), tf.oneHot(i, 3).toFloat()).dataSync().slice()))
    expectClose(
      J.dataSync(),
      rows.flatMap((r) => Array.from(r)),
      relative(),
      'jacrev',
    )
  })

  it('jvp of the MLP loss equals ⟨tf gradient, tangent⟩', () => {
    const r = sampler(14)
    const xb = r([6, 4])
    const [w1, b1, v] = [r([4, 8]), r([8]), r([4, 8])]
    const lossA = (w: Tensor): Tensor => ops.mean(ops.logsumexp(ops.add(ops.matmul(xb, ops.tanh(w)), b1), -1))
    const lossT = (w: tf.Tensor): tf.Scalar =>
      tf.mean(tf.logSumExp(tf.add(tf.matMul(toTf(xb), tf.tanh(w)), toTf(b1)), -1)) as tf.Scalar
    const [value, tangent] = jvp(lossA, [w1], [v])
    const ref = tf.tidy(() => {
      const { value: l, grad: g } = tf.valueAndGrad(lossT)(toTf(w1))
      return { value: l.dataSync()[0], dir: tf.sum(tf.mul(g, toTf(v))).dataSync()[0] }
    })
    expectClose(value.dataSync(), [ref.value], relative(), 'jvp value')
    expectClose(tangent.dataSync(), [ref.dir], relative(), 'jvp tangent')
  })

  // tfjs differentiates twice only through gradients built from x (sin, mul,
  // matMul): the gradients of tanh and exp read the saved output, so a second
  // tf.grad through them throws, or, inside a sum, silently drops their
  // curvature. The tanh Hessian is therefore pinned by a closed form below.
  it("hessian of a non-quadratic equals tf's nested gradients", () => {
    const r = sampler(15)
    const B = r([3, 4])
    const z = r([4])
    const ha = (v: Tensor): Tensor => ops.add(ops.sum(ops.sin(ops.matmul(B, v))), ops.sum(ops.mul(ops.sin(v), v)))
    const ht = (v: tf.Tensor): tf.Scalar =>
      tf.add(
        tf.sum(tf.sin(tf.squeeze(tf.matMul(toTf(B), tf.reshape(v, [4, 1])), [1]))),
        tf.sum(tf.mul(tf.sin(v), v)),
      ) as tf.Scalar
    const H = hessian(ha)(z) as Tensor
    expect(H.shape).toEqual([4, 4])
    const g = tf.grad(ht)
    const rows = tf.tidy(() =>
      [0, 1, 2, 3].map((i) =>
        tf
          .grad((v: tf.Tensor) => tf.sum(tf.mul(g(v), tf.oneHot(i, 4).toFloat())))(toTf(z))
          .dataSync()
          .slice(),
      ),
    )
    expectClose(
      H.dataSync(),
      rows.flatMap((row) => Array.from(row)),
      relative(),
      'hessian',
    )
  })
})

// ---------------------------------------------------------------- closed forms

describe('reference: closed forms in f64', () => {
  const f64 = (shape: readonly number[], seed: number): Tensor =>
    random.normal(random.key(seed), shape, { dtype: 'f64' })

  it('∇_W Σ tanh(W x) = (1 − tanh²(W x)) xᵀ', () => {
    const [m, n] = [3, 5]
    const W = f64([m, n], 21)
    const x = f64([n], 22)
    const g = grad((w: Tensor) => ops.sum(ops.tanh(ops.matmul(w, x))))(W)
    expect(g.dtype).toBe('f64')
    const wv = W.dataSync()
    const xv = x.dataSync()
    const expected: number[] = []
    for (let i = 0; i < m; i++) {
      let s = 0
      for (let j = 0; j < n; j++) s += wv[i * n + j] * xv[j]
      const d = 1 - Math.tanh(s) ** 2
      for (let j = 0; j < n; j++) expected.push(d * xv[j])
    }
    expectClose(g.dataSync(), expected, relative(1e-12), 'tanh closed form')
  })

  it('the Hessian of Σ tanh(B v) + Σ v·sin v is Bᵀ diag(−2 t (1 − t²)) B + diag(2 cos v − v sin v), t = tanh(B v)', () => {
    const [m, n] = [3, 4]
    const B = f64([m, n], 25)
    const z = f64([n], 26)
    const H = hessian((v: Tensor) => ops.add(ops.sum(ops.tanh(ops.matmul(B, v))), ops.sum(ops.mul(ops.sin(v), v))))(
      z,
    ) as Tensor
    expect(H.shape).toEqual([n, n])
    const b = B.dataSync()
    const v = z.dataSync()
    const curv = Array.from({ length: m }, (_, i) => {
      let s = 0
      for (let j = 0; j < n; j++) s += b[i * n + j] * v[j]
      const t = Math.tanh(s)
      return -2 * t * (1 - t * t)
    })
    const expected = Array.from({ length: n * n }, (_, k) => {
      const [p, q] = [Math.floor(k / n), k % n]
      let h = p === q ? 2 * Math.cos(v[p]) - v[p] * Math.sin(v[p]) : 0
      for (let i = 0; i < m; i++) h += b[i * n + p] * curv[i] * b[i * n + q]
      return h
    })
    expectClose(H.dataSync(), expected, relative(1e-12), 'tanh Hessian')
  })

  it('the Hessian of ½ xᵀA x is (A + Aᵀ)/2 for a non-symmetric A', () => {
    const n = 4
    const A = f64([n, n], 23)
    const x = f64([n], 24)
    const H = hessian((v: Tensor) => ops.mul(ops.sum(ops.mul(v, ops.matmul(A, v))), 0.5))(x) as Tensor
    expect(H.shape).toEqual([n, n])
    const a = A.dataSync()
    const expected = Array.from({ length: n * n }, (_, k) => (a[k] + a[(k % n) * n + Math.floor(k / n)]) / 2)
    expectClose(H.dataSync(), expected, relative(1e-12), 'quadratic Hessian')
  })
})
