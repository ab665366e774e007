import { describe, expect, it } from 'vitest'
import { grad, ops, scalar, untie, type Tensor } from '../src/index.ts'

/**
 * D. Barber, Neural Nets (lecture notes), "Parameter Tying":
 * E(θ) = [y − f(θ g(xθ))]², here with f = tanh
 * and g = sin. Untied, F(θ₁, θ₂) = [y − f(θ₁ g(xθ₂))]² and
 *   dE/dθ = ∂F/∂θ₁(θ, θ) + ∂F/∂θ₂(θ, θ).
 */
describe('parameter tying: the example of Barber, Neural Nets', () => {
  const [x, y, theta] = [0.5, 2, 0.7]
  const fp = (u: number) => 1 - Math.tanh(u) ** 2
  const E = (t: Tensor) =>
    ops.square(ops.sub(scalar(y, 'f64'), ops.tanh(ops.mul(t, ops.sin(ops.mul(scalar(x, 'f64'), t))))))
  const inner = Math.sin(x * theta)
  const outer = theta * inner
  const residual = y - Math.tanh(outer)
  // Barber's closed forms.
  const dE = -2 * residual * fp(outer) * (theta * Math.cos(x * theta) * x + inner)
  const dF1 = -2 * residual * fp(outer) * inner
  const dF2 = -2 * residual * fp(outer) * theta * x * Math.cos(x * theta)

  it('grad(E) equals the closed form', () => {
    expect(grad(E)(scalar(theta, 'f64')).item()).toBeCloseTo(dE, 12)
  })

  it("untie finds two uses and the partials equal Barber's formulas", () => {
    const u = untie(E)(scalar(theta, 'f64'))
    expect(u.copies).toBe(2)
    expect(u.uses).toEqual([2])
    // Uses are numbered in evaluation order: the inner xθ (θ₂) is computed first.
    const [gInner, gOuter] = grad((copies: Tensor[]) => u.apply(copies, scalar(0, 'f64')))([
      scalar(theta, 'f64'),
      scalar(theta, 'f64'),
    ])
    expect(gOuter.item()).toBeCloseTo(dF1, 12)
    expect(gInner.item()).toBeCloseTo(dF2, 12)
    expect(gInner.item() + gOuter.item()).toBeCloseTo(dE, 12)
  })

  it('the untied program is printed with one input per use', () => {
    expect(untie(E)(scalar(theta, 'f64')).program.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[] b:f64[] .
        let c:f64[] = mul 0.5:f64 a
            d:f64[] = sin c
            e:f64[] = mul b d
            f:f64[] = tanh e
            g:f64[] = sub 2:f64 f
            h:f64[] = mul g g
        in ( h ) }"
    `)
  })

  it('works on records of weights: a weight used three times', () => {
    const f = (p: { w: Tensor; b: Tensor }, v: Tensor) => {
      const h1 = ops.tanh(ops.add(ops.mul(p.w, v), p.b))
      const h2 = ops.tanh(ops.add(ops.mul(p.w, h1), p.b))
      return ops.sum(ops.mul(p.w, h2))
    }
    const p = { w: ops.tensor([0.3, -0.2], { dtype: 'f64' }), b: ops.tensor([0.1, 0.05], { dtype: 'f64' }) }
    const v = ops.tensor([1, 2], { dtype: 'f64' })
    const u = untie(f)(p, v)
    expect(u.copies).toBe(3)
    const tied = grad(f)(p, v)
    const partials = grad((copies: (typeof p)[]) => u.apply(copies, p, v))([p, p, p])
    const sum = (k: 'w' | 'b') => partials.map((q) => q[k]).reduce((a, b) => ops.add(a, b))
    for (const k of ['w', 'b'] as const) {
      const [a, b] = [tied[k].dataSync(), sum(k).dataSync()]
      a.forEach((ai, i) => expect(ai).toBeCloseTo(b[i], 12))
    }
  })
})
