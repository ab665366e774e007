/**
 * scan against the loop it stands for: every value, derivative and batched
 * result of a scan equals the one computed by a plain JavaScript loop of ops
 * (the unrolled network of D. Barber, Neural Nets (lecture notes), "Backprop
 * Through Time"), and the
 * programs it produces have the shape BPTT promises: one forward scan that
 * stacks O(T·H) residuals, one reverse scan.
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
  makeProgram,
  ops,
  Program,
  random,
  runProgram,
  tensor,
  typecheck,
  valueAndGrad,
  Var,
  vjp,
  vmap,
  type Shape,
  type Tensor,
} from '../src/index.ts'
import { scan } from '../src/recurrent/scan.ts'
import { lower } from '../gpu/lower/index.ts'
import { checkLayer, transposeIdentity, arb, domain } from '../laws/index.ts'
import { expectTreesClose } from './lib/close.ts'

const f64 = (data: Parameters<typeof tensor>[0]) => tensor(data, { dtype: 'f64' }) as Tensor
/** Tolerances of expectTreesClose: values, first derivatives (more rounding) and second derivatives. */
const exact = { rtol: 1e-12, atol: 1e-13 }
const derivative = { rtol: 1e-11, atol: 1e-13 }
const second = { rtol: 1e-10, atol: 1e-12 }
/** xs[t], by ops: what the unrolled loops read. */
const at = (xs: Tensor, t: number): Tensor =>
  ops.reshape(ops.slice(xs, [t, ...xs.shape.slice(1).map(() => 0)], [1, ...xs.shape.slice(1)]), xs.shape.slice(1))

/** The scan equations of a program, with their bodies. */
const scansOf = (program: Program) => program.eqns.filter((e) => e.prim === 'scan')

const T = 5
const H = 3
const I = 2
const keys = random.split(random.key(7), 6)
type Params = { W: Tensor; U: Tensor; b: Tensor }
const draw = (dtype: 'f32' | 'f64') => ({
  p: {
    W: random.normal(keys[0], [H, H], { dtype, stddev: 0.5 }),
    U: random.normal(keys[1], [H, I], { dtype, stddev: 0.5 }),
    b: random.normal(keys[2], [H], { dtype, stddev: 0.1 }),
  } as Params,
  h0: random.normal(keys[3], [H], { dtype, stddev: 0.5 }) as Tensor,
  xs: random.normal(keys[4], [T, I], { dtype }) as Tensor,
})
const { p, h0, xs } = draw('f64')

/** h′ = tanh(W h + U x + b), an h_t = g(x_t, h_{t−1}) of Barber, "Computing the Gradient". */
const cell = (q: Params, h: Tensor, x: Tensor) =>
  ops.tanh(ops.add(ops.add(ops.matmul(q.W, h), ops.matmul(q.U, x)), q.b))
const rnn = (q: Params, h: Tensor, seq: Tensor, reverse = false) =>
  scan(
    (c: Tensor, x: Tensor) => {
      const next = cell(q, c, x)
      return [next, next] as const
    },
    h,
    seq,
    { reverse },
  )
const unrolled = (q: Params, h: Tensor, seq: Tensor, reverse = false): [Tensor, Tensor] => {
  const n = seq.shape[0]
  const states: Tensor[] = new Array(n)
  for (let s = 0; s < n; s++) {
    const t = reverse ? n - 1 - s : s
    h = cell(q, h, at(seq, t))
    states[t] = h
  }
  return [h, ops.stack(states)]
}
/** Loss on the final state, and on every state. */
const lossLast = (q: Params, h: Tensor, seq: Tensor) => ops.sum(ops.square(rnn(q, h, seq)[0]))
const lossAll = (q: Params, h: Tensor, seq: Tensor) => ops.sum(ops.square(rnn(q, h, seq)[1]))
const lossLastUnrolled = (q: Params, h: Tensor, seq: Tensor) => ops.sum(ops.square(unrolled(q, h, seq)[0]))
const lossAllUnrolled = (q: Params, h: Tensor, seq: Tensor) => ops.sum(ops.square(unrolled(q, h, seq)[1]))

