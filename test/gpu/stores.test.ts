/**
 * A matmul's stores (gpu/lower/stores.ts): an LSTM step is one kernel each
 * way, its gate maps computed by the product's invocations, with the
 * interpreter's values; a GRU's step is its two products each way, the
 * backward step's maps stored by its second, and one kernel each way where
 * the reset comes after the product; inputs of one buffer (a step's
 * states at t and t − 1) share a binding, so that a GRU's backward step for
 * 12 storage buffers takes one kernel fewer; and a planted wrong block or
 * spread is caught.
 */
import { describe, expect, it } from 'vitest'
import {
  cpuBackend,
  grad,
  jit,
  makeProgram,
  ops,
  random,
  scan,
  tensor,
  tree,
  type Backend,
  type Tensor,
} from '../../src/index.ts'
import * as lax from '../../src/core/lax.ts'
import { bptt, gru, lstm, type AnyCell } from '../../src/recurrent/index.ts'
import { optimize } from '../../src/passes/index.ts'
import type { Program } from '../../src/ir/index.ts'
import { lower } from '../../gpu/lower/index.ts'
import {
  ACC_SLOT,
  bindingCount,
  ExprBuilder,
  type Expr,
  inputBindings,
  type Kernel,
  type LoweredProgram,
  type MatmulKernel,
} from '../../gpu/kernel.ts'
import { dispatchesOf, startsFrom } from '../../gpu/plan.ts'
import { renderKernel } from '../../gpu/wgsl/render.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { executableOf, gpu } from './setup.ts'

const backend = gpu.backend
/** Stores bind more buffers than adapters with few storage buffers per stage allow: there the maps stay apart. */
const roomy = (backend?.context.limits.maxStorageBuffersPerShaderStage ?? 0) >= 16

const loss = (y: Tensor, t: Tensor) => ops.mean(ops.square(ops.sub(y, t))) as Tensor<[]>

/** The BPTT gradient of a cell's sequence loss, its arguments (parameters moved off their init), and its Program. */
function sequence(cell: AnyCell, batch: number, steps: number) {
  const keys = random.split(random.key(5), 3)
  const params = tree.treeMap(cell.init(random.key(4)) as tree.Tree, (p) =>
    ops.add(p, ops.mul(random.normal(keys[0], p.shape as number[]), 0.2)),
  )
  const args = [
    params,
    cell.initialState(batch),
    random.normal(keys[1], [steps, batch, cell.inputSize]),
    random.normal(keys[2], [steps, batch, cell.outputSize]),
  ] as const
  const f = (p: unknown, h: unknown, x: Tensor, t: Tensor) => bptt(cell, loss)(p as never, h as never, x as never, t)
  return { f, args, program: makeProgram(f)(...args) }
}

/** The program lowered as the WebGPU backend lowers it (for the adapter's storage buffers, unless given). */
const lowered = (program: Program, maxBuffers = backend!.context.limits.maxStorageBuffersPerShaderStage) => {
  const moved = optimize(program, { loopMotion: true, splitK: true })
  return { moved, lowered: lower(moved, { maxBuffers }) }
}

/** f's values on the device, leaf by leaf, within 1e-4 of the largest of the interpreter's. */
async function agreesWithInterpreter(f: (...a: any[]) => unknown, args: readonly unknown[]): Promise<void> {
  const on = (b: Backend) => jit(f as (...a: any[]) => tree.Tree, { backend: b })(...args) as Promise<tree.Tree>
  const [want] = tree.flatten(await on(cpuBackend()))
  const [got] = tree.flatten(await on(backend!))
  for (const [i, w] of want.entries())
    expectClose(await (got[i] as Tensor).data(), await (w as Tensor).data(), ofLargest(1e-4), `gradient leaf ${i}`)
}

/** Each loop's one kernel, where every loop's step is one kernel (asserted). */
const onlyKernels = (bodies: readonly (readonly (Kernel | null)[])[]) =>
  bodies.map((b) => {
    expect(b.length).toBe(1)
    return b[0] as MatmulKernel
  })

/** The kernels of each loop's step, in the order the loops run. */
const loopBodies = (l: LoweredProgram) =>
  l.loops.map((loop) => loop.body.map((item) => ('kernel' in item ? l.kernels[item.kernel] : null)))

