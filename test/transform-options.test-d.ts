/**
 * Compile-time types of the transforms' options: hasAux results, negative
 * argnums, numbers where f32 scalar tensors are taken, and jit's static
 * arguments.
 */
import { describe, expectTypeOf, it } from 'vitest'
import {
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  ops,
  valueAndGrad,
  vjp,
  type Tensor,
} from '../src/index.ts'

type Params = { w: Tensor<[3], 'f32'>; b: Tensor<[], 'f32'> }
declare const params: Params
declare const v: Tensor<[3], 'f32'>
declare const s: Tensor<[], 'f32'>
const loss = (p: Params, x: Tensor<[3], 'f32'>) => ops.sum(ops.add(ops.mul(p.w, x), p.b))
const withAux = (x: Tensor<[3], 'f32'>) => [ops.sum(x), { top: ops.max(x) }] as const

describe('transform options', () => {
  it('a negative argnums is the argument counted from the end', () => {
    expectTypeOf(grad(loss, { argnums: -1 })(params, v)).toEqualTypeOf<Tensor<[3], 'f32'>>()
    expectTypeOf(grad(loss, { argnums: -2 })(params, v)).toEqualTypeOf<Params>()
    expectTypeOf(grad(loss, { argnums: [-1, 0] })(params, v)).toEqualTypeOf<readonly [Tensor<[3], 'f32'>, Params]>()
    expectTypeOf(valueAndGrad(loss, { argnums: -1 })(params, v)[1]).toEqualTypeOf<Tensor<[3], 'f32'>>()
  })

  it('hasAux adds the aux value to the result', () => {
    const [out, pullback, aux] = vjp(withAux, v, { hasAux: true })
    expectTypeOf(out).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(aux).toEqualTypeOf<{ readonly top: Tensor<[], 'f32'> }>()
    expectTypeOf(pullback(s)).toEqualTypeOf<[x: Tensor<[3], 'f32'>]>()
    const [, fLin, aux2] = linearize(withAux, v, { hasAux: true })
    expectTypeOf(fLin(v)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(aux2).toEqualTypeOf<{ readonly top: Tensor<[], 'f32'> }>()
    expectTypeOf(jvp(withAux, [v], [v], { hasAux: true })[2]).toEqualTypeOf<{ readonly top: Tensor<[], 'f32'> }>()
    expectTypeOf(jacfwd(withAux, { hasAux: true })(v)[1]).toEqualTypeOf<{ readonly top: Tensor<[], 'f32'> }>()
    expectTypeOf(jacrev(withAux, { hasAux: true })(v)[1]).toEqualTypeOf<{ readonly top: Tensor<[], 'f32'> }>()
    expectTypeOf(hessian(withAux, { hasAux: true })(v)).toBeArray()
    // Without the option, vjp keeps its two-element result; the cotangent may be a number.
    const plain = vjp(ops.sum, v)
    expectTypeOf(plain).toBeArray()
    expectTypeOf(plain).toHaveProperty('length').toEqualTypeOf<2>()
    expectTypeOf(plain[1]).toBeCallableWith(1)
    expectTypeOf(plain[1]).toBeCallableWith(s)
  })

  it('a number stands for an f32 scalar tensor, and only for one', () => {
    const f = (x: Tensor<[], 'f32'>, y: Tensor) => ops.mul(x, y)
    expectTypeOf(grad(f)(3, 2)).toEqualTypeOf<Tensor<[], 'f32'>>()
    expectTypeOf(grad(f)).toBeCallableWith(s, 2)
    // @ts-expect-error: a Tensor<[3]> argument takes no number
    grad(loss, { argnums: 1 })(params, 3)
    // @ts-expect-error: nor does an f64 scalar
    grad((x: Tensor<[], 'f64'>) => x)(3)
  })

  it('jit takes numbers for tensors and static arguments as they are', () => {
    const power = jit((x: Tensor<[], 'f32'>, n: number) => ops.mul(x, n), { staticArgnums: 1 })
    expectTypeOf(power).toBeCallableWith(2, 3)
    expectTypeOf(power(s, 3)).toEqualTypeOf<Promise<Tensor<[], 'f32'>>>()
  })
})
