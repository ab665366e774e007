/**
 * ONNX's recurrent operators (RNN, GRU, LSTM) as `scan`s, so that reverse
 * mode through them is backpropagation through time. The input projection
 * X·Wᵀ + Wb of every step is one matrix product before the loop; the loop
 * carries the hidden state (and the LSTM's cell) and applies R.
 *
 * The equations and gate orders are ONNX's (onnx/docs/Operators.md):
 *  - RNN:  Hₜ = f(Xₜ·Wᵀ + Hₜ₋₁·Rᵀ + Wb + Rb)
 *  - GRU, gates z r h:  zₜ = f(Xₜ·Wzᵀ + Hₜ₋₁·Rzᵀ + Wbz + Rbz), rₜ likewise,
 *    hₜ = g(Xₜ·Whᵀ + (rₜ ⊙ Hₜ₋₁)·Rhᵀ + Rbh + Wbh), or with linear_before_reset
 *    g(Xₜ·Whᵀ + rₜ ⊙ (Hₜ₋₁·Rhᵀ + Rbh) + Wbh); Hₜ = (1 − zₜ) ⊙ hₜ + zₜ ⊙ Hₜ₋₁
 *  - LSTM, gates i o f c:  iₜ = f(Xₜ·Wiᵀ + Hₜ₋₁·Riᵀ + Pi ⊙ Cₜ₋₁ + Wbi + Rbi),
 *    fₜ = f(… + Pf ⊙ Cₜ₋₁ …), cₜ = g(…), Cₜ = fₜ ⊙ Cₜ₋₁ + iₜ ⊙ cₜ,
 *    oₜ = f(… + Po ⊙ Cₜ …), Hₜ = oₜ ⊙ h(Cₜ); peepholes P in the order i o f.
 * Directions forward, reverse and bidirectional; layout 0 ([seq, batch, …])
 * and 1 ([batch, seq, …]); the cell clip. sequence_lens is accepted only
 * where every sequence has the full length.
 */
import * as lax from '../core/lax.ts'
import * as ops from '../ops/index.ts'
import { scan } from '../recurrent/scan.ts'
import type { Tensor } from '../tensor.ts'
import { activations } from './import-nn.ts'
import { u } from './import-ops.ts'
import { type Rule, Value } from './import-values.ts'

