/**
 * Control flow on the device, chosen by gates (gpu/gates.ts):
 *
 * - a cond: its branches are lowered into the shared tables, each writing
 *   the cond's outputs through aliases; the executable dispatches a gate and
 *   then the branches' kernels indirectly, so that only the branch the index
 *   names runs (Branches in kernel.ts);
 * - a whileLoop with maxIterations: its carries live in its result buffers
 *   (a copy of the init first); its predicate and body are lowered once,
 *   the body's next carries copied over the carries, and the executable
 *   dispatches them step by step behind gates (WhileLoop in kernel.ts).
 */
import { UnsupportedProgramError } from '../../src/core/index.ts'
import type { Atom, Eqn } from '../../src/ir/index.ts'
import type { ScheduleItem } from '../kernel.ts'
import { copyOf } from './inline.ts'
import { addBuffer, type Scope } from './state.ts'

/** Appends a cond to the scope: its branches' kernels go into the shared tables, the cond into the schedule. */
export function emitCond(scope: Scope, eqn: Eqn<'cond'>): void {
  const { state, kernels, inlineVars } = scope
  const index = bufferFor(scope, eqn.inputs[0])
  const operands = eqn.inputs.slice(1).map((a) => bufferFor(scope, a))
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

/** The buffer holding `a`: its own, or a copy (a literal, or a value inlined rather than stored). */
function bufferFor(scope: Scope, a: Atom): number {
  const source = scope.analysis.stored(a)
  return source !== null ? (scope.bufferOf.get(source) as number) : copyOf(scope, a, { role: 'temp' })
}

/** Appends a bounded whileLoop to the scope: its predicate's and body's kernels go into the shared tables. */
export function emitWhile(scope: Scope, eqn: Eqn<'whileLoop'>): void {
  const { state, bufferOf, kernels, inlineVars } = scope
  const { condConsts: nC, bodyConsts: nB, maxIterations } = eqn.params
  if (maxIterations === null)
    throw new UnsupportedProgramError(
      "lowering: WebGPU compiles 'whileLoop' only with maxIterations, the bound of the steps one submission dispatches",
    )
  const consts = eqn.inputs.slice(0, nC + nB).map((a) => bufferFor(scope, a))
  // The carries are the results: a copy of the init, then each step's values.
  const carries = eqn.inputs.slice(nC + nB).map((a, k) => {
    const id = copyOf(scope, a, { role: 'temp' })
    bufferOf.set(eqn.outputs[k], id)
    return id
  })
  if (maxIterations === 0) return
  const temp = () => ({ role: 'temp' as const })
  const pred = scope.lowerBody(eqn.params.cond, { inputs: [...consts.slice(0, nC), ...carries], output: temp })
  const body = scope.lowerBody(eqn.params.body, { inputs: [...consts.slice(nC), ...carries], output: temp })
  const { b } = state
  const copies: ScheduleItem[] = body.outputs.map((next, k) => {
    const { size, type } = state.buffers[carries[k]]
    const value = b.load(0, b.idx('o0'), type)
    return { kernel: state.kernels.push({ kind: 'map', inputs: [next], output: carries[k], shape: [size], value }) - 1 }
  })
  const loop = state.whiles.push({
    length: maxIterations,
    pred: pred.outputs[0],
    predicate: pred.schedule,
    body: [...body.schedule, ...copies],
  })
  kernels.push({ kind: 'while', loop: loop - 1, inputs: [...consts, ...carries], output: -1 })
  inlineVars.push(undefined)
}
