/**
 * What several passes share: restaging a Program with some equations
 * replaced, the maps and walks over its equations (producers, dataflow), and
 * the values of a stacked [T, ...] value's leading axis (its steps), run at
 * every step at once.
 *
 * Preserves: `restage` binds every equation it does not replace as it is,
 * so a Program restaged with nothing replaced computes every output's value
 * exactly (dead code removed). `everyStep` computes, exactly, what the
 * Program computes at each step: the same primitives on the same values,
 * batched over the steps by vmap.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { stage } from '../core/staging.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { vmapFlat } from '../batch/vmap.ts'
import { Literal, Var, type Atom, type Eqn, type Program } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'

export type ScanParams = Params<'scan'>

/**
 * `program` staged again, each equation bound as it is unless `replace` computes its outputs (from its arguments;
 * `read` gives any variable computed before it); dead code removed.
 */
export function restage(
  name: string,
  program: Program,
  replace: (eqn: Eqn, args: Tensor[], read: (a: Atom) => Tensor) => Tensor[] | null,
): Program {
  const { program: out } = stage(
    name,
    program.inputs.map((v) => v.aval),
    (inputs) => {
      const env = new Map<Var, Tensor>()
      program.constVars.forEach((v, i) => env.set(v, program.constValues[i]))
      program.inputs.forEach((v, i) => env.set(v, inputs[i]))
      const read = (a: Atom) => (a instanceof Literal ? a.value : (env.get(a) as Tensor))
      for (const eqn of program.eqns) {
        const args = eqn.inputs.map(read)
        const outs = replace(eqn, args, read) ?? bind(eqn.prim, args, eqn.params)
        eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
      }
      return { outputs: program.outputs.map(read), result: null }
    },
  )
  return deadCodeElimination(out)
}

/** The equation that computes each variable of `program`. */
export function producersOf(program: Program): Map<Var, Eqn> {
  const producer = new Map<Var, Eqn>()
  for (const e of program.eqns) for (const v of e.outputs) producer.set(v, e)
  return producer
}

/** The variables that depend on `from` through `eqns` (those included). */
export function flowsFrom(eqns: readonly Eqn[], from: readonly Var[]): Set<Var> {
  const dep = new Set<Var>(from)
  for (const e of eqns) if (e.inputs.some((a) => a instanceof Var && dep.has(a))) for (const v of e.outputs) dep.add(v)
  return dep
}

export const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)]

/** How many times `eqns` and `outputs` read each atom (an equation reading one twice counts twice). */
export function readsOf(eqns: readonly Eqn[], outputs: readonly Atom[]): Map<Atom, number> {
  const reads = new Map<Atom, number>()
  for (const a of [...eqns.flatMap((e) => e.inputs), ...outputs]) reads.set(a, (reads.get(a) ?? 0) + 1)
  return reads
}

/** Steps from … to − 1 of a stacked [T, ...] value. */
export const steps = (x: Tensor, from: number, to: number): Tensor =>
  lax.slice(
    x,
    x.aval.shape.map((_, i) => (i === 0 ? from : 0)),
    x.aval.shape.map((d, i) => (i === 0 ? to : d)),
  )

/**
 * Runs `program` at every step t: the `stepped` arguments [T, ...] are sliced along their leading axis, the others
 * are the same at every step. Its outputs stacked over the steps, [T, ...].
 */
export function everyStep(
  program: Program,
  args: readonly Tensor[],
  stepped: readonly boolean[],
  length: number,
): Tensor[] {
  if (!stepped.some(Boolean)) return evalProgram(program, args).map((y) => lax.broadcast(y, [length, ...y.aval.shape]))
  const axes = stepped.map((s) => (s ? 0 : null))
  return vmapFlat((xs) => evalProgram(program, xs), axes, 0, args)
}
