/**
 * What a call dispatches, and buffer planning.
 *
 * The schedule unrolls into dispatches: a loop's body once per step (a loop
 * in the body once per step of each), with its views bound to the stacked
 * buffers they slice, where the slice starts through the steps of every
 * enclosing loop, and its carries to the buffers of that step
 * (loop.carries). Intermediates share memory: a
 * temporary lives from the first dispatch that writes it to the last that
 * reads or writes it (inside a loop a temporary is written at every step); a
 * later temporary takes over the smallest free slot that fits (never one
 * still read by the dispatch that writes it, since a dispatch may not read
 * and write one buffer).
 */
import type { GateKind } from './gates.ts'
import { type LoweredProgram, outputsOf, type ScheduleItem } from './kernel.ts'
import type { Starts } from './wgsl/render.ts'

export interface Dispatch {
  readonly kernel: number
  /** The kernel's inputs and output, views and carries replaced by the buffers they are bound to. */
  readonly inputs: readonly number[]
  readonly output: number
  /** The kernel's second output, resolved likewise. */
  readonly also?: number
  /** The kernel's further outputs (a matmul's stores, with their second outputs), resolved likewise. */
  readonly more?: readonly number[]
  /**
   * Inside a loop, or where it binds a view: where each of the kernel's [...inputs, ...outputsOf(kernel)] starts
   * in the buffer it is bound to, in elements (a view's slice at this step, through the steps of the loops around
   * it; a concatenation's block in place, at its place in the whole).
   */
  readonly offsets?: readonly number[]
  /**
   * A gate (kernel −1, gates.ts): it reads inputs[0] (a cond's index, a whileLoop step's predicate) if any and
   * writes the workgroup counts of the dispatches it guards.
   */
  readonly gate?: GateKind
  /** A guarded dispatch: run indirectly, with the counts its gate (a dispatch index) wrote for `branch`. */
  readonly guard?: { readonly gate: number; readonly branch: number }
}

