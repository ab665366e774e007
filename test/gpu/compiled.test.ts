/**
 * Law: compiled (WebGPU) = interpreted (CPU), in f32, for every primitive of
 * the spec table (values, and cotangents where differentiable) and for the
 * gradient programs of a few networks, and maps and reductions large enough
 * that an invocation takes several elements.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { grad, jit, makeProgram, ops, random, tensor, vjp, type Primitive, type Tensor } from '../../src/index.ts'
import { lower } from '../../gpu/lower/index.ts'
import { elementsPerInvocation, renderKernel } from '../../gpu/wgsl/render.ts'
import { arb, specs } from '../../laws/index.ts'
import { expectClose, ofLargest, type Closeness } from '../lib/close.ts'
import { gpu } from './setup.ts'

const runs = Number(process.env.ADJOINT_GPU_RUNS ?? 6)
const backend = gpu.backend

/**
 * f32 tolerance per primitive, relative to the largest magnitude of the
 * expected values (at least 1). WGSL allows sin and cos an absolute error of
 * 2⁻¹¹ on [−π, π] (the renderer reduces arguments to that range), and some
 * adapters (SwiftShader) use all of it; exp, log and pow are allowed a few ULP.
 */
const TOLERANCE: Partial<Record<Primitive, number>> = {
  exp: 1e-5,
  log: 1e-5,
  log1p: 1e-5,
  expm1: 1e-5,
  erf: 1e-6,
  tanh: 1e-5,
  logistic: 1e-5,
  sin: 2 ** -11,
  cos: 2 ** -11,
  // Their rows' functions are built from sin and cos, and tanh.
  cond: 2 ** -11,
  customJvp: 2 ** -11,
  customVjp: 2 ** -11,
  customVjpLin: 2 ** -11,
  checkpoint: 1e-5,
  pow: 1e-4,
  sqrt: 1e-5,
  div: 1e-5,
  matmul: 1e-5,
  sum: 1e-5,
}
const DEFAULT_TOLERANCE = 1e-6

/** Within rtol of the largest expected magnitude (at least 1); NaN and infinities expected must be given exactly. */
const tolerance = (rtol: number): Closeness => ({ ...ofLargest(rtol), nonFinite: 'match' })

const asF32 = (x: Tensor) => (x.dtype === 'f64' ? ops.astype(x, 'f32') : x)

describe.skipIf(backend === null)(`compiled = interpreted on ${backend?.name ?? 'no adapter'}`, () => {
  for (const prim of Object.keys(specs) as Primitive[]) {
    it(prim, async () => {
      const spec = specs[prim]
      const rtol = TOLERANCE[prim] ?? DEFAULT_TOLERANCE
      const instances = fc.sample(spec.instance, { numRuns: runs, seed: 7 })
      for (const [n, instance] of instances.entries()) {
        const drawn = instance.point
          ? fc.sample(instance.point, { numRuns: 1, seed: n })[0]
          : instance.inputs.map(
              (s, j) =>
                fc.sample(arb.tensor(s.shape, { domain: s.domain, dtype: s.dtype }), {
                  numRuns: 1,
                  seed: 31 * n + j,
                })[0],
            )
        const inputs = drawn.map(asF32)
        const label = `${instance.label} (instance ${n})`
        const expected = instance.fn(...inputs)
        const actual = await jit(instance.fn, { backend: backend! })(...inputs)
        expect(actual.shape, label).toEqual(expected.shape)
        expect(actual.dtype, label).toBe(expected.dtype)
        expectClose(await actual.data(), expected.dataSync(), tolerance(rtol), label)
        // Cotangents: the transposed linear program, compiled, where the row has reverse mode (a whileLoop's is
        // refused by design).
        if (spec.order === 0 || spec.reverse === false) continue
        const floats = inputs.map((x) => x.dtype === 'f32')
        const pullback = (xs: Tensor[], ct: Tensor) => {
          const [, back] = vjp((...ys: Tensor[]) => instance.fn(...xs.map((x, i) => (floats[i] ? ys[i] : x))), ...xs)
          return (back(ct) as Tensor[]).filter((_, i) => floats[i])
        }
        const ct = random.normal(random.key(n), expected.shape as number[])
        const want = pullback(inputs, ct)
        const got = await jit(pullback, { backend: backend! })(inputs, ct)
        for (const [i, g] of got.entries())
          expectClose(await g.data(), want[i].dataSync(), tolerance(rtol * 10), `${label}, cotangent ${i}`)
      }
    })
  }
})