describe('values equal the loop', () => {
  it('cumulative sums, forwards and reversed, with a pytree carry', () => {
    const v = [3, -1, 4, 1, -5]
    const seq = f64(v)
    const [total, sums] = scan(
      (c: { s: Tensor; n: Tensor }, x: Tensor) => {
        const s = ops.add(c.s, x)
        return [{ s, n: ops.add(c.n, 1) }, s] as const
      },
      { s: f64(0), n: f64(0) },
      seq,
    )
    let s = 0
    const expected = v.map((x) => (s += x))
    expect([...sums.dataSync()]).toEqual(expected)
    expect(total.s.item()).toBe(s)
    expect(total.n.item()).toBe(5)
    const [, back] = scan((c: Tensor, x: Tensor) => [ops.add(c, x), ops.add(c, x)] as const, f64(0), seq, {
      reverse: true,
    })
    s = 0
    const suffix = [...v]
      .reverse()
      .map((x) => (s += x))
      .reverse()
    expect([...back.dataSync()]).toEqual(suffix)
  })

  it('xs may be null (with a length), a pytree, or empty; ys may be null or a pytree', () => {
    const [count, steps] = scan((c: Tensor) => [ops.add(c, 1), c] as const, f64(0), null, { length: 4 })
    expect(count.item()).toBe(4)
    expect([...steps.dataSync()]).toEqual([0, 1, 2, 3])
    const [last, none] = scan(
      (c: Tensor, x: { a: Tensor; b: Tensor }) => [ops.add(c, ops.mul(x.a, x.b)), null] as const,
      f64(0),
      {
        a: f64([1, 2, 3]),
        b: f64([4, 5, 6]),
      },
    )
    expect(last.item()).toBe(32)
    expect(none).toBeNull()
    const [same, empty] = scan(
      (c: Tensor, x: Tensor) => [ops.add(c, x), [x, ops.neg(x)]] as const,
      f64([1, 2]),
      tensor([], { shape: [0, 2], dtype: 'f64' }),
    )
    expect([...same.dataSync()]).toEqual([1, 2])
    expect(empty[0].shape).toEqual([0, 2])
    expect(empty[1].shape).toEqual([0, 2])
  })

  it('a tanh RNN: final state and all states, forwards and reversed', () => {
    for (const reverse of [false, true]) {
      const [last, states] = rnn(p, h0, xs, reverse)
      const [lastU, statesU] = unrolled(p, h0, xs, reverse)
      expect(states.shape).toEqual([T, H])
      expectTreesClose(lastU, last, exact)
      expectTreesClose(statesU, states, exact)
    }
  })

  it('f32 loops stay f32 and agree with the f32 loop', () => {
    const d = draw('f32')
    const [last, states] = rnn(d.p, d.h0, d.xs)
    expect(states.dtype).toBe('f32')
    expectTreesClose(unrolled(d.p, d.h0, d.xs), [last, states], { rtol: 1e-6, atol: 1e-7 })
  })
})

describe('derivatives equal those of the unrolled loop', () => {
  it('grad with respect to the weights (consts), the initial carry and the xs, loss on the last state and on all states', () => {
    for (const [scanned, loop] of [
      [lossLast, lossLastUnrolled],
      [lossAll, lossAllUnrolled],
    ] as const) {
      const g = grad(scanned, { argnums: [0, 1, 2] })(p, h0, xs)
      const gU = grad(loop, { argnums: [0, 1, 2] })(p, h0, xs)
      expectTreesClose(gU, g, derivative)
      expectTreesClose(valueAndGrad(loop)(p, h0, xs)[0], valueAndGrad(scanned)(p, h0, xs)[0], exact)
    }
  })

  it('grad of a reversed scan', () => {
    const loss = (q: Params, seq: Tensor) => ops.sum(rnn(q, h0, seq, true)[1])
    const lossU = (q: Params, seq: Tensor) => ops.sum(unrolled(q, h0, seq, true)[1])
    expectTreesClose(grad(lossU, { argnums: [0, 1] })(p, xs), grad(loss, { argnums: [0, 1] })(p, xs), derivative)
  })

  it('grad in f32 agrees with the f32 loop to f32 tolerance', () => {
    const d = draw('f32')
    const g = grad(lossAll, { argnums: [0, 1, 2] })(d.p, d.h0, d.xs)
    const gU = grad(lossAllUnrolled, { argnums: [0, 1, 2] })(d.p, d.h0, d.xs)
    expectTreesClose(gU, g, { rtol: 1e-5, atol: 1e-6 })
    expect((g[0] as Params).W.dtype).toBe('f32')
  })

  it('jvp and vjp', () => {
    const f = (q: Params, h: Tensor, seq: Tensor) => rnn(q, h, seq)
    const fU = (q: Params, h: Tensor, seq: Tensor) => unrolled(q, h, seq)
    const dk = random.split(random.key(11), 5)
    const dp: Params = {
      W: random.normal(dk[0], [H, H], { dtype: 'f64' }),
      U: random.normal(dk[1], [H, I], { dtype: 'f64' }),
      b: random.normal(dk[2], [H], { dtype: 'f64' }),
    }
    const dh = random.normal(dk[3], [H], { dtype: 'f64' }) as Tensor
    const dxs = random.normal(dk[4], [T, I], { dtype: 'f64' }) as Tensor
    expectTreesClose(jvp(fU, [p, h0, xs], [dp, dh, dxs]), jvp(f, [p, h0, xs], [dp, dh, dxs]), exact)
    const [out, pull] = vjp(f, p, h0, xs)
    const [outU, pullU] = vjp(fU, p, h0, xs)
    expectTreesClose(outU, out, exact)
    const ct = [
      random.normal(keys[0], [H], { dtype: 'f64' }) as Tensor,
      random.normal(keys[1], [T, H], { dtype: 'f64' }) as Tensor,
    ]
    expectTreesClose(pullU(ct as never), pull(ct as never), derivative)
  })

  it('jacfwd, jacrev, hessian and hvp', () => {
    const lastOf = (h: Tensor) => rnn(p, h, xs)[0]
    const lastOfU = (h: Tensor) => unrolled(p, h, xs)[0]
    expectTreesClose(jacfwd(lastOfU)(h0), jacfwd(lastOf)(h0), exact)
    expectTreesClose(jacfwd(lastOfU)(h0), jacrev(lastOf)(h0), exact)
    const ofW = (w: Tensor) => lossAll({ ...p, W: w }, h0, xs)
    const ofWU = (w: Tensor) => lossAllUnrolled({ ...p, W: w }, h0, xs)
    const hess = hessian(ofW)(p.W)
    expect(hess.shape).toEqual([H, H, H, H])
    expectTreesClose(hessian(ofWU)(p.W), hess, second)
    const v = random.normal(keys[2], [H, H], { dtype: 'f64' })
    expectTreesClose(hvp(ofWU, [p.W], [v]), hvp(ofW, [p.W], [v]), second)
  })
})

