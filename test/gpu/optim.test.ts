/**
 * Optimiser steps compiled for WebGPU: the whole step (gradient, clipping,
 * schedule, update, step count) is one submission, and its numbers follow
 * the CPU interpreter's.
 */
import { describe, expect, it } from 'vitest'
import { cpuBackend, jit, ops, tensor, valueAndGrad, type Tensor } from '../../src/index.ts'
import * as optim from '../../src/optim/index.ts'
import { flatten, type Tree } from '../../src/tree.ts'
import { expectClose, within } from '../lib/close.ts'
import { gpu } from './setup.ts'

type Lin = { w: Tensor<[3, 1]>; b: Tensor<[1]> }
const xs = tensor([
  [0.1, 0.2, -0.3],
  [1, -1, 0.5],
  [0.3, 0.8, 0.2],
  [-0.6, 0.1, 0.9],
])
const ys = tensor([[0.3], [-1], [0.8], [0.5]])
const mse = (p: Lin, x: Tensor, y: Tensor) => ops.mean(ops.square(ops.sub(ops.add(ops.matmul(x, p.w), p.b), y)))
const init: Lin = { w: tensor([[0.5], [-0.5], [0.25]]), b: tensor([0]) }

describe.skipIf(gpu.backend === null)('optimiser steps on WebGPU', () => {
  const cases: [string, optim.Optimiser<any>][] = [
    [
      'adam, cyclic rate, decoupled decay',
      optim.adam({
        lr: optim.cyclic({ min: 0.01, max: 0.1, halfPeriod: 2 }),
        weightDecay: { rate: 0.1, mode: 'decoupled' },
      }),
    ],
    [
      'clipped nesterov, step decay',
      optim.chain(
        optim.clipByGlobalNorm(0.1),
        optim.nesterov({ lr: optim.stepDecay({ init: 0.1, factor: 0.5, every: 2 }) }),
      ),
    ],
  ]
  for (const [name, opt] of cases)
    it(`${name}: one submission per step, the CPU's numbers`, async () => {
      const step = (p: Lin, s: Tree, x: Tensor, y: Tensor) => {
        const [loss, g] = valueAndGrad(mse)(p, x, y)
        return [...opt.update(g, s, p), loss] as const
      }
      const onGpu = jit(step, { backend: gpu.backend! })
      const onCpu = jit(step, { backend: cpuBackend() })
      let [pg, sg, pc, sc]: [Lin, Tree, Lin, Tree] = [init, opt.init(init), init, opt.init(init)]
      for (let k = 0; k < 5; k++) {
        const [p1, s1] = await onGpu(pg, sg, xs, ys)
        const [p2, s2] = await onCpu(pc, sc, xs, ys)
        expectClose(await p1.w.data(), await p2.w.data(), within(1e-4), `step ${k}`)
        ;[pg, sg, pc, sc] = [p1, s1, p2, s2]
      }
      const exe = await onGpu.compiled(pg, sg, xs, ys)
      expect(exe.stats().submissions).toBe(1)
      // The step count advanced on the device, as an i32 leaf of the state.
      const counts = flatten(sg)[0].filter((t) => t.dtype === 'i32')
      expect(counts.length).toBe(1)
      expect(Array.from(await counts[0].data())).toEqual([5])
    })
})
