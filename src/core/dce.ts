/**
 * Dead-code elimination, the cleanup that staging and the loop rules apply
 * to every Program they build. It needs the rules (a scan is pruned inside
 * by its own `dce` rule), so it lives with the core rather than the IR.
 */
import { type Eqn, Program, Var } from '../ir/program.ts'
import type { Params, Primitive } from './primitive.ts'
import { ruleOf } from './registry.ts'

/**
 * Drops equations whose outputs are not used (all primitives are pure). An
 * equation that holds a Program is pruned inside by its primitive's `dce`
 * rule, given which of its outputs are used.
 */
export function deadCodeElimination(program: Program): Program {
  const live = new Set<Var>(program.outputs.filter((a): a is Var => a instanceof Var))
  const kept: Eqn[] = []
  for (let i = program.eqns.length - 1; i >= 0; i--) {
    let eqn = program.eqns[i]
    const used = eqn.outputs.map((v) => live.has(v))
    if (!used.some(Boolean)) continue
    const prune = ruleOf(eqn.prim).dce as
      | ((
          params: unknown,
          used: readonly boolean[],
        ) => { params: unknown; keepInputs: boolean[]; keepOutputs: boolean[] } | null)
      | undefined
    const smaller = prune?.(eqn.params, used)
    if (smaller) {
      eqn = {
        prim: eqn.prim,
        params: smaller.params as Params<Primitive>,
        inputs: eqn.inputs.filter((_, k) => smaller.keepInputs[k]),
        outputs: eqn.outputs.filter((_, k) => smaller.keepOutputs[k]),
      }
    }
    kept.push(eqn)
    for (const a of eqn.inputs) if (a instanceof Var) live.add(a)
  }
  kept.reverse()
  const keep = program.constVars.map((v) => live.has(v))
  return new Program(
    program.inputs,
    program.constVars.filter((_, i) => keep[i]),
    program.constValues.filter((_, i) => keep[i]),
    kept,
    program.outputs,
  )
}