describe('integer carries and xs are held fixed by the derivatives', () => {
  // An embedding RNN over token ids with a step counter in the carry: h′ = tanh(W h + E[id]), y = t·h′.
  type Emb = { W: Tensor; E: Tensor }
  const q: Emb = { W: p.W, E: random.normal(keys[5], [4, H], { dtype: 'f64' }) as Tensor }
  const ids = tensor([2, 0, 3, 3, 1], { dtype: 'i32' })
  const f = (e: Emb, tokens: Tensor) =>
    scan(
      (c: { h: Tensor; t: Tensor<[], 'i32'> }, id: Tensor) => {
        const h = ops.tanh(ops.add(ops.matmul(e.W, c.h), ops.take(e.E, id as Tensor<Shape, 'i32'>)))
        return [{ h, t: ops.add(c.t, tensor(1, { dtype: 'i32' })) }, ops.mul(h, ops.astype(c.t, 'f64'))] as const
      },
      { h: h0, t: tensor(1, { dtype: 'i32' }) },
      tokens,
    )
  const loop = (e: Emb, tokens: Tensor) => {
    let h = h0
    const ys: Tensor[] = []
    for (let t = 0; t < tokens.shape[0]; t++) {
      h = ops.tanh(ops.add(ops.matmul(e.W, h), ops.take(e.E, at(tokens, t) as Tensor<Shape, 'i32'>)))
      ys.push(ops.mul(h, t + 1))
    }
    return [{ h, t: tensor(tokens.shape[0] + 1, { dtype: 'i32' }) }, ops.stack(ys)]
  }
  const loss = (e: Emb, tokens: Tensor) => ops.sum(ops.square(f(e, tokens)[1]))
  const lossU = (e: Emb, tokens: Tensor) => ops.sum(ops.square(loop(e, tokens)[1] as Tensor))

  it('values, grad (the embedding gradient is a scatter-add, summed over the steps), jvp', () => {
    expectTreesClose(loop(q, ids), f(q, ids), exact)
    expectTreesClose(grad(lossU)(q, ids), grad(loss)(q, ids), derivative)
    const dq = { W: ops.mul(q.W, 0.5), E: ops.neg(q.E) }
    expectTreesClose(
      jvp(lossU, [q, ids], [dq, ops.zerosLike(ids)]),
      jvp(loss, [q, ids], [dq, ops.zerosLike(ids)]),
      derivative,
    )
  })

  it('vmap over a batch of token sequences, and its gradient', () => {
    const batch = tensor(
      [
        [2, 0, 3, 3, 1],
        [1, 1, 0, 2, 3],
      ],
      { dtype: 'i32' },
    )
    const out = vmap(f, [null, 0])(q, batch)
    ;[0, 1].forEach((i) =>
      expectTreesClose(f(q, at(batch, i)), [{ h: at(out[0].h, i), t: at(out[0].t, i) }, at(out[1], i)], exact),
    )
    const total = (e: Emb) => ops.sum(vmap((tokens: Tensor) => loss(e, tokens))(batch))
    expectTreesClose(
      ops.add(grad(lossU)(q, at(batch, 0)).E, grad(lossU)(q, at(batch, 1)).E),
      grad(total)(q).E,
      derivative,
    )
  })
})