describe.skipIf(backend === null)('gradient programs of networks, compiled', () => {
  const key = random.split(random.key(42), 8)
  it('an MLP with tanh and softmax cross-entropy', async () => {
    const p = {
      w1: random.normal(key[0], [6, 8]),
      b1: random.normal(key[1], [8]),
      w2: random.normal(key[2], [8, 3]),
      b2: random.normal(key[3], [3]),
    }
    const x = random.normal(key[4], [5, 6])
    const y = ops.astype(
      ops.equal(ops.reshape(tensor([0, 2, 1, 1, 0], { dtype: 'i32' }), [5, 1]), ops.arange(3, undefined, 1, 'i32')),
      'f32',
    )
    const loss = (q: typeof p, v: Tensor, t: Tensor) => {
      const h = ops.tanh(ops.add(ops.matmul(v, q.w1), q.b1))
      const z = ops.add(ops.matmul(h, q.w2), q.b2)
      return ops.mean(ops.sub(ops.logsumexp(z, 1), ops.sum(ops.mul(z, t), 1)))
    }
    const want = grad(loss)(p, x, y)
    const got = await jit(grad(loss), { backend: backend! })(p, x, y)
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const)
      expectClose(await got[k].data(), want[k].dataSync(), tolerance(1e-5), k)
  })
  it('an embedding lookup with repeated indices (gather; scatter-add in the gradient)', async () => {
    const table = random.normal(key[5], [7, 4])
    const ids = tensor(
      [
        [1, 4, 1],
        [6, 1, 0],
      ],
      { dtype: 'i32' },
    )
    const loss = (t: Tensor, i: Tensor) => ops.sum(ops.square(ops.take(t, i as Tensor<[number, number], 'i32'>)))
    const got = await jit(grad(loss), { backend: backend! })(table, ids)
    expectClose(await got.data(), grad(loss)(table, ids).dataSync(), tolerance(1e-6), 'embedding gradient')
  })
  it('large maps and reductions: several elements an invocation, the last invocations short of a whole run', async () => {
    // 70,005 and 140,010 elements, and 70,001 sums and maxima of three: above 2¹⁶, no multiple of the span.
    const x = random.normal(key[7], [3, 23335])
    const w = random.normal(key[6], [70001, 3])
    const f = (a: Tensor, b: Tensor) => {
      const y = ops.concat([ops.tanh(ops.mul(a, 1.5)), ops.neg(ops.transpose(ops.transpose(a, [1, 0]), [1, 0]))], 0)
      return [ops.mul(y, 2), ops.sum(ops.exp(b), [1]), ops.max(ops.sin(b), [1])] as const
    }
    const want = f(x, w)
    const got = await jit(f, { backend: backend! })(x, w)
    // (sin: WGSL allows an absolute error of 2⁻¹¹, and SwiftShader uses it.)
    for (const [i, g] of got.entries())
      expectClose(await g.data(), want[i].dataSync(), tolerance(i === 2 ? 2 ** -11 : 1e-5), `output ${i}`)
    const program = makeProgram(f)(x, w)
    const lowered = lower(program, { maxBuffers: 8 })
    const looped = lowered.kernels.filter(
      (k) =>
        k.kind !== 'matmul' &&
        renderKernel(k, lowered.buffers).code.includes('let each = select(16u, 0u, arrayLength(&out) == 0u);'),
    )
    expect(looped.length).toBeGreaterThanOrEqual(2)
    expect(elementsPerInvocation(70001)).toBe(16)
    expect(elementsPerInvocation(1000)).toBe(1)
  })
  it('structure: concat, pad, slice, transpose, batched matmul', async () => {
    const a = random.normal(key[6], [2, 3, 4])
    const b = random.normal(key[7], [2, 4, 3])
    const f = (u: Tensor, v: Tensor) => {
      const m = ops.matmul(u, v)
      const c = ops.concat([m, ops.transpose(m, [0, 2, 1])], 2)
      const padded = ops.pad(c, [
        [0, 0],
        [1, 0],
        [0, 2],
      ])
      return ops.sum(ops.mul(ops.slice(padded, [0, 1, 1], [2, 3, 6]), ops.sin(ops.slice(padded, [0, 0, 0], [2, 3, 6]))))
    }
    const [gu, gv] = await jit(grad(f, { argnums: [0, 1] }), { backend: backend! })(a, b)
    const [wu, wv] = grad(f, { argnums: [0, 1] })(a, b)
    // sin's allowance (2⁻¹¹) scaled by the sums it enters.
    expectClose(await gu.data(), wu.dataSync(), tolerance(1e-4), 'd/du')
    expectClose(await gv.data(), wv.dataSync(), tolerance(1e-4), 'd/dv')
  })
  it('a weight gradient over a long contraction: partial products over runs of the rows, then their sum', async () => {
    // Xᵀ·B of 144 × 32 outputs over 8,192 rows (a convolution's kernel gradient): split into 16 runs of 512.
    const x = random.normal(key[2], [8192, 144])
    const dy = random.normal(key[3], [8192, 32])
    const f = (u: Tensor, v: Tensor) => ops.sub(ops.ones([144, 32]), ops.mul(ops.matmul(ops.transpose(u), v), 0.01))
    const jitted = jit(f, { backend: backend! })
    const executable = await jitted.compiled(x, dy)
    expect(executable.kernels).toBe(2) // the batched partial products, and their sum with the update fused
    const got = await (await jitted(x, dy)).data()
    expectClose(got, f(x, dy).dataSync(), tolerance(1e-5), 'Xᵀ·B split')
  })
  it('a product of runs of stored values: read in place from where each starts, vec4 and f32 loads', async () => {
    // Runs of the leading axis, through reshapes, transposed or not; starts that are and are not multiples of 4.
    const x = random.normal(key[0], [7, 3, 4])
    const w = random.normal(key[1], [6, 4, 5])
    const f = (u: Tensor, v: Tensor) => {
      const e = ops.exp(u)
      // (slice takes starts and sizes)
      const rows = ops.reshape(ops.slice(e, [2, 0, 0], [4, 3, 4]), [12, 4])
      const left = ops.matmul(rows, ops.reshape(ops.slice(v, [1, 0, 0], [1, 4, 5]), [4, 5]))
      const across = ops.matmul(
        ops.transpose(ops.reshape(ops.slice(e, [1, 0, 0], [4, 3, 4]), [12, 4])),
        ops.reshape(ops.slice(e, [3, 0, 0], [4, 3, 4]), [12, 4]),
      )
      return [
        left,
        across,
        ops.matmul(
          ops.slice(ops.reshape(e, [21, 4]), [5, 0], [11, 4]),
          ops.slice(ops.reshape(v, [24, 5]), [3, 0], [4, 5]),
        ),
      ] as const
    }
    const compiled = jit(f, { backend: backend! })
    const got = await compiled(x, w)
    const want = f(x, w)
    for (const [i, g] of got.entries()) expectClose(await g.data(), want[i].dataSync(), tolerance(1e-5), `product ${i}`)
    // exp(u) once, then the three products: no copies of the runs (each at least half of what it is a run of).
    expect((await compiled.compiled(x, w)).stats().dispatches).toBe(4)
    // A short run of a computed value is copied rather than computing all of the value for it.
    const short = jit(
      (u: Tensor, v: Tensor) =>
        ops.matmul(
          ops.reshape(ops.slice(ops.exp(u), [2, 0, 0], [2, 3, 4]), [6, 4]),
          ops.reshape(ops.slice(v, [1, 0, 0], [1, 4, 5]), [4, 5]),
        ),
      { backend: backend! },
    )
    expectClose(await (await short(x, w)).data(), want[0].dataSync().slice(0, 6 * 5), tolerance(1e-5), 'short run')
    expect((await short.compiled(x, w)).stats().dispatches).toBe(2)
  })
})