describe.skipIf(backend === null)(`matmul stores on ${backend?.name ?? 'no adapter'}`, () => {
  for (const [hidden, what] of [
    [8, 'four columns of each gate at a time, read as vec4s'],
    [5, 'a hidden size that is no multiple of 4'],
  ] as const)
    it(`LSTM BPTT, H = ${hidden} (${what}): one kernel per step each way, the interpreter's gradient`, async () => {
      const { f, args, program } = sequence(lstm(3, hidden), 4, 6)
      const l = lowered(program).lowered
      const bodies = loopBodies(l)
      expect(bodies.length).toBe(2)
      if (roomy) {
        const [forward, backward] = onlyKernels(bodies)
        // Forward: h·Wh [B, 4H] with the four gate blocks taken together; c′ and h′ [B, H] stored from them.
        expect(forward.kind).toBe('matmul')
        expect(forward.groups).toBe(4)
        expect(forward.stores?.map((s) => s.spread)).toEqual([1, 1])
        // As the backend renders it, h (the carry, bound whole at every step) is read as a uniform where H allows
        // vec4 reads.
        const at = l.kernels.indexOf(forward)
        const uniformBytes = backend!.context.limits.maxUniformBufferBindingSize
        const rendered = renderKernel(forward, l.buffers, startsFrom(dispatchesOf(l), l.kernels.length)[at], {
          uniformBytes,
        })
        expect(rendered.uniformA).toBe(hidden % 4 === 0 ? 4 * 4 * hidden : undefined)
        // Backward: dz·Whᵀ [B, H]; dc [B, H] and the four gate blocks of dz [B, 4H] stored from each element.
        expect(backward.kind).toBe('matmul')
        expect(backward.stores?.map((s) => s.spread)).toEqual([1, 4])
      }
      await agreesWithInterpreter(f, args)
    })

  it("GRU BPTT: two kernels a step each way, the backward step's maps stores of its products; the interpreter's gradient", async () => {
    const { f, args, program } = sequence(gru(3, 8), 4, 6)
    const { lowered: l } = lowered(program)
    const [forward, backward] = loopBodies(l)
    // Two products a step each way (the candidate's product reads the reset gate), the maps stored by them: with
    // the two carries that the backward step also returns as ys held in those ys, its second product binds 15
    // storage buffers, where it would need 17.
    expect(forward.length).toBe(2)
    if (roomy) {
      expect(backward.length).toBe(2)
      expect(bindingCount(backward[1] as Kernel, l.buffers)).toBe(15)
    }
    await agreesWithInterpreter(f, args)
  })

  it("GRU BPTT, reset after the product: one kernel per step each way, as the LSTM's; the interpreter's gradient", async () => {
    const { f, args, program } = sequence(gru(3, 8, { resetAfter: true }), 4, 6)
    const bodies = loopBodies(lowered(program).lowered)
    expect(bodies.length).toBe(2)
    if (roomy) {
      const [forward, backward] = onlyKernels(bodies)
      // Forward: h·Wh [B, 3H], the three gate blocks taken together, h′ stored from them. Backward: dz·Whᵀ
      // [B, H]; the three blocks of dz stored from each element.
      expect(forward.groups).toBe(3)
      expect(backward.stores?.some((store) => store.spread === 3)).toBe(true)
    }
    await agreesWithInterpreter(f, args)
  })

  it("inputs of one buffer share a binding: a GRU's backward step for 12 storage buffers is four kernels, not five, with the interpreter's gradient", async () => {
    const { f, args, program } = sequence(gru(3, 8), 4, 6)
    const { moved, lowered: l } = lowered(program, 12)
    // Its second product reads the stacked states at two steps (views of one buffer), bound once each: one of
    // its maps then fits in it, where without sharing it needs 13 bindings and runs on its own (five kernels).
    const [, backward] = loopBodies(l)
    expect(backward.length).toBe(4)
    const shared = backward.filter((k) => {
      const { reads } = inputBindings(k as Kernel, l.buffers)
      return reads.some((r, slot) => r !== slot)
    })
    expect(shared.length).toBeGreaterThan(0)
    // (A product's small A or B may be bound as a uniform instead of a storage buffer.)
    for (const k of l.kernels) {
      const { code } = renderKernel(k, l.buffers)
      const storage = code.match(/var<storage/g)?.length ?? 0
      expect(storage + (code.match(/var<uniform> [AB]:/g)?.length ?? 0)).toBe(bindingCount(k, l.buffers))
      expect(storage).toBeLessThanOrEqual(12)
    }
    const got = await executableOf(moved, l).run(tree.flatten(args)[0])
    const [want] = tree.flatten(await jit(f, { backend: cpuBackend() })(...args))
    for (const [i, w] of want.entries())
      expectClose(await got[i].data(), await w.data(), ofLargest(1e-4), `gradient leaf ${i}`)
  })

  it("an embedding's LSTM: each step looks its rows of table·Wx up in its product's epilogue, indices out of range clamped as the interpreter clamps them", async () => {
    const [V, E, H, T, B] = [5, 3, 8, 6, 4]
    const cell = lstm(E, H)
    const keys = random.split(random.key(7), 3)
    const params = { table: random.normal(keys[0], [V, E]), cell: cell.init(keys[1]) }
    // Indices from −2 to V + 1: the first two and the last two of each run are out of range.
    const ids = tensor(
      Array.from({ length: T * B }, (_, i) => (i % (V + 4)) - 2),
      { shape: [T, B], dtype: 'i32' },
    )
    const targets = random.normal(keys[2], [T, B, H])
    type S = { h: Tensor; c: Tensor }
    const f = (p: typeof params, i: Tensor, t: Tensor) =>
      grad((q: typeof params) => {
        const [, hs] = scan(
          (s: S, x: Tensor) => cell.step(q.cell as never, s as never, x as never) as unknown as [S, Tensor],
          cell.initialState(B) as S,
          lax.gather(q.table, i, 0),
        )
        return loss(hs, t)
      })(p)
    const program = makeProgram(f)(params, ids, targets)
    const { lowered: l } = lowered(program)
    // No kernel writes x·Wx over all T·B lookups: the product is the table's, [V, 4H].
    const products = l.kernels.flatMap((k) => (k.kind === 'matmul' ? [[k.m, k.n, k.k].join('×')] : []))
    expect(products).toContain([V, 4 * H, E].join('×'))
    expect(products).not.toContain([T * B, 4 * H, E].join('×'))
    if (roomy) expect(loopBodies(l)[0].length).toBe(1)
    await agreesWithInterpreter(f, [params, ids, targets])
  })

  /** The LSTM gradient from a lowered program that `plant` edits, against the interpreter: whether they differ. */
  async function plantedDiffers(plant: (k: MatmulKernel, b: ExprBuilder) => MatmulKernel): Promise<boolean> {
    const { f, args, program } = sequence(lstm(3, 8), 4, 6)
    const { moved, lowered: l } = lowered(program)
    const b = new ExprBuilder()
    const planted: LoweredProgram = {
      ...l,
      kernels: l.kernels.map((k) => (k.kind === 'matmul' && k.stores !== undefined ? plant(k, b) : k)),
    }
    const got = await executableOf(moved, planted).run(tree.flatten(args)[0])
    const [want] = tree.flatten(await jit(f, { backend: cpuBackend() })(...args))
    for (const [i, w] of want.entries()) {
      const [x, y] = [await got[i].data(), await w.data()]
      if (x.some((v, j) => !(Math.abs(v - y[j]) <= 1e-3))) return true
    }
    return false
  }

  /** `e` with every load of the product's block g read from block g ⊕ 1 (gates i↔f, g↔o). */
  const swapBlocks = (b: ExprBuilder, e: Expr) =>
    b.rewrite(e, {
      load: (slot, offset, t) =>
        slot === ACC_SLOT && offset.k === 'lit'
          ? b.load(slot, b.lit(offset.value ^ 1, 'i32'), t)
          : b.load(slot, offset, t),
    })

  it.skipIf(!roomy)(
    'the comparison catches a planted bug: gate blocks read swapped, a spread store written shifted',
    async () => {
      expect(await plantedDiffers((k) => k)).toBe(false)
      const swapped = (k: MatmulKernel, b: ExprBuilder) =>
        (k.groups ?? 1) > 1
          ? { ...k, stores: k.stores?.map((s) => ({ ...s, values: s.values.map((v) => swapBlocks(b, v)) })) }
          : k
      expect(await plantedDiffers(swapped)).toBe(true)
      // The gate gradients' blocks written one block along (the last block's values in the first).
      const shifted = (k: MatmulKernel) => ({
        ...k,
        stores: k.stores?.map((s) => (s.spread > 1 ? { ...s, values: [...s.values.slice(1), s.values[0]] } : s)),
      })
      expect(await plantedDiffers(shifted)).toBe(true)
    },
  )
})
