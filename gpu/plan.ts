/**
 * Buffer planning: intermediates share memory. A temporary lives from the
 * kernel that writes it to the last kernel that reads it; a later temporary
 * takes over the smallest free slot that fits (never one still read by the
 * kernel that writes it, since a dispatch may not read and write one buffer).
 */
import type { LoweredProgram } from './kernel.ts'

export interface BufferPlan {
  /** Logical temp buffer id → slot. */
  readonly slotOf: ReadonlyMap<number, number>
  /** Bytes of each slot. */
  readonly slotBytes: readonly number[]
  /** Bytes the temporaries would need without sharing, for comparison. */
  readonly unsharedBytes: number
}

export function planBuffers(lowered: LoweredProgram): BufferPlan {
  const lastUse = new Map<number, number>()
  lowered.kernels.forEach((k, i) => k.inputs.forEach((id) => lastUse.set(id, i)))
  const slotOf = new Map<number, number>()
  const slotBytes: number[] = []
  const freeAfter: number[] = [] // kernel index after which a slot is free
  let unsharedBytes = 0
  lowered.kernels.forEach((k, i) => {
    const buffer = lowered.buffers[k.output]
    if (buffer.role !== 'temp') return
    const bytes = Math.max(16, buffer.size * 4)
    unsharedBytes += bytes
    let best = -1
    slotBytes.forEach((size, s) => {
      if (freeAfter[s] < i && size >= bytes && (best < 0 || size < slotBytes[best])) best = s
    })
    if (best < 0) {
      best = slotBytes.push(bytes) - 1
      freeAfter.push(0)
    }
    slotOf.set(k.output, best)
    freeAfter[best] = lastUse.get(k.output) ?? i
  })
  return { slotOf, slotBytes, unsharedBytes }
}
