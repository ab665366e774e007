/**
 * What a call dispatches, and buffer planning.
 *
 * The schedule unrolls into dispatches: a loop's body once per step, with
 * its views bound to the stacked buffers they slice and its carries to the
 * buffers of that step (loop.carries). Intermediates share memory: a
 * temporary lives from the first dispatch that writes it to the last that
 * reads or writes it (inside a loop a temporary is written at every step); a
 * later temporary takes over the smallest free slot that fits (never one
 * still read by the dispatch that writes it, since a dispatch may not read
 * and write one buffer).
 */
import { UnsupportedProgramError } from '../src/core/backend.ts'
import type { LoweredProgram, ScheduleItem } from './kernel.ts'

export interface Dispatch {
  readonly kernel: number
  /** The kernel's inputs and output, views and carries replaced by the buffers they are bound to. */
  readonly inputs: readonly number[]
  readonly output: number
  /** The kernel's second output, resolved likewise. */
  readonly also?: number
  /** Inside a loop: which loop, and the step (0 … length − 1, in the order they run). */
  readonly step?: { readonly loop: number; readonly index: number }
}

export function dispatchesOf(lowered: LoweredProgram): Dispatch[] {
  const out: Dispatch[] = []
  const run = (items: readonly ScheduleItem[], bound: ReadonlyMap<number, number>, step?: Dispatch['step']) => {
    const resolve = (id: number) => {
      const b = lowered.buffers[id]
      return b.role === 'view' ? (b.of as number) : (bound.get(id) ?? id)
    }
    for (const item of items) {
      if ('kernel' in item) {
        const k = lowered.kernels[item.kernel]
        out.push({ kernel: item.kernel, inputs: k.inputs.map(resolve), output: resolve(k.output), also: k.also === undefined ? undefined : resolve(k.also), step })
        continue
      }
      if (step !== undefined) throw new UnsupportedProgramError('lowering: WebGPU does not compile a scan inside a scan body yet')
      const loop = lowered.loops[item.loop]
      for (let s = 0; s < loop.length; s++) {
        const binding = new Map(bound)
        for (const c of loop.carries) {
          const written = (at: number) => ((loop.length - 1 - at) % 2 === 0 ? c.result : c.spare)
          binding.set(c.read, s === 0 ? resolve(c.init) : written(s - 1))
          binding.set(c.write, written(s))
        }
        run(loop.body, binding, { loop: item.loop, index: s })
      }
    }
  }
  run(lowered.schedule, new Map())
  return out
}

export interface BufferPlan {
  /** Logical temp buffer id → slot. */
  readonly slotOf: ReadonlyMap<number, number>
  /** Bytes of each slot. */
  readonly slotBytes: readonly number[]
  /** Bytes the temporaries would need without sharing, for comparison. */
  readonly unsharedBytes: number
}

export function planBuffers(lowered: LoweredProgram, dispatches: readonly Dispatch[] = dispatchesOf(lowered)): BufferPlan {
  const lastUse = new Map<number, number>()
  const written = (d: Dispatch) => (d.also === undefined ? [d.output] : [d.output, d.also])
  dispatches.forEach((d, i) => {
    for (const id of [...d.inputs, ...written(d)]) lastUse.set(id, i)
  })
  const slotOf = new Map<number, number>()
  const slotBytes: number[] = []
  const freeAfter: number[] = [] // dispatch index after which a slot is free
  let unsharedBytes = 0
  dispatches.forEach((d, i) => {
    for (const id of written(d)) {
      const buffer = lowered.buffers[id]
      if (buffer.role !== 'temp' || slotOf.has(id)) continue
      assign(id, buffer.size, i)
    }
  })
  function assign(id: number, size: number, i: number) {
    const bytes = Math.max(16, size * 4)
    unsharedBytes += bytes
    let best = -1
    slotBytes.forEach((size, s) => {
      if (freeAfter[s] < i && size >= bytes && (best < 0 || size < slotBytes[best])) best = s
    })
    if (best < 0) {
      best = slotBytes.push(bytes) - 1
      freeAfter.push(0)
    }
    slotOf.set(id, best)
    freeAfter[best] = lastUse.get(id) as number
  }
  return { slotOf, slotBytes, unsharedBytes }
}
