/**
 * Exported programs run by ONNX Runtime equal the CPU interpreter: every
 * primitive's spec-table cases (drawn as the law kit draws them, in f64
 * and in f32), their cotangent programs, and values at the edges (NaN, ±∞,
 * indices out of range, integer division by zero). The model is checked
 * by ONNX Runtime's own loader, not by ours.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arb, specs } from '../laws/index.ts'
import { cpuBackend, jit, lax, ops, random, tensor, vjp, type Primitive, type Tensor } from '../src/index.ts'
import { onnxruntimeBackend } from '../src/onnx/backend.ts'
import { expectClose, ofLargest, type Closeness } from './lib/close.ts'

const backend = await onnxruntimeBackend().catch(() => null)
const runs = Number(process.env.ADJOINT_ONNX_RUNS ?? 6)

/** f32 tolerance per primitive, relative to the largest magnitude expected (at least 1); f64 gets 1e-12 unless listed. */
const F32: Partial<Record<Primitive, number>> = {
  exp: 1e-6,
  log: 1e-6,
  log1p: 1e-6,
  expm1: 1e-6,
  pow: 1e-5,
  tanh: 1e-6,
  logistic: 1e-6,
  erf: 1e-6,
  sin: 1e-6,
  cos: 1e-6,
  matmul: 1e-5,
  sum: 1e-5,
  cumsum: 1e-5,
  cond: 1e-5,
  customJvp: 1e-5,
  customVjp: 1e-5,
  checkpoint: 1e-5,
  scan: 1e-5,
  whileLoop: 1e-5,
}
const F64: Partial<Record<Primitive, number>> = { erf: 4e-15, pow: 1e-10 }

const tolerance = (rtol: number): Closeness => ({ ...ofLargest(rtol), nonFinite: 'match' })

function drawInputs(
  prim: Primitive,
  n: number,
): { label: string; fn: (...xs: Tensor[]) => Tensor; inputs: Tensor[] }[] {
  const spec = specs[prim]
  return fc.sample(spec.instance, { numRuns: runs, seed: 7 }).map((instance, k) => ({
    label: `${instance.label} (instance ${k})`,
    fn: instance.fn,
    inputs: instance.point
      ? fc.sample(instance.point, { numRuns: 1, seed: k + n })[0]
      : instance.inputs.map(
          (s, j) =>
            fc.sample(arb.tensor(s.shape, { domain: s.domain, dtype: s.dtype }), {
              numRuns: 1,
              seed: 31 * k + j + n,
            })[0],
        ),
  }))
}

describe.skipIf(backend === null)('exported programs on ONNX Runtime = the interpreter', () => {
  for (const dtype of ['f64', 'f32'] as const)
    for (const prim of Object.keys(specs) as Primitive[])
      it(`${prim} (${dtype})`, async () => {
        const spec = specs[prim]
        const rtol = dtype === 'f32' ? (F32[prim] ?? 1e-6) : (F64[prim] ?? 1e-12)
        for (const c of drawInputs(prim, 0)) {
          const inputs = c.inputs.map((x) => (x.dtype === 'f64' && dtype === 'f32' ? ops.astype(x, 'f32') : x))
          const expected = c.fn(...inputs)
          const actual = await jit(c.fn, { backend: backend! })(...inputs)
          expect(actual.shape, c.label).toEqual(expected.shape)
          expect(actual.dtype, c.label).toBe(expected.dtype)
          expectClose(await actual.data(), expected.dataSync(), tolerance(rtol), c.label)
          if (spec.order === 0 || spec.reverse === false) continue
          const floats = inputs.map((x) => x.dtype === dtype)
          const pullback = (xs: Tensor[], ct: Tensor) => {
            const [, back] = vjp((...ys: Tensor[]) => c.fn(...xs.map((x, i) => (floats[i] ? ys[i] : x))), ...xs)
            return (back(ct) as Tensor[]).filter((_, i) => floats[i])
          }
          const ct = random.normal(random.key(3), expected.shape as number[], { dtype: expected.dtype as 'f32' })
          const want = pullback(inputs, ct)
          const got = await jit(pullback, { backend: backend! })(inputs, ct)
          for (const [i, g] of got.entries())
            expectClose(await g.data(), want[i].dataSync(), tolerance(rtol * 10), `${c.label}, cotangent ${i}`)
        }
      })
})

