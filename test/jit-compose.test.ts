/**
 * jit composes with every transform, as in JAX: a jitted function passed to
 * grad, vjp, jvp, vmap, hessian or another jit (or called inside a function
 * being transformed) is one `jitCall` equation holding its traced Program,
 * traced once per signature, and every result equals the same transform of
 * the plain function.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, hessian, jit, jvp, makeProgram, ops, tensor, vjp, vmap, type Tensor } from '../src/index.ts'
import { expectClose, within } from './lib/close.ts'

const f64 = (data: number[]) => tensor(data, { dtype: 'f64' }) as Tensor
const values = (t: Tensor) => Array.from(t.dataSync())
const exact = within(1e-14)

describe('jit inside the transforms', () => {
  let traces = 0
  const f = (x: Tensor, w: Tensor) => {
    traces++
    return ops.sum(ops.mul(ops.tanh(ops.mul(x, w)), x))
  }
  const jf = jit(f)
  const x = f64([0.3, -1.2, 2])
  const w = f64([1.5, 0.5, -0.7])

  it('grad, vjp, jvp, hessian and vmap of a jitted function equal those of the function', () => {
    expectClose(values(grad(jf)(x, w) as Tensor), values(grad(f)(x, w)), exact)
    const [, pull] = vjp(jf.fun, x, w)
    const [, pullPlain] = vjp(f, x, w)
    const two = tensor(2, { dtype: 'f64' }) as Tensor<[]>
    expectClose(values(pull(two)[1] as Tensor), values(pullPlain(two)[1] as Tensor), exact)
    expectClose(values(jvp(jf.fun, [x, w], [w, x])[1]), values(jvp(f, [x, w], [w, x])[1]), exact)
    expectClose(values(hessian((v: Tensor) => jf.fun(v, w))(x)), values(hessian((v: Tensor) => f(v, w))(x)), exact)
    const xs = tensor(
      [
        [1, 2, 3],
        [0.5, 0.1, -1],
      ],
      { dtype: 'f64' },
    ) as Tensor
    expectClose(values(vmap((v: Tensor) => jf.fun(v, w))(xs)), values(vmap((v: Tensor) => f(v, w))(xs)), exact)
  })

  it('is one jitCall equation, traced once per signature, inside another jit', async () => {
    const outer = (v: Tensor, c: Tensor) => ops.add(jf.fun(v, c), jf.fun(ops.neg(v), c))
    const program = makeProgram(outer)(x, w)
    expect(program.eqns.filter((e) => e.prim === 'jitCall').length).toBe(2)
    expect(program.toString()).toMatch(/jitCall\[name=f\]/)
    traces = 0
    makeProgram(outer)(x, w)
    expect(traces).toBe(0)
    const compiled = jit(grad(outer), { backend: cpuBackend() })
    expectClose(
      values(await compiled(x, w)),
      values(grad((v: Tensor, c: Tensor) => ops.add(f(v, c), f(ops.neg(v), c)))(x, w)),
      exact,
    )
  })

  it('calling the jitted function itself on traced values returns the result, not a promise', () => {
    const g = grad((v: Tensor) => jf(v, w) as unknown as Tensor)(x)
    expectClose(values(g), values(grad((v: Tensor) => f(v, w))(x)), exact)
    // Outside any transform, fun evaluates on the CPU.
    expectClose(values(jf.fun(x, w)), values(f(x, w)), exact)
  })

  it('static arguments stay static inside the transforms', () => {
    const scaled = jit((v: Tensor, k: number) => ops.sum(ops.mul(v, k)), { staticArgnums: 1 })
    expect(values(grad((v: Tensor) => scaled.fun(v, 3))(x))).toEqual([3, 3, 3])
    expect(values(grad((v: Tensor) => scaled.fun(v, 5))(x))).toEqual([5, 5, 5])
  })
})
