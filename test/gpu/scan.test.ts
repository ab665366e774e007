/**
 * scan on WebGPU: a whole sequence in one submission, the body compiled once.
 *
 *  - compiled = interpreted (f32) for loops of every shape the rules make:
 *    forwards and reversed, odd and even lengths (a carry alternates between
 *    two buffers), carries that pass through, swap or are also ys (held in
 *    the ys in place where their kernel does not read them), consts
 *    read as xs too, integer carries, and the programs of grad (BPTT), vmap
 *    and rtrl on Elman, LSTM and GRU cells;
 *  - one submission per call, and the kernels do not grow with T;
 *  - the comparison catches a planted bug in the loop's lowering (steps run
 *    in the wrong order, a carry's buffers swapped);
 *  - scans inside scan bodies (truncated bptt: a scan over chunks) compile
 *    too, their slices addressed through every enclosing loop's step;
 *  - what the lowering does not compile (a scan of length 0) is refused
 *    with UnsupportedProgramError.
 */
import { describe, expect, it } from 'vitest'
import {
  UnsupportedProgramError,
  cpuBackend,
  grad,
  jit,
  makeProgram,
  ops,
  random,
  scan,
  tensor,
  tree,
  vmap,
  type Tensor,
} from '../../src/index.ts'
import { bptt, elman, gru, lstm, rtrl, type AnyCell } from '../../src/recurrent/index.ts'
import { lower } from '../../gpu/lower/index.ts'
import type { LoweredProgram } from '../../gpu/kernel.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { executableOf, gpu } from './setup.ts'

const backend = gpu.backend

/**
 * f jitted on WebGPU against f on the CPU interpreter, on the same f32
 * arguments: every leaf within rtol of the largest magnitude expected (at least 1).
 */
async function agree(f: (...args: any[]) => unknown, args: unknown[], rtol = 1e-5, what = 'outputs'): Promise<void> {
  const [ws] = tree.flatten(await jit(f, { backend: cpuBackend() })(...args))
  const [gs] = tree.flatten(await jit(f, { backend: backend! })(...args))
  expect(gs.length, what).toBe(ws.length)
  for (const [i, w] of ws.entries()) {
    expect(gs[i].shape, `${what}, leaf ${i}`).toEqual(w.shape)
    expectClose(await gs[i].data(), await w.data(), ofLargest(rtol), `${what}, leaf ${i}`)
  }
}

const keys = random.split(random.key(3), 16)
/** The kernels of the first loop's step. */
const firstLoopBody = (l: LoweredProgram) =>
  l.loops[0].body.map((item) => l.kernels[(item as { kernel: number }).kernel])
const normal = (k: number, shape: number[], scale = 1) => ops.mul(random.normal(keys[k], shape), scale) as Tensor

/** h′ = tanh(h·W + x), y = h′ ⊙ x: the spec table's cell. */
const tanhCell = (w: Tensor) => (h: Tensor, x: Tensor) => {
  const next = ops.tanh(ops.add(ops.matmul(h, w), x))
  return [next, ops.mul(next, x)] as const
}

