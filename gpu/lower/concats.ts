/**
 * Concatenations in place: where a concatenation's blocks are contiguous in
 * its output (every axis before the concatenated one has size 1) and each
 * block is a value with a buffer of its own, each block's buffer becomes a
 * view of its place in the output, so the kernels that compute the blocks
 * write the output between them and no kernel copies it. A BPTT step's gate
 * gradients are the reverse loop's stacked ys followed by the peeled last
 * step's: [T − 1, B, 4H] and [1, B, 4H], one [T, B, 4H] buffer in place.
 *
 * Only at the top level, and only where nothing else binds the blocks in a
 * way a view would change: a block is a temporary, not a cond's index, a
 * whileLoop's predicate or what a cond's outputs alias; and no kernel reads
 * one of the blocks (or the output) while it writes another, which one
 * buffer would then bind twice (a loop's carry counts as each buffer it is
 * bound to: its init, result and spare).
 */
import type { Eqn } from '../../src/ir/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import { type Kernel, outputsOf } from '../kernel.ts'
import { addRecord, isKernel, type Scope, writerOf } from './state.ts'

/** Places each of `eqns` (concatenations among the scope's roots) in place where it can; the rest stay copies. */
export function placeConcats(scope: Scope, eqns: readonly Eqn<'concat'>[]): void {
  const { state, bufferOf, kernels, inlineVars } = scope
  const { stored } = scope.analysis
  const { buffers } = state
  // Buffers that something other than a kernel's bindings reads or writes at a fixed place.
  const pinned = new Set<number>([
    ...state.conds.map((c) => c.index),
    ...state.whiles.map((w) => w.pred),
    ...buffers.filter((b) => b.role === 'alias').map((b) => b.of as number),
  ])
  const rootOf = (id: number): number => {
    while (buffers[id].role === 'view' || buffers[id].role === 'alias') id = buffers[id].of as number
    return id
  }
  for (const e of eqns) {
    const [v] = e.outputs
    if (sizeOf(v.aval.shape.slice(0, e.params.axis)) !== 1) continue
    const out = bufferOf.get(v)
    const at = kernels.findIndex((k) => k.kind === 'map' && k.output === out && k.also === undefined)
    if (out === undefined || at < 0 || (buffers[out].role !== 'temp' && buffers[out].role !== 'output')) continue
    // A block may be a reshape of a value with a buffer (the peeled step's [B, 4H] as [1, B, 4H]).
    const parts = e.inputs.map((a) => {
      const source = stored(a)
      return source === null ? undefined : bufferOf.get(source)
    })
    const placeable = (p: number | undefined): p is number =>
      p !== undefined && p !== out && buffers[p].role === 'temp' && !pinned.has(p)
    if (!parts.every(placeable) || new Set(parts).size !== parts.length) continue
    const group = new Set([out, ...parts])
    // A block that is a loop's initial carry is stored a second time by its kernel, as the carry's init: the
    // loop's first step would read it from the output it writes its ys into.
    const inits = new Set(
      state.loops.flatMap((l) => l.carries.map((c) => c.init)).filter((id) => group.has(id) && id !== out),
    )
    if ([...inits].some((id) => writerOf(kernels, id) < 0)) continue
    // What a buffer id may be bound to at some dispatch: a loop body's carry, to its init, result or spare.
    const bound = new Map<number, number[]>()
    for (const c of state.loops.flatMap((l) => l.carries)) {
      bound.set(c.read, [...(inits.has(c.init) ? [] : [c.init]), c.result, c.spare])
      bound.set(c.write, [c.result, c.spare])
    }
    const touches = (ids: readonly number[]) =>
      ids.some((id) => (bound.get(id) ?? [id]).some((b) => group.has(rootOf(b))))
    const copier = kernels[at]
    const clash = [...state.kernels, ...kernels].some(
      (k) => isKernel(k) && k !== copier && touches(k.inputs) && touches(outputsOf(k)),
    )
    if (clash) continue
    for (const init of inits) {
      const w = writerOf(kernels, init)
      const copy = addRecord(state, { size: buffers[init].size, type: buffers[init].type, role: 'temp' })
      kernels[w] = { ...(kernels[w] as Kernel), also: copy }
      state.loops.forEach((l, i) => {
        if (l.carries.some((c) => c.init === init))
          state.loops[i] = { ...l, carries: l.carries.map((c) => (c.init === init ? { ...c, init: copy } : c)) }
      })
    }
    let offset = 0
    for (const p of parts) {
      buffers[p] = { ...buffers[p], role: 'view', of: out, offset }
      offset += buffers[p].size
    }
    if (offset !== buffers[out].size)
      throw new Error(`placeConcats: blocks of ${offset} elements fill an output of ${buffers[out].size}`)
    kernels.splice(at, 1)
    inlineVars.splice(at, 1)
  }
}
