/**
 * The cells against independent implementations: each step against the
 * formula of A. Martins, Deep Learning: A Shallow Tutorial, NLPL Winter School
 * 2018 ("Recurrent Neural Networks") written out in plain JavaScript arithmetic, the LSTM
 * step against TensorFlow.js's `tf.basicLSTMCell`, and `rnn` and
 * `bidirectional` over whole sequences against TensorFlow.js's recurrent
 * layers (simpleRNN, LSTM, GRU, Bidirectional) with the same weights. Then the
 * law bundle of `laws.layer` on each cell's step, the initialisers, the
 * combinators' structure and their errors.
 */
import * as tf from '@tensorflow/tfjs'
import * as fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { ops, random, tree, type Tensor } from '../src/index.ts'
import { bidirectional, elman, gru, lstm, orthogonal, rnn, stacked, type AnyCell } from '../src/recurrent/index.ts'
import { arb, checkLayer } from '../laws/index.ts'
import { randomLike, type Tolerance } from '../laws/numeric.ts'
import { expectTreesClose } from './lib/close.ts'
import { assertProperty, runs } from './lib/property.ts'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await tf.ready()
})

const exact: Tolerance = { rtol: 1e-12, atol: 1e-14 }
const f32: Tolerance = { rtol: 2e-5, atol: 1e-6 }

// ---------------------------------------------------------------- the formulas by hand

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))
type Rows = number[][]
/** x·W for a row x and W [n, m] given flat. */
const times = (x: readonly number[], w: ArrayLike<number>, m: number) =>
  Array.from({ length: m }, (_, j) => x.reduce((s, v, i) => s + v * w[i * m + j], 0))
const plus = (...vs: number[][]) => vs[0].map((_, j) => vs.reduce((s, v) => s + v[j], 0))
const rowsOf = (x: Tensor): Rows => {
  const m = x.shape[x.ndim - 1]
  const v = Array.from(x.dataSync())
  return Array.from({ length: v.length / m }, (_, r) => v.slice(r * m, (r + 1) * m))
}
const values = (p: Record<string, Tensor>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync()])) as Record<string, ArrayLike<number>>

const elmanByHand = (p: Record<string, ArrayLike<number>>, H: number, h: number[], x: number[]) =>
  plus(times(x, p.wx, H), times(h, p.wh, H), Array.from(p.b)).map(Math.tanh)

const lstmByHand = (p: Record<string, ArrayLike<number>>, H: number, h: number[], c: number[], x: number[]) => {
  const z = plus(times(x, p.wx, 4 * H), times(h, p.wh, 4 * H), Array.from(p.b))
  const gate = (k: number) => z.slice(k * H, (k + 1) * H)
  const [i, f, g, o] = [gate(0).map(sigmoid), gate(1).map(sigmoid), gate(2).map(Math.tanh), gate(3).map(sigmoid)]
  const cNext = c.map((cj, j) => f[j] * cj + i[j] * g[j])
  return { h: cNext.map((cj, j) => o[j] * Math.tanh(cj)), c: cNext }
}

/** With resetAfter, the reset scales the candidate's recurrent product plus its bias bh instead of h. */
const gruByHand = (p: Record<string, ArrayLike<number>>, H: number, h: number[], x: number[], resetAfter = false) => {
  const zx = plus(times(x, p.wx, 3 * H), Array.from(p.b))
  const wh = (k: number) => Array.from({ length: H * H }, (_, e) => p.wh[Math.floor(e / H) * 3 * H + k * H + (e % H)])
  const r = plus(zx.slice(0, H), times(h, wh(0), H)).map(sigmoid)
  const u = plus(zx.slice(H, 2 * H), times(h, wh(1), H)).map(sigmoid)
  const recurrent = resetAfter
    ? plus(times(h, wh(2), H), Array.from(p.bh)).map((v, j) => r[j] * v)
    : times(
        h.map((v, j) => r[j] * v),
        wh(2),
        H,
      )
  const candidate = plus(zx.slice(2 * H), recurrent).map(Math.tanh)
  return h.map((v, j) => u[j] * candidate[j] + (1 - u[j]) * v)
}

