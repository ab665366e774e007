/**
 * The transforms' options, as in JAX: hasAux on vjp, linearize, jvp and the
 * Jacobians; negative and repeated argnums; vmap's in_axes trees, out_axes
 * trees and axisSize; numbers as arguments; jit's staticArgnums; and a
 * failing jitted call that leaves no unhandled rejection. Each value is
 * checked against a closed form or the same computation written without
 * the option.
 */
import { describe, expect, it } from 'vitest'
import {
  cpuBackend,
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  makeProgram,
  ops,
  scalar,
  setBackend,
  tensor,
  valueAndGrad,
  vjp,
  vmap,
  type Backend,
  type Tensor,
} from '../src/index.ts'
import { expectClose, within } from './lib/close.ts'

const f64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: 'f64' })
const tol = within(1e-10)
const tol32 = within(1e-5)

// f(x) = Σ sin(x)·x, f'(x) = cos(x)·x + sin(x), f''(x) = 2cos(x) − x sin(x)
const f = (x: Tensor) => ops.sum(ops.mul(ops.sin(x), x))
const xs = [1, 2, 3]
const x = f64(xs)
const value = xs.reduce((s, v) => s + Math.sin(v) * v, 0)
const df = (v: number) => Math.cos(v) * v + Math.sin(v)
const d2f = (v: number) => 2 * Math.cos(v) - v * Math.sin(v)

/** f with an aux record: the largest element and a constant integer count. */
const withAux = (v: Tensor) => [f(v), { largest: ops.max(v), count: tensor([3], { dtype: 'i32' }) }] as const

describe('hasAux', () => {
  it('vjp(f, ...primals, { hasAux: true }) returns [output, pullback, aux]', () => {
    const [out, pullback, aux] = vjp(withAux, x, { hasAux: true })
    expectClose(out, value, tol)
    const [ct] = pullback(scalar(1, 'f64'))
    expectClose(ct, xs.map(df), tol)
    expectClose(aux.largest, 3, tol)
    expect(aux.count.dtype).toBe('i32')
    expectClose(aux.count, [3], tol)
    // The same as vjp of the function without aux.
    const [, plain] = vjp(f, x)
    expectClose(
      ct,
      plain(scalar(2, 'f64'))[0]
        .dataSync()
        .map((v) => v / 2),
      tol,
    )
  })
  it('a trailing { hasAux: false } is an option, a record with a tensor named hasAux an argument', () => {
    const [out, pullback, ...rest] = vjp(f, x, { hasAux: false })
    expect(rest).toEqual([])
    expectClose(out, value, tol)
    expectClose(pullback(scalar(1, 'f64'))[0], xs.map(df), tol)
    const g = (p: { hasAux: Tensor }) => f(p.hasAux)
    const [out2, pull2] = vjp(g, { hasAux: x })
    expectClose(out2, value, tol)
    expectClose(pull2(scalar(1, 'f64'))[0].hasAux, xs.map(df), tol)
  })
  it('linearize(f, ...primals, { hasAux: true }): the linear map has the output tangent only', () => {
    const t = [0.5, -1, 2]
    const [out, fLin, aux] = linearize(withAux, x, { hasAux: true })
    expectClose(out, value, tol)
    expectClose(aux.largest, 3, tol)
    expectClose(
      fLin(f64(t)),
      xs.reduce((s, v, i) => s + df(v) * t[i], 0),
      tol,
    )
    expect(fLin.program.outputs.length).toBe(1)
  })
  it('jvp(f, primals, tangents, { hasAux: true }) returns [output, tangent, aux]', () => {
    const t = [0.5, -1, 2]
    const [out, tangent, aux] = jvp(withAux, [x], [f64(t)], { hasAux: true })
    expectClose(out, value, tol)
    expectClose(
      tangent,
      xs.reduce((s, v, i) => s + df(v) * t[i], 0),
      tol,
    )
    expectClose(aux.largest, 3, tol)
  })
  it('jacfwd and jacrev with hasAux return [jacobian, aux]', () => {
    // g(v) = sin(v)·Σv: ∂gᵢ/∂vⱼ = cos(vᵢ)·S·δᵢⱼ + sin(vᵢ)
    const g = (v: Tensor) => [ops.mul(ops.sin(v), ops.sum(v)), { sum: ops.sum(v) }] as const
    const s = xs.reduce((a, b) => a + b, 0)
    const expected = xs.flatMap((vi, i) => xs.map((_, j) => (i === j ? Math.cos(vi) * s : 0) + Math.sin(vi)))
    for (const jac of [jacfwd, jacrev]) {
      const [j, aux] = jac(g, { hasAux: true })(x)
      expect((j as Tensor).shape).toEqual([3, 3])
      expectClose(j as Tensor, expected, tol)
      expectClose(aux.sum, s, tol)
    }
  })
  it('jacfwd with hasAux over a pytree argument: one aux, the Jacobian per leaf', () => {
    const g = (p: { a: Tensor; b: Tensor }) => [ops.mul(p.a, p.b), ops.sum(p.b)] as const
    const p = { a: f64([1, 2]), b: f64([3, 5]) }
    const [j, aux] = jacfwd(g, { hasAux: true })(p)
    expectClose(j.a, [3, 0, 0, 5], tol)
    expectClose(j.b, [1, 0, 0, 2], tol)
    expectClose(aux, 8, tol)
  })
  it('hessian with hasAux returns [hessian, aux]', () => {
    const [h, aux] = hessian(withAux, { hasAux: true })(x)
    expectClose(h as Tensor, [d2f(1), 0, 0, 0, d2f(2), 0, 0, 0, d2f(3)], tol)
    expectClose(aux.largest, 3, tol)
  })
  it('a function that does not return [output, aux] is an error', () => {
    expect(() => vjp(f, x, { hasAux: true })).toThrow(/vjp: with hasAux the function must return \[output, aux\]/)
    expect(() => jacrev(f, { hasAux: true })(x)).toThrow(/jacrev: with hasAux the function must return \[output, aux\]/)
  })
})

