/**
 * Compile-time shapes of the recurrent cells and algorithms: a step keeps the
 * state's type and maps [...B, I] to [...B, O] for any leading batch shape B;
 * stacked cells must chain their sizes; rnn and bidirectional map time-major
 * sequences; bptt and rtrl return gradients shaped like the parameters and h₀.
 */
import { describe, expectTypeOf, it } from 'vitest'
import { ops, type Tensor } from '../src/index.ts'
import {
  bidirectional,
  bptt,
  elman,
  gru,
  lstm,
  rnn,
  rtrl,
  stacked,
  type ElmanParams,
  type GruParams,
  type GruResetAfterParams,
  type StateOf,
} from '../src/recurrent/index.ts'

declare const x: Tensor<['B', 3], 'f32'>
declare const x1: Tensor<[3], 'f64'>
declare const xs: Tensor<['T', 'B', 3], 'f32'>
declare const seq: Tensor<[7, 3], 'f32'>
declare const ys: Tensor<[7, 8], 'f32'>
declare const s: StateOf<{ h: 8; c: 8 }, ['B']>

describe('cells', () => {
  it('a step maps [...B, I] to [...B, O] and keeps the state type, with or without a batch axis', () => {
    const cell = lstm(3, 8)
    const [next, y] = cell.step(cell.init(null as never), s, x)
    expectTypeOf(y).toEqualTypeOf<Tensor<['B', 8]>>()
    expectTypeOf(next).toEqualTypeOf<{ readonly h: Tensor<['B', 8]>; readonly c: Tensor<['B', 8]> }>()
    const [h1] = elman(3, 5).step(elman(3, 5).init(null as never), elman(3, 5).initialState(), x1)
    expectTypeOf(h1).toEqualTypeOf<Tensor<[5]>>()
    expectTypeOf(gru(3, 4).initialState(16)).toEqualTypeOf<Tensor<[16, 4]>>()
    expectTypeOf(elman(3, 5).init).returns.toEqualTypeOf<ElmanParams<3, 5>>()
    expectTypeOf(gru(3, 4).init).returns.toEqualTypeOf<GruParams<3, 4>>()
    // Reset after the product: the candidate's recurrent bias bh [H] too.
    expectTypeOf(gru(3, 4, { resetAfter: true }).init).returns.toEqualTypeOf<GruResetAfterParams<3, 4>>()
    expectTypeOf(gru(3, 4, { resetAfter: true }).init(null as never).bh).toEqualTypeOf<Tensor<[4]>>()
  })

  it('rejects an input of the wrong size', () => {
    const cell = elman(4, 5)
    // @ts-expect-error the cell takes 4 features, x has 3
    cell.step(cell.init(null as never), cell.initialState(2), ops.zeros([2, 3]))
    const after = gru(3, 4, { resetAfter: true })
    // @ts-expect-error the cell takes 3 features, x has 2
    after.step(after.init(null as never), after.initialState(2), ops.zeros([2, 2]))
    // @ts-expect-error the reset-before cell's parameters have no bh, which the reset-after cell reads
    after.step(gru(3, 4).init(null as never), after.initialState(2), ops.zeros([2, 3]))
  })

  it('stacked chains the sizes: its input is the first cell’s, its output the last’s, its state a tuple', () => {
    const deep = stacked(lstm(3, 8), gru(8, 4), elman(4, 2))
    const [state, y] = deep.step(deep.init(null as never), deep.initialState(), x1)
    expectTypeOf(y).toEqualTypeOf<Tensor<[2]>>()
    expectTypeOf(state[1]).toEqualTypeOf<Tensor<[4]>>()
    expectTypeOf(state[0].c).toEqualTypeOf<Tensor<[8]>>()
    // @ts-expect-error gru(8, 4) outputs 4 features, elman(5, 2) takes 5
    stacked(lstm(3, 8), gru(8, 4), elman(5, 2))
  })
})

describe('sequences', () => {
  it('rnn and bidirectional map [T, B, I] to [T, B, O] (OF + OB for bidirectional)', () => {
    const r = rnn(gru(3, 8))
    expectTypeOf(r.apply(r.init(null as never), xs)).toEqualTypeOf<Tensor<['T', 'B', 8]>>()
    const [last, out] = r.run(r.init(null as never), r.cell.initialState(), seq)
    expectTypeOf(out).toEqualTypeOf<Tensor<[7, 8]>>()
    expectTypeOf(last).toEqualTypeOf<Tensor<[8]>>()
    const bi = bidirectional(lstm(3, 8), gru(3, 4))
    expectTypeOf(bi.apply(bi.init(null as never), xs)).toEqualTypeOf<Tensor<['T', 'B', 12]>>()
    // @ts-expect-error both directions read the same 3-feature sequence
    bidirectional(lstm(3, 8), gru(5, 4))
  })
})

describe('gradient algorithms', () => {
  it('bptt and rtrl give gradients shaped like the parameters and h₀', () => {
    const cell = lstm(3, 8)
    const loss = (y: Tensor, target: Tensor<[8]>) => ops.sum(ops.square(ops.sub(y, target)))
    const p = cell.init(null as never)
    const h0 = cell.initialState()
    const b = bptt(cell, loss, { truncate: 3 })(p, h0, seq, ys as never)
    expectTypeOf(b.grad.params).toEqualTypeOf<typeof p>()
    expectTypeOf(b.grad.h0).toEqualTypeOf<{ readonly h: Tensor<[8]>; readonly c: Tensor<[8]> }>()
    expectTypeOf(b.loss).toEqualTypeOf<Tensor<[]>>()
    const r = rtrl(cell, loss)(p, h0, seq, ys as never)
    expectTypeOf(r.grad.params).toEqualTypeOf<typeof p>()
    const withHistory = rtrl(cell, loss, { history: true })(p, h0, seq, ys as never)
    expectTypeOf(withHistory.history).toEqualTypeOf<
      | {
          readonly loss: Tensor<[number]>
          readonly grad: {
            readonly params: typeof p
            readonly h0: { readonly h: Tensor<[8]>; readonly c: Tensor<[8]> }
          }
        }
      | undefined
    >()
    // @ts-expect-error the sequence has 3 features per step, not 5
    bptt(cell, loss)(p, h0, ops.zeros([7, 5]), ys as never)
  })
})
