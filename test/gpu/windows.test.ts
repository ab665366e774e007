/**
 * Windows (gpu/lower/windows.ts): a value made by rearranging another
 * (reshapes, transposes, slices, broadcasts, evenly spaced slices side by
 * side) read through the strides of its digits. For random chains of such
 * steps, with computed values (a pad, a negation, unevenly spaced parts)
 * among them, the window read from its source's values gives the chain's
 * value exactly, element by element. A convolution's windows of its input,
 * as nn.conv2d builds them (stride and dilation included), are a window of
 * the padded input; the WebGPU lowering of a convolution's training step
 * then writes no buffer of them. A window with one stride planted wrong is
 * caught by the same comparison. The gradient that then flows back through
 * a pooling, an element of nine loads repeated over the pooling window, is
 * stored once rather than computed for every repeat (analyse.ts). A product
 * of an input with its axes moved reads the input in place, without a copy.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { grad, jit, makeProgram, ops, random, runProgram, tensor, type Tensor } from '../../src/index.ts'
import * as lax from '../../src/core/lax.ts'
import { conv2d } from '../../src/nn/conv.ts'
import { Program, type Eqn, Var } from '../../src/ir/index.ts'
import { optimize } from '../../src/passes/index.ts'
import { sizeOf } from '../../src/tensor.ts'
import { lower } from '../../gpu/lower/index.ts'
import { renderKernel } from '../../gpu/wgsl/render.ts'
import { normalDigits, windowOf, type Window } from '../../gpu/lower/windows.ts'
import type { WebGpuBackend } from '../../gpu/index.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { place } from '../lib/digits.ts'
import { gpu } from './setup.ts'

/** The elements a window reads from its source's values, in the window's row-major order. */
function read(w: Window, source: ArrayLike<number>): (number | undefined)[] {
  const shape = w.axes.map((digits) => digits.reduce((p, [size]) => p * size, 1))
  const out: (number | undefined)[] = []
  for (let i = 0; i < sizeOf(shape); i++) {
    let at = w.from
    let rest = i
    for (let a = shape.length - 1; a >= 0; a--) {
      at += place(rest % shape[a], w.axes[a])
      rest = Math.floor(rest / shape[a])
    }
    out.push(at >= 0 && at < source.length ? source[at] : undefined)
  }
  return out
}

/** A Program's output, its window over the Program's inputs, and both values. */
async function windowed(program: Program, args: Tensor[], output: Var = program.outputs[0] as Var) {
  const producer = new Map<Var, Eqn>()
  for (const e of program.eqns) for (const v of e.outputs) producer.set(v, e)
  const w = windowOf(output, producer, (v) => program.inputs.includes(v)) as Window
  const both = new Program(program.inputs, program.constVars, program.constValues, program.eqns, [output, w.source])
  const [value, source] = await Promise.all((await runProgram(both, args)).map((t) => t.data()))
  return { w, value: Array.from(value), source: Array.from(source) }
}

/** A deterministic stream of integers below n (a 32-bit LCG). */
function stream(seed: number) {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s >>> 8) % n
  }
}

/** One random step of a chain: mostly rearrangements, now and then a computed value. */
function step(x: Tensor, pick: (n: number) => number): Tensor {
  const shape = [...x.aval.shape]
  const r = shape.length
  const axis = pick(r)
  switch (pick(10)) {
    case 0: {
      const perm = shape.map((_, i) => i)
      for (let i = r - 1; i > 0; i--) {
        const j = pick(i + 1)
        ;[perm[i], perm[j]] = [perm[j], perm[i]]
      }
      return lax.transpose(x, perm)
    }
    case 1:
      // Two neighbouring axes merged, or an axis of size 1 put in.
      return r > 1 && axis < r - 1
        ? lax.reshape(x, [...shape.slice(0, axis), shape[axis] * shape[axis + 1], ...shape.slice(axis + 2)])
        : lax.reshape(x, [...shape.slice(0, axis), 1, ...shape.slice(axis)])
    case 2: {
      const d = [2, 3].find((q) => shape[axis] % q === 0 && shape[axis] > q)
      return d === undefined
        ? x
        : lax.reshape(x, [...shape.slice(0, axis), shape[axis] / d, d, ...shape.slice(axis + 1)])
    }
    case 3: {
      const start = pick(shape[axis])
      const limit = start + 1 + pick(shape[axis] - start)
      return lax.slice(
        x,
        shape.map((_, i) => (i === axis ? start : 0)),
        shape.map((d, i) => (i === axis ? limit : d)),
      )
    }
    case 4: {
      const ones = shape.indexOf(1)
      return ones >= 0 && pick(2) === 0
        ? lax.broadcast(
            x,
            shape.map((d, i) => (i === ones ? 3 : d)),
          )
        : lax.broadcast(x, [2, ...shape])
    }
    case 5:
    case 6: {
      // Taps: evenly spaced slices of an axis side by side on a new axis after it (a convolution's windows).
      const parts = 2 + pick(2)
      const spacing = 1 + pick(2)
      const length = shape[axis] - (parts - 1) * spacing
      if (length < 1) return x
      const taps = Array.from({ length: parts }, (_, p) =>
        lax.reshape(
          lax.slice(
            x,
            shape.map((_, i) => (i === axis ? p * spacing : 0)),
            shape.map((d, i) => (i === axis ? p * spacing + length : d)),
          ),
          [...shape.slice(0, axis), length, 1, ...shape.slice(axis + 1)],
        ),
      )
      return lax.concat(taps, axis + 1)
    }
    case 7:
      // Parts that are not evenly spaced: computed, so the window starts here.
      return lax.concat(
        [
          x,
          lax.slice(
            x,
            shape.map(() => 0),
            shape.map((d, i) => (i === axis ? 1 : d)),
          ),
        ],
        axis,
      )
    case 8:
      return lax.pad(
        x,
        shape.map((_, i) => (i === axis ? 1 : 0)),
        shape.map(() => 0),
      )
    default:
      return lax.neg(x)
  }
}