describe('argnums', () => {
  // loss(p, v) = Σ (w v + b)²: ∂/∂w = 2 (w v + b) v, ∂/∂b = 2 (w v + b), ∂/∂v = 2 (w v + b) w
  const loss = (p: { w: Tensor; b: Tensor }, v: Tensor) => ops.sum(ops.square(ops.add(ops.mul(p.w, v), p.b)))
  const p = { w: f64([1, 2]), b: f64([0.5, -0.5]) }
  const v = f64([3, 4])
  const r = [3.5, 7.5] // w v + b
  it('a negative index counts from the end', () => {
    expectClose(grad(loss, { argnums: -1 })(p, v), [2 * r[0] * 1, 2 * r[1] * 2], tol)
    expectClose(grad(loss, { argnums: -2 })(p, v).w, [2 * r[0] * 3, 2 * r[1] * 4], tol)
    const [value2, gv] = valueAndGrad(loss, { argnums: -1 })(p, v)
    expectClose(value2, r[0] ** 2 + r[1] ** 2, tol)
    expectClose(gv, [7, 30], tol)
  })
  it('a list of indices, negative ones included, in the order given', () => {
    const [gv, gp] = grad(loss, { argnums: [-1, 0] })(p, v)
    expectClose(gv, [7, 30], tol)
    expectClose(gp.b, [7, 15], tol)
  })
  it('jacfwd, jacrev and hessian take negative and list argnums', () => {
    // h(a, b) = a·sin(b): ∂h/∂a = diag(sin b), ∂h/∂b = diag(a cos b)
    const h = (a: Tensor, b: Tensor) => ops.mul(a, ops.sin(b))
    const [a, b] = [f64([2, 3]), f64([0.5, 1.5])]
    const diag = (d: number[]) => [d[0], 0, 0, d[1]]
    for (const jac of [jacfwd, jacrev]) {
      expectClose(jac(h, { argnums: -1 })(a, b), diag([2 * Math.cos(0.5), 3 * Math.cos(1.5)]), tol)
      const [ja, jb] = jac(h, { argnums: [0, -1] })(a, b)
      expectClose(ja, diag([Math.sin(0.5), Math.sin(1.5)]), tol)
      expectClose(jb, diag([2 * Math.cos(0.5), 3 * Math.cos(1.5)]), tol)
    }
    // q(a, b) = Σ a² b: blocks H_aa = diag(2b), H_ab = H_ba = diag(2a), H_bb = 0
    const q = (s: Tensor, t: Tensor) => ops.sum(ops.mul(ops.square(s), t))
    const [[haa, hab], [hba, hbb]] = hessian(q, { argnums: [0, 1] })(a, b)
    expectClose(haa, diag([1, 3]), tol)
    expectClose(hab, diag([4, 6]), tol)
    expectClose(hba, diag([4, 6]), tol)
    expectClose(hbb, [0, 0, 0, 0], tol)
    expectClose(hessian(q, { argnums: -2 })(a, b), diag([1, 3]), tol)
  })
  it('out of range or repeated argnums are errors that name them', () => {
    expect(() => grad(loss, { argnums: 2 })(p, v)).toThrow(
      /grad: argnums 2 is out of range for a call with 2 arguments/,
    )
    expect(() => grad(loss, { argnums: -3 })(p, v)).toThrow(
      /grad: argnums -3 is out of range for a call with 2 arguments/,
    )
    expect(() => valueAndGrad(loss, { argnums: [0, -2] })(p, v)).toThrow(
      /valueAndGrad: argnums 0 and -2 both name argument 0/,
    )
    expect(() => jacfwd(loss, { argnums: [1, 1] })(p, v)).toThrow(/jacfwd: argnums 1 and 1 both name argument 1/)
    expect(() => jacrev(loss, { argnums: 5 })(p, v)).toThrow(
      /jacrev: argnums 5 is out of range for a call with 2 arguments/,
    )
  })
  it('a non-float argument is named by its own position', () => {
    const g = (a: Tensor, i: Tensor) => ops.sum(ops.mul(a, ops.astype(i, 'f64')))
    expect(() => grad(g, { argnums: -1 })(v, tensor([1, 2], { dtype: 'i32' }))).toThrow(/but args\[1\] is i32\[2\]/)
  })
})

