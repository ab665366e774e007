/**
 * Control flow, custom rules and checkpoints compiled for WebGPU: the values
 * and gradients of the CPU interpreter, in one submission. A cond computes
 * its branches and selects, a whileLoop with `maxIterations` runs as a scan
 * of that many steps that keeps its carry once the predicate fails; a
 * whileLoop without a bound is refused by name (jit on the default backend
 * runs it on the CPU).
 */
import { describe, expect, it } from 'vitest'
import {
  checkpoint,
  cond,
  cpuBackend,
  foriLoop,
  grad,
  jit,
  makeProgram,
  ops,
  random,
  switchCase,
  tensor,
  UnsupportedProgramError,
  vmap,
  whileLoop,
  type Tensor,
} from '../../src/index.ts'
import { expectClose, within } from '../lib/close.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const close = within(1e-5)

describe.skipIf(backend === null)(`control flow on ${backend?.name ?? 'no adapter'}`, () => {
  const x = random.normal(random.key(1), [4, 8])
  const w = random.normal(random.key(2), [8, 8], { stddev: 0.3 })
  const net = (p: Tensor, flag: Tensor, v: Tensor) =>
    ops.sum(
      cond(
        flag as Tensor<[], 'bool'>,
        (a: Tensor) => ops.tanh(ops.matmul(a, p)),
        (a: Tensor) => ops.mul(checkpoint((b: Tensor) => ops.sigmoid(ops.matmul(b, p)))(a), 2),
        v,
      ),
    )

  it('grad through cond and checkpoint: the CPU’s values, one submission, either branch', async () => {
    const step = (p: Tensor, flag: Tensor, v: Tensor) => grad(net)(p, flag, v)
    const onGpu = jit(step, { backend: backend! })
    const onCpu = jit(step, { backend: cpuBackend() })
    for (const flag of [true, false]) {
      const f = tensor(flag, { dtype: 'bool' })
      expectClose(await (await onGpu(w, f, x)).data(), await (await onCpu(w, f, x)).data(), close, `${flag}`)
    }
    expect((await onGpu.compiled(w, tensor(true, { dtype: 'bool' }), x)).stats().submissions).toBe(1)
  })

  it('a top-level cond is a gate and indirect dispatches: each branch’s values, the CPU’s, in one submission', async () => {
    const f = jit(
      (i: Tensor, v: Tensor) =>
        switchCase(
          i as Tensor<[], 'i32'>,
          [(a: Tensor) => ops.exp(a), (a: Tensor) => ops.matmul(a, w), (a: Tensor) => a],
          v,
        ),
      { backend: backend! },
    )
    for (const i of [-1, 0, 1, 2, 9]) {
      const index = tensor(i, { dtype: 'i32' })
      const want = [ops.exp(x), ops.matmul(x, w), x][Math.min(Math.max(i, 0), 2)]
      expectClose(await (await f(index, x)).data(), want.dataSync(), close, `index ${i}`)
    }
    const exe = await f.compiled(tensor(0, { dtype: 'i32' }), x)
    const dispatches = (exe as unknown as { dispatches: { gate?: number; guard?: { branch: number } }[] }).dispatches
    expect(dispatches.filter((d) => d.gate !== undefined).length).toBe(1)
    expect(new Set(dispatches.flatMap((d) => (d.guard ? [d.guard.branch] : []))).size).toBe(3)
    expect(exe.stats().submissions).toBe(1)
  })

  it('a bounded whileLoop: gated steps, the CPU’s values for every trip count, stopping at the bound', async () => {
    const loop = (v: Tensor, n: Tensor) =>
      whileLoop(
        ([k]: [Tensor, Tensor]) => ops.less(k, n) as Tensor<[], 'bool'>,
        ([k, y]: [Tensor, Tensor]) => [ops.add(k, 1), ops.tanh(ops.matmul(y, w))] as [Tensor, Tensor],
        [tensor(0, { dtype: 'i32' }) as Tensor, v] as [Tensor, Tensor],
        { maxIterations: 5 },
      )
    const f = jit(loop, { backend: backend! })
    for (const n of [0, 1, 3, 5, 9]) {
      const count = tensor(n, { dtype: 'i32' })
      const [k, y] = await f(x, count)
      const [wantK, wantY] = loop(x, count)
      expect(Array.from(await k.data())).toEqual(Array.from(wantK.dataSync()))
      expect(Array.from(await k.data())).toEqual([Math.min(n, 5)])
      expectClose(await y.data(), wantY.dataSync(), close, `n = ${n}`)
    }
    const exe = await f.compiled(x, tensor(1, { dtype: 'i32' }))
    const gates = (exe as unknown as { dispatches: { gate?: { kind: string } }[] }).dispatches.flatMap((d) =>
      d.gate ? [d.gate.kind] : [],
    )
    expect(gates).toEqual(['open', 'step', 'step', 'step', 'step', 'step'])
    expect(exe.stats().submissions).toBe(1)
  })

  it('vmap of switchCase with a batched index', async () => {
    const f = (i: Tensor, v: Tensor) =>
      vmap(
        (j: Tensor, row: Tensor) =>
          switchCase(
            j as Tensor<[], 'i32'>,
            [(a: Tensor) => ops.exp(a), (a: Tensor) => ops.neg(a), (a: Tensor) => ops.square(a)],
            row,
          ),
        [0, 0],
      )(i, v)
    const i = tensor([2, 0, 1, 5], { dtype: 'i32' })
    expectClose(await (await jit(f, { backend: backend! })(i, x)).data(), f(i, x).dataSync(), close)
  })

  it('whileLoop with maxIterations, foriLoop, and an unbounded whileLoop refused by name', async () => {
    const loop = (v: Tensor, n: Tensor, bound: number | undefined) =>
      whileLoop(
        ([k]: [Tensor, Tensor]) => ops.less(k, n) as Tensor<[], 'bool'>,
        ([k, y]: [Tensor, Tensor]) => [ops.add(k, 1), ops.tanh(ops.matmul(y, w))] as [Tensor, Tensor],
        [tensor(0, { dtype: 'i32' }) as Tensor, v] as [Tensor, Tensor],
        { maxIterations: bound },
      )[1]
    const n = tensor(3, { dtype: 'i32' })
    const bounded = jit((v: Tensor, m: Tensor) => loop(v, m, 8), { backend: backend! })
    expectClose(await (await bounded(x, n)).data(), loop(x, n, 8).dataSync(), close)
    expect((await bounded.compiled(x, n)).stats().submissions).toBe(1)
    const fori = (v: Tensor) => foriLoop(0, 4, (_i, y: Tensor) => ops.tanh(ops.matmul(y, w)), v)
    expectClose(await (await jit(fori, { backend: backend! })(x)).data(), fori(x).dataSync(), close)
    const unbounded = makeProgram((v: Tensor, m: Tensor) => loop(v, m, undefined))(x, n)
    expect(() => backend!.compile(unbounded)).toThrow(UnsupportedProgramError)
    expect(() => backend!.compile(unbounded)).toThrow("'whileLoop'")
    // jit on the default backend runs it on the CPU instead, with the CPU's values.
    const warn = console.warn
    console.warn = () => {}
    try {
      const viaDefault = await jit((v: Tensor, m: Tensor) => loop(v, m, undefined))(x, n)
      expectClose(await viaDefault.data(), loop(x, n, undefined).dataSync(), close)
    } finally {
      console.warn = warn
    }
  })
})
