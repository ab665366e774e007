/**
 * Inlining of calls: an equation whose primitive is of kind `call` (a
 * function with a custom derivative rule, a checkpoint) is replaced by the
 * equations of the Program it calls, `fun`, with fresh variables, here and
 * inside every Program an equation holds. What the call added (a rule for
 * the transforms, a barrier against merging a recomputation) matters only
 * while transforming; a backend that compiles the Program runs its function.
 *
 * Preserves: every output's value, exactly (the call evaluates `fun`).
 */
import { primitiveKinds } from '../core/primitive.ts'
import { type Atom, type Eqn, Program, Var } from '../ir/program.ts'

const mapParams = (params: unknown, f: (p: Program) => Program): unknown => {
  let changed = false
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
    let w: unknown = v
    if (v instanceof Program) w = f(v)
    else if (Array.isArray(v) && v.length > 0 && v.every((x) => x instanceof Program)) w = v.map((x) => f(x as Program))
    changed ||= w !== v
    out[k] = w
  }
  return changed ? out : params
}

/**
 * `program`'s equations with its inputs bound to `inputs` and fresh output
 * variables (so that a Program inlined twice defines each variable once),
 * each handed to `emit`; the atoms of its outputs.
 */
export function inlineProgram(program: Program, inputs: readonly Atom[], emit: (eqn: Eqn) => void): Atom[] {
  const local = new Map<Var, Atom>()
  program.inputs.forEach((v, i) => local.set(v, inputs[i]))
  const read = (a: Atom): Atom => (a instanceof Var ? (local.get(a) ?? a) : a)
  for (const e of program.eqns) {
    const outputs = e.outputs.map((v) => {
      const fresh = new Var(v.aval)
      local.set(v, fresh)
      return fresh
    })
    emit({ ...e, inputs: e.inputs.map(read), outputs })
  }
  return program.outputs.map(read)
}

export function inlineCalls(program: Program): Program {
  const rename = new Map<Var, Atom>()
  const at = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a)
  const eqns: Eqn[] = []
  let changed = false
  const emit = (eqn: Eqn) => {
    const params = mapParams(eqn.params, inlineCalls)
    const inputs = eqn.inputs.map(at)
    changed ||= params !== eqn.params || inputs.some((a, i) => a !== eqn.inputs[i])
    eqns.push({ ...eqn, params: params as Eqn['params'], inputs })
  }
  const inline = (eqn: Eqn) => {
    const fun = (eqn.params as { fun: Program }).fun
    const outs = inlineProgram(fun, eqn.inputs.map(at), (step) =>
      primitiveKinds[step.prim] === 'call' ? inline(step) : emit(step),
    )
    eqn.outputs.forEach((v, i) => rename.set(v, at(outs[i])))
  }
  for (const eqn of program.eqns) {
    if (primitiveKinds[eqn.prim] === 'call') {
      changed = true
      inline(eqn)
    } else emit(eqn)
  }
  if (!changed) return program
  return new Program(program.inputs, program.constVars, program.constValues, eqns, program.outputs.map(at))
}