describe('reverse over reverse', () => {
  const W = p.W
  const seq = random.normal(keys[4], [T, H], { dtype: 'f64' }) as Tensor
  const step = (w: Tensor, h: Tensor, x: Tensor) => ops.tanh(ops.add(ops.matmul(w, h), x))
  const loss = (w: Tensor) =>
    ops.sum(ops.square(scan((h: Tensor, x: Tensor) => [step(w, h, x), step(w, h, x)] as const, h0, seq)[1]))
  const lossU = (w: Tensor) => {
    let h = h0
    const states: Tensor[] = []
    for (let t = 0; t < T; t++) states.push((h = step(w, h, at(seq, t))))
    return ops.sum(ops.square(ops.stack(states)))
  }
  const gradNorm = (w: Tensor) => ops.sum(ops.square(grad(loss)(w)))
  const gradNormU = (w: Tensor) => ops.sum(ops.square(grad(lossU)(w)))

  it('grad of a function of grad equals the unrolled one', () =>
    expectTreesClose(grad(gradNormU)(W), grad(gradNorm)(W), second))

  it('residuals that depend only on the weights (Wᵀ in the backward body) are computed once, outside the loops', () => {
    const program = makeProgram(grad(gradNorm))(W)
    typecheck(program)
    expect(program.counts().scan).toBe(4)
    for (const e of scansOf(program)) {
      const { numCarry } = e.params as { numCarry: number }
      for (const v of e.outputs.slice(numCarry))
        expect(
          v.aval.shape.slice(1).reduce((a, b) => a * b, 1),
          `a stacked ${v.aval.shape}`,
        ).toBeLessThanOrEqual(H)
    }
  })
})

describe('vmap', () => {
  const B = 4
  const hs = random.normal(keys[5], [B, H], { dtype: 'f64' }) as Tensor
  const seqs = random.normal(keys[4], [B, T, I], { dtype: 'f64' }) as Tensor
  const Ws = random.normal(keys[3], [B, H, H], { dtype: 'f64', stddev: 0.5 }) as Tensor
  const rows = (x: Tensor) => Array.from({ length: x.shape[0] }, (_, i) => at(x, i))

  it('vmap of scan: batched xs, batched initial carry, batched weights (in any combination)', () => {
    const f = (W: Tensor, h: Tensor, seq: Tensor) => rnn({ ...p, W }, h, seq)
    const batched = vmap(f, [0, 0, 0])(Ws, hs, seqs)
    rows(Ws).forEach((W, i) =>
      expectTreesClose(f(W, at(hs, i), at(seqs, i)), [at(batched[0], i), at(batched[1], i)], exact),
    )
    const overXs = vmap(f, [null, null, 0])(p.W, h0, seqs)
    rows(seqs).forEach((s, i) => expectTreesClose(f(p.W, h0, s), [at(overXs[0], i), at(overXs[1], i)], exact))
    // Only the initial carry is batched: the carry is, the weights are not.
    const overH = vmap(f, [null, 0, null])(p.W, hs, xs)
    rows(hs).forEach((h, i) => expectTreesClose(f(p.W, h, xs), [at(overH[0], i), at(overH[1], i)], exact))
    // Batched along a later axis of the xs.
    const seqsT = ops.transpose(seqs, [1, 0, 2])
    const overT = vmap(f, [null, null, 1])(p.W, h0, seqsT)
    expectTreesClose(overXs, overT, exact)
  })

  it('a carry that the batch reaches only through the body becomes batched', () => {
    const f = (seq: Tensor) =>
      scan(
        (c: { a: Tensor; b: Tensor }, x: Tensor) => [{ a: ops.add(c.a, c.b), b: ops.add(c.b, x) }, c.a] as const,
        { a: f64(0), b: f64(0) },
        seq,
      )
    const seqsS = f64([
      [1, 2, 3],
      [4, 5, 6],
    ])
    const out = vmap(f)(seqsS)
    rows(seqsS).forEach((s, i) =>
      expectTreesClose(f(s), [{ a: at(out[0].a, i), b: at(out[0].b, i) }, at(out[1], i)], exact),
    )
  })

  it('scan of vmap: a batched cell inside the body', () => {
    const batchedCell = vmap((h: Tensor, x: Tensor) => cell(p, h, x))
    const [last, states] = scan(
      (c: Tensor, x: Tensor) => {
        const next = batchedCell(c, x)
        return [next, next] as const
      },
      hs,
      ops.transpose(seqs, [1, 0, 2]),
    )
    rows(hs).forEach((h, i) => {
      const [l, s] = unrolled(p, h, at(seqs, i))
      expectTreesClose(l, at(last, i), exact)
      expectTreesClose(s, at(ops.transpose(states, [1, 0, 2]), i), exact)
    })
  })

  it('grad of vmap of scan', () => {
    const total = (q: Params) => ops.sum(vmap((h: Tensor, s: Tensor) => lossAll(q, h, s))(hs, seqs))
    const totalU = (q: Params) =>
      rows(hs)
        .map((h, i) => lossAllUnrolled(q, h, at(seqs, i)))
        .reduce((a, b) => ops.add(a, b))
    expectTreesClose(grad(totalU)(p), grad(total)(p), derivative)
    // And vmap of grad: per-sequence gradients.
    const per = vmap((h: Tensor, s: Tensor) => grad(lossAll)(p, h, s))(hs, seqs) as Params
    rows(hs).forEach((h, i) =>
      expectTreesClose(
        grad(lossAllUnrolled)(p, h, at(seqs, i)),
        { W: at(per.W, i), U: at(per.U, i), b: at(per.b, i) },
        derivative,
      ),
    )
  })
})

