/**
 * Control flow against the same computation written without it: a branch
 * chosen by a JavaScript `if`, a loop unrolled in JavaScript. Values,
 * forward and reverse derivatives, vmap with batched predicates (each member
 * its own branch, its own trip count), jit, the printer, and the errors.
 */
import { describe, expect, it } from 'vitest'
import {
  cond,
  cpuBackend,
  foriLoop,
  grad,
  hessian,
  jacfwd,
  jit,
  jvp,
  makeProgram,
  ops,
  switchCase,
  tensor,
  vjp,
  vmap,
  whileLoop,
  type Tensor,
} from '../src/index.ts'
import { expectClose, within } from './lib/close.ts'

const f64 = (data: number | number[]) => tensor(data as number[], { dtype: 'f64' }) as Tensor
const values = (t: Tensor) => Array.from(t.dataSync())
const exact = within(1e-14)

const up = (x: Tensor, w: Tensor) => ops.mul(ops.sin(x), w)
const down = (x: Tensor, w: Tensor) => ops.add(ops.mul(x, x), w)
const branchy = (p: Tensor, x: Tensor, w: Tensor) => ops.sum(cond(p as Tensor<[], 'bool'>, up, down, x, w))
const plain = (p: boolean, x: Tensor, w: Tensor) => ops.sum(p ? up(x, w) : down(x, w))