/** Sizes, a leading batch shape (none, one axis or two) and a seed. */
const stepCases = fc.record({
  I: fc.integer({ min: 1, max: 4 }),
  H: fc.integer({ min: 1, max: 4 }),
  lead: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  seed: fc.noShrink(fc.integer({ min: 0, max: 2 ** 30 })),
})

/** Parameters from init, perturbed so that the zero biases and the forget bias of 1 do not hide a wrong gate. */
function drawn(cell: AnyCell, seed: number, lead: readonly number[]) {
  const init = cell.init(random.key(seed))
  const params = tree.treeMap(init, (x) =>
    ops.add(x, ops.mul(random.normal(random.key(seed + 1), x.shape as number[], { dtype: cell.dtype }), 0.3)),
  ) as Record<string, Tensor>
  const state = tree.treeMap(zerosLead(cell, lead), (x) =>
    random.normal(random.key(seed + 2), x.shape as number[], { dtype: cell.dtype }),
  )
  const x = random.normal(random.key(seed + 3), [...lead, cell.inputSize], { dtype: cell.dtype }) as Tensor
  return { params, state, x }
}
const zerosLead = (cell: AnyCell, lead: readonly number[]): tree.Tree => {
  const one = cell.initialState() as tree.Tree
  return tree.treeMap(one, (x) => ops.zeros([...lead, ...x.shape], cell.dtype))
}

describe('each step is the formula of Martins, Deep Learning: A Shallow Tutorial, for any leading batch shape', () => {
  it('Elman: h′ = tanh(x·Wx + h·Wh + b)', () => {
    assertProperty(
      fc.property(stepCases, ({ I, H, lead, seed }) => {
        const cell = elman(I, H, { dtype: 'f64' })
        const { params, state, x } = drawn(cell, seed, lead)
        const [h, y] = cell.step(params as never, state as never, x as never)
        const p = values(params)
        const expected = rowsOf(x).map((xr, r) => elmanByHand(p, H, rowsOf(state as Tensor)[r], xr))
        expectTreesClose(ops.tensor(expected.flat(), { shape: [...lead, H], dtype: 'f64' }), h, exact)
        expect(y).toBe(h)
      }),
      runs(2),
    )
  })

  it('LSTM: gates i, f, g, o; c′ = σ(f)c + σ(i)tanh(g), h′ = σ(o)tanh(c′)', () => {
    assertProperty(
      fc.property(stepCases, ({ I, H, lead, seed }) => {
        const cell = lstm(I, H, { dtype: 'f64' })
        const { params, state, x } = drawn(cell, seed, lead)
        const s = state as { h: Tensor; c: Tensor }
        const [next, y] = cell.step(params as never, s as never, x as never)
        const p = values(params)
        const rows = rowsOf(x).map((xr, r) => lstmByHand(p, H, rowsOf(s.h)[r], rowsOf(s.c)[r], xr))
        const shape = [...lead, H]
        expectTreesClose(
          {
            c: ops.tensor(
              rows.flatMap((r) => r.c),
              { shape, dtype: 'f64' },
            ),
            h: ops.tensor(
              rows.flatMap((r) => r.h),
              { shape, dtype: 'f64' },
            ),
          },
          next,
          exact,
        )
        expect(y).toBe(next.h)
      }),
      runs(2),
    )
  })

  it('GRU: r, u, h̃ = tanh(x·Wxc + (r⊙h)·Whc + bc), h′ = u⊙h̃ + (1 − u)⊙h', () => {
    assertProperty(
      fc.property(stepCases, ({ I, H, lead, seed }) => {
        const cell = gru(I, H, { dtype: 'f64' })
        const { params, state, x } = drawn(cell, seed, lead)
        const [h] = cell.step(params as never, state as never, x as never)
        const p = values(params)
        const expected = rowsOf(x).map((xr, r) => gruByHand(p, H, rowsOf(state as Tensor)[r], xr))
        expectTreesClose(ops.tensor(expected.flat(), { shape: [...lead, H], dtype: 'f64' }), h, exact)
      }),
      runs(2),
    )
  })

  it('GRU, reset after: h̃ = tanh(x·Wxc + bc + r⊙(h·Whc + bh)), its parameters checked', () => {
    assertProperty(
      fc.property(stepCases, ({ I, H, lead, seed }) => {
        const cell = gru(I, H, { dtype: 'f64', resetAfter: true })
        const { params, state, x } = drawn(cell, seed, lead)
        const [h] = cell.step(params as never, state as never, x as never)
        const p = values(params)
        const expected = rowsOf(x).map((xr, r) => gruByHand(p, H, rowsOf(state as Tensor)[r], xr, true))
        expectTreesClose(ops.tensor(expected.flat(), { shape: [...lead, H], dtype: 'f64' }), h, exact)
        // The same weights without bh are the reset-before cell's, which it does not compute.
        if (H > 1) {
          const before = gruByHand(p, H, rowsOf(state as Tensor)[0], rowsOf(x)[0])
          expect(before).not.toEqual(expected[0])
        }
      }),
      runs(2),
    )
    const cell = gru(2, 3, { resetAfter: true })
    expect(Object.keys(cell.init(random.key(1))).sort()).toEqual(['b', 'bh', 'wh', 'wx'])
    const { bh: _, ...without } = cell.init(random.key(1))
    expect(() => cell.step(without as never, cell.initialState() as never, ops.zeros([2]) as never)).toThrow(/bh/)
    expect(() => gru(2, 3, { resetAfter: 'yes' as never })).toThrow('gru: resetAfter must be true or false, got yes')
  })

  it('stacked: each cell reads the one before, states and parameters one per cell', () => {
    assertProperty(
      fc.property(stepCases, ({ I, H, lead, seed }) => {
        const [a, b] = [gru(I, H, { dtype: 'f64' }), lstm(H, 2, { dtype: 'f64' })]
        const deep = stacked(a, b)
        const pa = drawn(a, seed, lead)
        const pb = drawn(b, seed + 10, lead)
        const [states, y] = deep.step([pa.params, pb.params] as never, [pa.state, pb.state] as never, pa.x as never)
        const [sa, ya] = a.step(pa.params as never, pa.state as never, pa.x as never)
        const [sb, yb] = b.step(pb.params as never, pb.state as never, ya as never)
        expectTreesClose([sa, sb], states, exact)
        expectTreesClose(yb, y, exact)
      }),
      runs(8),
    )
  })
})

