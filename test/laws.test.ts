/**
 * The law kit on the library itself: every row of the spec table, law by law;
 * the bundle on composed networks; and the laws applied to transformed
 * functions, so that the transforms compose (jacfwd∘grad, vmap∘grad,
 * grad∘vmap, jvp∘vmap, grad∘grad).
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  grad,
  hessian,
  jacfwd,
  jvp,
  linearize,
  ops,
  random,
  rules,
  vmap,
  type Primitive,
  type Shape,
  type Tensor,
} from '../src/index.ts'
import {
  adjoint,
  arb,
  checkLayer,
  domain,
  finiteDifferences,
  jacobians,
  lawRuns,
  laws,
  primitiveLaws,
  secondOrder,
  specs,
  vmapCommutes,
  type LawResult,
} from '../laws/index.ts'
import { compareTrees } from '../laws/numeric.ts'
import { assertProperty } from './lib/property.ts'

const runs = { numRuns: lawRuns() }
const holds = (r: LawResult) => {
  if (!r.ok) throw new Error(r.detail)
}

describe('the spec table', () => {
  it('has one row per primitive of the rule table', () => {
    expect(Object.keys(specs).sort()).toEqual(Object.keys(rules).sort())
  })
})

for (const name of Object.keys(specs) as Primitive[]) {
  describe(`primitive ${name}`, () => {
    for (const check of primitiveLaws(name)) it(check.law, () => check.assert())
  })
}

// ---------------------------------------------------------------- composed networks

type Mlp = { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor }
const mlp = (p: Mlp, x: Tensor) => ops.add(ops.matmul(ops.tanh(ops.add(ops.matmul(x, p.w1), p.b1)), p.w2), p.b2)

/** Mean softmax cross-entropy of logits against integer labels: logsumexp(z) − z[label]. */
const crossEntropy = (p: Mlp, batch: { x: Tensor; labels: Tensor }) => {
  const logits = mlp(p, batch.x)
  const classes = logits.shape[1]
  const onehot = ops.astype(
    ops.equal(ops.reshape(batch.labels, [-1, 1]), ops.arange(classes, undefined, 1, 'i32')),
    'f64',
  )
  return ops.mean(ops.sub(ops.logsumexp(logits, 1), ops.sum(ops.mul(onehot, logits), 1)))
}

const mlpParams = arb.record({ w1: [3, 4], b1: [4], w2: [4, 2], b2: [2] }, { domain: domain.real(1.5) })

describe('composed networks obey the law bundle', () => {
  it('an MLP with tanh, to second order', () => {
    laws.layer(mlp, { params: mlpParams, input: arb.f64([2, 3]) }, { name: 'mlp', order: 2 })
  })

  it('softmax cross-entropy via logsumexp, with integer labels held fixed', () => {
    const input = fc.record({ x: arb.f64([3, 3]), labels: arb.tensor([3], { domain: domain.index(2) }) })
    laws.layer(crossEntropy, { params: mlpParams, input }, { name: 'cross-entropy', order: 2 })
  })

  it('an embedding lookup via ops.take (vmap over token ids batches the gather indices)', () => {
    const embed = (p: { table: Tensor; w: Tensor }, ids: Tensor<Shape, 'i32'>) =>
      ops.matmul(ops.tanh(ops.take(p.table, ids)), p.w)
    laws.layer(
      embed,
      {
        params: arb.record({ table: [5, 3], w: [3, 2] }),
        input: arb.tensor([4], { domain: domain.index(5), dtype: 'i32' }),
      },
      { name: 'embedding' },
    )
  })

  it('a tied autoencoder x ↦ tanh(xW)Wᵀ: the tied gradient is the sum of the untied ones', () => {
    const autoencoder = (p: { w: Tensor }, x: Tensor) => ops.matmul(ops.tanh(ops.matmul(x, p.w)), ops.transpose(p.w))
    const reports = checkLayer(
      autoencoder,
      { params: arb.record({ w: [3, 2] }), input: arb.f64([2, 3]) },
      { name: 'autoencoder' },
    )
    for (const r of reports) expect(r.message).toBe('')
  })

  it('a layer given as { init, apply } draws its parameters from init', () => {
    const dense = {
      init: (key: random.Key) => ({ w: random.normal(key, [3, 2], { dtype: 'f64', stddev: 0.5 }) }),
      apply: (p: { w: Tensor }, x: Tensor) => ops.sigmoid(ops.matmul(x, p.w)),
    }
    laws.layer(dense, { input: arb.f64([2, 3]) }, { name: 'dense', laws: ['adjoint', 'finiteDifferences', 'vmap'] })
  })
})

