/**
 * Common-subexpression elimination.
 *
 * Preserves: every output's value, exactly (all primitives are pure, so two
 * equations with the same primitive, parameters and inputs compute the same
 * values; captured constants are merged only where equal element by element).
 */
import { type Atom, type Eqn, Program, Var } from '../ir/program.ts'
import { ConcreteTensor, formatAval } from '../tensor.ts'

// A Program in the parameters is compared by identity: two bodies that print alike may wire their variables
// differently.
const programIds = new WeakMap<Program, number>()
let programCount = 0
const paramsKey = (params: unknown): string =>
  JSON.stringify(params, (_k, v) => {
    if (!(v instanceof Program)) return v
    let id = programIds.get(v)
    if (id === undefined) programIds.set(v, (id = ++programCount))
    return `program#${id}`
  })

/** The identity the merging rests on, as a table so that the law suite can plant a wrong one. */
export const cseIdentities = {
  /** Equations with one key compute the same values: the primitive, its parameters and its inputs' keys. */
  key(prim: string, params: unknown, inputs: readonly string[]): string {
    return `${prim}|${paramsKey(params)}|${inputs.join(',')}`
  },
}

/**
 * Merges equations that apply the same primitive with the same parameters to
 * the same inputs (all primitives are pure), so that a value computed twice
 * by the traced code (a loss evaluated beside its gradient, say) is computed
 * once.
 */
export function commonSubexpressions(program: Program): Program {
  const replace = new Map<Var, Var>()
  const ids = new Map<Var, number>()
  const id = (v: Var) => {
    let n = ids.get(v)
    if (n === undefined) ids.set(v, (n = ids.size))
    return n
  }
  // Small captured constants (the zeros and ones that rules create) are compared by value.
  const constKey = new Map<Var, string>()
  program.constVars.forEach((v, i) => {
    const x = program.constValues[i]
    if (x.size <= 64 && x instanceof ConcreteTensor)
      constKey.set(v, `c${formatAval(x.aval)}:${Array.from(x.values).join(',')}`)
  })
  const atom = (a: Atom): Atom => (a instanceof Var ? (replace.get(a) ?? a) : a)
  const key = (a: Atom) => {
    if (a instanceof Var) return constKey.get(a) ?? `v${id(a)}`
    const x = a.value.toConcrete()
    return `l${x.aval.dtype}:${x.values[0]}`
  }
  const seen = new Map<string, Eqn>()
  const eqns: Eqn[] = []
  for (const e of program.eqns) {
    const inputs = e.inputs.map(atom)
    const k = cseIdentities.key(e.prim, e.params, inputs.map(key))
    const same = seen.get(k)
    if (same !== undefined) {
      e.outputs.forEach((v, i) => replace.set(v, same.outputs[i]))
      continue
    }
    const kept = { ...e, inputs }
    seen.set(k, kept)
    eqns.push(kept)
  }
  return new Program(program.inputs, program.constVars, program.constValues, eqns, program.outputs.map(atom))
}