// ---------------------------------------------------------------- sequences

describe('rnn and bidirectional run the step over the time axis', () => {
  const cell = lstm(3, 4, { dtype: 'f64' })
  const { params } = drawn(cell, 1, [])
  const xs = random.normal(random.key(2), [5, 2, 3], { dtype: 'f64' }) as Tensor
  const at = (t: number) => ops.reshape(ops.slice(xs, [t, 0, 0], [1, 2, 3]), [2, 3]) as Tensor

  it('rnn(cell).run is the loop of steps; apply starts from zeros', () => {
    const h0 = drawn(cell, 3, [2]).state as { h: Tensor; c: Tensor }
    const [last, ys] = rnn(cell).run(params as never, h0 as never, xs as never)
    let s = h0
    const outs: Tensor[] = []
    for (let t = 0; t < 5; t++) {
      const [next, y] = cell.step(params as never, s as never, at(t) as never)
      s = next as typeof s
      outs.push(y as Tensor)
    }
    expectTreesClose(s, last, exact)
    expectTreesClose(ops.stack(outs), ys, exact)
    expectTreesClose(
      rnn(cell).run(params as never, cell.initialState(2) as never, xs as never)[1],
      rnn(cell).apply(params as never, xs as never),
      exact,
    )
  })

  it('bidirectional(f, b): [f forwards, b backwards] at each step, the backward output aligned with its input', () => {
    const back = elman(3, 2, { dtype: 'f64' })
    const pb = drawn(back, 4, []).params
    const bi = bidirectional(cell, back)
    const ys = bi.apply([params, pb] as never, xs as never)
    expect(ys.shape).toEqual([5, 2, 6])
    const fwd = rnn(cell).apply(params as never, xs as never) as Tensor
    const reversed = (x: Tensor) =>
      ops.concat([4, 3, 2, 1, 0].map((t) => ops.slice(x, [t, 0, 0], [1, ...x.shape.slice(1)])) as Tensor[], 0)
    const bwd = reversed(rnn(back).apply(pb as never, reversed(xs) as never) as Tensor)
    expectTreesClose(ops.concat([fwd, bwd], -1), ys, exact)
    const [[hf, hb]] = bi.run([params, pb] as never, [cell.initialState(2), back.initialState(2)] as never, xs as never)
    expectTreesClose(rnn(cell).run(params as never, cell.initialState(2) as never, xs as never)[0], hf, exact)
    expectTreesClose(rnn(back).run(pb as never, back.initialState(2) as never, reversed(xs) as never)[0], hb, exact)
  })
})