// ---------------------------------------------------------------- compositions of transforms

const smooth = (x: Tensor) => ops.sum(ops.mul(ops.tanh(x), ops.sin(ops.mul(x, x))))
const vector = (x: Tensor) => ops.mul(ops.sin(x), ops.sum(ops.exp(ops.mul(0.3, x))))
const point = arb.f64([3], domain.real(1.5))
const direction = arb.f64([3], domain.real(1))
const batch = arb.f64([2, 3], domain.real(1.5))

describe('the laws hold for transformed functions', () => {
  it('jacfwd(grad f) = jacrev(grad f) = hessian(f)', () => {
    assertProperty(
      fc.property(point, (x) => {
        holds(jacobians(grad(smooth), [x]))
        const c = compareTrees(hessian(smooth)(x), jacfwd(grad(smooth))(x), { rtol: 1e-9, atol: 1e-12 })
        expect(c.ok).toBe(true)
      }),
      runs,
    )
  })

  it('grad∘grad: second order of a vector function through ⟨u, f⟩', () => {
    assertProperty(
      fc.property(point, direction, (x, v) =>
        holds(secondOrder((y: Tensor) => ops.vdot(vector(y), ops.onesLike(y)), [x], [v])),
      ),
      runs,
    )
  })

  it('grad f is a function whose derivative obeys the adjoint and finite-difference laws (⟨Hu, v⟩ = ⟨u, Hv⟩)', () => {
    assertProperty(
      fc.property(point, direction, direction, (x, v, u) => {
        holds(adjoint(grad(smooth), [x], [v], u))
        holds(finiteDifferences(grad(smooth), [x], [v]))
      }),
      runs,
    )
  })

  it('vmap(grad f)(xs)[i] = grad f(xs[i]), batched on either axis', () => {
    assertProperty(
      fc.property(batch, fc.constantFrom(0, 1), (xs, axis) =>
        holds(vmapCommutes(grad(smooth), [axis === 0 ? xs : ops.transpose(xs)], [axis], 0)),
      ),
      runs,
    )
  })

  it('grad(vmap f): the batched function obeys adjoint, finite differences and jacobians', () => {
    const batched = vmap(vector)
    assertProperty(
      fc.property(batch, batch, batch, (xs, v, u) => {
        holds(adjoint(batched, [xs], [v], u))
        holds(finiteDifferences(batched, [xs], [v]))
        holds(jacobians(batched, [xs]))
        // A sum of per-row terms: its gradient, row by row, is each row's own gradient.
        const total = grad((ys: Tensor) => ops.sum(vmap(smooth)(ys)))(xs)
        holds(vmapCommutes((row: Tensor) => grad(smooth)(row), [xs], [0], 0))
        expect(compareTrees(vmap(grad(smooth))(xs), total, { rtol: 1e-12, atol: 1e-14 }).ok).toBe(true)
      }),
      runs,
    )
  })

  it('vmap(jvp f) slices to jvp f, with the primal unbatched', () => {
    const push = (x: Tensor, t: Tensor) => jvp(vector, [x], [t])[1]
    assertProperty(
      fc.property(point, batch, (x, ts) => holds(vmapCommutes(push, [x, ts], [null, 0], -1))),
      runs,
    )
  })

  it('linearize agrees with jvp, and its linear map obeys the vmap law', () => {
    assertProperty(
      fc.property(point, direction, batch, (x, v, vs) => {
        const [, fLin] = linearize(vector, x)
        expect(compareTrees(jvp(vector, [x], [v])[1], fLin(v), { rtol: 1e-12, atol: 1e-14 }).ok).toBe(true)
        holds(vmapCommutes((t: Tensor) => fLin(t), [vs], [0], 0))
      }),
      runs,
    )
  })
})
