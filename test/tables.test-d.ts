/**
 * The rule tables are exhaustive in the primitive type: each has exactly one
 * entry per primitive, so adding a primitive to `PrimitiveParams` without its
 * rules, its kind or its WebGPU lowering is a compile error, not a run-time
 * surprise. (A table that is a mapped type over `Primitive` cannot miss a
 * key; these tests pin that each table is one.)
 */
import { describe, expectTypeOf, it } from 'vitest'
import type { loweringRules } from '../gpu/lower/rules.ts'
import type { LoweringRule } from '../gpu/lower/rules.ts'
import type { Primitive, primitiveKinds, UnaryPrimitive } from '../src/core/primitive.ts'
import type { rules } from '../src/rules.ts'

describe('the tables over the primitives', () => {
  it('the rules, the kinds and the WebGPU lowering each have one entry per primitive', () => {
    expectTypeOf<keyof typeof rules>().toEqualTypeOf<Primitive>()
    expectTypeOf<keyof typeof primitiveKinds>().toEqualTypeOf<Primitive>()
    expectTypeOf<keyof typeof loweringRules>().toEqualTypeOf<Primitive>()
  })
  it('a heavy primitive is lowered to a kernel of its own, an elementwise one inline', () => {
    expectTypeOf<LoweringRule<'matmul'>['kind']>().toEqualTypeOf<'kernel' | 'unsupported'>()
    expectTypeOf<LoweringRule<'sum'>['kind']>().toEqualTypeOf<'kernel' | 'unsupported'>()
    expectTypeOf<LoweringRule<'add'>['kind']>().toEqualTypeOf<'inline' | 'unsupported'>()
    expectTypeOf<LoweringRule<'scan'>['kind']>().toEqualTypeOf<'loop' | 'expand' | 'branch' | 'unsupported'>()
    expectTypeOf<LoweringRule<'checkpoint'>['kind']>().toEqualTypeOf<'expand' | 'unsupported'>()
  })
  it('the unary primitives are one list, the WGSL renderer’s unary operators', () => {
    expectTypeOf<UnaryPrimitive>().toEqualTypeOf<
      'neg' | 'exp' | 'log' | 'log1p' | 'expm1' | 'tanh' | 'logistic' | 'sin' | 'cos' | 'sqrt' | 'abs' | 'sign' | 'erf'
    >()
  })
})