describe('windowOf', () => {
  it('reads what a random chain of rearrangements computes, exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const pick = stream(seed)
        const shape = Array.from({ length: 1 + pick(3) }, () => 1 + pick(5))
        const x = tensor(
          Array.from({ length: sizeOf(shape) }, (_, i) => i + 1),
          { shape, dtype: 'f64' },
        )
        const steps = 1 + pick(6)
        const program = makeProgram((v: Tensor) => {
          let y = v
          for (let i = 0; i < steps && sizeOf(y.aval.shape) < 4000; i++) y = step(y, pick)
          return y
        })(x)
        if (!(program.outputs[0] instanceof Var)) return
        const { w, value, source } = await windowed(program, [x])
        expect(read(w, source)).toEqual(value)
      }),
      { numRuns: 150 },
    )
  })

  const image = tensor(
    Array.from({ length: 2 * 7 * 6 * 3 }, (_, i) => i + 1),
    { shape: [2, 7, 6, 3], dtype: 'f64' },
  )
  const kernel = random.normal(random.key(1), [3, 3, 3, 4], { dtype: 'f64' }) as Tensor
  /** The windows operand of the convolution's product, as nn.conv2d builds it. */
  const windowsOf = (options: Parameters<typeof conv2d>[2]) => {
    const program = makeProgram((x: Tensor, w: Tensor) => conv2d(x, w, options))(image, kernel)
    const product = program.eqns.find((e) => e.prim === 'matmul') as Eqn
    return { program, operand: product.inputs[0] as Var }
  }

  for (const [name, options] of [
    ['SAME', { padding: 'SAME' }],
    ['stride 2, SAME', { stride: 2, padding: 'SAME' }],
    ['dilation 2, VALID', { dilation: 2 }],
  ] as const)
    it(`sees a convolution's windows (${name}) as a window of its padded input`, async () => {
      const { program, operand } = windowsOf(options)
      const { w, value, source } = await windowed(program, [image, kernel], operand)
      expect(read(w, source)).toEqual(value)
      expect(sizeOf(w.source.aval.shape)).toBeLessThan(sizeOf(operand.aval.shape))
    })

  it('reads the SAME windows as positions × taps, the taps of a row and its channels one digit', async () => {
    const { program, operand } = windowsOf({ padding: 'SAME' })
    const { w } = await windowed(program, [image, kernel], operand)
    // The padded input is [2, 9, 8, 3]: rows of 24 elements, images of 216.
    expect(w.source.aval.shape).toEqual([2, 9, 8, 3])
    expect(w.axes.map((digits) => normalDigits(digits))).toEqual([
      [
        [2, 216],
        [7, 24],
        [6, 3],
      ],
      [
        [3, 24],
        [9, 1],
      ],
    ])
  })

  it("reads a one-channel input's windows from its horizontal taps, four output positions to a vec4", async () => {
    const one = random.normal(random.key(4), [2, 7, 8, 1], { dtype: 'f64' }) as Tensor
    const narrow = random.normal(random.key(5), [3, 3, 1, 4], { dtype: 'f64' }) as Tensor
    const program = makeProgram((x: Tensor, w: Tensor) => conv2d(x, w, { padding: 'SAME' }))(one, narrow)
    const product = program.eqns.find((e) => e.prim === 'matmul') as Eqn
    const { w, value, source } = await windowed(program, [one, narrow], product.inputs[0] as Var)
    expect(read(w, source)).toEqual(value)
    // The taps [2, 9, 3, 1, 8] (padded rows, horizontal taps, channels, output columns): rows of 24, images of 216.
    expect(w.source.aval.shape).toEqual([2, 9, 3, 1, 8])
    expect(w.axes.map((digits) => normalDigits(digits))).toEqual([
      [
        [2, 216],
        [7, 24],
        [8, 1],
      ],
      // (Tap row a and tap column e at 24a + 8e: one digit of nine taps, 8 apart.)
      [[9, 8]],
    ])
    const step = optimize(
      makeProgram(grad((k: Tensor, x: Tensor) => ops.sum(ops.square(conv2d(x, k, { padding: 'SAME' })))))(
        lax.convert(narrow, 'f32'),
        lax.convert(one, 'f32'),
      ),
      { loopMotion: true, splitK: true },
    )
    const lowered = lower(step, { maxBuffers: 8 })
    const summaries = lowered.kernels
      .filter((k) => k.kind === 'matmul' && k.windowA !== undefined)
      .map((k) => renderKernel(k, lowered.buffers).code.split('\n')[0])
    // The forward product reads four output positions at a time; the kernel's gradient, four steps of its k.
    expect(summaries.some((s) => / A ALONG_MN/.test(s))).toBe(true)
    expect(summaries.some((s) => / A ALONG_K/.test(s))).toBe(true)
  })

  it('catches a window with one stride planted wrong', async () => {
    const { program, operand } = windowsOf({ padding: 'SAME' })
    const { w, value, source } = await windowed(program, [image, kernel], operand)
    const [rows, taps] = w.axes
    const planted: Window = { ...w, axes: [rows, taps.map(([size, stride]) => [size, stride === 24 ? 23 : stride])] }
    expect(read(planted, source)).not.toEqual(value)
  })

  it('leaves the WebGPU lowering of a convolution step no buffer of windows', () => {
    const loss = (w: Tensor, x: Tensor) => ops.sum(ops.square(conv2d(x, w, { padding: 'SAME' })))
    const f32 = (t: Tensor) => lax.convert(t, 'f32')
    const program = optimize(makeProgram(grad(loss))(f32(kernel), f32(image)), { loopMotion: true, splitK: true })
    const lowered = lower(program, { maxBuffers: 8 })
    // The forward product, and the kernel's gradient: both read the padded input through windows.
    const windowed = lowered.kernels.filter((k) => k.kind === 'matmul' && k.windowA !== undefined)
    expect(windowed.length).toBeGreaterThanOrEqual(1)
    const windows = 2 * 7 * 6 * 27
    const sizes = lowered.buffers.map((b) => b.size)
    expect(Math.max(...sizes), `buffer sizes ${sizes}`).toBeLessThan(windows)
  })
})