describe('vmap', () => {
  // Per example i: w_i ⊙ x[:, i] + b, with w mapped on axis 0, x on its last axis and b shared.
  const W = [
    [1, 2, 3],
    [4, 5, 6],
  ]
  const X = [
    [1, -1],
    [2, 0.5],
    [3, 2],
  ]
  const B = [0.5, 0, -0.5]
  const expected = [0, 1].flatMap((i) => [0, 1, 2].map((j) => W[i][j] * X[j][i] + B[j]))
  const affine = (p: { w: Tensor; b: Tensor }, v: Tensor) => ops.add(ops.mul(p.w, v), p.b)
  const p = { w: f64(W), b: f64(B) }
  it('an axis tree per argument: a record with an axis or null at each leaf', () => {
    const out = vmap(affine, [{ w: 0, b: null }, -1])(p, f64(X)) as Tensor
    expect(out.shape).toEqual([2, 3])
    expectClose(out, expected, tol)
    // The same computation with the shared leaf passed on its own.
    const split = vmap((w: Tensor, b: Tensor, v: Tensor) => affine({ w, b }, v), [0, null, 1])(p.w, p.b, f64(X))
    expectClose(out, (split as Tensor).dataSync(), tol)
  })
  it('an array argument takes an array of axes; the options form is the same as the positional one', () => {
    const pair = ([w, v]: readonly [Tensor, Tensor], b: Tensor) => ops.add(ops.mul(w, v), b)
    const args = [[p.w, f64(X)], p.b] as const
    const positional = vmap(pair, [[0, 1], null], 1)(...args) as Tensor
    const options = vmap(pair, { inAxes: [[0, 1], null], outAxes: 1 })(...args) as Tensor
    expect(positional.shape).toEqual([3, 2])
    expectClose(
      positional,
      [0, 1, 2].flatMap((j) => [0, 1].map((i) => expected[i * 3 + j])),
      tol,
    )
    expectClose(options, positional.dataSync(), tol)
  })
  it('an outAxes tree: null returns an output that does not depend on the mapped inputs as it is', () => {
    const g = (v: Tensor, c: Tensor) => [ops.mul(v, c), ops.mul(c, 2)] as const
    const c = f64([1, 10, 100])
    const [mapped, shared] = vmap(g, { inAxes: [0, null], outAxes: [1, null] })(f64(W), c) as Tensor[]
    expect(mapped.shape).toEqual([3, 2])
    expectClose(mapped, [1, 4, 20, 50, 300, 600], tol)
    expect(shared.shape).toEqual([3])
    expectClose(shared, [2, 20, 200], tol)
    expect(() => vmap(g, { inAxes: [0, null], outAxes: [0, null] })(c, f64([1, 2, 3]))).not.toThrow()
    expect(() => vmap(g, { inAxes: [null, 0], outAxes: [0, null] })(c, c)).toThrow(
      /vmap: outAxes is null for output\[1\], but that output depends on the mapped inputs/,
    )
  })
  it('axisSize with no mapped input broadcasts every output to a new leading axis', () => {
    const c = f64([1, 2, 3])
    const out = vmap((v: Tensor) => ops.mul(v, 2), { inAxes: null, axisSize: 4 })(c) as Tensor
    expect(out.shape).toEqual([4, 3])
    expectClose(out, [2, 4, 6, 2, 4, 6, 2, 4, 6, 2, 4, 6], tol)
    const last = vmap((v: Tensor) => ops.mul(v, 2), { inAxes: null, outAxes: -1, axisSize: 2 })(c) as Tensor
    expect(last.shape).toEqual([3, 2])
    expectClose(last, [2, 2, 4, 4, 6, 6], tol)
    const none = vmap(() => f64([7]), { axisSize: 3 })() as Tensor
    expect(none.shape).toEqual([3, 1])
    expectClose(none, [7, 7, 7], tol)
    // With mapped inputs, axisSize is their size.
    expectClose(vmap((r: Tensor) => ops.sum(r), { axisSize: 2 })(p.w), [6, 15], tol)
  })
  it('clear errors: structure, sizes, nothing mapped', () => {
    expect(() => vmap(affine, [{ w: 0 }, 1])(p, f64(X))).toThrow(
      /vmap: inAxes for args\[0\] is \{"w":0\}, which does not match its structure \{b: \*, w: \*\}/,
    )
    expect(() => vmap(affine, [{ w: [0, 1], b: null }, 1])(p, f64(X))).toThrow(
      /vmap: inAxes for args\[0\]\.w is \[0,1\], which does not match its structure \(a tensor\)/,
    )
    expect(() => vmap(affine, [{ w: 0, b: null }, 0])(p, f64(X))).toThrow(
      /vmap: mapped axes must have one size: args\[0\]\.w has size 2 on axis 0, but args\[1\] has size 3 on axis 0/,
    )
    expect(() => vmap(affine, { inAxes: [{ w: 0, b: null }, 1], axisSize: 3 })(p, f64(X))).toThrow(
      /vmap: axisSize is 3, but args\[0\]\.w has size 2 on axis 0/,
    )
    expect(() => vmap(affine, null)(p, f64(X))).toThrow(
      /vmap: no input is mapped \(every inAxes entry is null\) and no axisSize is given/,
    )
  })
})

