/**
 * Rotation, a stage of loop motion (loop-motion.ts): where the carries
 * enter a step only through elementwise or structural work P that feeds a
 * product Q (the backward step of an RNN: δ = c ⊙ v, c′ = δ·Whᵀ), the loop
 * carries D = P(c, xₜ) instead: P once before the loop on the first step's
 * inputs, then T − 1 steps of D′ = P(Q(D, xₜ), xₜ₊₁), a product whose
 * epilogue is P, then Q once after the loop on the last step's inputs
 * (reversed loops alike, from step T − 1 down, t − 1 for t + 1). The values
 * of P and Q that the rest of loop motion reads stacked are stacked over
 * all T steps in time order.
 *
 * Preserves: every output's value, exactly: each step still applies P and
 * then Q, the same primitives to the same values in the same order; the
 * loop is only cut at another point of the step.
 */
import * as lax from '../core/lax.ts'
import { isHeavy } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { stage } from '../core/staging.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { Program, Var, closeProgram, type Atom, type Eqn } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { flowsFrom, steps, unique } from './shared.ts'

/** The identity the rotation rests on, as a table so that the law suite can plant a wrong one. */
export const rotateIdentities = {
  /**
   * A rotated loop's per-step inputs [T, ...] for its T − 1 steps: Q reads
   * step t and P step t + 1; reversed (t = T − 2 … 0), Q step t + 1 and P t.
   */
  rotatedInputs(perStep: readonly Tensor[], reverse: boolean): { q: Tensor[]; p: Tensor[] } {
    const [q, p] = reverse ? [1, 0] : [0, 1]
    const from = (x: Tensor, start: number) => steps(x, start, start + x.aval.shape[0] - 1)
    return { q: perStep.map((x) => from(x, q)), p: perStep.map((x) => from(x, p)) }
  },
}

export interface Rotation {
  /** What P computes from the carries, and the rotated loop carries. */
  readonly D: readonly Var[]
  /** The loop's inputs → D. */
  readonly P: Program
  /** The loop's inputs with D in the carries' place → the carries' next values. */
  readonly Q: Program
}

/**
 * The rotation of a loop (inputs: `fixed` consts, then `nCarry` carries,
 * then per-step inputs), where it pays: every equation that reads a carry is
 * elementwise or structural (P is what is reachable from the carries that
 * way), and a product reads what P computes. Else null.
 */
export function rotate(loop: Program, fixed: number, nCarry: number): Rotation | null {
  const carries = loop.inputs.slice(fixed, fixed + nCarry)
  const fromCarries = flowsFrom(loop.eqns, carries)
  // P: elementwise and structural work on the carries and on P's own values; Q (the rest) must not read a carry.
  const inP = new Set<Var>(carries)
  const P: Eqn[] = []
  for (const e of loop.eqns) {
    const dependent = e.inputs.filter((a): a is Var => a instanceof Var && fromCarries.has(a))
    if (dependent.length === 0) continue
    if (!isHeavy(e.prim) && dependent.every((a) => inP.has(a))) {
      P.push(e)
      for (const v of e.outputs) inP.add(v)
    } else if (dependent.some((a) => carries.includes(a))) return null
  }
  if (loop.outputs.some((a) => a instanceof Var && carries.includes(a))) return null
  const rest = loop.eqns.filter((e) => !P.includes(e))
  const readOutside = new Set<Atom>([...rest.flatMap((e) => e.inputs), ...loop.outputs])
  const D = unique(P.flatMap((e) => e.outputs).filter((v) => readOutside.has(v)))
  if (!rest.some((e) => isHeavy(e.prim) && e.inputs.some((a) => a instanceof Var && D.includes(a)))) return null
  const others = [...loop.inputs.slice(0, fixed), ...loop.inputs.slice(fixed + nCarry)]
  if (others.some((v) => D.includes(v))) return null
  return {
    D,
    // What reads no carry may be needed on either side: each keeps what it needs of it.
    P: deadCodeElimination(
      new Program(
        loop.inputs,
        [],
        [],
        loop.eqns.filter((e) => P.includes(e) || !e.outputs.some((v) => fromCarries.has(v))),
        D,
      ),
    ),
    Q: deadCodeElimination(
      new Program(
        [...loop.inputs.slice(0, fixed), ...D, ...loop.inputs.slice(fixed + nCarry)],
        [],
        [],
        rest,
        loop.outputs,
      ),
    ),
  }
}