describe('a value read through a broadcast that repeats it', () => {
  const x = random.normal(random.key(3), [2, 6, 6, 3]) as Tensor
  /** Each element spread over a 2×2 block, as a pooling's gradient spreads its input's. */
  const spread = (v: Tensor) => lax.broadcast(lax.reshape(v, [2, 6, 1, 6, 1, 3]), [2, 6, 2, 6, 2, 3])
  /** Nine shifted copies of x added up: an element takes nine loads, as a 3×3 convolution's input gradient does. */
  const nine = (v: Tensor) => {
    const padded = lax.pad(v, [0, 1, 1, 0], [0, 1, 1, 0])
    let sum: Tensor | null = null
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const part = lax.slice(padded, [0, i, j, 0], [2, i + 6, j + 6, 3])
        sum = sum === null ? part : ops.add(sum, part)
      }
    return sum as Tensor
  }
  const kernels = (f: (v: Tensor) => Tensor) => lower(makeProgram(f)(x), { maxBuffers: 8 }).kernels

  it('is stored once where an element takes several loads, and inlined where it takes one', () => {
    const stored = kernels((v) => spread(nine(v)))
    expect(stored.map((k) => [k.kind, k.kind === 'map' ? k.shape : []])).toEqual([
      ['map', [2, 6, 6, 3]],
      ['map', [2, 6, 2, 6, 2, 3]],
    ])
    expect(kernels((v) => spread(ops.neg(v))).length).toBe(1)
  })

  it.skipIf(gpu.backend === null)('gives the interpreter’s values', async () => {
    const f = (v: Tensor) => ops.mul(spread(nine(v)), 0.5)
    expectClose(
      await (await jit(f, { backend: gpu.backend as WebGpuBackend })(x)).data(),
      f(x).dataSync(),
      ofLargest(1e-6),
    )
  })
})

describe('a product of a rearranged input', () => {
  const x = random.normal(random.key(6), [4, 3, 8]) as Tensor
  const y = random.normal(random.key(7), [3, 8, 5]) as Tensor
  // The batch axis of x's [4, 3, 8] moved to the front: x's rows of one batch entry are 24 elements apart.
  const f = (u: Tensor, v: Tensor) => ops.matmul(lax.transpose(u, [1, 0, 2]), v)

  it('reads it in place through a window, with no copy', () => {
    const { kernels } = lower(makeProgram(f)(x, y), { maxBuffers: 8 })
    expect(kernels.length).toBe(1)
    expect(kernels[0]).toMatchObject({
      kind: 'matmul',
      windowA: {
        batch: [[3, 8]],
        mn: [[4, 24]],
        k: [[8, 1]],
      },
    })
  })

  it.skipIf(gpu.backend === null)('gives the interpreter’s values', async () => {
    const got = await (await jit(f, { backend: gpu.backend as WebGpuBackend })(x, y)).data()
    expectClose(got, f(x, y).dataSync(), ofLargest(1e-5))
  })
})
