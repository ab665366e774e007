/**
 * Loops: a scan on the device. Its body is lowered once, into kernels that
 * run at every step inside the call's one submission, so a step costs its
 * dispatches and no copies: the xs are read and the ys written through views
 * of the stacked buffers (one step's slice each), and each carry alternates
 * between its result buffer and a spare.
 */
import { UnsupportedProgramError } from '../../src/core/index.ts'
import type { Eqn } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import type { Loop } from '../kernel.ts'
import { copyOf } from './inline.ts'
import { addBuffer, addRecord, type Scope, scalarType } from './state.ts'

/** Appends a scan's loop to the scope: its body's kernels go into the shared tables, the loop into the schedule. */
export function emitLoop(scope: Scope, eqn: Eqn<'scan'>): void {
  const { state, analysis, bufferOf, kernels, inlineVars } = scope
  const { stored, leadingSlice } = analysis
  const { buffers } = state
  const { body, length, reverse, numConsts: nC, numCarry: nK } = eqn.params
  if (length === 0) throw new UnsupportedProgramError('lowering: WebGPU does not compile a scan of length 0')
  // Its index, taken now: the loops in its body come first in the table.
  const loop = state.loops.push(null as unknown as Loop) - 1
  // An xs that is a run of another value's leading axis: that value's buffer, from the run's first slice on. In a
  // loop body, a const or init that is one step's slice of an enclosing loop's value is copied (a carry or const
  // is bound as a whole buffer).
  const offsets = eqn.inputs.map(() => 0)
  const operands = eqn.inputs.map((a, i) => {
    const source = stored(a)
    if (source !== null && (i >= nC + nK || buffers[bufferOf.get(source) as number].role !== 'view'))
      return bufferOf.get(source) as number
    if (source !== null) return copyOf(scope, a, { role: 'temp' })
    const run = i >= nC + nK ? leadingSlice(a) : null
    const whole = run === null ? null : stored(run.source)
    if (run === null || whole === null) return copyOf(scope, a, { role: 'temp' })
    offsets[i] = run.from * sizeOf(a.aval.shape.slice(1))
    return bufferOf.get(whole) as number
  })
  const bodyInputs = body.inputs.map((v, i) => {
    const record = { size: sizeOf(v.aval.shape), type: scalarType(v.aval.dtype, `scan operand ${i}`) }
    if (i < nC) return operands[i]
    if (i < nC + nK) return addRecord(state, { ...record, role: 'carry' })
    return addRecord(state, { ...record, role: 'view', of: operands[i], offset: offsets[i], loop })
  })
  const results = eqn.outputs.map((v, i) => addBuffer(scope, v, 'temp', `scan output ${i}`))
  const sameAs = (i: number) => {
    const k = body.outputs.indexOf(body.outputs[i])
    return k < nK && k < i ? k : undefined
  }
  const inner = scope.lowerBody(body, {
    inputs: bodyInputs,
    output: (i) => (i < nK ? { role: 'carry' } : { role: 'view', of: results[i], loop, sameAs: sameAs(i) }),
  })
  const carries = results.slice(0, nK).map((result, k) => ({
    read: bodyInputs[nC + k],
    write: inner.outputs[k],
    init: operands[nC + k],
    result,
    spare: addRecord(state, { size: buffers[result].size, type: buffers[result].type, role: 'temp' }),
  }))
  state.loops[loop] = { length, reverse, body: inner.schedule, carries }
  kernels.push({ kind: 'loop', loop, inputs: operands, output: -1 })
  inlineVars.push(undefined)
}
