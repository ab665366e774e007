/**
 * Concatenations in place (gpu/lower/concats.ts): blocks with buffers of
 * their own become views of their place in the output and no kernel copies
 * them; a loop's stacked ys beside its initial carry (a BPTT step's gate
 * gradients) too, the carry stored a second time; what cannot be placed
 * (a kernel reading one block while it writes another, blocks that are not
 * contiguous) stays a copy. Every case against the interpreter, and a
 * planted swap of two blocks' places is caught.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, makeProgram, ops, random, scan, type Tensor } from '../../src/index.ts'
import { optimize } from '../../src/passes/index.ts'
import type { Program } from '../../src/ir/index.ts'
import { lower } from '../../gpu/lower/index.ts'
import type { LoweredProgram } from '../../gpu/kernel.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { executableOf, gpu } from './setup.ts'

const backend = gpu.backend

const lowered = (program: Program) => {
  const moved = optimize(program, { loopMotion: true, splitK: true })
  return { moved, lowered: lower(moved, { maxBuffers: backend!.context.limits.maxStorageBuffersPerShaderStage }) }
}
/** The blocks placed in their outputs: views that no loop steps through. */
const placed = (l: LoweredProgram) => l.buffers.filter((b) => b.role === 'view' && b.loop === undefined)
/** The role of buffer `id`. */
const roleOf = (l: LoweredProgram, id: number) => l.buffers[id].role
/** Map kernels that write a buffer of `size` elements (a concatenation's copy, where it stays one). */
const copiesOf = (l: LoweredProgram, size: number) =>
  l.kernels.filter((k) => k.kind === 'map' && l.buffers[k.output].size === size)

/** Normal draws of the given shapes, one argument each. */
const inputs = <const S extends readonly (readonly number[])[]>(...shapes: S) => {
  const keys = random.split(random.key(11), shapes.length)
  return shapes.map((s, i) => random.normal(keys[i], [...s])) as { -readonly [K in keyof S]: Tensor }
}

async function matchesInterpreter(f: (...xs: Tensor[]) => Tensor | Tensor[], args: Tensor[]) {
  const want = [await jit(f, { backend: cpuBackend() })(...args)].flat()
  const got = [await jit(f, { backend: backend! })(...args)].flat()
  for (const [i, w] of want.entries()) expectClose(await got[i].data(), await w.data(), ofLargest(1e-5), `output ${i}`)
}

// Two products stacked along the rows, and read by a third.
const stacked = (a: Tensor, b: Tensor, c: Tensor) => {
  const s = ops.concat([ops.matmul(a, b), ops.matmul(c, b)], 0)
  return [ops.matmul(s, b), ops.sum(s)]
}

describe.skipIf(backend === null)(`concatenations in place on ${backend?.name ?? 'no adapter'}`, () => {
  it('two products written into their places in one buffer, no copy; the interpreter’s values', async () => {
    const args = inputs([4, 8], [8, 8], [2, 8])
    const { lowered: l } = lowered(makeProgram(stacked)(...args))
    expect(placed(l).map((b) => [b.size, b.offset])).toEqual([
      [32, 0],
      [16, 32],
    ])
    expect(copiesOf(l, 48)).toEqual([])
    await matchesInterpreter(stacked, args)
  })

  it("a loop's stacked ys and its initial carry: in place, the carry's init stored twice", async () => {
    // A reverse loop from a carry that is also the last block (the peeled step of a BPTT gradient).
    const f = (w: Tensor, x0: Tensor, xs: Tensor) => {
      const init = ops.matmul(x0, w)
      const [, ys] = scan(
        (c: Tensor, x: Tensor) => {
          const next = ops.tanh(ops.add(ops.matmul(c, w), x))
          return [next, next] as const
        },
        init,
        xs,
        { reverse: true },
      )
      const all = ops.concat([ys, ops.reshape(init, [1, 3, 4])], 0)
      return [ops.sum(ops.square(all), [0]), ops.matmul(ops.reshape(all, [18, 4]), w)]
    }
    const args = inputs([4, 4], [3, 4], [5, 3, 4])
    const { lowered: l } = lowered(makeProgram(f)(...args))
    expect(placed(l).map((b) => [b.size, b.offset])).toEqual([
      [12, 60],
      [60, 0],
    ])
    expect(copiesOf(l, 72)).toEqual([])
    // The init's kernel writes its block and, as its second output, the buffer the loop starts from.
    const [carry] = l.loops[0].carries
    const writer = l.kernels.find((k) => k.also === carry.init)
    expect(writer && l.buffers[writer.output]).toMatchObject({ role: 'view', offset: 60 })
    await matchesInterpreter(f, args)
  })

  it('stays a copy where a kernel reads one block while writing another, or the blocks are not contiguous', async () => {
    const args = inputs([4, 8], [8, 8])
    // The second block is the first times b: its product reads the first block and writes the second.
    const chained = (a: Tensor, b: Tensor) => {
      const u = ops.matmul(a, b)
      return ops.matmul(ops.concat([u, ops.matmul(u, b)], 0), b)
    }
    // Side by side: each row of the output holds a row of each block.
    const beside = (a: Tensor, b: Tensor) =>
      ops.matmul(ops.concat([ops.matmul(a, b), ops.tanh(ops.matmul(a, b))], 1), ops.concat([b, b], 0))
    for (const f of [chained, beside]) {
      const { lowered: l } = lowered(makeProgram(f)(...args))
      expect(placed(l)).toEqual([])
      // The side-by-side copy is a store of the second product, which computes its block.
      if (f === chained) expect(copiesOf(l, 64).length).toBe(1)
      await matchesInterpreter(f, args)
    }
  })

  it("in place when the concatenation is the program's output; a copy when a block is one too", async () => {
    const args = inputs([4, 8], [8, 8], [2, 8])
    const returned = (a: Tensor, b: Tensor, c: Tensor) => ops.concat([ops.matmul(a, b), ops.matmul(c, b)], 0)
    const both = (a: Tensor, b: Tensor, c: Tensor) => {
      const u = ops.matmul(a, b)
      return [ops.concat([u, ops.matmul(c, b)], 0), u]
    }
    const [whole, block] = [returned, both].map((f) => lowered(makeProgram(f)(...args)).lowered)
    expect(placed(whole).map((b) => roleOf(whole, b.of as number))).toEqual(['output', 'output'])
    expect(copiesOf(whole, 48)).toEqual([])
    expect(placed(block)).toEqual([])
    expect(copiesOf(block, 48).length).toBe(1)
    await matchesInterpreter(returned, args)
    await matchesInterpreter(both, args)
  })

  it('the comparison catches a planted bug: two blocks placed in each other’s places', async () => {
    const args = inputs([4, 8], [8, 8], [4, 8])
    const program = makeProgram(stacked)(...args)
    const { moved, lowered: l } = lowered(program)
    const want = await jit(stacked, { backend: cpuBackend() })(...args)
    const differs = async (planted: LoweredProgram) => {
      const got = await executableOf(moved, planted).run(args)
      const [x, y] = [await got[0].data(), await want[0].data()]
      return x.some((v, j) => !(Math.abs(v - y[j]) <= 1e-3))
    }
    expect(await differs(l)).toBe(false)
    const [first, second] = placed(l)
    const swapped = l.buffers.map((b) =>
      b.id === first.id ? { ...b, offset: second.offset } : b.id === second.id ? { ...b, offset: first.offset } : b,
    )
    expect(await differs({ ...l, buffers: swapped })).toBe(true)
  })
})
