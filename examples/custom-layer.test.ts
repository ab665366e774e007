/**
 * Checking your own layer with the law kit, in your own test suite.
 *
 * A gated unit y = tanh(xW + b) ⊙ σ(xV) is written with the public ops; the
 * laws then check that the derivatives the library computes for it are
 * right (against finite differences), that forward and reverse mode agree,
 * that it vectorises over a batch of inputs, and that every transform's
 * declared shape is the one computed.
 */
import type * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ops, type Tensor } from '../src/index.ts'
import { arb, checkLayer, domain, laws } from '../laws/index.ts'

type Params = { W: Tensor; b: Tensor; V: Tensor }

const gated = (p: Params, x: Tensor) =>
  ops.mul(ops.tanh(ops.add(ops.matmul(x, p.W), p.b)), ops.sigmoid(ops.matmul(x, p.V)))

const params: fc.Arbitrary<Params> = arb.record({ W: [3, 4], b: [4], V: [3, 4] }, { domain: domain.real(1) })
const input = arb.f64([2, 3])

/**
 * σ(z) = e^{z−m} / (e^{z−m} + e^{−m}) with m = max(z, 0): no overflow for
 * large |z|. The value does not depend on m, so m may be gradient-stopped.
 */
const stableSigmoid = (z: Tensor) => {
  const m = ops.stopGradient(ops.maximum(z, 0))
  const shifted = ops.sub(z, m)
  return ops.div(ops.exp(shifted), ops.add(ops.exp(shifted), ops.exp(ops.neg(m))))
}

/** The same, with the whole shift z − m stopped instead of m alone: the gate then has no derivative. */
const stableSigmoidDetachedTooMuch = (z: Tensor) => {
  const m = ops.stopGradient(ops.maximum(z, 0))
  const shifted = ops.stopGradient(ops.sub(z, m))
  return ops.div(ops.exp(shifted), ops.add(ops.exp(shifted), ops.exp(ops.neg(m))))
}

const gatedWith = (sigmoid: (z: Tensor) => Tensor) => (p: Params, x: Tensor) =>
  ops.mul(ops.tanh(ops.add(ops.matmul(x, p.W), p.b)), sigmoid(ops.matmul(x, p.V)))

describe('a user-defined gated unit', () => {
  it('obeys the laws, to second order', () => {
    laws.layer(gated, { params, input }, { name: 'gated unit', order: 2 })
  })

  it('with a stable sigmoid that stops the gradient of m only, obeys the laws', () => {
    laws.layer(gatedWith(stableSigmoid), { params, input }, { name: 'gated unit, stable sigmoid' })
  })

  it('with the shift detached as a whole, fails against finite differences', () => {
    const buggy = gatedWith(stableSigmoidDetachedTooMuch)
    expect(() =>
      laws.layer(buggy, { params, input }, { name: 'gated unit, over-detached' }, { endOnFailure: true }),
    ).toThrow(/finiteDifferences law failed/)
    // Forward and reverse mode are both computed from the same (wrong) rules, so they agree with each other:
    // only the comparison with the function's values exposes the bug.
    const reports = checkLayer(
      buggy,
      { params, input },
      { laws: ['adjoint', 'jacobians', 'finiteDifferences'] },
      { endOnFailure: true },
    )
    expect(Object.fromEntries(reports.map((r) => [r.law, r.ok]))).toEqual({
      adjoint: true,
      jacobians: true,
      finiteDifferences: false,
    })
  })
})
