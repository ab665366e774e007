/**
 * Every layer, combinator and loss of `nn` passes the law bundle
 * (`laws.layer`: shape contract, adjoint identity, finite differences,
 * jacfwd = jacrev, linearity of the derivative, vmap, tying) on the CPU
 * interpreter, with f64 parameters and small inputs so that a run of
 * ADJOINT_LAW_RUNS = 100 per law stays short. Layers with a training mode
 * are checked in both modes; losses as functions of the scores, with their
 * targets as the (non-differentiable where integer) "parameters".
 *
 * The last block plants bugs in a sparsemax, in the style of
 * examples/custom-layer.test.ts: the laws catch a derivative that does not
 * match the values, and by design they cannot catch wrong values whose
 * derivative is consistent (a support test off by one), which the value
 * tests of nn.test.ts catch instead.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ops, random, type Tensor } from '../src/index.ts'
import * as nn from '../src/nn/index.ts'
import { arb, checkLayer, domain, laws, type LayerArbitraries } from '../laws/index.ts'

type AnyT = Tensor<any, any>
const f64 = { dtype: 'f64' } as const
const key = random.key(3)

/** laws.layer with a name, for `it` bodies. The arbitraries draw untyped shapes, so the layer is taken untyped too. */
const obeys =
  (name: string, layer: nn.AnyLayer | ((p: any, x: any) => unknown), arbs: LayerArbitraries<any, any>) => () => {
    laws.layer(layer, arbs, { name })
  }

describe('layers obey the laws', () => {
  it('dense', obeys('dense', nn.dense(3, 2, f64), { input: arb.f64([2, 3]) }))
  it('maxout (pieces apart: distinct biases, inputs away from 0)', () => {
    // Where two pieces tie, max has a kink, and central differences straddling it disagree with
    // any one-sided derivative; distinct biases and |x| ≥ 0.25 keep the pieces apart.
    const layer = nn.maxout(3, 2, 2, f64)
    const params = fc
      .tuple(arb.seed(), arb.f64([4], domain.distinct(1)))
      .map(([s, b]) => ({ w: layer.init(random.key(s)).w, b }))
    laws.layer(layer as nn.AnyLayer, { params, input: arb.f64([2, 3], 'nonzero') }, { name: 'maxout' })
  })
  it('sigmoid', obeys('sigmoid', nn.sigmoid, { params: fc.constant(null), input: arb.f64([2, 3]) }))
  it('tanh', obeys('tanh', nn.tanh, { params: fc.constant(null), input: arb.f64([2, 3]) }))
  it(
    'relu (away from its kink)',
    obeys('relu', nn.relu, { params: fc.constant(null), input: arb.f64([2, 3], 'nonzero') }),
  )
  it(
    'leakyRelu',
    obeys('leakyRelu', nn.leakyRelu(0.2), { params: fc.constant(null), input: arb.f64([2, 3], 'nonzero') }),
  )
  it('softmax', obeys('softmax', nn.softmax, { params: fc.constant(null), input: arb.f64([2, 4]) }))
  it('sparsemax', obeys('sparsemax', nn.sparsemax, { params: fc.constant(null), input: arb.f64([2, 4]) }))
  it('flatten', obeys('flatten', nn.flatten, { params: fc.constant(null), input: arb.f64([2, 2, 3]) }))
  it('input', obeys('input', nn.input(['B', 3]), { params: fc.constant(null), input: arb.f64([2, 3]) }))
  it(
    'embedding (the table; ids held fixed)',
    obeys('embedding', nn.embedding(5, 3, f64), { input: arb.tensor([2, 3], { domain: domain.index(5) }) }),
  )
  it('dropout in training mode (a fixed mask)', () => {
    const layer = nn.dropout(0.4)
    laws.layer(
      (p: null, x: AnyT) => layer.forward(p, null, x, nn.training(key))[0],
      { params: fc.constant(null), input: arb.f64([3, 4]) },
      { name: 'dropout' },
    )
  })
  it(
    'dropout in evaluation mode',
    obeys('dropout', nn.dropout(0.4), { params: fc.constant(null), input: arb.f64([2, 3]) }),
  )
})

