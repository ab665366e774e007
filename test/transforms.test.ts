import { describe, expect, it } from 'vitest'
import {
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  linearize,
  makeProgram,
  ops,
  scalar,
  tensor,
  valueAndGrad,
  vjp,
  vmap,
  type Tensor,
} from '../src/index.ts'
import { expectClose, within } from './lib/close.ts'

const f64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: 'f64' })
const tol = within(1e-10)

// f(x) = Σ sin(x)·x, f'(x) = cos(x)·x + sin(x), f''(x) = 2cos(x) − x sin(x)
const f = (x: Tensor) => ops.sum(ops.mul(ops.sin(x), x))
const x = f64([1, 2, 3])
const df = [1, 2, 3].map((v) => Math.cos(v) * v + Math.sin(v))
const d2f = [1, 2, 3].map((v) => 2 * Math.cos(v) - v * Math.sin(v))

describe('printed programs', () => {
  it('f', () => {
    expect(makeProgram(f)(x).toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3] .
        let b:f64[3] = sin a
            c:f64[3] = mul b a
            d:f64[] = sum[axes=[0]] c
        in ( d ) }"
    `)
  })
  it('jvp(f): the tangent rides along the primal', () => {
    expect(makeProgram((p: Tensor, t: Tensor) => jvp(f, [p], [t]))(x, x).toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3] b:f64[3] .
        let c:f64[3] = sin a
            d:f64[3] = cos a
            e:f64[3] = mul b d
            f:f64[3] = mul c a
            g:f64[3] = mul e a
            h:f64[3] = mul c b
            i:f64[3] = add g h
            j:f64[] = sum[axes=[0]] f
            k:f64[] = sum[axes=[0]] i
        in ( j k ) }"
    `)
  })
  it('linearize(f): only the tangent computation is staged, the primal values are constants', () => {
    const [, fLin] = linearize(f, x)
    expect(fLin.program.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3] b:f64[3] c:f64[3] ; d:f64[3] .
        let e:f64[3] = mul d a
            f:f64[3] = mul e b
            g:f64[3] = mul c d
            h:f64[3] = add f g
            i:f64[] = sum[axes=[0]] h
        in ( i ) }"
    `)
  })
  it('grad(f): the transposed linear program', () => {
    expect(makeProgram(grad(f))(x).toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3] .
        let b:f64[3] = sin a
            c:f64[3] = cos a
            d:f64[3] = broadcast[shape=[3]] 1:f64
            e:f64[3] = mul b d
            f:f64[3] = mul d a
            g:f64[3] = mul f c
            h:f64[3] = add e g
        in ( h ) }"
    `)
  })
  it('grad of a dense layer: the transpose of a matmul is a matmul', () => {
    const loss = (w: Tensor, v: Tensor) => ops.sum(ops.tanh(ops.matmul(v, w)))
    expect(
      makeProgram(grad(loss))(
        f64([
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        f64([[1, 0, 1]]),
      ).toString(),
    ).toMatchInlineSnapshot(`
      "{ lambda a:f64[3,2] b:f64[1,3] .
        let c:f64[1,2] = matmul b a
            d:f64[1,2] = tanh c
            e:f64[1,2] = mul d d
            f:f64[1,2] = broadcast[shape=[1,2]] 1:f64
            g:f64[1,2] = sub f e
            h:f64[1,2] = broadcast[shape=[1,2]] 1:f64
            i:f64[1,2] = mul h g
            j:f64[3,1] = transpose[perm=[1,0]] b
            k:f64[3,2] = matmul j i
        in ( k ) }"
    `)
  })
  it('vmap(f): the batch axis appears in the shapes', () => {
    expect(
      makeProgram(vmap(f))(
        f64([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ).toString(),
    ).toMatchInlineSnapshot(`
      "{ lambda a:f64[2,3] .
        let b:f64[2,3] = sin a
            c:f64[2,3] = mul b a
            d:f64[2] = sum[axes=[1]] c
        in ( d ) }"
    `)
  })
})

describe('values', () => {
  it('grad, valueAndGrad', () => {
    expectClose(grad(f)(x), df, tol)
    const [v, g] = valueAndGrad(f)(x)
    expectClose(
      v,
      [1, 2, 3].reduce((s, t) => s + Math.sin(t) * t, 0),
      tol,
    )
    expectClose(g, df, tol)
  })
  it('jvp, vjp and linearize agree', () => {
    const t = f64([0.5, -1, 2])
    const [, tangent] = jvp(f, [x], [t])
    const [, fLin] = linearize(f, x)
    const [, pullback] = vjp(f, x)
    const expected = df.reduce((s, d, i) => s + d * [0.5, -1, 2][i], 0)
    expectClose(tangent, expected, tol)
    expectClose(fLin(t), expected, tol)
    expectClose(pullback(scalar(1, 'f64'))[0], df, tol)
  })
  it('grad with argnums and pytrees', () => {
    const loss = (p: { w: Tensor; b: Tensor }, v: Tensor) => ops.sum(ops.square(ops.add(ops.mul(p.w, v), p.b)))
    const p = { w: f64([1, 2]), b: f64([0.5, -0.5]) }
    const v = f64([3, 4])
    const g = grad(loss)(p, v)
    // d/dw Σ (w v + b)² = 2 (w v + b) v ; d/db = 2 (w v + b)
    expectClose(g.w, [2 * 3.5 * 3, 2 * 7.5 * 4], tol)
    expectClose(g.b, [2 * 3.5, 2 * 7.5], tol)
    const [gp, gv] = grad(loss, { argnums: [0, 1] })(p, v)
    expectClose(gp.b, [7, 15], tol)
    expectClose(gv, [2 * 3.5 * 1, 2 * 7.5 * 2], tol)
    expectClose(grad(loss, { argnums: 1 })(p, v), [7, 30], tol)
  })
  it('hasAux passes a value through undifferentiated', () => {
    const [g, aux] = grad((v: Tensor) => [ops.sum(ops.square(v)), ops.max(v)] as const, { hasAux: true })(f64([1, 3]))
    expectClose(g, [2, 6], tol)
    expectClose(aux, 3, tol)
  })
  it('jacfwd = jacrev, hessian, hvp', () => {
    const g = (v: Tensor) => ops.mul(ops.sin(v), ops.sum(v))
    const a = jacfwd(g)(x) as Tensor
    const b = jacrev(g)(x) as Tensor
    expect(a.shape).toEqual([3, 3])
    expectClose(a, b.dataSync(), tol)
    const h = hessian(f)(x) as Tensor
    expectClose(h, [d2f[0], 0, 0, 0, d2f[1], 0, 0, 0, d2f[2]], tol)
    expectClose(hvp(f, [x], [f64([1, 1, 1])]), d2f, tol)
  })
  it('transforms compose in any order', () => {
    expectClose(jacfwd(grad(f))(x) as Tensor, (hessian(f)(x) as Tensor).dataSync(), tol)
    expectClose(jacrev(grad(f))(x) as Tensor, (hessian(f)(x) as Tensor).dataSync(), tol)
    const xs = f64([
      [1, 2, 3],
      [0.5, 0.25, 0.125],
    ])
    const perRow = vmap(grad(f))(xs) as Tensor
    expectClose(ops.slice(perRow, [0, 0], [1, 3]), df, tol)
    expectClose(grad((m: Tensor) => ops.sum(vmap(f)(m) as Tensor))(xs), perRow.dataSync(), tol)
    expectClose(
      vmap(jacfwd(ops.sin))(xs) as Tensor,
      (jacfwd(vmap(ops.sin))(xs) as Tensor).dataSync().filter((_, i) => {
        // The per-row Jacobians are the diagonal blocks of the full one.
        const [r, c, r2] = [Math.floor(i / 18), (Math.floor(i / 3) % 6) % 3, Math.floor((i % 6) / 3)]
        return r === r2 && c >= 0
      }),
      tol,
    )
  })
  it('pow at a zero base: d(a⁰)/da = 0 and d²(a¹)/da² = 0, not NaN', () => {
    const z = f64([0, 1])
    expectClose(grad((b: Tensor) => ops.sum(ops.pow(b, 0)))(z), [0, 0], tol)
    expectClose(hessian((b: Tensor) => ops.sum(ops.pow(b, 1)))(z) as Tensor, [0, 0, 0, 0], tol)
    expectClose(grad((b: Tensor) => ops.sum(ops.pow(b, 2)))(z), [0, 2], tol)
  })
  it('third derivative by nesting grad', () => {
    const g3 = grad(grad(grad((s: Tensor) => ops.mul(ops.sin(s), s))))(scalar(1, 'f64'))
    // d³/ds³ s sin s = −3 sin s − s cos s
    expectClose(g3, -3 * Math.sin(1) - Math.cos(1), tol)
  })
  it('perturbation confusion is avoided: d/dx [x · d/dy (x + y)] = 1', () => {
    const inner = (a: Tensor) => grad((b: Tensor) => ops.add(a, b))(scalar(1, 'f64'))
    expectClose(grad((a: Tensor) => ops.mul(a, inner(a)))(scalar(2, 'f64')), 1, tol)
  })
})

describe('vmap', () => {
  const m = f64([
    [1, 2, 3],
    [4, 5, 6],
  ])
  it('maps over any axis, with outAxes', () => {
    const rowSums = vmap((r: Tensor) => ops.sum(r))(m)
    expectClose(rowSums, [6, 15], tol)
    const colSums = vmap((c: Tensor) => ops.sum(c), 1)(m)
    expectClose(colSums, [5, 7, 9], tol)
    const t = vmap((c: Tensor) => ops.mul(c, 2), 1, 1)(m) as Tensor
    expect(t.shape).toEqual([2, 3])
    expectClose(t, [2, 4, 6, 8, 10, 12], tol)
  })
  it('unmapped arguments (inAxes null) are shared', () => {
    const w = f64([
      [1, 0],
      [0, 1],
      [1, 1],
    ])
    const out = vmap((r: Tensor, W: Tensor) => ops.matmul(r, W), [0, null])(m, w) as Tensor
    expect(out.shape).toEqual([2, 2])
    expectClose(out, [4, 5, 10, 11], tol)
  })
  it('batched matmul on both sides, batched gather', () => {
    const a = f64([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ])
    const out = vmap((p: Tensor, q: Tensor) => ops.matmul(p, q))(a, a) as Tensor
    expectClose(out, [7, 10, 15, 22, 67, 78, 91, 106], tol)
    const idx = tensor(
      [
        [1, 0, 1],
        [0, 0, 1],
      ],
      { dtype: 'i32' },
    )
    const g = vmap((row: Tensor, i: Tensor) => ops.take(row, i as Tensor<[number], 'i32'>))(m, idx) as Tensor
    expectClose(g, [2, 1, 2, 4, 4, 5], tol)
  })
  it('nested vmap', () => {
    const outer = vmap(vmap((v: Tensor) => ops.mul(v, v)))(m) as Tensor
    expectClose(outer, [1, 4, 9, 16, 25, 36], tol)
  })
})
