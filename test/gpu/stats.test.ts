/**
 * The figures a compiled call reports are counted where they happen: every
 * submission goes through the one function that counts it (gpu/device.ts),
 * and the dispatches are those encoded. A call that submitted twice would
 * report 2, so the tests that pin "one submission per step" can fail: shown
 * here by planting a second submission.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jit, ops, random, type Tensor } from '../../src/index.ts'
import { submit } from '../../gpu/device.ts'
import { WebGpuExecutable } from '../../gpu/executable.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend

describe.skipIf(backend === null)('what a compiled call reports', () => {
  const w = random.normal(random.key(1), [16, 16])
  const x = random.normal(random.key(2), [8, 16])
  const step = (p: Tensor, v: Tensor) => ops.mean(ops.square(ops.tanh(ops.matmul(v, p))))

  it('one submission and the dispatches encoded, counted', async () => {
    const f = jit(step, { backend: backend! })
    await (await f(w, x)).data()
    const exe = (await f.compiled(w, x)) as WebGpuExecutable
    expect(exe.stats().submissions).toBe(1)
    expect(exe.stats().dispatches).toBe(exe.dispatches.length)
  })

  it('a planted second submission is reported as 2', async () => {
    const proto = WebGpuExecutable.prototype as unknown as { copyBack: (...args: unknown[]) => () => void }
    const original = proto.copyBack
    proto.copyBack = function (this: { context: Parameters<typeof submit>[0] }, ...args: unknown[]) {
      submit(this.context, [this.context.device.createCommandEncoder().finish()])
      return original.apply(this, args)
    }
    try {
      const f = jit(step, { backend: backend! })
      await (await f(w, x)).data()
      expect((await f.compiled(w, x)).stats().submissions).toBe(2)
    } finally {
      proto.copyBack = original
    }
  })

  it('nothing in gpu/ submits but the counting function', () => {
    const dir = join(import.meta.dirname, '../../gpu')
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
    const direct = files.filter((f) => f !== 'device.ts' && /queue\.submit\(/.test(readFileSync(join(dir, f), 'utf8')))
    expect(direct).toEqual([])
  })
})

describe.skipIf(backend === null)('empty products compile', () => {
  it('a zero-size output, and a product over k = 0 (zeros), as on the CPU', async () => {
    const f = jit((a: Tensor, b: Tensor) => ops.matmul(a, b), { backend: backend! })
    expect((await f(ops.zeros([0, 3]), ops.zeros([3, 2]))).shape).toEqual([0, 2])
    expect(Array.from(await (await f(ops.zeros([2, 0]), ops.zeros([0, 2]))).data())).toEqual([0, 0, 0, 0])
  })
})
