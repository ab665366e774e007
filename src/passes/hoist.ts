/**
 * Hoisting, a stage of loop motion (loop-motion.ts): what the carries need
 * but no carry feeds leaves the loop. A value of the consts and the step's
 * xs (x·W of an RNN's input) is computed before the loop for all steps at
 * once, batched over t (vmap), and enters the loop as new xs; a value of
 * the consts alone (a heavy one: a product, a reduction, a scatter; or a
 * transpose, such as the Whᵀ that a backward step's product reads) is
 * computed once, as a new const. A device that reads a product's operand
 * transposed more slowly than as stored (llvmpipe: 32×256×1024 at 20–22
 * GFLOP/s with Bᵀ against 25.8–27.7 without) then reads it as stored.
 * Sums are first regrouped so that the terms no carry feeds are added
 * first, ((a + b) + c → (a + c) + b with a, c free of the carries), so
 * that a + c (x·W + bias) can leave too.
 *
 * Preserves: every output's value, exactly where no sum is regrouped: a
 * hoisted value is the same primitives on the same values, computed once
 * or batched over the steps. A regrouped sum is reassociated,
 * (a + c) + b in place of (a + b) + c, and may round differently.
 */
import { isHeavy } from '../core/primitive.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { Program, Var, type Atom, type Eqn } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { everyStep, flowsFrom, readsOf, unique } from './shared.ts'

/** The identity the hoisting rests on, as a table so that the law suite can plant a wrong one. */
export const hoistIdentities = {
  /**
   * What `program` (inputs: consts, then one step's xs) computes at each step t from xsₜ, for all T steps at once:
   * the program batched over the xs' leading axis, [T, ...] per output.
   */
  atEveryStep(program: Program, consts: readonly Tensor[], xs: readonly Tensor[], T: number): Tensor[] {
    return everyStep(program, [...consts, ...xs], [...consts.map(() => false), ...xs.map(() => true)], T)
  },
}

/** How a loop's work splits: what stays in the loop, and the hoisted values it reads. */
export interface Hoisting {
  /** Equations of the body that leave the loop. */
  readonly hoisted: ReadonlySet<Eqn>
  /** The loop body: inputs consts, invariant values, kept carries, xs, varying values; outputs the kept carries. */
  readonly loop: Program
  /** Hoisted values the loop reads that depend on the consts alone (computed once). */
  readonly invariantVars: readonly Var[]
  /** Hoisted values the loop reads that depend on the step's xs (computed for all steps at once). */
  readonly varyingVars: readonly Var[]
}

/**
 * The work of a scan body (inputs: `nC` consts, `nK` carries, xs) that computes the `kept` carries, split into what
 * stays in the loop and what leaves it: every equation that no kept carry feeds and that reads the xs or is heavy. With
 * `enabled` false, nothing leaves.
 */
export function hoisting(body: Program, nC: number, nK: number, kept: readonly number[], enabled: boolean): Hoisting {
  const consts = body.inputs.slice(0, nC)
  const carryIn = body.inputs.slice(nC, nC + nK)
  const xs = body.inputs.slice(nC + nK)
  const outs = body.outputs
  const loopFull = deadCodeElimination(
    new Program(
      body.inputs,
      [],
      [],
      body.eqns,
      kept.map((k) => outs[k]),
    ),
  )
  const fromCarry = flowsFrom(
    loopFull.eqns,
    kept.map((k) => carryIn[k]),
  )
  const fromXs = flowsFrom(loopFull.eqns, xs)
  const hoisted = new Set(
    enabled
      ? loopFull.eqns.filter(
          (e) =>
            !e.outputs.some((v) => fromCarry.has(v)) &&
            (e.outputs.some((v) => fromXs.has(v)) || isHeavy(e.prim) || e.prim === 'transpose'),
        )
      : [],
  )
  const stays = loopFull.eqns.filter((e) => !hoisted.has(e))
  const hoistedOut = new Set([...hoisted].flatMap((e) => e.outputs))
  const boundary = unique(
    [...stays.flatMap((e) => e.inputs), ...kept.map((k) => outs[k])].filter(
      (a): a is Var => a instanceof Var && hoistedOut.has(a),
    ),
  )
  const invariantVars = boundary.filter((v) => !fromXs.has(v))
  const varyingVars = boundary.filter((v) => fromXs.has(v))
  const loop = deadCodeElimination(
    new Program(
      [...consts, ...invariantVars, ...kept.map((k) => carryIn[k]), ...xs, ...varyingVars],
      [],
      [],
      stays,
      kept.map((k) => outs[k]),
    ),
  )
  return { hoisted, loop, invariantVars, varyingVars }
}