describe('a scan inside a scan', () => {
  // Outer steps over rows; the inner scan sums a row's products with the running carry.
  const inner = (c: Tensor, row: Tensor, w: Tensor) =>
    scan(
      (d: Tensor, x: Tensor) => {
        const next = ops.tanh(ops.add(ops.mul(d, w), x))
        return [next, next] as const
      },
      c,
      row,
    )
  const nested = (w: Tensor, c: Tensor, grid: Tensor) =>
    scan(
      (c: Tensor, row: Tensor) => {
        const [last, states] = inner(c, row, w)
        return [ops.add(last, ops.mul(ops.sum(states), 0.1)), ops.sum(states)] as const
      },
      c,
      grid,
    )
  const loops = (w: Tensor, c: Tensor, grid: Tensor) => {
    const sums: Tensor[] = []
    for (let i = 0; i < grid.shape[0]; i++) {
      let d = c
      const states: Tensor[] = []
      for (let j = 0; j < grid.shape[1]; j++) {
        d = ops.tanh(ops.add(ops.mul(d, w), at(at(grid, i), j)))
        states.push(d)
      }
      const s = ops.sum(ops.stack(states))
      c = ops.add(d, ops.mul(s, 0.1))
      sums.push(s)
    }
    return [c, ops.stack(sums)]
  }
  const grid = random.normal(keys[1], [3, 4], { dtype: 'f64' }) as Tensor
  const w = f64(0.7)
  const c0 = f64(0.2)

  it('values', () => expectTreesClose(loops(w, c0, grid), nested(w, c0, grid), exact))

  it('grad and the Hessian in w', () => {
    const loss = (w: Tensor, c: Tensor, g: Tensor) => ops.sum(ops.square(nested(w, c, g)[1]))
    const lossU = (w: Tensor, c: Tensor, g: Tensor) => ops.sum(ops.square(loops(w, c, g)[1] as Tensor))
    expectTreesClose(
      grad(lossU, { argnums: [0, 1, 2] })(w, c0, grid),
      grad(loss, { argnums: [0, 1, 2] })(w, c0, grid),
      derivative,
    )
    expectTreesClose(hessian(lossU)(w, c0, grid), hessian(loss)(w, c0, grid), second)
  })

  it('the program holds the inner scan in the outer body, and its gradient program has two scans at each level', () => {
    const program = makeProgram(nested)(w, c0, grid)
    typecheck(program)
    expect(program.counts().scan).toBe(1)
    expect(program.eqns[0].params).toHaveProperty('body')
    const body = (program.eqns[0].params as { body: Program }).body
    expect(body.counts().scan).toBe(1)
    const g = makeProgram(grad((w: Tensor, c: Tensor, gr: Tensor) => ops.sum(nested(w, c, gr)[1])))(w, c0, grid)
    typecheck(g)
    expect(g.counts().scan).toBe(2)
  })
})