describe('convolution and pooling obey the laws', () => {
  it(
    'conv2d, stride 2, SAME',
    obeys('conv2d', nn.conv2d(2, 2, [2, 3], { stride: 2, padding: 'SAME', ...f64 }), { input: arb.f64([1, 3, 4, 2]) }),
  )
  it(
    'conv2d, dilation 2, VALID',
    obeys('conv2d dilated', nn.conv2d(1, 2, 2, { dilation: 2, ...f64 }), { input: arb.f64([1, 4, 4, 1]) }),
  )
  it(
    'conv2dTranspose, stride 2, SAME',
    obeys('conv2dTranspose', nn.conv2dTranspose(2, 1, 3, { stride: 2, padding: 'SAME', ...f64 }), {
      input: arb.f64([1, 2, 2, 2]),
    }),
  )
  it(
    'maxPool2d, SAME (no ties)',
    obeys('maxPool2d', nn.maxPool2d(2, { stride: 1, padding: 'SAME' }), {
      params: fc.constant(null),
      input: arb.f64([1, 3, 3, 2], 'distinct'),
    }),
  )
  it(
    'avgPool2d, SAME',
    obeys('avgPool2d', nn.avgPool2d(3, { stride: 2, padding: 'SAME' }), {
      params: fc.constant(null),
      input: arb.f64([1, 3, 4, 2]),
    }),
  )
  it(
    'globalAvgPool2d',
    obeys('globalAvgPool2d', nn.globalAvgPool2d, { params: fc.constant(null), input: arb.f64([1, 2, 3, 2]) }),
  )
  it(
    'globalMaxPool2d (no ties)',
    obeys('globalMaxPool2d', nn.globalMaxPool2d, {
      params: fc.constant(null),
      input: arb.f64([1, 2, 3, 2], 'distinct'),
    }),
  )
})

describe('batch normalisation obeys the laws in both modes', () => {
  const bn = nn.batchNorm(3, { ...f64, epsilon: 1e-3 })
  const params = arb.record({ scale: [3], offset: [3] }, { domain: domain.real(2) }) as fc.Arbitrary<
    nn.BatchNormLayerParams<3>
  >
  it('training: batch statistics', () => {
    const train = (p: nn.BatchNormLayerParams<3>, x: AnyT) => bn.forward(p, bn.initState(), x, nn.training())[0]
    laws.layer(train, { params, input: arb.f64([4, 3]) }, { name: 'batchNorm (training)' })
  })
  it('evaluation: running statistics', () => {
    const state = {
      mean: ops.tensor([0.5, -1, 2], f64),
      variance: ops.tensor([0.5, 2, 1.5], f64),
    } as nn.BatchNormLayerState<3>
    const evaluate = (p: nn.BatchNormLayerParams<3>, x: AnyT) => bn.forward(p, state, x, nn.evaluation)[0]
    laws.layer(evaluate, { params, input: arb.f64([2, 3]) }, { name: 'batchNorm (evaluation)' })
  })
})

