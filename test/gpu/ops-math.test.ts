/**
 * The special functions and statistics compiled for WebGPU: the compositions
 * give the CPU's values, argmax/argmin its exact indices (ties and NaN
 * included), and log1p, expm1 and erf keep their accuracy in f32 where the
 * naive forms lose it (tiny arguments).
 */
import { describe, expect, it } from 'vitest'
import { jit, ops, random, tensor, type Tensor } from '../../src/index.ts'
import { expectClose, ofLargest } from '../lib/close.ts'
import { erf as erfReference } from '../lib/stats.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const onGpu = async (f: (x: Tensor) => Tensor, x: Tensor) =>
  Array.from(await (await jit(f, { backend: backend! })(x)).data())

describe.skipIf(backend === null)(`special functions and statistics on ${backend?.name ?? 'no adapter'}`, () => {
  const x = random.normal(random.key(4), [6, 33], { stddev: 3 })
  const cases: [string, (v: Tensor) => Tensor][] = [
    ['softplus', (v) => ops.softplus(v)],
    ['gelu (tanh form)', (v) => ops.gelu(v)],
    ['gelu (exact)', (v) => ops.gelu(v, { approximate: false })],
    ['clip', (v) => ops.clip(v, -1, 2)],
    ['var over an axis', (v) => ops.var(v, 1)],
    ['std of all, ddof 1', (v) => ops.std(v, undefined, { ddof: 1 })],
  ]
  for (const [name, f] of cases)
    it(`${name}: the CPU's values`, async () => {
      expectClose(await onGpu(f, x), f(x).dataSync(), ofLargest(1e-5), name)
    })

  it('argmax and argmin: the CPU’s indices, ties and NaN included', async () => {
    const rounded = ops.div(ops.astype(ops.astype(ops.mul(x, 2), 'i32'), 'f32'), 2)
    const withNaN = ops.where(ops.greater(x, 5), Number.NaN, rounded)
    for (const v of [rounded, withNaN])
      for (const f of [(t: Tensor) => ops.argmax(t, 1), (t: Tensor) => ops.argmin(t, 0), (t: Tensor) => ops.argmax(t)])
        expect(await onGpu(f, v)).toEqual(Array.from(f(v).dataSync()))
  })

  it('log1p, expm1 and erf keep f32 accuracy at tiny and ordinary arguments', async () => {
    const args = [-0.5, -1e-3, -2e-7, 1e-9, 3e-6, 1e-4, 0.3, 2, 7]
    const t = tensor(args)
    const f32 = (v: number) => Math.fround(v)
    const relative = (got: number[], want: number[], tol: number, what: string) =>
      got.forEach((g, i) =>
        expect(Math.abs(g - want[i]), `${what}(${args[i]})`).toBeLessThanOrEqual(tol * Math.abs(want[i])),
      )
    relative(
      await onGpu(ops.log1p, t),
      args.map((v) => Math.log1p(f32(v))),
      2e-6,
      'log1p',
    )
    relative(
      await onGpu(ops.expm1, t),
      args.map((v) => Math.expm1(f32(v))),
      2e-6,
      'expm1',
    )
    const erfs = await onGpu(ops.erf, t)
    erfs.forEach((g, i) => {
      const want = erfReference(f32(args[i]))
      expect(Math.abs(g - want), `erf(${args[i]})`).toBeLessThanOrEqual(2e-7 + 2e-6 * Math.abs(want))
    })
  })
})

describe.skipIf(backend === null)(`orderings on ${backend?.name ?? 'no adapter'}`, () => {
  // Rows of 200 with ties (a grid of halves), NaN and ±∞ among them.
  const base = ops.div(ops.astype(ops.astype(ops.mul(random.normal(random.key(12), [3, 200]), 4), 'i32'), 'f32'), 2)
  const specials = tensor([Number.NaN, Infinity, -Infinity, 0, Number.NaN, 1])
  const x = ops.concat([base, ops.broadcastTo(ops.reshape(specials, [1, 6]), [3, 6])], 1)
  const cases: [string, (v: Tensor) => Tensor][] = [
    ['flip', (v) => ops.flip(v, 1)],
    ['cumsum', (v) => ops.cumsum(ops.where(ops.equal(v, v), ops.clip(v, -10, 10), 0), 1)],
    [
      'cumsum reversed along axis 0',
      (v) => ops.cumsum(ops.where(ops.equal(v, v), ops.clip(v, -10, 10), 0), 0, { reverse: true }),
    ],
    ['argsort', (v) => ops.argsort(v)],
    ['argsort descending, axis 0', (v) => ops.argsort(v, 0, { descending: true })],
    ['sort', (v) => ops.sort(v)],
    ['topK', (v) => ops.topK(v, 5)[1]],
  ]
  for (const [name, f] of cases)
    it(`${name}: the CPU's values`, async () => {
      expect(await onGpu(f, x)).toEqual(Array.from(f(x).dataSync()))
    })

  it('permutation and categorical inside a compiled program: the CPU’s draws', async () => {
    const f = (k: Tensor) =>
      ops.concat([random.permutation(k as random.Key, 300), random.categorical(k as random.Key, ops.zeros([40, 9]))])
    const k = random.key(77)
    expect(await onGpu(f, k)).toEqual(Array.from(f(k).dataSync()))
  })
})