describe.skipIf(backend === null)('values at the edges, as the interpreter gives them', () => {
  // The interpreter as a backend: compiled-program rules (a gather clamps, a scatter-add drops).
  const same = async (f: (...xs: Tensor[]) => Tensor, ...xs: Tensor[]) => {
    const want = await jit(f, { backend: cpuBackend() })(...xs)
    const got = await jit(f, { backend: backend! })(...xs)
    expect(got.dtype).toBe(want.dtype)
    expect(Array.from(await got.data())).toEqual(Array.from(want.dataSync()))
  }
  const specials = tensor([Number.NaN, Infinity, -Infinity, 0, -0, 1, -1, 1e-30, 3e38, -2.5], { dtype: 'f32' })
  it('NaN through max, reduceMax, sign and argsort; ±∞ and NaN into i32 and bool', async () => {
    const other = tensor([1, Number.NaN, 2, -0, 0, Infinity, Number.NaN, -1, 0, 4], { dtype: 'f32' })
    await same((a, b) => lax.max(a, b), specials, other)
    await same((a) => lax.reduceMax(a, [0]), specials)
    await same((a) => lax.sign(a), specials)
    await same((a) => lax.argsort(a, 0, false), specials)
    await same((a) => lax.argsort(a, 0, true), specials)
    await same((a) => lax.convert(a, 'i32'), specials)
    await same((a) => lax.convert(a, 'bool'), specials)
  })
  it('log1p and expm1 near 0, pow at ±1 with NaN and ∞ exponents', async () => {
    const small = tensor([1e-10, -1e-10, 1e-5, 0, -0, 0.5, -0.999, Infinity, -Infinity, Number.NaN], { dtype: 'f64' })
    const want1 = ops.log1p(small).dataSync()
    const got1 = await (await jit((x: Tensor) => ops.log1p(x), { backend: backend! })(small)).data()
    expectClose(got1, want1, tolerance(1e-15))
    const want2 = ops.expm1(small).dataSync()
    const got2 = await (await jit((x: Tensor) => ops.expm1(x), { backend: backend! })(small)).data()
    expectClose(got2, want2, tolerance(1e-15))
    const base = tensor([1, -1, 1, -1, 2, 0.5], { dtype: 'f64' })
    const exponent = tensor([Number.NaN, Infinity, -Infinity, Number.NaN, Infinity, -Infinity], { dtype: 'f64' })
    await same((a, b) => lax.pow(a, b), base, exponent)
  })
  it('i32 division by 0 and −2³¹ / −1', async () => {
    const a = tensor([7, -7, 5, -2147483648, 0, 9], { dtype: 'i32' })
    const b = tensor([2, 2, 0, -1, 0, -3], { dtype: 'i32' })
    await same((x, y) => lax.div(x, y), a, b)
  })
  it('indices out of range: a gather clamps, a scatter-add drops, with and without batch axes', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: 'f32' })
    const i = tensor([-4, 0, 2, 3, 1, 9], { shape: [2, 3], dtype: 'i32' })
    await same((a, j) => lax.gather(a, j, 1, 0), x, i)
    await same((a, j) => lax.gather(a, j, 1, 1), x, i)
    const u = tensor([10, 20, 30, 40, 50, 60], { shape: [2, 3], dtype: 'f32' })
    await same((a, j, v) => lax.scatterAdd(a, j, v, 1, 1), x, i, u)
    const u0 = ops.astype(ops.reshape(ops.arange(12), [2, 2, 3]), 'f32')
    await same((a, j, v) => lax.scatterAdd(a, j, v, 1, 0), x, i, u0)
  })
  it('random bits: the same Threefry words, raw and as floats', async () => {
    for (const dtype of ['i32', 'f32', 'f64'] as const)
      await same(
        (key, offset) => lax.randomBits(key, offset, [3, 5], 7, dtype),
        tensor(
          [
            [12345, -678],
            [2147483647, -2147483648],
          ],
          { dtype: 'i32' },
        ),
        tensor([0, 4000000000 | 0], { dtype: 'i32' }),
      )
  })
})