/**
 * A rotated loop: P on the first step's inputs, T − 1 steps of
 * D′ = P(Q(D, xₜ), xₜ₊₁) (t − 1 reversed), Q on the last step's. The
 * carries' final values, and each of `ys` (a variable of P or of Q) stacked
 * over all T steps in time order.
 */
export function rotated(
  r: Rotation,
  ys: readonly Var[],
  fixed: readonly Tensor[],
  init: readonly Tensor[],
  perStep: readonly Tensor[],
  T: number,
  reverse: boolean,
): [Tensor[], Map<Var, Tensor>] {
  const at = (t: number) => perStep.map((x) => lax.reshape(steps(x, t, t + 1), x.aval.shape.slice(1)))
  const [first, last] = reverse ? [T - 1, 0] : [0, T - 1]
  const qYs = ys.filter((v) => !r.D.includes(v))
  const dYs = ys.filter((v) => r.D.includes(v))
  const Q = new Program(r.Q.inputs, [], [], r.Q.eqns, [...r.Q.outputs, ...qYs])
  const d0 = evalProgram(r.P, [...fixed, ...init, ...at(first)])
  let dLast = d0
  let qStacks: Tensor[] = []
  let dStacks: Tensor[] = []
  if (T > 1) {
    const nF = fixed.length
    const nX = perStep.length
    const nD = r.D.length
    const { program } = stage(
      'rotated loop body',
      [...fixed, ...d0, ...perStep, ...perStep].map((x, i) =>
        i < nF + nD ? x.aval : { ...x.aval, shape: x.aval.shape.slice(1) },
      ),
      (ins) => {
        const f = ins.slice(0, nF)
        const d = ins.slice(nF, nF + nD)
        const xq = ins.slice(nF + nD, nF + nD + nX)
        const xp = ins.slice(nF + nD + nX)
        const q = evalProgram(Q, [...f, ...d, ...xq])
        const next = evalProgram(r.P, [...f, ...q.slice(0, Q.outputs.length - qYs.length), ...xp])
        return {
          outputs: [...next, ...q.slice(Q.outputs.length - qYs.length), ...dYs.map((v) => next[r.D.indexOf(v)])],
          result: null,
        }
      },
    )
    const closed = closeProgram(program)
    const { q: xq, p: xp } = rotateIdentities.rotatedInputs(perStep, reverse)
    const outs = bind('scan', [...closed.consts, ...fixed, ...d0, ...xq, ...xp], {
      length: T - 1,
      reverse,
      numConsts: closed.consts.length + nF,
      numCarry: nD,
      body: closed.program,
    })
    dLast = outs.slice(0, nD)
    qStacks = outs.slice(nD, nD + qYs.length)
    dStacks = outs.slice(nD + qYs.length)
  }
  const q = evalProgram(Q, [...fixed, ...dLast, ...at(last)])
  const nOut = Q.outputs.length - qYs.length
  const one = (x: Tensor) => lax.reshape(x, [1, ...x.aval.shape])
  const stacked = new Map<Var, Tensor>()
  // Q's values run over steps 0 … T − 2 in the loop (1 … T − 1 reversed), the last one after it; D's over
  // 1 … T − 1 (0 … T − 2), the first before it.
  qYs.forEach((v, i) =>
    stacked.set(
      v,
      T === 1
        ? one(q[nOut + i])
        : lax.concat(reverse ? [one(q[nOut + i]), qStacks[i]] : [qStacks[i], one(q[nOut + i])], 0),
    ),
  )
  dYs.forEach((v, i) => {
    const d = one(d0[r.D.indexOf(v)])
    stacked.set(v, T === 1 ? d : lax.concat(reverse ? [dStacks[i], d] : [d, dStacks[i]], 0))
  })
  return [q.slice(0, nOut), stacked]
}