describe('cond and switchCase', () => {
  const x = f64([0.3, -1.2, 2])
  const w = f64([1.5, 0.5, -2])
  const yes = tensor(true)
  const no = tensor(false)

  it('values, gradients and Hessians equal the branch a JavaScript if would take', () => {
    for (const [p, b] of [
      [yes, true],
      [no, false],
    ] as const) {
      expectClose(values(branchy(p, x, w)), values(plain(b, x, w)), exact)
      const g = grad(branchy, { argnums: [1, 2] })(p, x, w)
      const h = grad((a: Tensor, c: Tensor) => plain(b, a, c), { argnums: [0, 1] })(x, w)
      expectClose(values(g[0]), values(h[0]), exact)
      expectClose(values(g[1]), values(h[1]), exact)
      const hb = hessian((a: Tensor) => branchy(p, a, w))(x)
      expectClose(values(hb), values(hessian((a: Tensor) => plain(b, a, w))(x)), exact)
    }
  })

  it('jit keeps both branches in one program and picks at run time, gradients included', async () => {
    const step = jit(grad(branchy, { argnums: 1 }), { backend: cpuBackend() })
    const [gy, gn] = [await step(yes, x, w), await step(no, x, w)]
    expectClose(values(gy), values(grad((a: Tensor) => plain(true, a, w))(x)), exact)
    expectClose(values(gn), values(grad((a: Tensor) => plain(false, a, w))(x)), exact)
    const program = makeProgram(branchy)(yes, x, w)
    expect(program.eqns.some((e) => e.prim === 'cond')).toBe(true)
    // The printer shows the branches as nested programs.
    expect(program.toString()).toMatch(/branches\[0\]=\{ lambda/)
    expect(program.toString()).toMatch(/branches\[1\]=\{ lambda/)
  })

  it('switchCase clamps its index, passes pytrees through, and reads closed-over values', () => {
    const k = f64(10)
    const branches = [
      (t: { a: Tensor; b: Tensor }) => ({ s: ops.add(t.a, t.b), k }),
      (t: { a: Tensor; b: Tensor }) => ({ s: ops.mul(t.a, t.b), k: ops.mul(k, 2) }),
      (t: { a: Tensor; b: Tensor }) => ({ s: ops.sub(t.a, t.b), k: ops.neg(k) }),
    ]
    const t = { a: x, b: w }
    for (const i of [-3, 0, 1, 2, 7]) {
      const want = branches[Math.min(Math.max(i, 0), 2)](t)
      const got = switchCase(tensor(i, { dtype: 'i32' }) as Tensor<[], 'i32'>, branches, t)
      expectClose(values(got.s), values(want.s), exact)
      expectClose(values(got.k), values(want.k), exact)
    }
  })

  it('vmap with a batched predicate: each member takes its own branch', () => {
    const preds = tensor([true, false, true, false], { dtype: 'bool' })
    const xs = tensor(
      [
        [0.1, 0.2, 0.3],
        [1, 2, 3],
        [-1, 0, 1],
        [0.5, 0.5, 0.5],
      ],
      { dtype: 'f64' },
    ) as Tensor
    const batched = vmap((p: Tensor, xi: Tensor) => branchy(p, xi, w), [0, 0])(preds, xs)
    const rows = [true, false, true, false].map(
      (b, i) => values(plain(b, ops.reshape(ops.slice(xs, [i, 0], [1, 3]), [3]), w))[0],
    )
    expectClose(values(batched), rows, exact)
    // And its gradient, batched the same way.
    const g = vmap(
      grad((p: Tensor, xi: Tensor) => branchy(p, xi, w), { argnums: 1 }),
      [0, 0],
    )(preds, xs)
    const rowGrads = [true, false, true, false].flatMap((b, i) =>
      values(grad((a: Tensor) => plain(b, a, w))(ops.reshape(ops.slice(xs, [i, 0], [1, 3]), [3]))),
    )
    expectClose(values(g), rowGrads, exact)
  })

  it('refuses branches that disagree, and a predicate that is not a bool scalar', () => {
    expect(() =>
      cond(
        yes as Tensor<[], 'bool'>,
        (a: Tensor) => a,
        (a: Tensor) => ops.sum(a),
        x,
      ),
    ).toThrow(/every branch must return the same shapes and dtypes/)
    expect(() =>
      cond(
        yes as Tensor<[], 'bool'>,
        (a: Tensor): unknown => [a],
        (a: Tensor): unknown => a,
        x,
      ),
    ).toThrow(/every branch must return the same structure/)
    expect(() => cond(f64(1) as unknown as Tensor<[], 'bool'>, up, down, x, w)).toThrow(
      'cond: the predicate must be a bool scalar (or a boolean), got f64[]',
    )
  })
})

describe('whileLoop and foriLoop', () => {
  const x = f64([0.4, -0.7])
  const w = f64([1.3, 0.6])
  const step = (v: Tensor, c: Tensor) => ops.add(ops.tanh(ops.mul(v, c)), ops.mul(v, 0.5))
  const unrolled = (v: Tensor, c: Tensor, n: number) => {
    let y = v
    for (let i = 0; i < n; i++) y = step(y, c)
    return y
  }
  const loop = (v: Tensor, c: Tensor, n: Tensor) =>
    whileLoop(
      ([i]: [Tensor, Tensor]) => ops.less(i, n) as Tensor<[], 'bool'>,
      ([i, y]: [Tensor, Tensor]) => [ops.add(i, 1), step(y, c)] as [Tensor, Tensor],
      [tensor(0, { dtype: 'i32' }) as Tensor, v] as [Tensor, Tensor],
    )[1]
  const n3 = tensor(3, { dtype: 'i32' }) as Tensor

  it('values and forward-mode derivatives equal the unrolled loop', () => {
    expectClose(values(loop(x, w, n3)), values(unrolled(x, w, 3)), exact)
    const [, t] = jvp((v: Tensor) => loop(v, w, n3), [x], [f64([1, -2])])
    const [, want] = jvp((v: Tensor) => unrolled(v, w, 3), [x], [f64([1, -2])])
    expectClose(values(t), values(want), exact)
    expectClose(
      values(jacfwd((c: Tensor) => loop(x, c, n3))(w)),
      values(jacfwd((c: Tensor) => unrolled(x, c, 3))(w)),
      exact,
    )
  })

  it('reverse mode is refused, naming foriLoop and scan; foriLoop with number bounds differentiates', () => {
    expect(() => grad((v: Tensor) => ops.sum(loop(v, w, n3)))(x)).toThrow(/foriLoop.*scan/s)
    const fori = (v: Tensor, c: Tensor) => foriLoop(2, 5, (_i, y: Tensor) => step(y, c), v)
    expectClose(values(fori(x, w)), values(unrolled(x, w, 3)), exact)
    const g = grad((v: Tensor, c: Tensor) => ops.sum(fori(v, c)), { argnums: [0, 1] })(x, w)
    const h = grad((v: Tensor, c: Tensor) => ops.sum(unrolled(v, c, 3)), { argnums: [0, 1] })(x, w)
    expectClose(values(g[0]), values(h[0]), exact)
    expectClose(values(g[1]), values(h[1]), exact)
    // The loop index is the step's i: Σᵢ i for i in [2, 5).
    expect(values(foriLoop(2, 5, (i, s: Tensor) => ops.add(s, ops.astype(i, 'f64')), f64(0)))).toEqual([9])
    // Traced bounds make it a whileLoop.
    const dyn = (v: Tensor, hi: Tensor) => foriLoop(0, hi as Tensor<[], 'i32'>, (_i, y: Tensor) => step(y, w), v)
    expectClose(values(dyn(x, n3)), values(unrolled(x, w, 3)), exact)
    expect(makeProgram(dyn)(x, n3).eqns.some((e) => e.prim === 'whileLoop')).toBe(true)
  })

  it('vmap with a batched predicate runs until every member is done, each keeping its own result', () => {
    const counts = tensor([0, 2, 5, 1], { dtype: 'i32' }) as Tensor
    const got = vmap((n: Tensor) => loop(x, w, n))(counts)
    const want = [0, 2, 5, 1].flatMap((n) => values(unrolled(x, w, n)))
    expectClose(values(got), want, exact)
    // Batched over x instead, with one trip count: the predicate stays unbatched.
    const xs = tensor(
      [
        [0.1, 0.2],
        [1, -1],
      ],
      { dtype: 'f64' },
    ) as Tensor
    expectClose(
      values(vmap((v: Tensor) => loop(v, w, n3))(xs)),
      [...values(unrolled(f64([0.1, 0.2]), w, 3)), ...values(unrolled(f64([1, -1]), w, 3))],
      exact,
    )
  })

  it('maxIterations bounds the loop; jit runs it; the body must keep the carry', async () => {
    const forever = (v: Tensor) =>
      whileLoop(
        () => tensor(true, { dtype: 'bool' }) as Tensor<[], 'bool'>,
        (y: Tensor) => ops.add(y, 1),
        v,
        { maxIterations: 4 },
      )
    expect(values(forever(f64(0)))).toEqual([4])
    const f = jit((v: Tensor, c: Tensor, n: Tensor) => loop(v, c, n), { backend: cpuBackend() })
    expectClose(values(await f(x, w, tensor(4, { dtype: 'i32' }) as Tensor)), values(unrolled(x, w, 4)), exact)
    expect(() =>
      whileLoop(
        () => tensor(true, { dtype: 'bool' }) as Tensor<[], 'bool'>,
        (y: Tensor) => ops.sum(y),
        x,
      ),
    ).toThrow(/a carry must keep its shape and dtype/)
    expect(() => vjp((v: Tensor) => loop(v, w, n3), x)[1](x)).toThrow(/not supported/)
  })
})
