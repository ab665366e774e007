/**
 * The law kit takes typed layers as they are: the arbitraries carry the shapes
 * they draw (`arb.f32([2, 3])` is an arbitrary of `Tensor<[2, 3], 'f32'>`), so
 * `laws.layer(nn.dense(3, 4), { input: arb.f32([2, 3]) })` compiles without a
 * cast, and an input or a parameter of the wrong shape does not. Every
 * `@ts-expect-error` is a call that must not compile.
 */
import * as fc from 'fast-check'
import { describe, expectTypeOf, it } from 'vitest'
import { arb, laws, layerLaws, checkLayer, domain } from '../laws/index.ts'
import { nn, ops, type Tensor } from '../src/index.ts'

describe('the arbitraries carry their shapes', () => {
  it('tensors', () => {
    expectTypeOf(arb.f32([2, 3])).toEqualTypeOf<fc.Arbitrary<Tensor<[2, 3], 'f32'>>>()
    expectTypeOf(arb.f64([4], 'positive')).toEqualTypeOf<fc.Arbitrary<Tensor<[4], 'f64'>>>()
    expectTypeOf(arb.tensor([2, 5], { domain: domain.index(5), dtype: 'i32' })).toEqualTypeOf<
      fc.Arbitrary<Tensor<[2, 5], 'i32'>>
    >()
    // A shape known only at run time checks nothing: its tensors fit every shape.
    const shape: number[] = [2, 3]
    expectTypeOf(arb.f32(shape)).toEqualTypeOf<fc.Arbitrary<Tensor<any, 'f32'>>>()
  })
  it('parameter records', () => {
    expectTypeOf(arb.record({ w: [3, 4], b: [4] })).toEqualTypeOf<
      fc.Arbitrary<{ readonly w: Tensor<[3, 4]>; readonly b: Tensor<[4]> }>
    >()
  })
})

describe('typed layers take typed arbitraries without casts', () => {
  it('nn layers: the input fits the layer, a batch of 2 being a B', () => {
    laws.layer(nn.dense(3, 4), { input: arb.f32([2, 3]) })
    laws.layer(nn.sequential(nn.dense(3, 4), nn.relu, nn.dense(4, 2)), { input: arb.f64([5, 3]) })
    laws.layer(nn.conv2d(1, 8, 3), { input: arb.f32([1, 5, 5, 1]) })
    laws.layer(nn.relu, { params: fc.constant(null), input: arb.f64([2, 3]) })
    // @ts-expect-error an input of 5 features for a layer of 3
    laws.layer(nn.dense(3, 4), { input: arb.f32([2, 5]) })
    // @ts-expect-error the chain's second layer takes 4 features; an input of 4 does not fit the first
    laws.layer(nn.sequential(nn.dense(3, 4), nn.relu, nn.dense(4, 2)), { input: arb.f64([2, 4]) })
    // @ts-expect-error conv2d(1 → 8) on 2 channels
    laws.layer(nn.conv2d(1, 8, 3), { input: arb.f32([1, 5, 5, 2]) })
  })
  it('parameters drawn by arb.record fit the layer, and wrong ones do not', () => {
    laws.layer(nn.dense(3, 4), { params: arb.record({ w: [3, 4], b: [4] }), input: arb.f32([2, 3]) })
    // @ts-expect-error a bias of 5 for a layer of 4 outputs
    laws.layer(nn.dense(3, 4), { params: arb.record({ w: [3, 4], b: [5] }), input: arb.f32([2, 3]) })
  })
  it("a user's typed function", () => {
    const f = (p: { readonly w: Tensor<[3, 4]> }, x: Tensor<['B', 3]>) => ops.matmul(x, p.w)
    laws.layer(f, { params: arb.record({ w: [3, 4] }), input: arb.f64([2, 3]) })
    expectTypeOf(checkLayer(f, { params: arb.record({ w: [3, 4] }), input: arb.f64([2, 3]) })).toBeArray()
    expectTypeOf(layerLaws(f, { params: arb.record({ w: [3, 4] }), input: arb.f64([2, 3]) })).toBeArray()
    // A function is a function, not a value whose `apply` (Function.prototype.apply) would accept anything:
    // @ts-expect-error weights [3, 5] where the function takes [3, 4]
    laws.layer(f, { params: arb.record({ w: [3, 5] }), input: arb.f64([2, 3]) })
    // @ts-expect-error an input [2, 4] where the function takes [B, 3]
    laws.layer(f, { params: arb.record({ w: [3, 4] }), input: arb.f64([2, 4]) })
  })
  it('untyped layers and arbitraries still go together', () => {
    const g = (p: { w: Tensor }, x: Tensor) => ops.matmul(x, p.w)
    const shape: number[] = [2, 3]
    laws.layer(g, { params: arb.record({ w: [3, 4] }), input: arb.f64(shape) })
    laws.layer(nn.dense(3, 4), { input: arb.f32(shape) })
  })
})