describe('numbers as arguments', () => {
  const g = (s: Tensor) => ops.mul(ops.sin(s), s)
  it('grad(f)(3) differentiates at an f32 scalar', () => {
    const d = grad(g)(3)
    expect(d.dtype).toBe('f32')
    expect(d.shape).toEqual([])
    expectClose(d, df(3), tol32)
    const [v, d2] = valueAndGrad(g)(2)
    expectClose(v, Math.sin(2) * 2, tol32)
    expectClose(d2, df(2), tol32)
    const inRecord = grad((q: { s: Tensor; t: Tensor }) => ops.mul(g(q.s), q.t))({ s: 3, t: 2 })
    expectClose(inRecord.s, 2 * df(3), tol32)
    expectClose(inRecord.t, Math.sin(3) * 3, tol32)
  })
  it('jvp, vjp, linearize, hvp and the Jacobians take numbers', () => {
    expectClose(jvp(g, [2], [1])[1], df(2), tol32)
    const [, pullback] = vjp(g, 2)
    expectClose(pullback(1)[0], df(2), tol32)
    expectClose(linearize(g, 2)[1](0.5), 0.5 * df(2), tol32)
    expectClose(hvp(g, [2], [1]), d2f(2), tol32)
    expectClose(jacfwd(g)(2), df(2), tol32)
    expectClose(jacrev(g)(2), df(2), tol32)
    expectClose(hessian(g)(2), d2f(2), tol32)
  })
  it('an argument a transform does not trace reaches f as it is, a number included', () => {
    const seen: string[] = []
    const scaled = (v: Tensor, by: Tensor | number) => {
      seen.push(typeof by)
      const total = ops.sum(ops.square(v))
      return typeof by === 'number' ? ops.mul(total, by) : ops.mul(total, by)
    }
    // f64 data with a number outside argnums: the number keeps f64 (an f32 tensor would not mix with it).
    expectClose(
      grad(scaled)(x, 3),
      xs.map((v) => 6 * v),
      tol,
    )
    expectClose(
      jacrev(scaled)(x, 3),
      xs.map((v) => 6 * v),
      tol,
    )
    const rows = f64([
      [1, 2],
      [3, 4],
    ])
    const out = vmap(
      (r: Tensor, c: Tensor | number) => {
        seen.push(typeof c)
        return typeof c === 'number' ? ops.mul(r, c) : ops.mul(r, c)
      },
      [0, null],
    )(rows, 2.5) as Tensor
    expect(out.dtype).toBe('f64')
    expectClose(out, [2.5, 5, 7.5, 10], tol)
    expect(seen).toEqual(['number', 'number', 'number'])
    // A traced number is an f32 scalar: the derivative with respect to it, and makeProgram's input.
    expectClose(grad(scaled, { argnums: 1 })(tensor([1, 2]), 3), 5, tol32)
    const program = makeProgram(g)(3)
    expect(program.inputs.map((v) => `${v.aval.dtype}[${v.aval.shape}]`)).toEqual(['f32[]'])
  })
})

