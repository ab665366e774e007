/**
 * A cond on the device: its branches are lowered into the shared tables,
 * each writing the cond's outputs through aliases, and the cond enters the
 * schedule as one item; the executable dispatches a gate kernel and then the
 * branches' kernels indirectly, so that only the branch the index names
 * runs (Branches in kernel.ts).
 */
import type { Eqn } from '../../src/ir/index.ts'
import { copyOf } from './inline.ts'
import { addBuffer, type Scope } from './state.ts'

/** Appends a cond to the scope: its branches' kernels go into the shared tables, the cond into the schedule. */
export function emitCond(scope: Scope, eqn: Eqn<'cond'>): void {
  const { state, analysis, bufferOf, kernels, inlineVars } = scope
  const { stored } = analysis
  const buffer = (i: number) => {
    const a = eqn.inputs[i]
    const source = stored(a)
    return source !== null ? (bufferOf.get(source) as number) : copyOf(scope, a, { role: 'temp' })
  }
  const index = buffer(0)
  const operands = eqn.inputs.slice(1).map((_, i) => buffer(i + 1))
  const results = eqn.outputs.map((v, i) => addBuffer(scope, v, 'temp', `cond output ${i}`))
  const cond = state.conds.push(null as never) - 1
  const branches = eqn.params.branches.map(
    (branch) =>
      scope.lowerBody(branch, { inputs: operands, output: (i) => ({ role: 'alias', of: results[i] }) }).schedule,
  )
  state.conds[cond] = { index, branches }
  kernels.push({ kind: 'cond', cond, inputs: [index, ...operands], output: -1 })
  inlineVars.push(undefined)
}