describe('the gradient program: BPTT', () => {
  const gradProgram = makeProgram(grad(lossLast))(p, h0, xs)

  it('is one forward scan with residuals and one reversed scan (printed)', () => {
    typecheck(gradProgram)
    expect(gradProgram.toString()).toMatchInlineSnapshot(`
      "{ lambda a:f64[3,2] b:f64[3,3] c:f64[3] d:f64[3] e:f64[5,2] .
        let f:f64[3] g:f64[5,3,1] h:f64[5,2,1] i:f64[5,3] = scan[length=5 reverse=false numConsts=3 numCarry=1] b a c d e
              body={ lambda j:f64[3,3] k:f64[3,2] l:f64[3] m:f64[3] n:f64[2] .
                     let o:f64[3,1] = reshape[shape=[3,1]] m
                         p:f64[3,1] = matmul j o
                         q:f64[3] = reshape[shape=[3]] p
                         r:f64[2,1] = reshape[shape=[2,1]] n
                         s:f64[3,1] = matmul k r
                         t:f64[3] = reshape[shape=[3]] s
                         u:f64[3] = add q t
                         v:f64[3] = add u l
                         w:f64[3] = tanh v
                         x:f64[3] = mul w w
                         y:f64[3] = broadcast[shape=[3]] 1:f64
                         z:f64[3] = sub y x
                     in ( w o r z ) }
            aa:f64[3] = broadcast[shape=[3]] 1:f64
            ab:f64[3] = mul f aa
            ac:f64[3] = mul aa f
            ad:f64[3] = add ab ac
            ae:f64[3,3] = broadcast[shape=[3,3]] 0:f64
            af:f64[3,2] = broadcast[shape=[3,2]] 0:f64
            ag:f64[3] = broadcast[shape=[3]] 0:f64
            ah:f64[3,3] ai:f64[3,2] aj:f64[3] ak:f64[3] = scan[length=5 reverse=true numConsts=1 numCarry=4] b ae af ag ad g h i
              body={ lambda al:f64[3,3] am:f64[3,3] an:f64[3,2] ao:f64[3] ap:f64[3] aq:f64[3,1] ar:f64[2,1] as:f64[3] .
                     let at:f64[3] = mul ap as
                         au:f64[3,1] = reshape[shape=[3,1]] at
                         av:f64[1,2] = transpose[perm=[1,0]] ar
                         aw:f64[3,2] = matmul au av
                         ax:f64[3,1] = reshape[shape=[3,1]] at
                         ay:f64[3,3] = transpose[perm=[1,0]] al
                         az:f64[3,1] = matmul ay ax
                         ba:f64[1,3] = transpose[perm=[1,0]] aq
                         bb:f64[3,3] = matmul ax ba
                         bc:f64[3] = reshape[shape=[3]] az
                         bd:f64[3,3] = add am bb
                         be:f64[3,2] = add an aw
                         bf:f64[3] = add ao at
                     in ( bd be bf bc ) }
        in ( ai ah aj ) }"
    `)
  })

  it('has exactly two scans: forwards, then reversed', () => {
    const [forward, backward] = scansOf(gradProgram)
    expect(scansOf(gradProgram)).toHaveLength(2)
    expect(forward.params).toMatchObject({ reverse: false, length: T })
    expect(backward.params).toMatchObject({ reverse: true, length: T })
  })

  it('stacks O(T·H) residuals: every stacked output is T × (at most H) values', () => {
    const [forward, backward] = scansOf(gradProgram)
    const { numCarry } = forward.params as { numCarry: number }
    const stacked = forward.outputs.slice(numCarry)
    expect(stacked.length).toBeGreaterThan(0)
    for (const v of stacked) {
      expect(v.aval.shape[0]).toBe(T)
      expect(v.aval.shape.slice(1).reduce((a, b) => a * b, 1)).toBeLessThanOrEqual(H)
    }
    // The backward scan reads them as its xs, one slice per step; the weights enter once, as a const.
    const nb = backward.params as { numConsts: number; numCarry: number }
    const backXs = backward.inputs.slice(nb.numConsts + nb.numCarry)
    expect(backXs).toEqual(stacked)
    expect(
      backward.inputs
        .slice(0, nb.numConsts)
        .every((a) => a instanceof Var && a.aval.shape.length === 2 && a.aval.shape[0] === H),
    ).toBe(true)
  })

  it('runs on the CPU interpreter, in f32 and in f64', () => {
    const d = draw('f32')
    const program = makeProgram(grad(lossAll))(d.p, d.h0, d.xs)
    typecheck(program)
    const ins = [d.p.U, d.p.W, d.p.b, d.h0, d.xs]
    const expected = grad(lossAll)(d.p, d.h0, d.xs)
    const [gU, gW, gb] = runProgram(program, ins)
    expectTreesClose(
      { U: expected.U, W: expected.W, b: expected.b },
      { U: gU, W: gW, b: gb },
      { rtol: 1e-6, atol: 1e-7 },
    )
    const precise = runProgram(program, ins, { precision: 'f64' })
    expect(precise[0].dtype).toBe('f64')
    expectTreesClose(grad(lossAllUnrolled)(draw('f64').p, draw('f64').h0, draw('f64').xs).U, precise[0], {
      rtol: 1e-5,
      atol: 1e-6,
    })
  })
})