describe.skipIf(backend === null)(`scan compiled = interpreted on ${backend?.name ?? 'no adapter'}`, () => {
  for (const reverse of [false, true])
    for (const T of [1, 2, 5]) {
      it(`a tanh cell, T = ${T}${reverse ? ', reversed' : ''}: values and the gradient`, async () => {
        const f = (w: Tensor, h: Tensor, xs: Tensor) => scan(tanhCell(w), h, xs, { reverse })
        const loss = (w: Tensor, h: Tensor, xs: Tensor) => {
          const [last, ys] = f(w, h, xs)
          return ops.add(ops.sum(ops.square(last)), ops.sum(ys))
        }
        const args = [normal(0, [4, 4], 0.4), normal(1, [3, 4]), normal(2, [T, 3, 4])]
        await agree(f, args)
        await agree(grad(loss, { argnums: [0, 1, 2] }), args, 1e-5, 'gradient')
      })
    }

  it('carries that pass through unchanged, swap places, or are also ys; a const read as xs too', async () => {
    const f = (a: Tensor, b: Tensor, xs: Tensor) =>
      scan(
        (c: { a: Tensor; b: Tensor; keep: Tensor }, x: Tensor) =>
          [
            { a: c.b, b: ops.add(c.a, ops.mul(x, c.keep)), keep: c.keep },
            { a: c.a, sum: ops.add(c.b, ops.sum(xs)) },
          ] as const,
        { a, b, keep: ops.add(a, 1) },
        xs,
      )
    for (const T of [3, 4]) await agree(f, [normal(3, [5]), normal(4, [5]), normal(5, [T, 5])], 1e-5, `T = ${T}`)
  })

  it('a carry that is also a y is stacked (written to its slice, read from the previous one)', async () => {
    for (const reverse of [false, true])
      for (const T of [1, 2, 3]) {
        const both = (w: Tensor, h: Tensor, xs: Tensor) =>
          scan(
            (c: Tensor, x: Tensor) => {
              const next = ops.tanh(ops.add(ops.matmul(c, w), x))
              return [next, next] as const
            },
            h,
            xs,
            { reverse },
          )
        const args: [Tensor, Tensor, Tensor] = [normal(0, [4, 4], 0.4), normal(1, [3, 4]), normal(2, [T, 3, 4])]
        await agree(both, args, 1e-5, `T = ${T}${reverse ? ', reversed' : ''}`)
        await agree(
          (w: Tensor, h: Tensor, xs: Tensor) => both(w, h, xs)[1],
          args,
          1e-5,
          `ys only, T = ${T}${reverse ? ', reversed' : ''}`,
        )
        // One kernel per step, which stores the state and its slice of the ys.
        const lowered = lower(makeProgram(both)(...args), { maxBuffers: 8 })
        const body = firstLoopBody(lowered)
        expect(body.map((k) => k.kind)).toEqual(['matmul'])
        expect(lowered.buffers[body[0].also as number].role).toBe('view')
      }
  })

  it('a carry that is also a y, computed without reading the carry before, lives in the ys: one output, the slice before read', async () => {
    // a′ = 2b + x and b′ = a + x/2: neither kernel reads its own carry's value before, so each carry is held by its ys.
    const swap = (reverse: boolean) => (a: Tensor, b: Tensor, xs: Tensor) =>
      scan(
        (c: { a: Tensor; b: Tensor }, x: Tensor) => {
          const next = { a: ops.add(ops.mul(c.b, 2), x), b: ops.add(c.a, ops.mul(x, 0.5)) }
          return [next, next] as const
        },
        { a, b },
        xs,
        { reverse },
      )
    for (const reverse of [false, true])
      for (const T of [1, 2, 5]) {
        const args: [Tensor, Tensor, Tensor] = [normal(3, [6]), normal(4, [6]), normal(5, [T, 6])]
        await agree(swap(reverse), args, 1e-5, `T = ${T}${reverse ? ', reversed' : ''}`)
        const program = makeProgram(swap(reverse))(...args)
        const lowered = lower(program, { maxBuffers: 8 })
        expect(lowered.loops[0].carries.map((c) => c.inPlace !== undefined)).toEqual([true, true])
        // Each writes its slice of the ys alone: no second output.
        expect(firstLoopBody(lowered).map((k) => k.also)).toEqual(firstLoopBody(lowered).map(() => undefined))
        // Planted: the carry read from the slice being written (the step before's offset moved on by one step).
        const planted: LoweredProgram = {
          ...lowered,
          buffers: lowered.buffers.map((b) => {
            const c = lowered.loops[0].carries.find((k) => k.inPlace?.before === b.id)
            return c === undefined ? b : { ...b, offset: (b.offset ?? 0) + (reverse ? -b.size : b.size) }
          }),
        }
        const want = tree.flatten(swap(reverse)(...args))[0]
        const differs = async (l: LoweredProgram) => {
          const got = await executableOf(program, l).run(args)
          for (const [i, w] of want.entries()) {
            const [x, y] = [await got[i].data(), await w.data()]
            if (x.some((v, j) => !(Math.abs(v - y[j]) <= 1e-4))) return true
          }
          return false
        }
        expect(await differs(lowered)).toBe(false)
        if (T > 1) expect(await differs(planted)).toBe(true)
      }
    // Inside a scan body: the inner loop's ys are a slice of the outer loop's, and so are the carries it holds.
    for (const reverse of [false, true]) {
      const nested = (a: Tensor, b: Tensor, rows: Tensor) =>
        scan(
          (c: { a: Tensor; b: Tensor }, row: Tensor) => {
            const [end, ys] = swap(reverse)(c.a, c.b, row)
            return [{ a: ops.mul(end.a, 0.5), b: end.b }, ys] as const
          },
          { a, b },
          rows,
          { reverse: !reverse },
        )
      const args: [Tensor, Tensor, Tensor] = [normal(3, [6]), normal(4, [6]), normal(5, [3, 4, 6])]
      await agree(nested, args, 1e-5, `nested${reverse ? ', the inner reversed' : ''}`)
      const inner = lower(makeProgram(nested)(...args), { maxBuffers: 8 }).loops.find((l) => l.length === 4)
      expect(inner?.carries.every((c) => c.inPlace !== undefined)).toBe(true)
    }
  })

  it("xs that are a run of a computed value's leading axis are read in place (a view from the run's start)", async () => {
    const f = (h: Tensor, seq: Tensor) => {
      const v = ops.tanh(seq)
      const run = ops.slice(v, [2, 0, 0], [3, 3, 4])
      return scan((c: Tensor, x: Tensor) => [ops.add(ops.mul(c, 0.5), x), ops.mul(c, x)] as const, h, run, {
        reverse: true,
      })
    }
    const args: [Tensor, Tensor] = [normal(1, [3, 4]), normal(2, [6, 3, 4])]
    await agree(f, args)
    const lowered = lower(makeProgram(f)(...args), { maxBuffers: 8 })
    const views = lowered.buffers.filter((b) => b.role === 'view' && (b.offset ?? 0) > 0)
    expect(views.map((b) => b.offset)).toEqual([2 * 12])
    expect(lowered.schedule.filter((item) => 'kernel' in item)).toHaveLength(1) // tanh(seq) only: no copy of the run
  })

  it('an integer carry (a step counter) beside a float one', async () => {
    const f = (xs: Tensor) =>
      scan(
        (c: { n: Tensor; s: Tensor }, x: Tensor) =>
          [
            { n: ops.add(c.n, tensor(1, { dtype: 'i32' })), s: ops.add(c.s, ops.mul(x, ops.astype(c.n, 'f32'))) },
            c.n,
          ] as const,
        { n: tensor(0, { dtype: 'i32' }) as Tensor, s: ops.zeros([2]) as Tensor },
        xs,
      )
    await agree(f, [normal(6, [6, 2])])
  })

  const cells: readonly [string, AnyCell][] = [
    ['elman', elman(3, 5)],
    ['lstm', lstm(3, 5)],
    ['gru', gru(3, 5)],
    ['gru, reset after', gru(3, 5, { resetAfter: true }) as unknown as AnyCell],
  ]
  for (const [name, cell] of cells) {
    it(`bptt of ${name} (a sequence loss), and vmap of the cell over a batch axis`, async () => {
      const params = tree.treeMap(cell.init(random.key(7)) as tree.Tree, (p) =>
        ops.add(p, normal(8, p.shape as number[], 0.1)),
      )
      const h0 = cell.initialState(4)
      const xs = normal(9, [6, 4, 3])
      const targets = normal(10, [6, 4, 5])
      const loss = (y: Tensor, t: Tensor) => ops.mean(ops.square(ops.sub(y, t))) as Tensor<[]>
      await agree(
        (p: unknown, h: unknown, x: Tensor, t: Tensor) => bptt(cell, loss)(p as never, h as never, x as never, t),
        [params, h0, xs, targets],
        1e-4,
        'bptt',
      )
      const run = (p: unknown, h: unknown, x: Tensor) =>
        scan((s: any, xt: Tensor) => cell.step(p as never, s, xt as never), h, x)
      const one = cell.initialState()
      await agree(
        vmap((x: Tensor) => run(params, one, x), 1, 1),
        [xs],
        1e-5,
        'vmap',
      )
    })
  }

  for (const [outer, inner] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])
    it(`a scan inside a scan body${outer ? ', the outer reversed' : ''}${inner ? ', the inner reversed' : ''}: values and the gradient`, async () => {
      // Per row of xs [n, m, 3]: a tanh recurrence over the row's m vectors from the outer carry, whose ys the outer
      // loop stacks ([n, m, 3]); the outer carry takes the inner one's end, scaled by a const.
      const f = (w: Tensor, h: Tensor, xs: Tensor) =>
        scan(
          (c: Tensor, row: Tensor) => {
            const [end, ys] = scan(
              (d: Tensor, x: Tensor) => {
                const next = ops.tanh(ops.add(ops.matmul(d, w), x))
                return [next, ops.mul(next, x)] as const
              },
              c,
              row,
              { reverse: inner },
            )
            return [ops.mul(end, 0.9), ys] as const
          },
          h,
          xs,
          { reverse: outer },
        )
      const loss = (w: Tensor, h: Tensor, xs: Tensor) => {
        const [last, ys] = f(w, h, xs)
        return ops.add(ops.sum(ops.square(last)), ops.sum(ops.mul(ys, ys)))
      }
      const args = [normal(0, [3, 3], 0.5), normal(1, [2, 3]), normal(2, [4, 3, 2, 3])]
      await agree(f, args)
      await agree(grad(loss, { argnums: [0, 1, 2] }), args, 1e-4, 'gradient')
    })

  const truncated: readonly [string, AnyCell][] = [
    ['elman', elman(3, 4)],
    ['lstm', lstm(3, 4)],
  ]
  for (const [name, cell] of truncated)
    it(`truncated bptt of ${name} (a scan over chunks, each a forward and a backward scan), k dividing T and not`, async () => {
      const params = tree.treeMap(cell.init(random.key(14)) as tree.Tree, (p) =>
        ops.add(p, normal(8, p.shape as number[], 0.1)),
      )
      const h0 = cell.initialState(2)
      const xs = normal(9, [7, 2, 3])
      const targets = normal(10, [7, 2, 4])
      const loss = (y: Tensor, t: Tensor) => ops.mean(ops.square(ops.sub(y, t))) as Tensor<[]>
      for (const truncate of [7, 3, 1]) {
        const f = (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
          bptt(cell, loss, { truncate })(p as never, h as never, x as never, t)
        await agree(f, [params, h0, xs, targets], 1e-4, `truncate ${truncate}`)
        const g = jit(f, { backend: backend! })
        await g(params, h0, xs, targets)
        expect((await g.compiled(params, h0, xs, targets)).stats().submissions).toBe(1)
      }
    })

  it('rtrl of an Elman cell (forward sensitivities as one scan) on WebGPU', async () => {
    const cell = elman(2, 3)
    const params = cell.init(random.key(11))
    const loss = (y: Tensor, t: Tensor) => ops.sum(ops.square(ops.sub(y, t))) as Tensor<[]>
    const xs = normal(12, [5, 2])
    const targets = normal(13, [5, 3])
    const f = (p: typeof params, x: Tensor, t: Tensor) => rtrl(cell, loss)(p, cell.initialState(), x as never, t)
    await agree(f, [params, xs, targets], 1e-4, 'rtrl')
  })
})

