/**
 * Numerics users rely on, at the edges: logsumexp of −∞ and +∞ terms,
 * softmax cross-entropy with a masked (−∞) logit, binary cross-entropy at
 * p ∈ {0, 1} with the matching label; values and gradients are finite where
 * the mathematics is, on the CPU interpreter and compiled (test/gpu/nan.test.ts
 * runs them on WebGPU).
 */
import { describe, expect, it } from 'vitest'
import { grad, nn, ops, tensor, type Tensor } from '../src/index.ts'
import { edgeCases } from './lib/edges.ts'

describe('numerics at the edges', () => {
  for (const [name, make] of edgeCases)
    it(name, () => {
      const { fn, args, expected } = make()
      const value = fn(...args)
      const got = Array.from(value.dataSync())
      got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 6))
      expect(got.map((g) => Number.isFinite(g))).toEqual(expected.map((e) => Number.isFinite(e)))
    })

  it('their gradients are finite where the loss is', () => {
    const masked = grad((z: Tensor) => nn.softmaxCrossEntropy(z, tensor([0], { dtype: 'i32' }) as Tensor<[1], 'i32'>))(
      tensor([[0, -Infinity, 0]]) as Tensor,
    )
    expect(Array.from(masked.dataSync())).toEqual([-0.5, 0, 0.5])
    const bce = grad((p: Tensor) => nn.binaryCrossEntropy(p, tensor([0, 1, 0.5])))(tensor([0, 1, 0.5]) as Tensor)
    expect(Array.from(bce.dataSync()).every(Number.isFinite)).toBe(true)
  })
})

describe('products with NaN and ±∞', () => {
  it('a zero times NaN or ∞ in a product is NaN, as in IEEE 754 (the CPU product skips zeros only of finite rows)', () => {
    const a = tensor([
      [0, 1],
      [0, 0],
    ])
    const b = tensor([
      [Number.NaN, Number.POSITIVE_INFINITY],
      [2, 3],
    ])
    expect(Array.from(ops.matmul(a, b).dataSync())).toEqual([Number.NaN, Number.NaN, Number.NaN, Number.NaN])
    expect(Array.from(ops.matmul(a, tensor([[1], [2]])).dataSync())).toEqual([2, 0])
  })
})