describe('jit, and the WebGPU compiler', () => {
  it('jit on the CPU backend runs programs with scans, gradients included', async () => {
    const step = jit((q: Params, h: Tensor, seq: Tensor) => [lossAll(q, h, seq), grad(lossAll)(q, h, seq)], {
      backend: cpuBackend(),
    })
    const [value, g] = await step(p, h0, xs)
    expectTreesClose(lossAllUnrolled(p, h0, xs), value, exact)
    expectTreesClose(grad(lossAllUnrolled)(p, h0, xs), g, derivative)
  })

  it('common subexpressions never merge two scans whose bodies print alike but differ', async () => {
    const twoScans = (seq: Tensor) => [
      scan((c: Tensor, x: Tensor) => [ops.sub(c, x), c] as const, f64(0), seq)[0],
      scan((c: Tensor, x: Tensor) => [ops.sub(x, c), c] as const, f64(0), seq)[0],
    ]
    const seq = f64([1, 2, 3])
    const [a, b] = await jit(twoScans, { backend: cpuBackend() })(seq)
    expect(a.item()).toBe(-6)
    expect(b.item()).toBe(2)
  })

  it('the WebGPU lowering makes a scan one loop whose body is lowered once', () => {
    const program = makeProgram((q: Params, h: Tensor, seq: Tensor) => rnn(q, h, seq)[0])(
      draw('f32').p,
      draw('f32').h0,
      draw('f32').xs,
    )
    const lowered = lower(program, { maxBuffers: 8 })
    expect(lowered.loops).toHaveLength(1)
    expect(lowered.schedule.filter((item) => 'loop' in item)).toHaveLength(1)
    const body = lowered.loops[0].body
    expect(body.length).toBeGreaterThan(0)
    expect(lowered.kernels.length).toBeLessThanOrEqual(body.length + lowered.schedule.length)
  })
})

describe('the program transforms treat the body', () => {
  it('dead-code elimination drops unused ys, unused carries and the work only they need', () => {
    const f = (seq: Tensor) =>
      scan(
        (c: { keep: Tensor; drop: Tensor }, x: Tensor) =>
          [{ keep: ops.add(c.keep, x), drop: ops.mul(c.drop, ops.exp(x)) }, ops.sin(x)] as const,
        { keep: f64(0), drop: f64(1) },
        seq,
      )[0].keep
    const program = makeProgram(f)(f64([1, 2, 3]))
    const [e] = scansOf(program)
    const body = (e.params as { body: Program }).body
    expect(e.outputs).toHaveLength(1)
    expect(body.counts()).toEqual({ add: 1 })
    expect(runProgram(program, [f64([1, 2, 3])])[0].item()).toBe(6)
  })

  it('typecheck checks the body', () => {
    const program = makeProgram((seq: Tensor) =>
      scan((c: Tensor, x: Tensor) => [ops.add(c, x), c] as const, f64(0), seq),
    )(f64([1, 2]))
    typecheck(program)
    const [e] = program.eqns
    const body = (e.params as { body: Program }).body
    const wrong = new Var({ shape: [2], dtype: 'f64' })
    const broken = new Program(
      body.inputs,
      [],
      [],
      body.eqns.map((q) => ({ ...q, outputs: [wrong] })),
      [wrong, body.outputs[1]],
    )
    const outer = new Program(
      program.inputs,
      [],
      [],
      [{ ...e, params: { ...(e.params as object), body: broken } as never }],
      program.outputs,
    )
    expect(() => typecheck(outer)).toThrow(/typecheck: equation 0 \(add\) declares f64\[2\] but computes f64\[\]/)
  })
})

