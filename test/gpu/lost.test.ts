/**
 * A lost device loses nothing: every tensor a jitted call returned can still
 * be read, its values recomputed on the CPU from the calls that made it (or
 * taken from the last checkpoint), donated parameters' successors included;
 * and a function jitted for the default backend moves to a new one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  cpuBackend,
  defaultBackend,
  grad,
  jit,
  ops,
  registerBackend,
  tensor,
  tree,
  type Tensor,
} from '../../src/index.ts'
import { webgpuBackend, type WebGpuBackend } from '../../gpu/index.ts'
import { expectClose } from '../lib/close.ts'
import { gpu } from './setup.ts'

type Params = { w: Tensor; b: Tensor }

/** Least squares of a tanh layer: a step of SGD per call, parameters donated. */
const loss = (p: Params, x: Tensor, y: Tensor) =>
  ops.mean(ops.square(ops.sub(ops.tanh(ops.add(ops.matmul(x, p.w), p.b)), y)))
const sgd = (p: Params, x: Tensor, y: Tensor): [Params, Tensor] => {
  const g = grad(loss)(p, x, y)
  return [tree.treeMap2(p, g, (a, d) => ops.sub(a, ops.mul(d, 0.5))), loss(p, x, y)]
}

const params = (): Params => ({
  w: tensor([
    [0.3, -0.2],
    [0.1, 0.4],
    [-0.5, 0.2],
  ]),
  b: tensor([0.05, -0.05]),
})
const batchAt = (i: number): [Tensor, Tensor] => [
  tensor([
    [Math.sin(i), 1, -0.5],
    [0.2, Math.cos(i), 0.7],
    [1, -1, i % 3],
  ]),
  tensor([
    [0.5, -0.2],
    [0.1, 0.3],
    [-0.4, 0.6],
  ]),
]

/** The same steps on the CPU interpreter: what a recovered value must equal. */
async function reference(steps: number): Promise<Params> {
  const step = jit(sgd, { backend: cpuBackend() })
  let p = params()
  for (let i = 0; i < steps; i++) [p] = await step(p, ...batchAt(i))
  return p
}

async function loseDevice(backend: WebGpuBackend): Promise<void> {
  backend.context.device.destroy()
  await backend.context.device.lost
}

/** The device's parameters against the CPU's, elementwise. */
const trained = { atol: 1e-4 }

describe.skipIf(gpu.backend === null)('after a lost device', () => {
  afterEach(() => vi.restoreAllMocks())

  it.each([
    ['from the last checkpoint', 16, 40],
    ['along the whole chain of calls, without a checkpoint', 1000, 40],
  ])('parameters trained on the device are recovered %s', async (_, every, steps) => {
    const own = await webgpuBackend()
    const step = jit(sgd, { backend: own, donateArgnums: [0], checkpointEvery: every })
    let p = params()
    let checkpointed = 0
    for (let i = 0; i < steps; i++) {
      ;[p] = await step(p, ...batchAt(i))
      checkpointed += (await step.compiled(p, ...batchAt(i))).stats().bytesCheckpointed
    }
    // Parameters and loss (4·(6 + 2 + 1) bytes) are copied back once every `every` chained calls.
    expect(checkpointed).toBe(Math.floor(steps / every) * 4 * 9)
    await loseDevice(own)
    const want = await reference(steps)
    expectClose(await p.w.data(), await want.w.data(), trained)
    expectClose(await p.b.data(), await want.b.data(), trained)
    expect(p.w.toConcrete().aval.shape).toEqual([3, 2])
  })

  it('a donated tensor stays unusable, and the next call names the loss and the way out', async () => {
    const own = await webgpuBackend()
    const step = jit(sgd, { backend: own, donateArgnums: [0] })
    const [p1] = await step(params(), ...batchAt(0))
    const [p2] = await step(p1, ...batchAt(1))
    await loseDevice(own)
    await expect(p1.w.data()).rejects.toThrow(/was donated to a jitted call/)
    await expect(step(p2, ...batchAt(2))).rejects.toThrow(
      /cannot run: the WebGPU device was lost.*`await t.data\(\)` recomputes them on the CPU/,
    )
    expectClose(await p2.w.data(), await (await reference(2)).w.data(), trained)
  })

  it('a scalar came back with the call that computed it: it is read without a submission, and survives the loss', async () => {
    const own = await webgpuBackend()
    const f = jit((x: Tensor) => [ops.sum(ops.exp(x)), ops.exp(x)] as const, { backend: own, checkpointEvery: 0 })
    const [total, each] = await f(tensor([0, 1]))
    const exe = await f.compiled(tensor([0, 1]))
    expect(exe.stats().bytesRead).toBe(4)
    expect((await total.data())[0]).toBeCloseTo(1 + Math.E, 5)
    expect(exe.stats()).toMatchObject({ submissions: 1, bytesRead: 4 })
    await loseDevice(own)
    expect((await total.data())[0]).toBeCloseTo(1 + Math.E, 5)
    await expect(each.data()).rejects.toThrow(/no lineage was kept/)
  })

  it('without lineage (checkpointEvery: 0) the error says what was lost', async () => {
    const own = await webgpuBackend()
    const f = jit((x: Tensor) => ops.exp(x), { backend: own, checkpointEvery: 0 })
    const y = await f(tensor([1, 2]))
    await loseDevice(own)
    await expect(y.data()).rejects.toThrow(
      /cannot recover a f32\[2\] tensor after the WebGPU device was lost.*no lineage was kept/,
    )
  })

  it('memory stays bounded: a call older than four checkpoint intervals is forgotten, with a clear error', async () => {
    const own = await webgpuBackend()
    const f = jit((x: Tensor) => ops.mul(x, 2), { backend: own, checkpointEvery: 2 })
    const outs: Tensor[] = []
    for (let i = 0; i < 9; i++) outs.push(await f(tensor([i, -i])))
    await loseDevice(own)
    await expect(outs[0].data()).rejects.toThrow(/computed too long ago to be recomputed/)
    expect(Array.from(await outs[1].data())).toEqual([2, -2])
    expect(Array.from(await outs[8].data())).toEqual([16, -16])
  })

  it('a function jitted for the default backend compiles again for a new default and carries on', async () => {
    // Taken for a hardware adapter, so that the default order puts it first whatever this machine's adapter is.
    registerBackend('webgpu-test', async () => ({ ...(await webgpuBackend()), software: false }), 100)
    const first = (await defaultBackend()) as WebGpuBackend
    const step = jit(sgd, { donateArgnums: [0] })
    let p = params()
    for (let i = 0; i < 5; i++) [p] = await step(p, ...batchAt(i))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    await loseDevice(first)
    for (let i = 5; i < 8; i++) [p] = await step(p, ...batchAt(i))
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^adjoint: cannot run: the WebGPU device was lost .*compiling again for the default backend$/,
      ),
    )
    expect(await defaultBackend()).not.toBe(first)
    expectClose(await p.w.data(), await (await reference(8)).w.data(), trained)
  })
})