describe('jit', () => {
  const backend = cpuBackend()
  it('staticArgnums: passed as they are, part of the cache key; negative indices count from the end', async () => {
    let traces = 0
    const power = (v: Tensor, n: number) => {
      traces++
      let y = v
      for (let i = 1; i < n; i++) y = ops.mul(y, v)
      return y
    }
    const v = f64([1.5, -2])
    for (const staticArgnums of [1, -1, [1]]) {
      traces = 0
      const jitted = jit(power, { staticArgnums, backend })
      expectClose(await jitted(v, 2), [2.25, 4], tol)
      expectClose(await jitted(v, 3), [1.5 ** 3, -8], tol)
      expectClose(await jitted(v, 2), [2.25, 4], tol)
      expect(traces).toBe(2)
      const lowered = jitted.lower(v, 4)
      expect(lowered.inputs.length).toBe(1)
      expect(lowered.counts().mul).toBe(3)
    }
  })
  it('equal static values (records in any key order) share a compilation', async () => {
    let traces = 0
    const scaled = (o: { by: number; name: string }, v: Tensor) => {
      traces++
      return ops.mul(v, o.by)
    }
    const jitted = jit(scaled, { staticArgnums: 0, backend })
    const v = f64([1, 2])
    expectClose(await jitted({ by: 3, name: 'a' }, v), [3, 6], tol)
    expectClose(await jitted({ name: 'a', by: 3 }, v), [3, 6], tol)
    expect(traces).toBe(1)
    expectClose(await jitted({ by: 3, name: 'b' }, v), [3, 6], tol)
    expect(traces).toBe(2)
  })
  it('a static argument must be hashable; static indices are checked', async () => {
    const jitted = jit((v: Tensor, _static: unknown) => ops.mul(v, 2), { staticArgnums: 1, backend })
    const v = f64([1])
    await expect(jitted(v, v)).rejects.toThrow(
      /jit: a static argument must be hashable: .*; args\[1\] is a ConcreteTensor/,
    )
    await expect(jitted(v, { f: () => 1 })).rejects.toThrow(/args\[1\]\.f is a function/)
    await expect(jit((a: Tensor) => a, { staticArgnums: 2, backend })(v)).rejects.toThrow(
      /jit: staticArgnums 2 is out of range for a call with 1 arguments/,
    )
    await expect(
      jit((a: Tensor, _n: number) => a, { staticArgnums: 1, donateArgnums: -1, backend })(v, 1),
    ).rejects.toThrow(/jit: argument 1 is both static and donated/)
  })
  it('donateArgnums counts from the end and marks the leaves of the traced arguments only', async () => {
    const marks: (readonly boolean[] | undefined)[] = []
    const spy: Backend = {
      name: 'spy',
      compile: (program) => {
        const executable = backend.compile(program)
        return {
          program: executable.program,
          kernels: executable.kernels,
          stats: () => executable.stats(),
          run: (inputs, runOptions) => {
            marks.push(runOptions?.donate)
            return executable.run(inputs, runOptions)
          },
        }
      },
    }
    const step = (mode: string, p: { a: Tensor; b: Tensor }, v: Tensor) =>
      mode === 'sum' ? ops.add(ops.add(p.a, p.b), v) : v
    const jitted = jit(step, { staticArgnums: 0, donateArgnums: -2, backend: spy })
    expectClose(await jitted('sum', { a: f64([1]), b: f64([2]) }, f64([3])), [6], tol)
    expect(marks).toEqual([[true, true, false]])
  })
  it('a number argument is traced as an f32 scalar: one compilation for every value', async () => {
    let traces = 0
    const jitted = jit(
      (v: Tensor, c: Tensor) => {
        traces++
        return ops.mul(v, c)
      },
      { backend },
    )
    const v = tensor([1, 2])
    expectClose(await jitted(v, 2), [2, 4], tol32)
    expectClose(await jitted(v, 3), [3, 6], tol32)
    expect(traces).toBe(1)
  })
  it('a call that fails to trace or compile rejects its caller only: no unhandled rejection, nothing cached', async () => {
    const unhandled: unknown[] = []
    const listener = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', listener)
    try {
      let traces = 0
      const throwing = jit(
        (_v: Tensor) => {
          traces++
          throw new Error('inside f')
        },
        { backend },
      )
      const v = tensor([1, 2])
      for (let i = 0; i < 2; i++)
        try {
          await throwing(v)
          expect.unreachable()
        } catch (e) {
          expect((e as Error).message).toBe('inside f')
        }
      expect(traces).toBe(2)
      await expect(Promise.all([throwing(v), throwing(v), throwing.compiled(v)])).rejects.toThrow('inside f')
      const shapes = jit((a: Tensor) => ops.add(a, tensor([1, 2, 3])), { backend })
      await expect(shapes(v)).rejects.toThrow(/add: shapes \[2\] and \[3\] do not broadcast/)
      const failing: Backend = {
        name: 'failing',
        compile: () => {
          throw new Error('cannot compile')
        },
      }
      await expect(jit(ops.sin, { backend: failing })(v)).rejects.toThrow('cannot compile')
      // The default backend is awaited before compiling: the failure comes after a suspension.
      setBackend(failing)
      try {
        const viaDefault = jit(ops.sin)
        await expect(Promise.all([viaDefault(v), viaDefault(v)])).rejects.toThrow('cannot compile')
      } finally {
        setBackend(null)
      }
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
    } finally {
      process.off('unhandledRejection', listener)
    }
    expect(unhandled).toEqual([])
  })
})
