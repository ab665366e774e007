/**
 * Loops: a scan on the device. Its body is lowered once, into kernels that
 * run at every step inside the call's one submission, so a step costs its
 * dispatches and no copies: the xs are read and the ys written through views
 * of the stacked buffers (one step's slice each), and each carry alternates
 * between its result buffer and a spare. A carry that the body also returns
 * as a y lives in the ys instead, where the kernel that computes it does not
 * read its value at the step before: the kernel writes the y alone (one
 * output, not two), the next step reads the carry from the ys' slice before
 * its own, and the loop's result is the last slice.
 */
import { UnsupportedProgramError } from '../../src/core/index.ts'
import type { Eqn } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import { holdsInPlace, type Kernel, type Loop, type ScheduleItem } from '../kernel.ts'
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
    output: (i) => {
      if (i < nK) return { role: 'carry' }
      const k = sameAs(i)
      return {
        role: 'view',
        of: results[i],
        loop,
        sameAs: k,
        inPlaceOf: k === undefined ? undefined : bodyInputs[nC + k],
      }
    },
  })
  const carries = results.slice(0, nK).map((result, k) => {
    const carry = {
      read: bodyInputs[nC + k],
      write: inner.outputs[k],
      init: operands[nC + k],
      result,
      spare: addRecord(state, { size: buffers[result].size, type: buffers[result].type, role: 'temp' }),
    }
    const y = inner.outputs.findIndex((id, i) => i >= nK && sameAs(i) === k && buffers[id].inPlaceOf === carry.read)
    return y < 0 ? carry : { ...carry, ...inPlace(scope, inner.schedule, carry.write, inner.outputs[y], result, eqn) }
  })
  state.loops[loop] = { length, reverse, body: inner.schedule, carries }
  kernels.push({ kind: 'loop', loop, inputs: operands, output: -1 })
  inlineVars.push(undefined)
}

/**
 * The carry written as `write` held in place by its y view `y`, if the kernel of the body that stores both holds it
 * (holdsInPlace): that kernel, or its store, then writes `y` alone; the carry is read, after the first step, from a
 * view of the ys at the step before; and the loop's result for it becomes a view of the ys' last slice.
 */
function inPlace(
  scope: Scope,
  schedule: readonly ScheduleItem[],
  write: number,
  y: number,
  result: number,
  eqn: Eqn<'scan'>,
): { inPlace: { y: number; before: number } } | undefined {
  const { state } = scope
  const { buffers } = state
  for (const item of schedule) {
    if (!('kernel' in item)) continue
    const k = state.kernels[item.kernel]
    let held: Kernel | undefined
    if (k.output === write && k.also === y && holdsInPlace(k, y, buffers)) held = { ...k, output: y, also: undefined }
    const at = k.kind === 'matmul' ? (k.stores ?? []).findIndex((s) => s.output === write && s.also === y) : -1
    if (k.kind === 'matmul' && at >= 0 && holdsInPlace(k, y, buffers)) {
      const stores = (k.stores ?? []).map((s, i) => (i === at ? { output: y, spread: s.spread, values: s.values } : s))
      held = { ...k, stores }
    }
    if (held === undefined) continue
    state.kernels[item.kernel] = held
    const { size, type, of, offset = 0, loop } = buffers[y]
    const { length, reverse } = eqn.params
    // The step before is the slice after, in a loop that runs backwards; so is the last step's.
    const before = addRecord(state, { size, type, role: 'view', of, offset: offset + (reverse ? size : -size), loop })
    const last = offset + (reverse ? 0 : (length - 1) * size)
    buffers[result] = { ...buffers[result], role: 'view', of, offset: last, loop: undefined }
    return { inPlace: { y, before } }
  }
  return undefined
}