describe.skipIf(backend === null)('a scan runs as one loop in one submission', () => {
  const rnnLoss = (w: Tensor, h: Tensor, xs: Tensor) => ops.sum(ops.square(scan(tanhCell(w), h, xs)[0]))

  it('the kernels do not grow with T; dispatches grow by the body per step', async () => {
    const w = normal(0, [4, 4], 0.4)
    const h = normal(1, [3, 4])
    const sizes = []
    for (const T of [4, 8]) {
      const step = jit(grad(rnnLoss, { argnums: [0, 1, 2] }), { backend: backend! })
      const xs = normal(2, [T, 3, 4])
      await step(w, h, xs)
      const exe = await step.compiled(w, h, xs)
      sizes.push({ kernels: exe.kernels, ...exe.stats() })
    }
    expect(sizes[0].kernels).toBe(sizes[1].kernels)
    expect(sizes[0].submissions).toBe(1)
    expect(sizes[1].submissions).toBe(1)
    const perStep = (sizes[1].dispatches - sizes[0].dispatches) / 4
    expect(Number.isInteger(perStep) && perStep >= 1).toBe(true)
    expect(sizes[0].dispatches).toBeGreaterThanOrEqual(4 * perStep)
  })

  /** f compiled from a lowered program that `plant` edits, against the CPU. */
  async function plantedDiffers(plant: (l: LoweredProgram) => LoweredProgram): Promise<boolean> {
    const args: [Tensor, Tensor, Tensor] = [normal(0, [4, 4], 0.4), normal(1, [3, 4]), normal(2, [5, 3, 4])]
    const f = (w: Tensor, h: Tensor, xs: Tensor) => scan(tanhCell(w), h, xs)
    const program = makeProgram(f)(...args)
    const lowered = plant(lower(program, { maxBuffers: backend!.context.limits.maxStorageBuffersPerShaderStage }))
    const outs = await executableOf(program, lowered).run(args)
    const want = f(...args)
    const wants = [want[0], want[1]]
    for (const [i, o] of outs.entries()) {
      const [a, e] = [await o.data(), await wants[i].data()]
      if (a.some((v, j) => Math.abs(v - e[j]) > 1e-4)) return true
    }
    return false
  }

  it("the comparison catches a planted bug in the loop: steps in the wrong order, a carry's two buffers swapped", async () => {
    expect(await plantedDiffers((l) => l)).toBe(false)
    expect(
      await plantedDiffers((l) => ({ ...l, loops: l.loops.map((loop) => ({ ...loop, reverse: !loop.reverse })) })),
    ).toBe(true)
    // The last step then writes the spare: the result holds the state one step early.
    const swapped = (l: LoweredProgram) => ({
      ...l,
      loops: l.loops.map((loop) => ({
        ...loop,
        carries: loop.carries.map((c) => ({ ...c, result: c.spare, spare: c.result })),
      })),
    })
    expect(await plantedDiffers(swapped)).toBe(true)
  })

  it('a binding WebGPU rejects (a carry read and written through one buffer) fails the call by name instead of returning zeros', async () => {
    const aliased = (l: LoweredProgram) => ({
      ...l,
      loops: l.loops.map((loop) => ({ ...loop, carries: loop.carries.map((c) => ({ ...c, spare: c.result })) })),
    })
    await expect(plantedDiffers(aliased)).rejects.toThrow(/WebGPU rejected the commands of a call/)
  })

  it("a planted bug in a nested loop is caught: the outer loop's slices read at the inner loop's step", async () => {
    const f = (xs: Tensor) =>
      scan(
        (c: Tensor, row: Tensor) => {
          const [end, ys] = scan((d: Tensor, x: Tensor) => [ops.add(ops.mul(d, 0.5), x), d] as const, c, row)
          return [end, ys] as const
        },
        ops.zeros([2]) as Tensor,
        xs,
      )
    const args: [Tensor] = [normal(3, [3, 4, 2])]
    const program = makeProgram(f)(...args)
    const run = async (plant: (l: LoweredProgram) => LoweredProgram) => {
      const lowered = plant(lower(program, { maxBuffers: backend!.context.limits.maxStorageBuffersPerShaderStage }))
      return Promise.all((await executableOf(program, lowered).run(args)).map((t) => t.data()))
    }
    const want = await Promise.all(f(...args).map((t) => t.data()))
    const differs = (got: ArrayLike<number>[]) =>
      got.some((g, i) => Array.from(g).some((v, j) => Math.abs(v - want[i][j]) > 1e-5))
    expect(differs(await run((l) => l))).toBe(false)
    // The loops are numbered inner first: loop 0 is the inner one.
    const planted = (l: LoweredProgram) => ({
      ...l,
      buffers: l.buffers.map((b) => (b.role === 'view' && b.loop === 1 ? { ...b, loop: 0 } : b)),
    })
    expect(differs(await run(planted))).toBe(true)
  })

  it('a scan of length 0 is refused by name (the default backend runs it on the CPU)', () => {
    const empty = (xs: Tensor) =>
      scan((c: Tensor, x: Tensor) => [ops.add(c, x), null] as const, tensor(1) as Tensor, xs)[0]
    expect(() => lower(makeProgram(empty)(ops.ones([0])), { maxBuffers: 8 })).toThrow(UnsupportedProgramError)
    expect(() => lower(makeProgram(empty)(ops.ones([0])), { maxBuffers: 8 })).toThrow(/a scan of length 0/)
  })
})