describe('combinators obey the laws', () => {
  it(
    'sequential',
    obeys('sequential', nn.sequential(nn.dense(3, 4, f64), nn.tanh, nn.dense(4, 2, f64)), { input: arb.f64([2, 3]) }),
  )
  it(
    'residual',
    obeys('residual', nn.residual(nn.sequential(nn.dense(3, 3, f64), nn.tanh)), { input: arb.f64([2, 3]) }),
  )
  it('parallel', obeys('parallel', nn.parallel(nn.dense(3, 2, f64), nn.sigmoid), { input: arb.f64([2, 3]) }))
  it('parallelAdd', obeys('parallelAdd', nn.parallelAdd(nn.dense(3, 3, f64), nn.tanh), { input: arb.f64([2, 3]) }))
  it(
    'tie (one set of weights used twice)',
    obeys(
      'tie',
      nn.tie(nn.dense(3, 3, f64), (d) => nn.sequential(d, nn.tanh, d)),
      { input: arb.f64([2, 3]) },
    ),
  )
  it('a small CNN', () => {
    const cnn = nn.sequential(
      nn.conv2d(1, 2, 2, { padding: 'SAME', ...f64 }),
      nn.tanh,
      nn.avgPool2d(2),
      nn.flatten,
      nn.dense(8, 2, f64),
    )
    laws.layer(cnn, { input: arb.f64([1, 4, 4, 1]) }, { name: 'cnn' })
  })
})

describe('losses obey the laws (targets as parameters)', () => {
  const scores = arb.f64([3, 4])
  const labels = arb.tensor([3], { domain: domain.index(4) })
  const distribution = arb
    .f64([3, 4], domain.positive(0.05, 1))
    .map((q) => ops.div(q, ops.sum(q, -1, { keepDims: true })) as AnyT)
  const probabilities = arb.f64([3, 4], domain.positive(0.05, 0.9))
  it(
    'softmaxCrossEntropy, i32 labels',
    obeys('softmaxCrossEntropy', (y: AnyT, z: AnyT) => nn.softmaxCrossEntropy(z, y), { params: labels, input: scores }),
  )
  it(
    'softmaxCrossEntropy, distributions',
    obeys('softmaxCrossEntropy', (q: AnyT, z: AnyT) => nn.softmaxCrossEntropy(z, q), {
      params: distribution,
      input: scores,
    }),
  )
  it(
    'crossEntropy, i32 labels',
    obeys('crossEntropy', (y: AnyT, p: AnyT) => nn.sparseCrossEntropy(p, y), { params: labels, input: probabilities }),
  )
  it(
    'crossEntropy, distributions',
    obeys('crossEntropy', (q: AnyT, p: AnyT) => nn.crossEntropy(p, q), { params: distribution, input: probabilities }),
  )
  it(
    'sparsemaxLoss, i32 labels',
    obeys('sparsemaxLoss', (y: AnyT, z: AnyT) => nn.sparsemaxLoss(z, y), { params: labels, input: scores }),
  )
  it(
    'sparsemaxLoss, distributions',
    obeys('sparsemaxLoss', (q: AnyT, z: AnyT) => nn.sparsemaxLoss(z, q), { params: distribution, input: scores }),
  )
  it(
    'squaredError',
    obeys('squaredError', (t: AnyT, f: AnyT) => nn.squaredError(f, t), {
      params: arb.f64([3, 2]),
      input: arb.f64([3, 2]),
    }),
  )
  it(
    'sigmoidCrossEntropy',
    obeys('sigmoidCrossEntropy', (y: AnyT, z: AnyT) => nn.sigmoidCrossEntropy(z, y), {
      params: arb.f64([5], domain.positive(0, 1)),
      input: arb.f64([5]),
    }),
  )
  it(
    'binaryCrossEntropy',
    obeys('binaryCrossEntropy', (y: AnyT, p: AnyT) => nn.binaryCrossEntropy(p, y), {
      params: arb.f64([5], domain.positive(0, 1)),
      input: arb.f64([5], domain.positive(0.05, 0.9)),
    }),
  )
  const weights = arb.record({ w: [2, 3], b: [3] }, { domain: domain.nonzero(0.1, 2) })
  it(
    'l1Penalty (away from 0)',
    obeys('l1Penalty', (_: null, p: { w: AnyT; b: AnyT }) => nn.l1Penalty(p), {
      params: fc.constant(null),
      input: weights,
    }),
  )
  it(
    'l2Penalty',
    obeys('l2Penalty', (_: null, p: { w: AnyT; b: AnyT }) => nn.l2Penalty(p), {
      params: fc.constant(null),
      input: weights,
    }),
  )
})