export function dispatchesOf(lowered: LoweredProgram): Dispatch[] {
  const out: Dispatch[] = []
  // `bound`: the carries' buffers at this step; `steps`: each enclosing loop's step index t.
  const run = (
    items: readonly ScheduleItem[],
    bound: ReadonlyMap<number, number>,
    steps: ReadonlyMap<number, number>,
  ) => {
    // `viewed`: through a view (its start is the dispatch's, not 0).
    const resolve = (id: number): { buffer: number; offset: number; viewed: boolean } => {
      let offset = 0
      let viewed = false
      for (;;) {
        const b = lowered.buffers[id]
        const carried = bound.get(id)
        if (carried !== undefined) id = carried
        else if (b.role === 'alias') id = b.of as number
        else if (b.role === 'view') {
          // A view outside loops (a block of a concatenation in place) is its one slice.
          const step = b.loop === undefined ? 0 : (steps.get(b.loop) as number)
          offset += (b.offset ?? 0) + step * b.size
          id = b.of as number
          viewed = true
        } else return { buffer: id, offset, viewed }
      }
    }
    for (const item of items) {
      if ('kernel' in item) {
        const k = lowered.kernels[item.kernel]
        const inputs = k.inputs.map(resolve)
        const written = outputsOf(k).map(resolve)
        const [output, also] = [written[0], k.also === undefined ? undefined : written[1]]
        const more = written.slice(k.also === undefined ? 1 : 2)
        const placed = steps.size > 0 || [...inputs, ...written].some((r) => r.viewed)
        out.push({
          kernel: item.kernel,
          inputs: inputs.map((r) => r.buffer),
          output: output.buffer,
          also: also?.buffer,
          ...(more.length === 0 ? {} : { more: more.map((r) => r.buffer) }),
          offsets: placed ? [...inputs, ...written].map((r) => r.offset) : undefined,
        })
        continue
      }
      if ('while' in item) {
        const w = lowered.whiles[item.while]
        if (steps.size > 0) throw new Error('lowering: a whileLoop inside a loop must be expanded before lowering')
        const mark = (from: number, gate: number) => {
          for (let k = from; k < out.length; k++) out[k] = { ...out[k], guard: { gate, branch: 1 } }
        }
        // The opening gate starts the loop and lets the first predicate run; each step's gate, after its
        // predicate, lets the body and the next predicate run while the loop runs.
        let gate = out.push({ kernel: -1, gate: { kind: 'open', loop: item.while }, inputs: [], output: -1 }) - 1
        for (let s = 0; s < w.length; s++) {
          const predicate = out.length
          run(w.predicate, bound, steps)
          mark(predicate, gate)
          const step = out.push({
            kernel: -1,
            gate: { kind: 'step', loop: item.while },
            inputs: [resolve(w.pred).buffer],
            output: -1,
          })
          gate = step - 1
          const body = out.length
          run(w.body, bound, steps)
          mark(body, gate)
        }
        continue
      }
      if ('cond' in item) {
        const c = lowered.conds[item.cond]
        if (steps.size > 0) throw new Error('lowering: a cond inside a loop must be expanded before lowering')
        const gate = out.length
        const gateKind = { kind: 'cond' as const, cond: item.cond, branches: c.branches.length }
        out.push({ kernel: -1, gate: gateKind, inputs: [resolve(c.index).buffer], output: -1 })
        c.branches.forEach((branch, b) => {
          const from = out.length
          run(branch, bound, steps)
          for (let k = from; k < out.length; k++) out[k] = { ...out[k], guard: { gate, branch: b } }
        })
        continue
      }
      const loop = lowered.loops[item.loop]
      for (let s = 0; s < loop.length; s++) {
        const binding = new Map(bound)
        for (const c of loop.carries) {
          const written = (at: number) => ((loop.length - 1 - at) % 2 === 0 ? c.result : c.spare)
          // The init may be a carry of an enclosing loop: `resolve` follows `bound` to its buffer at this step.
          if (c.inPlace !== undefined) {
            // In the ys (gpu/lower/loops.ts): written as this step's slice, read from the step before's.
            binding.set(c.read, s === 0 ? c.init : c.inPlace.before)
            binding.set(c.write, c.inPlace.y)
            continue
          }
          binding.set(c.read, s === 0 ? c.init : written(s - 1))
          binding.set(c.write, written(s))
        }
        run(loop.body, binding, new Map(steps).set(item.loop, loop.reverse ? loop.length - 1 - s : s))
      }
    }
  }
  run(lowered.schedule, new Map(), new Map())
  return out
}

/** The buffers a dispatch writes, in the order its kernel binds them after its inputs. */
export const writtenBy = (d: Dispatch): number[] => [
  d.output,
  ...(d.also === undefined ? [] : [d.also]),
  ...(d.more ?? []),
]

export interface BufferPlan {
  /** Logical temp buffer id → slot. */
  readonly slotOf: ReadonlyMap<number, number>
  /** Bytes of each slot. */
  readonly slotBytes: readonly number[]
  /** Bytes the temporaries would need without sharing, for comparison. */
  readonly unsharedBytes: number
}

export function planBuffers(
  lowered: LoweredProgram,
  dispatches: readonly Dispatch[] = dispatchesOf(lowered),
): BufferPlan {
  const lastUse = new Map<number, number>()
  const written = (d: Dispatch) => (d.output < 0 ? [] : writtenBy(d))
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

/**
 * Where each kernel's buffers start, from its dispatches: at one element at all of them (a carry, which is bound
 * to whole buffers in a loop that no loop encloses, at 0), or where each dispatch says (a view's slice of its
 * step), aligned if at a multiple of 4 at every one.
 */
export function startsFrom(dispatches: readonly Dispatch[], kernels: number): Starts[] {
  const seen: Set<number>[][] = Array.from({ length: kernels }, () => [])
  for (const d of dispatches) d.offsets?.forEach((at, p) => (seen[d.kernel][p] ??= new Set()).add(at))
  return seen.map((positions) => (p) => {
    const at = positions[p]
    if (at === undefined) return { fixed: 0 }
    return at.size === 1 ? { fixed: [...at][0] } : { aligned: [...at].every((x) => x % 4 === 0) }
  })
}