// ---------------------------------------------------------------- TensorFlow.js

const toTf = (x: Tensor, perm?: number[]) => {
  const t = tf.tensor(Float32Array.from(x.dataSync()), [...x.shape], 'float32')
  return perm === undefined ? t : tf.transpose(t, perm)
}
const fromTf = (t: tf.Tensor) => ops.tensor(t.dataSync() as Float32Array, { shape: t.shape, dtype: 'f32' }) as Tensor
/** Columns of a [n, gates·H] weight (or a [gates·H] bias) regrouped: block k of the result is block order[k] of w. */
const regroup = (w: Tensor, H: number, order: readonly number[], sign: readonly number[] = order.map(() => 1)) => {
  const lead = w.ndim === 1 ? [] : [w.shape[0]]
  const blocks = order.map((k, i) => ops.mul(ops.slice(w, [...lead.map(() => 0), k * H], [...lead, H]), sign[i]))
  return ops.concat(blocks as Tensor[], -1) as Tensor
}

describe('against TensorFlow.js (f32)', () => {
  const [I, H, B, T] = [3, 4, 2, 6]
  const xs = random.normal(random.key(20), [T, B, I]) as Tensor
  const f32Params = (cell: AnyCell, seed: number) =>
    drawn(cell, seed, []).params as unknown as { wx: Tensor; wh: Tensor; b: Tensor }
  /** Runs a TF.js recurrent layer with the given weights on xs (batch-major there), back to time-major. */
  const tfRun = (layer: tf.layers.Layer, weights: Tensor[]) => {
    const input = toTf(xs, [1, 0, 2])
    layer.apply(input)
    layer.setWeights(weights.map((w) => toTf(w)))
    return fromTf(tf.transpose(layer.apply(input) as tf.Tensor, [1, 0, 2]))
  }

  it('one LSTM step = tf.basicLSTMCell (gates reordered to its i, j, f, o; forget bias in b)', () => {
    const cell = lstm(I, H)
    const p = f32Params(cell, 21)
    const s = { h: random.normal(random.key(22), [B, H]) as Tensor, c: random.normal(random.key(23), [B, H]) as Tensor }
    const x = random.normal(random.key(24), [B, I]) as Tensor
    const [next] = cell.step(p as never, s as never, x as never)
    const kernel = regroup(ops.concat([p.wx, p.wh], 0) as Tensor, H, [0, 2, 1, 3])
    const [c, h] = tf.basicLSTMCell(
      0,
      toTf(kernel) as tf.Tensor2D,
      toTf(regroup(p.b, H, [0, 2, 1, 3])) as tf.Tensor1D,
      toTf(x) as tf.Tensor2D,
      toTf(s.c) as tf.Tensor2D,
      toTf(s.h) as tf.Tensor2D,
    )
    expectTreesClose({ c: fromTf(c), h: fromTf(h) }, next, f32)
  })

  it('rnn(elman) = tf.layers.simpleRNN', () => {
    const p = f32Params(elman(I, H), 25)
    expectTreesClose(
      tfRun(tf.layers.simpleRNN({ units: H, returnSequences: true }), [p.wx, p.wh, p.b]),
      rnn(elman(I, H)).apply(p as never, xs as never),
      f32,
    )
  })

  it('rnn(lstm) = tf.layers.lstm (same gate order i, f, c, o)', () => {
    const p = f32Params(lstm(I, H), 26)
    const layer = tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: 'sigmoid' })
    expectTreesClose(tfRun(layer, [p.wx, p.wh, p.b]), rnn(lstm(I, H)).apply(p as never, xs as never), f32)
  })

  it('rnn(gru) = tf.layers.gru (reset before the product; its gates z, r, h with z = 1 − u, so z’s weights are −u’s)', () => {
    const p = f32Params(gru(I, H), 27)
    const layer = tf.layers.gru({ units: H, returnSequences: true, recurrentActivation: 'sigmoid' })
    const order = [1, 0, 2]
    const sign = [-1, 1, 1]
    expectTreesClose(
      tfRun(layer, [regroup(p.wx, H, order, sign), regroup(p.wh, H, order, sign), regroup(p.b, H, order, sign)]),
      rnn(gru(I, H)).apply(p as never, xs as never),
      f32,
    )
  })

  it('bidirectional(lstm, lstm) = tf.layers.bidirectional(lstm) with concatenated outputs', () => {
    const [pf, pb] = [f32Params(lstm(I, H), 28), f32Params(lstm(I, H), 29)]
    const layer = tf.layers.bidirectional({
      layer: tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: 'sigmoid' }) as tf.RNN,
      mergeMode: 'concat',
    })
    expectTreesClose(
      tfRun(layer, [pf.wx, pf.wh, pf.b, pb.wx, pb.wh, pb.b]),
      bidirectional(lstm(I, H), lstm(I, H)).apply([pf, pb] as never, xs as never),
      f32,
    )
  })
})