// ---------------------------------------------------------------- planted bugs

/** Sparsemax as in functional.ts, with the threshold τ treated as a constant, as when it is found by sorting outside the traced program. */
const sparsemaxDetached = (_p: null, z: AnyT) => {
  const { tau } = nn.functional.sparsemaxSupport(z)
  return ops.relu(ops.sub(z, ops.stopGradient(tau)))
}

/** Sparsemax whose support test counts the entries strictly above z_i: k_i is one short (k_i − 1), so the support shrinks. */
const sparsemaxOffByOne = (_p: null, z: AnyT) => {
  const zi = ops.expandDims(z, -1)
  const zj = ops.expandDims(z, -2)
  const k = ops.sum(ops.astype(ops.greater(zj, zi), z.dtype), -1)
  const s = ops.sum(ops.where(ops.greaterEqual(zj, zi), zj, 0), -1)
  const support = ops.greater(ops.add(ops.mul(k, z), 1), s)
  const size = ops.maximum(ops.sum(ops.astype(support, z.dtype), -1, { keepDims: true }), 1)
  const tau = ops.div(ops.sub(ops.sum(ops.where(support, z, 0), -1, { keepDims: true }), 1), size)
  return ops.relu(ops.sub(z, tau))
}

describe('the laws on planted bugs in a sparsemax', () => {
  const arbs = { params: fc.constant(null), input: arb.f64([2, 4]) }
  /** Rows with a tied pair (z₃ = z₀): where a comparison in the support test shows in the derivative. */
  const tied = {
    params: fc.constant(null),
    input: arb.f64([2, 3]).map((z) => ops.concat([z as AnyT, ops.slice(z as AnyT, [0, 0], [2, 1])], 1)),
  }
  // Enough runs that a bug seen in a few percent of the draws is found whatever the seed.
  const thorough = { numRuns: 200, endOnFailure: true }

  it('a detached threshold: the Jacobian is diag(s) instead of diag(s) − s sᵀ/|S|, and the finite differences say so', () => {
    expect(() =>
      laws.layer(sparsemaxDetached, arbs, { name: 'sparsemax, detached τ' }, { endOnFailure: true }),
    ).toThrow(/finiteDifferences law failed/)
    // Forward and reverse mode share the wrong rule, so they agree with each other and with the adjoint identity.
    const reports = checkLayer(
      sparsemaxDetached,
      arbs,
      { laws: ['adjoint', 'jacobians', 'finiteDifferences'] },
      { endOnFailure: true },
    )
    expect(Object.fromEntries(reports.map((r) => [r.law, r.ok]))).toEqual({
      adjoint: true,
      jacobians: true,
      finiteDifferences: false,
    })
  })
  it('a support test off by one: at tied scores its derivative does not match its values', () => {
    expect(() =>
      laws.layer(
        sparsemaxOffByOne,
        tied,
        { name: 'sparsemax, support off by one', laws: ['finiteDifferences'] },
        thorough,
      ),
    ).toThrow(/finiteDifferences law failed/)
    // The correct sparsemax is continuous and smooth at ties (its kinks are where z_i = τ), and passes.
    laws.layer(nn.sparsemax, tied, { name: 'sparsemax at ties' }, { numRuns: 200 })
  })
  it('the off-by-one values leave the simplex, which a property of the values (not a derivative law) states', () => {
    const onSimplex = (f: (p: null, z: AnyT) => AnyT) =>
      fc.check(
        fc.property(arb.f64([4]), (z) => {
          const p = Array.from(f(null, z as AnyT).dataSync())
          return Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-9 && p.every((v) => v >= 0)
        }),
      )
    expect(onSimplex(sparsemaxOffByOne).failed).toBe(true)
    expect(onSimplex((p, z) => nn.sparsemax.apply(p, z)).failed).toBe(false)
  })
})
