/**
 * Concatenations and pads as branches: an element of a concatenation reads
 * one block, and an element of a pad reads its operand or is 0, so the
 * kernels evaluate only that block's (or the operand's) expression, in an
 * if/else, where WGSL's select would evaluate every arm. The values are the
 * CPU interpreter's, NaN and ±∞ in the arms not taken included. A
 * scatter-add loads an update only where its index names the element.
 */
import { describe, expect, it } from 'vitest'
import type { MapKernel } from '../../gpu/kernel.ts'
import { lower } from '../../gpu/lower/index.ts'
import { renderKernel } from '../../gpu/wgsl/render.ts'
import { jit, makeProgram, ops, tensor, type Tensor } from '../../src/index.ts'
import { gpu } from './setup.ts'

const blocks = (x: Tensor) => ops.concat([ops.log(x), ops.div(1, x), ops.exp(x), ops.sqrt(x)], 1)
const padded = (x: Tensor) =>
  ops.pad(ops.log(x), [
    [1, 1],
    [2, 0],
  ])

function codeOf(f: (x: Tensor) => Tensor, x: Tensor): string {
  const lowered = lower(makeProgram(f)(x), { maxBuffers: 8 })
  expect(lowered.kernels).toHaveLength(1)
  return renderKernel(lowered.kernels[0] as MapKernel, lowered.buffers).code
}

describe('lazy selects', () => {
  const x = tensor([
    [0, -1, 2],
    [Number.POSITIVE_INFINITY, Number.NaN, 0.5],
  ])

  it('renders a concatenation of four blocks as three if/else, each block in its own arm', () => {
    const code = codeOf(blocks, x)
    expect(code.match(/\bvar b\d+: f32;\s*if \(\(o1 < \d+i\)\) \{/g)?.length).toBe(3)
    // Each block's function appears once, inside an arm, and no select chooses between blocks.
    const from = code.indexOf('@compute')
    const main = code.slice(from, code.indexOf('\n}\n', from))
    for (const f of ['log_(', 'exp_(', 'sqrt(']) expect(main.split(f).length - 1, f).toBe(1)
    expect(main).not.toMatch(/select\(/)
  })

  it('renders a pad as an if/else around its operand', () => {
    const code = codeOf(padded, x)
    expect(code).toMatch(/var b\d+: f32;\s*if \(/)
    expect(code).toMatch(/\} else \{\s*b\d+ = 0f;/)
  })

  it.skipIf(gpu.backend === null)(
    'gives the interpreter’s integers: a division by zero in one block, a pad',
    async () => {
      const n = tensor(
        [
          [0, -7, 2147483647],
          [5, 0, -2147483648],
        ],
        { dtype: 'i32' },
      )
      // i32 x / 0 is 0 on every backend; the pad's zeros and the negated −2³¹ (which wraps) as the CPU has them.
      const f = (v: Tensor) =>
        ops.pad(ops.concat([ops.div(v, v), ops.neg(v)], 1), [
          [1, 0],
          [0, 1],
        ])
      const want = Array.from(f(n).dataSync())
      const got = Array.from(await (await jit(f, { backend: gpu.backend! })(n)).data())
      expect(got).toEqual(want)
    },
  )

  it.skipIf(gpu.backend === null)('gives the interpreter’s values, NaN and ±∞ in the arms not taken', async () => {
    for (const f of [blocks, padded]) {
      const want = Array.from(f(x).dataSync())
      const got = Array.from(await (await jit(f, { backend: gpu.backend! })(x)).data())
      expect(got.length).toBe(want.length)
      // Exactly where the value is not finite, and within exp's and log's allowance (2⁻²¹ relative) elsewhere.
      got.forEach((g, i) => {
        if (Number.isFinite(want[i]))
          expect(Math.abs(g - want[i]), `${i}`).toBeLessThanOrEqual(2 ** -21 * Math.abs(want[i]))
        else expect(String(g), `${i}`).toBe(String(want[i]))
      })
    }
  })

  describe('a scatter-add', () => {
    // Updates into 4 rows of a table, the update at 2 a NaN: only the rows its index names may see it.
    const table = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ])
    const ids = tensor([3, 0, 3, 1], { dtype: 'i32' })
    const updates = tensor([
      [1, 1],
      [2, 2],
      [Number.NaN, 3],
      [4, 4],
    ])
    const scatter = (a: Tensor, i: Tensor, u: Tensor) => ops.scatterAdd(a, i as never, u)

    it('loads an update only where its index names the element, in an if', () => {
      const lowered = lower(makeProgram(scatter)(table, ids, updates), { maxBuffers: 8 })
      expect(lowered.kernels).toHaveLength(1)
      const code = renderKernel(lowered.kernels[0], lowered.buffers).code
      // The updates (the third input) are read inside the arm, none outside it.
      expect(code).toMatch(/if \([^\n]*\) \{\s*b\d+ = in2\[/)
      expect(code).toMatch(/\} else \{\s*b\d+ = 0f;/)
      expect(code.match(/in2\[/g)?.length).toBe(1)
    })

    it.skipIf(gpu.backend === null)('gives the interpreter’s values, the NaN in its own row only', async () => {
      const want = Array.from(scatter(table, ids, updates).dataSync())
      const got = Array.from(await (await jit(scatter, { backend: gpu.backend! })(table, ids, updates)).data())
      expect(got.map(String)).toEqual(want.map(String))
      expect(want.filter(Number.isNaN).length).toBe(1)
    })
  })
})