// ---------------------------------------------------------------- laws of the steps

describe('laws.layer on each cell step (the step as a function of θ and { state, x })', () => {
  const cases: [string, AnyCell][] = [
    ['elman', elman(2, 3, { dtype: 'f64' })],
    ['lstm', lstm(2, 3, { dtype: 'f64' })],
    ['gru', gru(2, 3, { dtype: 'f64' })],
    ['stacked', stacked(gru(2, 3, { dtype: 'f64' }), elman(3, 2, { dtype: 'f64' })) as unknown as AnyCell],
  ]
  for (const [name, cell] of cases)
    it(name, () => {
      const state = tree.treeMap(cell.initialState() as tree.Tree, (x) => ops.zeros(x.shape as number[], 'f64'))
      const [leaves, def] = tree.flatten(state)
      const input = fc
        .tuple(fc.tuple(...leaves.map((x) => arb.f64(x.shape as number[]))), arb.f64([cell.inputSize]))
        .map(([s, x]) => ({ state: tree.unflatten(def, s), x }))
      const params = arb.seed().map((s) => drawn(cell, s, []).params)
      const step = (p: unknown, i: { state: unknown; x: Tensor }) => cell.step(p, i.state as never, i.x as never)
      const reports = checkLayer(step, { params, input }, { name: cell.name }, runs(4))
      const failed = reports.filter((r) => !r.ok)
      expect(failed.map((r) => r.message).join('\n\n')).toBe('')
      expect(reports.map((r) => r.law)).toEqual([
        'shape',
        'adjoint',
        'finiteDifferences',
        'jacobians',
        'linearity',
        'vmap',
        'tying',
      ])
    })
})

// ---------------------------------------------------------------- initialisation

