/**
 * One Program (the top level, or a loop body) into the shared tables, stage
 * by stage: buffers for its inputs and captured constants, a kernel for each
 * root and a loop for each scan in equation order, buffers for its outputs,
 * epilogue and store fusion, concatenations in place (the top level only),
 * and the schedule. A kernel that binds more buffers than
 * the adapter allows is noted, for the next attempt to split.
 */
import type { Eqn, Program, Var } from '../../src/ir/index.ts'
import { formatAval } from '../../src/tensor.ts'
import { bindingCount, type ScheduleItem } from '../kernel.ts'
import { analyse } from './analyse.ts'
import { fuseEpilogues } from './epilogues.ts'
import { fuseStores } from './stores.ts'
import { placeConcats } from './concats.ts'
import { emitKernel } from './inline.ts'
import { emitCond, emitWhile } from './branches.ts'
import { emitLoop } from './loops.ts'
import { bindOutputs } from './outputs.ts'
import { loweringOf } from './rules.ts'
import { addBuffer, type BodyBinding, type Lowered, type Lowering, type Scope } from './state.ts'

/** Lowers one Program (the top level, or a loop body under `binding`); its schedule and output buffers. */
export function lowerProgram(state: Lowering, program: Program, binding: BodyBinding | null): Lowered {
  let analysis = state.analyses.get(program)
  if (analysis === undefined) state.analyses.set(program, (analysis = analyse(program)))
  const scope: Scope = {
    state,
    program,
    analysis,
    bufferOf: new Map<Var, number>(),
    kernels: [],
    inlineVars: [],
    lowerBody: (body, bodyBinding) => lowerProgram(state, body, bodyBinding),
  }
  const { options } = state
  if (binding === null) program.inputs.forEach((v, i) => addBuffer(scope, v, 'input', `input ${i}`, i))
  else program.inputs.forEach((v, i) => scope.bufferOf.set(v, binding.inputs[i]))
  program.constVars.forEach((v, i) => addBuffer(scope, v, 'const', `captured constant ${i} (${formatAval(v.aval)})`, i))

  const concats: Eqn<'concat'>[] = []
  for (const e of program.eqns) {
    const v = e.outputs[0]
    const kind = loweringOf(e).kind
    if (kind === 'loop') emitLoop(scope, e as Eqn<'scan'>)
    else if (kind === 'branch' && e.prim === 'whileLoop') emitWhile(scope, e as Eqn<'whileLoop'>)
    else if (kind === 'branch') emitCond(scope, e as Eqn<'cond'>)
    else if (analysis.roots.has(v)) {
      emitKernel(scope, v, { role: 'temp' })
      if (e.prim === 'concat') concats.push(e as Eqn<'concat'>)
    }
  }
  const outputs = bindOutputs(scope, binding)
  const { kernels, inlineVars } = scope
  fuseEpilogues(state.b, kernels, inlineVars, state.buffers, options.maxBuffers)
  fuseStores(state.b, kernels, inlineVars, state.buffers, options.maxBuffers)
  if (binding === null) placeConcats(scope, concats)
  const schedule = kernels.map((k, i): ScheduleItem => {
    if (k.kind === 'loop') return { loop: k.loop }
    if (k.kind === 'cond') return { cond: k.cond }
    if (k.kind === 'while') return { while: k.loop }
    if (bindingCount(k, state.buffers) > options.maxBuffers && state.over === null)
      state.over = { analysis, kernel: k, candidate: inlineVars[i] }
    return { kernel: state.kernels.push(k) - 1 }
  })
  return { schedule, outputs }
}