/**
 * The programs that compute the hoisted values the loop reads, from the scan body (inputs: `nC` consts, `nK`
 * carries, xs): once from the consts, and per step from the consts and the step's xs; null where there are none.
 */
export function hoistedPrograms(
  body: Program,
  nC: number,
  nK: number,
  { invariantVars, varyingVars }: Hoisting,
): { invariant: Program | null; varying: Program | null } {
  const consts = body.inputs.slice(0, nC)
  const xs = body.inputs.slice(nC + nK)
  return {
    invariant:
      invariantVars.length === 0 ? null : deadCodeElimination(new Program(consts, [], [], body.eqns, invariantVars)),
    varying:
      varyingVars.length === 0
        ? null
        : deadCodeElimination(new Program([...consts, ...xs], [], [], body.eqns, varyingVars)),
  }
}

/** The hoisted values, computed before the loop: the invariant ones once, the varying ones for all T steps. */
export function hoistedValues(
  invariant: Program | null,
  varying: Program | null,
  consts: readonly Tensor[],
  xs: readonly Tensor[],
  T: number,
): { invariants: Tensor[]; varyings: Tensor[] } {
  return {
    invariants: invariant === null ? [] : evalProgram(invariant, consts),
    varyings: varying === null ? [] : hoistIdentities.atEveryStep(varying, consts, xs, T),
  }
}

/**
 * The body with sums regrouped so that the terms no carry feeds are added
 * first: (a + b) + c with a and c carry-independent and b not becomes
 * (a + c) + b, so that a + c (x·W + bias) can leave the loop. The outputs
 * are the same variables.
 */
export function reassociate(body: Program, carries: readonly Var[]): Program {
  let eqns = [...body.eqns]
  for (let changed = true; changed; ) {
    changed = false
    const dependent = flowsFrom(eqns, carries)
    const free = (a: Atom) => !(a instanceof Var && dependent.has(a))
    const uses = readsOf(eqns, body.outputs)
    for (const [at, e] of eqns.entries()) {
      if (e.prim !== 'add' || free(e.outputs[0])) continue
      const inner = e.inputs.find(
        (y) => !free(y) && uses.get(y) === 1 && eqns.some((f) => f.prim === 'add' && f.outputs[0] === y),
      )
      const c = e.inputs.find((x) => x !== inner && free(x))
      if (inner === undefined || c === undefined) continue
      const f = eqns.find((q) => q.outputs[0] === inner) as Eqn
      const a = f.inputs.find(free)
      const b = f.inputs.find((x) => !free(x))
      if (a === undefined || b === undefined) continue
      const t = new Var(a.aval)
      const grouped: Eqn = { prim: 'add', inputs: [a, c], params: {}, outputs: [t] }
      const rest: Eqn = { prim: 'add', inputs: [t, b], params: {}, outputs: e.outputs }
      eqns = [...eqns.slice(0, at).filter((q) => q !== f), grouped, rest, ...eqns.slice(at + 1)]
      changed = true
      break
    }
  }
  return eqns.length === body.eqns.length && eqns.every((e, i) => e === body.eqns[i])
    ? body
    : new Program(body.inputs, [], [], eqns, body.outputs)
}