type Cell = 'RNN' | 'GRU' | 'LSTM'
const GATES: Record<Cell, number> = { RNN: 1, GRU: 3, LSTM: 4 }
const DEFAULT_ACTIVATIONS: Record<Cell, readonly string[]> = {
  RNN: ['Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
}

/** Rows [from, from + n) of a matrix, or entries of a vector, along axis 0. */
const rows = (t: Tensor, from: number, n: number): Tensor =>
  lax.slice(
    t,
    t.aval.shape.map((_, i) => (i === 0 ? from : 0)),
    t.aval.shape.map((d, i) => (i === 0 ? from + n : d)),
  )
/** Columns [from, from + n) along the last axis. */
const cols = (t: Tensor, from: number, n: number): Tensor<any, any> => {
  const last = t.ndim - 1
  return u(
    lax.slice(
      t,
      t.aval.shape.map((_, i) => (i === last ? from : 0)),
      t.aval.shape.map((d, i) => (i === last ? from + n : d)),
    ),
  )
}
/** Entry d of the leading (direction) axis. */
const direction = (t: Tensor, d: number): Tensor => lax.reshape(rows(t, d, 1), t.aval.shape.slice(1))

function recurrent(cell: Cell): Rule {
  return (cx, ins) => {
    const x0 = cx.float32or64(ins, 0, 'X')
    const layout = cx.int('layout', 0)
    const x = layout === 0 ? x0 : lax.transpose(x0, [1, 0, 2]) // [seq, batch, input]
    const [seq, batch] = x.aval.shape
    const w = cx.float32or64(ins, 1, 'W')
    const r = cx.float32or64(ins, 2, 'R')
    const hidden = cx.int('hidden_size', r.aval.shape[2])
    const dir = cx.string('direction', 'forward')
    if (!['forward', 'reverse', 'bidirectional'].includes(dir))
      cx.fail(`direction '${dir}' is not forward, reverse or bidirectional`)
    const dirs = dir === 'bidirectional' ? 2 : 1
    const g = GATES[cell]
    if (w.aval.shape[0] !== dirs || w.aval.shape[1] !== g * hidden)
      cx.fail(`W has shape [${w.aval.shape.join(', ')}], expected [${dirs}, ${g * hidden}, input_size]`)
    const lengths = cx.optionalStatic(ins, 4, 'sequence_lens')
    if (lengths?.some((n) => n !== seq))
      cx.fail(`sequence_lens [${lengths.join(', ')}] is supported only where every sequence has the full length ${seq}`)
    if (cx.has('activation_alpha') || cx.has('activation_beta'))
      cx.fail('activation_alpha and activation_beta are not supported (the activations take their defaults)')
    if (cell === 'LSTM' && cx.int('input_forget', 0) !== 0) cx.fail('input_forget (coupled gates) is not supported')
    const perDir = DEFAULT_ACTIVATIONS[cell].length
    const names = cx.strings('activations') ?? Array.from({ length: dirs }, () => DEFAULT_ACTIVATIONS[cell]).flat()
    if (names.length !== perDir * dirs) cx.fail(`expected ${perDir * dirs} activations, got ${names.length}`)
    const fns = names.map((n) => {
      const f = activations[n]
      if (f === undefined) cx.fail(`activation '${n}' is not one of ${Object.keys(activations).join(', ')}`)
      return f
    })
    const clip = cx.has('clip') ? cx.float('clip', 0) : undefined
    const clipped = (t: Tensor<any, any>) => (clip === undefined ? t : ops.clip(t, -clip, clip))

    const initial = (k: number) => (ins[k] === undefined ? undefined : cx.float32or64(ins, k, 'initial state'))
    const [h0, c0, bias, peep] = [initial(5), initial(6), initial(3), cell === 'LSTM' ? initial(7) : undefined]
    const ys: Tensor[] = []
    const hs: Tensor[] = []
    const cs: Tensor[] = []
    for (let d = 0; d < dirs; d++) {
      const [f, gAct, hAct] = fns.slice(d * perDir, (d + 1) * perDir)
      const wd = direction(w, d) // [g·H, I]
      const rd = direction(r, d) // [g·H, H]
      const bd = bias === undefined ? undefined : direction(bias, d) // [2·g·H]
      const wb = bd === undefined ? undefined : u(rows(bd, 0, g * hidden))
      const rb = bd === undefined ? undefined : u(rows(bd, g * hidden, g * hidden))
      // The input projection of every step at once: [seq, batch, g·H].
      let xw = u(ops.matmul(u(x), u(lax.transpose(wd, [1, 0]))))
      if (wb !== undefined) xw = ops.add(xw, wb)
      const zeros = lax.fullLike({ aval: { shape: [batch, hidden], dtype: x.aval.dtype } }, 0)
      const hInit = h0 === undefined ? zeros : direction(h0, d)
      const cInit = c0 === undefined ? zeros : direction(c0, d)
      const rT = (k: number) => u(lax.transpose(rows(rd, k * hidden, hidden), [1, 0])) // [H, H]
      const rBias = (k: number) => (rb === undefined ? undefined : u(rows(rb, k * hidden, hidden)))
      const plus = (t: Tensor<any, any>, b: Tensor<any, any> | undefined) => (b === undefined ? t : ops.add(t, b))
      const reverse = dir === 'reverse' || d === 1
      const step = stepOf(cell, {
        hidden,
        f,
        g: gAct,
        h: hAct,
        rT,
        rBias,
        plus,
        clipped,
        peep: peep === undefined ? undefined : direction(peep, d),
        linearBeforeReset: cx.int('linear_before_reset', 0) !== 0,
      })
      const [carry, y] = scan(step as never, [hInit, cInit] as Tensor[], xw, { reverse }) as [Tensor[], Tensor]
      ys.push(lax.reshape(y as Tensor, [seq, 1, batch, hidden]))
      hs.push(lax.reshape(carry[0], [1, batch, hidden]))
      cs.push(lax.reshape(carry[1], [1, batch, hidden]))
    }
    const yAll = lax.concat(ys, 1) // [seq, dirs, batch, H]
    const hAll = lax.concat(hs, 0)
    const cAll = lax.concat(cs, 0)
    const type = cx.input(ins, 0, 'X').type
    const out =
      layout === 0
        ? [yAll, hAll, cAll]
        : [lax.transpose(yAll, [2, 0, 1, 3]), lax.transpose(hAll, [1, 0, 2]), lax.transpose(cAll, [1, 0, 2])]
    return out.slice(0, cell === 'LSTM' ? 3 : 2).map((t) => Value.of(type, t))
  }
}

interface StepParts {
  readonly hidden: number
  readonly f: (x: Tensor<any, any>) => Tensor
  readonly g: (x: Tensor<any, any>) => Tensor
  readonly h: (x: Tensor<any, any>) => Tensor
  /** Rₖᵀ [H, H] of gate k. */
  readonly rT: (k: number) => Tensor<any, any>
  /** Rbₖ [H] of gate k, if there is a bias. */
  readonly rBias: (k: number) => Tensor<any, any> | undefined
  readonly plus: (t: Tensor<any, any>, b: Tensor<any, any> | undefined) => Tensor<any, any>
  readonly clipped: (t: Tensor<any, any>) => Tensor<any, any>
  readonly peep: Tensor | undefined
  readonly linearBeforeReset: boolean
}

type Step = (carry: Tensor[], xw: Tensor) => readonly [Tensor[], Tensor]

/** One step of the cell: (h, c) and this step's projected input → (h′, c′) and the output h′. */
function stepOf(cell: Cell, p: StepParts): Step {
  const H = p.hidden
  // Gate k's pre-activation Xₜ·Wₖᵀ + Wbₖ (already in xw) + Hₜ₋₁·Rₖᵀ + Rbₖ; the clip acts on an activation's input.
  const linear = (xw: Tensor, h: Tensor, k: number) =>
    p.plus(ops.add(cols(xw, k * H, H), ops.matmul(u(h), p.rT(k))), p.rBias(k))
  const act = (f: (x: Tensor<any, any>) => Tensor, t: Tensor<any, any>) => u(f(p.clipped(t)))
  if (cell === 'RNN')
    return ([h, c], xw) => {
      const next = act(p.f, linear(xw, h, 0))
      return [[next, c], next]
    }
  if (cell === 'GRU')
    return ([h, c], xw) => {
      const z = act(p.f, linear(xw, h, 0))
      const rGate = act(p.f, linear(xw, h, 1))
      const hh = p.linearBeforeReset
        ? ops.add(cols(xw, 2 * H, H), ops.mul(rGate, p.plus(ops.matmul(u(h), p.rT(2)), p.rBias(2))))
        : p.plus(ops.add(cols(xw, 2 * H, H), ops.matmul(ops.mul(rGate, u(h)), p.rT(2))), p.rBias(2))
      const candidate = act(p.g, u(hh))
      const next = ops.add(ops.mul(ops.sub(1, z), candidate), ops.mul(z, u(h)))
      return [[next, c], next]
    }
  const peephole = (k: number, state: Tensor) =>
    p.peep === undefined ? undefined : ops.mul(u(rows(p.peep, k * H, H)), u(state))
  return ([h, c], xw) => {
    const i = act(p.f, p.plus(linear(xw, h, 0), peephole(0, c)))
    const f = act(p.f, p.plus(linear(xw, h, 2), peephole(2, c)))
    const candidate = act(p.g, linear(xw, h, 3))
    const cNext = ops.add(ops.mul(f, u(c)), ops.mul(i, candidate))
    const o = act(p.f, p.plus(linear(xw, h, 1), peephole(1, cNext)))
    const hNext = ops.mul(o, u(p.h(cNext)))
    return [[hNext, cNext], hNext]
  }
}

export const recurrentRules: Record<string, Rule> = {
  RNN: recurrent('RNN'),
  GRU: recurrent('GRU'),
  LSTM: recurrent('LSTM'),
}
