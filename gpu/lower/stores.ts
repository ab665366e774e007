/**
 * Store fusion, after epilogue fusion: the elementwise kernels that follow a
 * matmul and read its product become further outputs of the matmul (its
 * stores, MatmulKernel.stores), computed by the invocation that computed
 * the product, where each reads the product only at columns that the same
 * invocation holds. An LSTM step's product h·Wh [B, 4H] is read by the cell
 * state and the hidden state [B, H] at the four gate blocks' column j: with
 * the four blocks taken together (groups 4) the step is one kernel. Its
 * gradient's product [B, H] is read by the gate gradients [B, 4H] at column
 * j of each block (spread 4) and by the cell state's gradient. A store that
 * reads an earlier store's output at its own element reads that value
 * instead, so the maps need no buffer between them. A matmul with an
 * epilogue stores C as its epilogue leaves it, and its stores read that.
 */
import { sizeOf } from '../../src/tensor.ts'
import type { Var } from '../../src/ir/index.ts'
import {
  ACC_SLOT,
  bindingCount,
  type EpilogueStore,
  type Expr,
  type ExprBuilder,
  type LogicalBuffer,
  type MapKernel,
  type MatmulKernel,
} from '../kernel.ts'
import { foldIndices, type IndexRanges } from './affine.ts'
import { reshapeIndex } from './indexing.ts'
import type { Entry } from './state.ts'

export function fuseStores(
  b: ExprBuilder,
  kernels: Entry[],
  inlineVars: (Var | undefined)[],
  buffers: readonly LogicalBuffer[],
  maxBuffers: number,
): void {
  for (let p = 0; p < kernels.length; p++) {
    const producer = kernels[p]
    if (producer.kind !== 'matmul') continue
    let fused: MatmulKernel = producer
    while (p + 1 < kernels.length) {
      const next = kernels[p + 1]
      const grown = next.kind === 'map' ? withStore(b, fused, next, buffers) : null
      if (grown === null || bindingCount(grown, buffers) > maxBuffers) break
      fused = grown
      kernels.splice(p + 1, 1)
      inlineVars.splice(p + 1, 1)
    }
    kernels[p] = fused
  }
}

/** `kernel` with the map `k` as one more store, or null where a value of k is not at hand in its invocation. */
function withStore(
  b: ExprBuilder,
  kernel: MatmulKernel,
  k: MapKernel,
  buffers: readonly LogicalBuffer[],
): MatmulKernel | null {
  const f32 = (id: number | undefined) => id === undefined || buffers[id].type === 'f32'
  if (!f32(k.output) || !f32(k.also) || kernel.inputs.includes(k.output)) return null
  const rows = kernel.batch * kernel.m
  const size = sizeOf(k.shape)
  if (size % rows !== 0) return null
  const width = size / rows
  // The first store sets the column blocks: fewer columns than the product's take that many columns of each block.
  const groups = kernel.groups ?? (kernel.n % width === 0 ? kernel.n / width : 1)
  const units = kernel.n / groups
  if (width % units !== 0) return null
  const spread = width / units
  const ranges: IndexRanges = new Map([
    ['sr', [0, rows - 1]],
    ['sj', [0, units - 1]],
  ])
  const [sr, sj] = [b.idx('sr'), b.idx('sj')]
  const canonical = (e: Expr) => foldIndices(b, e, ranges)
  // Element (sr, s·u + sj) of a [rows, spread·u] output, as an offset.
  const at = (s: number, stride: number) =>
    canonical(
      b.affine([
        [sr, stride],
        [sj, 1],
        [b.lit(1, 'i32'), s * units],
      ]),
    )
  const product = Array.from({ length: groups }, (_, g) => at(g, kernel.n))
  const stores = kernel.stores ?? []
  const earlier = new Map<number, { store: EpilogueStore; offsets: Expr[] }>()
  for (const st of stores) {
    const offsets = st.values.map((_, s) => at(s, st.spread * units))
    earlier.set(st.output, { store: st, offsets })
    if (st.also !== undefined) earlier.set(st.also, { store: st, offsets })
  }
  // A map that reads neither the product nor a store is left to run on its own.
  if (!k.inputs.some((id) => id === kernel.output || earlier.has(id))) return null
  const inputs = [...kernel.inputs]
  let missing = false
  const values: Expr[] = []
  for (let s = 0; s < spread; s++) {
    const index = reshapeIndex(b, [sr, b.bin('add', sj, b.lit(s * units, 'i32'))], [rows, width], k.shape)
    const atElement = b.rewrite(k.value, { idx: (name) => index[Number(name.slice(1))] })
    const value = b.rewrite(canonical(atElement), {
      load: (slot, offset, t) => {
        const id = k.inputs[slot]
        if (id === kernel.output) {
          const g = product.indexOf(offset)
          if (g < 0) missing = true
          return b.load(ACC_SLOT, b.lit(Math.max(g, 0), 'i32'), t)
        }
        const from = earlier.get(id)
        if (from !== undefined) {
          const s = from.offsets.indexOf(offset)
          if (s < 0) missing = true
          return from.store.values[Math.max(s, 0)]
        }
        // A matmul reads its own operands A and B as vec4s: the stores read theirs from slot 2 on.
        const found = inputs.indexOf(id, 2)
        return b.load(found >= 0 ? found : inputs.push(id) - 1, offset, t)
      },
    })
    if (missing) return null
    values.push(value)
  }
  const store: EpilogueStore =
    k.also === undefined ? { output: k.output, spread, values } : { output: k.output, also: k.also, spread, values }
  return { ...kernel, inputs, groups, stores: [...stores, store] }
}
