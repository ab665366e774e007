/**
 * Outputs: every output of a Program gets a buffer of its own, so that a
 * call hands each result back as a tensor of its own. A root computed by a
 * kernel is relabelled; an input, constant or literal is copied. A loop
 * body's outputs are its carries and views of its ys, and a y that is also a
 * carry is stored twice by the kernel that computes it (no step copies it;
 * gpu/lower/loops.ts may then keep the carry in the ys, stored once).
 */
import { type Atom, Var } from '../../src/ir/index.ts'
import { formatAval, sizeOf } from '../../src/tensor.ts'
import type { Kernel } from '../kernel.ts'
import { copyOf } from './inline.ts'
import { addRecord, type BodyBinding, type Scope, scalarType, writerOf } from './state.ts'

/** The buffers that hold the scope's Program's outputs, in order (a loop body's bound as `binding` says). */
export function bindOutputs(scope: Scope, binding: BodyBinding | null): number[] {
  const { state, program, analysis, bufferOf, kernels } = scope
  const { roots, producer } = analysis
  const { buffers } = state
  const outputs: number[] = []
  const outputBuffer = (a: Atom, i: number): number => {
    const { sameAs, ...record } = binding === null ? { role: 'output' as const, index: i } : binding.output(i)
    // The kernel that writes the earlier output stores this one too (where it has no second output yet).
    const writer = sameAs === undefined ? -1 : writerOf(kernels, outputs[sameAs])
    if (writer >= 0) {
      const also = addRecord(state, {
        size: sizeOf(a.aval.shape),
        type: scalarType(a.aval.dtype, formatAval(a.aval)),
        ...record,
      })
      kernels[writer] = { ...(kernels[writer] as Kernel), also }
      return also
    }
    if (a instanceof Var && roots.has(a) && producer.has(a)) {
      const id = bufferOf.get(a) as number
      const prev = buffers[id]
      if (prev.role === 'temp') {
        buffers[id] = { ...prev, ...record }
        return id
      }
    }
    return copyOf(scope, a, record)
  }
  program.outputs.forEach((a, i) => outputs.push(outputBuffer(a, i)))
  return outputs
}