describe('initialisation', () => {
  it('LSTM: forget bias 1, other biases 0; recurrent weights with orthonormal rows; shapes [I, 4H], [H, 4H], [4H]', () => {
    const p = lstm(3, 2, { dtype: 'f64' }).init(random.key(1))
    expect(Array.from(p.b.dataSync())).toEqual([0, 0, 1, 1, 0, 0, 0, 0])
    expect([p.wx.shape, p.wh.shape]).toEqual([
      [3, 8],
      [2, 8],
    ])
    expectTreesClose(ops.eye(2, 'f64'), ops.matmul(p.wh, ops.transpose(p.wh)), { rtol: 1e-12, atol: 1e-12 })
    expect(lstm(3, 2, { forgetBias: 2.5 }).init(random.key(1)).b.dataSync()[2]).toBe(2.5)
  })

  it('orthogonal(ρ): ρQ with QᵀQ = I, so every eigenvalue of a square one has modulus ρ (its spectral radius is ρ)', () => {
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.1, max: 3, noNaN: true }),
        arb.seed(),
        (n, m, rho, seed) => {
          const w = orthogonal(rho)(random.key(seed), [n, m], { dtype: 'f64' }) as Tensor
          const gram = n <= m ? ops.matmul(w, ops.transpose(w)) : ops.matmul(ops.transpose(w), w)
          expectTreesClose(ops.mul(ops.eye(Math.min(n, m), 'f64'), rho * rho), gram, { rtol: 1e-12, atol: 1e-12 })
          // ‖W v‖ = ρ‖v‖ for a square W: no direction grows or shrinks other than by ρ.
          if (n === m) {
            const v = randomLike(ops.zeros([n], 'f64'), seed) as Tensor
            const norm = (x: Tensor) => Math.hypot(...x.dataSync())
            expect(norm(ops.matmul(w, v)) / norm(v)).toBeCloseTo(rho, 10)
          }
        },
      ),
      runs(2),
    )
  })

  it('initialState: zeros in the layout, with or without a batch axis', () => {
    expect(lstm(2, 3).initialState(4).h.shape).toEqual([4, 3])
    const s = stacked(elman(2, 3), lstm(3, 5)).initialState()
    expect([s[0].shape, s[1].c.shape]).toEqual([[3], [5]])
    expect(s[1].c.dtype).toBe('f32')
  })
})

// ---------------------------------------------------------------- errors

describe('bad input is named', () => {
  const cell = gru(2, 3)
  const p = cell.init(random.key(0))
  it('a wrong input size, a state of the wrong shape or structure, parameters of the wrong shape', () => {
    expect(() => cell.step(p, ops.zeros([3]), ops.zeros([4]) as never)).toThrow(
      /gru\(2 → 3\): expected an input whose last axis is 2, got f32\[4\]/,
    )
    expect(() => cell.step(p, ops.zeros([5, 3]) as never, ops.zeros([4, 2]) as never)).toThrow(
      /expected a state \[\.\.\., 3\] with leading shape \[4\]; state should be \[4, 3\], got f32\[5,3\]/,
    )
    expect(() =>
      lstm(2, 3).step(lstm(2, 3).init(random.key(0)), { h: ops.zeros([3]) } as never, ops.zeros([2])),
    ).toThrow(/state has no c/)
    expect(() => cell.step({ ...p, wh: ops.zeros([3, 3]) } as never, ops.zeros([3]), ops.zeros([2]))).toThrow(
      /parameter wh must have shape \[3, 9\], got f32\[3,3\]/,
    )
  })
  it('stacked cells whose sizes do not chain, sequences that are not [T, ..., I], bad sizes', () => {
    // @ts-expect-error the first cell outputs 3 features, the second takes 4
    expect(() => stacked(elman(2, 3), elman(4, 5))).toThrow(
      /stacked: cell 0 \(elman\(2 → 3\)\) outputs 3 features but cell 1 \(elman\(4 → 5\)\) takes 4/,
    )
    expect(() => rnn(cell).apply(p, ops.zeros([2]) as never)).toThrow(
      /rnn\(gru\(2 → 3\)\): expected a time-major input sequence \[T, \.\.\., 2\]/,
    )
    expect(() => bidirectional(elman(2, 3), elman(3, 3) as never)).toThrow(
      /both cells read the same sequence, but they take 2 and 3 features/,
    )
    expect(() => elman(0, 3)).toThrow(/elman\(0 → 3\): the input size must be a positive integer, got 0/)
  })
})