describe('the laws hold for scan-based layers', () => {
  it('an RNN layer over a sequence obeys the law bundle to second order', () => {
    const layer = (q: { W: Tensor; U: Tensor }, seq: Tensor) =>
      rnn({ W: q.W, U: q.U, b: f64([0.1, -0.2]) }, f64([0.5, -0.5]), seq, false)
    const reports = checkLayer(
      layer,
      {
        params: arb.record({ W: [2, 2], U: [2, 3] }, { domain: domain.real(0.8) }),
        input: arb.f64([3, 3], domain.real(1.5)),
      },
      { name: 'rnn', order: 2 },
      { numRuns: 10 },
    )
    for (const r of reports) expect(r.message).toBe('')
  })

  it('a scan that is linear in its initial carry and xs is transposed directly (⟨fᵀ(u), v⟩ = ⟨u, f(v)⟩), forwards and reversed', () => {
    const A = f64([
      [0.5, -0.2],
      [0.3, 0.9],
    ])
    for (const reverse of [false, true]) {
      const linear = (c0: Tensor, seq: Tensor) =>
        scan(
          (c: Tensor, x: Tensor) => {
            const next = ops.add(ops.matmul(c, A), x)
            return [next, ops.mul(next, 2)] as const
          },
          c0,
          seq,
          { reverse },
        )
      const u = [random.normal(keys[0], [2], { dtype: 'f64' }), random.normal(keys[1], [4, 2], { dtype: 'f64' })]
      const r = transposeIdentity(linear, [f64([1, -1]), random.normal(keys[2], [4, 2], { dtype: 'f64' })], u)
      expect(r.ok, r.detail).toBe(true)
    }
  })
})

describe('bad input is named', () => {
  const seq = f64([
    [1, 2],
    [3, 4],
  ])
  it('a body that changes the carry shape or dtype', () => {
    expect(() =>
      scan((c: Tensor, x: Tensor) => [ops.add(ops.reshape(c, [1, 2]), x), c] as const, f64([0, 0]), seq),
    ).toThrow(
      /scan: the body returns the carry at carry as f64\[1,2\], but it came in as f64\[2\]; the carry must keep its shape and dtype/,
    )
    expect(() =>
      scan(
        (c: { h: Tensor }, x: Tensor) => [{ h: ops.astype(ops.add(c.h, x), 'f32') }, x] as const,
        { h: f64([0, 0]) },
        seq,
      ),
    ).toThrow(/the carry at carry\.h as f32\[2\], but it came in as f64\[2\]/)
  })
  it('a body that changes the carry structure, or does not return a pair', () => {
    expect(() =>
      scan((_c: { h: Tensor }, x: Tensor) => [{ h: x, g: x } as never, x] as const, { h: f64([0, 0]) }, seq),
    ).toThrow(/scan: the body must return a carry with the structure of init: expected \{h: \*\}, got \{g: \*, h: \*\}/)
    expect(() => scan(((c: Tensor) => c) as never, f64(0), seq)).toThrow(/scan: the body must return \[carry, y\]/)
  })
  it('xs of different lengths, a length that disagrees, no length at all, a scalar xs', () => {
    expect(() => scan((c: Tensor) => [c, null] as const, f64(0), { a: seq, b: f64([1, 2, 3]) })).toThrow(
      /scan: every leaf of xs must have the same leading length: xs\.a has 2, but xs\.b has 3/,
    )
    expect(() => scan((c: Tensor) => [c, null] as const, f64(0), seq, { length: 3 })).toThrow(
      /options\.length is 3, but the leaves of xs have leading length 2/,
    )
    expect(() => scan((c: Tensor) => [c, null] as const, f64(0))).toThrow(/xs has no leaves.*give options\.length/)
    expect(() => scan((c: Tensor) => [c, null] as const, f64(0), [f64(1)])).toThrow(/xs\[0\] is f64\[\], a scalar/)
  })
  it('non-tensor leaves, by path', () => {
    expect(() => scan((c: Tensor) => [c, null] as const, { h: 3 } as never, seq)).toThrow(
      /scan: expected a Tensor.* at init\.h, got the number 3/,
    )
    expect(() => scan((c: Tensor) => [c, null] as const, f64(0), [seq, 'x'] as never)).toThrow(
      /at xs\[1\], got a string/,
    )
    expect(() => scan((c: Tensor) => [c, 5] as never, f64(0), seq)).toThrow(/at y, got the number 5/)
  })
  it('the primitive checks its operands against the body', () => {
    const program = makeProgram((s: Tensor) =>
      scan((c: Tensor, x: Tensor) => [ops.add(c, ops.sum(x)), c] as const, f64(0), s),
    )(seq)
    const [e] = program.eqns
    expect(() =>
      runProgram(
        new Program(
          program.inputs,
          [],
          [],
          [{ ...e, params: { ...(e.params as object), length: 3 } as never }],
          program.outputs,
        ),
        [seq],
      ),
    ).toThrow(/scan: xs 0 is f64\[2,2\]; every xs must have a leading axis of the scan's length 3/)
  })
})
