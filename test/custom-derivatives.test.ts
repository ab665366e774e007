/**
 * Derivative rules written by the user, and rematerialisation: customJvp and
 * customVjp give their rules' derivatives under every transform (checked
 * against closed forms), the laws pass on correct rules and catch wrong ones
 * (finite differences, forwards and backwards), and checkpoint gives the
 * same gradients while keeping fewer residuals, as a number.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  bptt,
  checkpoint,
  cpuBackend,
  customJvp,
  customVjp,
  grad,
  jit,
  jvp,
  makeProgram,
  ops,
  random,
  savedResiduals,
  tensor,
  tree,
  vjp,
  vmap,
  type Tensor,
} from '../src/index.ts'
import { arb, checkLayer, laws, reverseDifferences } from '../laws/index.ts'
import { expectClose, within } from './lib/close.ts'
import { makeCell } from './lib/cells.ts'
import { checkpointedLoss } from '../src/recurrent/bptt.ts'

const f64 = (data: number | number[]) => tensor(data as number[], { dtype: 'f64' }) as Tensor
const values = (t: Tensor) => Array.from(t.dataSync())
const exact = within(1e-14)

/** sign(x) forwards, the identity backwards: a straight-through estimator. */
const straightThrough = customJvp(
  (x: Tensor) => ops.sign(x),
  ([x], [t]) => [ops.sign(x), t] as const,
)

/** The identity forwards; its cotangent clipped to [−1, 1] backwards (JAX's clip_gradient example). */
const clipGradient = customVjp(
  (x: Tensor) => x,
  (x: Tensor) => [x, null] as const,
  (_r: null, ct: Tensor) => [ops.clip(ct, -1, 1)] as [Tensor],
)

describe('customJvp', () => {
  it('takes its derivative from the rule under jvp, grad, vmap and jit', async () => {
    const x = f64([-2, 0.5, 3])
    expect(values(straightThrough(x))).toEqual([-1, 1, 1])
    expect(values(jvp(straightThrough, [x], [f64([1, 2, 3])])[1])).toEqual([1, 2, 3])
    const loss = (v: Tensor) => ops.sum(ops.mul(straightThrough(v), v))
    // d/dx Σ sign(x)·x with sign's derivative taken as 1: sign(x) + x.
    expectClose(values(grad(loss)(x)), [-3, 1.5, 4], exact)
    expectClose(values(vmap(grad(loss))(ops.reshape(x, [3, 1]))), [-3, 1.5, 4], exact)
    expectClose(values(await jit(grad(loss), { backend: cpuBackend() })(x)), [-3, 1.5, 4], exact)
  })

  it('the laws hold for a correct rule and the finite-difference law catches a wrong one', () => {
    const right = customJvp(
      (v: Tensor) => ops.mul(v, ops.sin(v)),
      ([v], [t]) => [ops.mul(v, ops.sin(v)), ops.mul(t, ops.add(ops.sin(v), ops.mul(v, ops.cos(v))))] as const,
    )
    laws.layer(
      (_: null, v: Tensor) => right(v),
      { params: fc.constant(null), input: arb.f64([2, 3]) },
      { name: 'right' },
    )
    // The product rule with a sign slip.
    const wrong = customJvp(
      (v: Tensor) => ops.mul(v, ops.sin(v)),
      ([v], [t]) => [ops.mul(v, ops.sin(v)), ops.mul(t, ops.sub(ops.sin(v), ops.mul(v, ops.cos(v))))] as const,
    )
    const reports = checkLayer((_: null, v: Tensor) => wrong(v), { params: fc.constant(null), input: arb.f64([2, 3]) })
    const failed = reports.filter((r) => !r.ok).map((r) => r.law)
    expect(failed).toContain('finiteDifferences')
  })

  it('refuses to differentiate a value it reads from its closure, and a rule of the wrong shape', () => {
    const w = f64([2, 3])
    expect(() =>
      grad((c: Tensor) =>
        ops.sum(
          customJvp(
            (v: Tensor) => ops.mul(v, c),
            ([v], [t]) => [ops.mul(v, c), t] as const,
          )(w),
        ),
      )(w),
    ).toThrow(/reads a value that is being differentiated from its closure/)
    const bad = customJvp(
      (v: Tensor) => v,
      ([v]) => [v, ops.sum(v)] as unknown as readonly [Tensor, Tensor],
    )
    expect(() => bad(w)).toThrow(/leaf 0 of the rule's tangent is f64\[\], but it must be f64\[2\]/)
  })

  it('softplus and the L2 norm use their stable rules: σ(x) far out, and 0 at the zero vector', () => {
    expectClose(values(grad((v: Tensor) => ops.sum(ops.softplus(v)))(f64([-800, 0, 800]))), [0, 0.5, 1], exact)
    expect(values(grad((v: Tensor) => ops.norm(v))(f64([0, 0, 0])))).toEqual([0, 0, 0])
    expectClose(values(grad((v: Tensor) => ops.norm(v))(f64([3, 4]))), [0.6, 0.8], exact)
    const rows = tensor(
      [
        [3, 4],
        [5, 12],
      ],
      { dtype: 'f64' },
    )
    expectClose(values(ops.norm(rows, -1)), [5, 13], exact)
  })
})

describe('customVjp', () => {
  it('takes reverse-mode derivatives from bwd and refuses forward mode', () => {
    const x = f64([0.5, -3, 4])
    const loss = (v: Tensor) => ops.sum(ops.mul(clipGradient(v), f64([2, -0.5, 3])))
    expect(values(grad(loss)(x))).toEqual([1, -0.5, 1])
    expect(values(vmap(grad((v: Tensor) => ops.sum(ops.mul(clipGradient(v), 5))))(x))).toEqual([1, 1, 1])
    expect(() => jvp(clipGradient, [x], [x])).toThrow(/forward-mode differentiation .* is not defined/)
  })

  it('the reverse finite-difference law holds for a correct bwd and fails for a wrong one', () => {
    const make = (scale: number) =>
      customVjp(
        (v: Tensor) => ops.mul(v, ops.exp(v)),
        (v: Tensor) => [ops.mul(v, ops.exp(v)), v] as const,
        (v: Tensor, ct: Tensor) => [ops.mul(ct, ops.mul(ops.exp(v), ops.add(v, scale)))] as [Tensor],
      )
    const x = [f64([0.3, -0.2])]
    const v = [f64([1, 2])]
    const u = f64([0.7, -1.1])
    expect(reverseDifferences(make(1), x, v, u).ok).toBe(true)
    expect(reverseDifferences(make(2), x, v, u).ok).toBe(false)
  })
})

describe('checkpoint', () => {
  const depth = 20
  const width = 32
  const batch = 16
  const keys = random.split(random.key(20), depth + 1)
  const params = keys.slice(0, depth).map((k) => random.normal(k, [width, width], { dtype: 'f64', stddev: 0.2 }))
  const x = random.normal(keys[depth], [batch, width], { dtype: 'f64' })
  const layer = (w: Tensor, h: Tensor) => ops.tanh(ops.matmul(h, w))
  const plain = (ws: Tensor[], h: Tensor) => ops.sum(ws.reduce((a, w) => layer(w, a), h))
  const remat = (ws: Tensor[], h: Tensor) => ops.sum(ws.reduce((a, w) => checkpoint(layer)(w, a), h))

  it('gives the same gradients, compiled too, with the recomputation kept as its own equation', async () => {
    const want = grad(plain)(params, x)
    const got = grad(remat)(params, x)
    want.forEach((g, i) => expectClose(values(got[i]), values(g), within(1e-12)))
    const compiled = await jit(grad(remat), { backend: cpuBackend() })(params, x)
    want.forEach((g, i) => expectClose(values(compiled[i]), values(g), within(1e-12)))
    const program = makeProgram(grad(remat))(params, x)
    expect(program.eqns.filter((e) => e.prim === 'checkpoint').length).toBeGreaterThanOrEqual(depth)
  })

  it('keeps only the layer inputs as residuals: bytes of a 20-layer MLP, with and without', () => {
    const without = savedResiduals(plain, params, x)
    const withIt = savedResiduals(remat, params, x)
    // Without: per layer, the input (the matmul's) and the tanh output (its derivative 1 − y²).
    // With: per layer, its input h alone (the weights are arguments either way).
    const act = batch * width * 8
    const weights = depth * width * width * 8
    expect(withIt.bytes).toBeLessThan(without.bytes)
    expect(withIt.bytes).toBeLessThanOrEqual(weights + depth * act)
    expect(without.bytes).toBeGreaterThanOrEqual(weights + 2 * depth * act - act)
    const [, pull] = vjp((ws: Tensor[]) => remat(ws, x), params)
    expect((pull(f64(1) as Tensor<[]>) as unknown as Tensor[][])[0].length).toBe(depth)
    // One checkpoint around the whole network keeps its arguments alone.
    const whole = savedResiduals(checkpoint(plain), params, x)
    expect(whole.bytes).toBe(weights + act)
    console.log(
      `residual bytes of a ${depth}-layer MLP's gradient: ${without.bytes} without checkpoint, ` +
        `${withIt.bytes} with one per layer, ${whole.bytes} with one around the whole network`,
    )
  })
})

describe('bptt with checkpointEvery', () => {
  const T = 36
  const cell = makeCell('lstm', 3, 8)
  const params = cell.init(random.key(31))
  const h0 = cell.initialState()
  const xs = random.normal(random.key(32), [T, 3], { dtype: 'f64' }) as Tensor
  const targets = random.normal(random.key(33), [T, cell.outputSize], { dtype: 'f64' }) as Tensor
  const squared = (y: Tensor, target: Tensor) => ops.mul(ops.sum(ops.square(ops.sub(y, target))), 0.5) as Tensor<[]>

  it('gives BPTT’s gradient, for chunks that divide T and for a shorter last chunk', () => {
    const want = bptt(cell, squared)(params, h0, xs as never, targets)
    for (const k of [6, 5, 1, 40]) {
      const got = bptt(cell, squared, { checkpointEvery: k })(params, h0, xs as never, targets)
      expectClose(values(got.loss), values(want.loss), within(1e-12))
      const [a] = tree.flatten(got.grad)
      const [b] = tree.flatten(want.grad)
      a.forEach((g, i) => expectClose(values(g), values(b[i]), within(1e-11), `k = ${k}, leaf ${i}`))
    }
    expect(() => bptt(cell, squared, { checkpointEvery: 0 })).toThrow('checkpointEvery must be a positive integer')
  })

  it('keeps O(T/k) states instead of O(T): the residual bytes, measured', () => {
    const loss = (p: unknown, h: unknown) => checkpointedLoss(cell as never, squared as never, 6)(p, h, xs, targets)
    const full = (p: unknown, h: unknown) => checkpointedLoss(cell as never, squared as never, T)(p, h, xs, targets)
    const plain = savedResiduals(
      (p: unknown, h: unknown) => bptt(cell, squared)(p as never, h as never, xs as never, targets).loss,
      params,
      h0,
    )
    const chunked = savedResiduals(loss, params, h0)
    const one = savedResiduals(full, params, h0)
    // An LSTM state is h and c, 8 f64 each: 128 bytes. k = 6 keeps it at the 6 chunk starts, [6, 8] twice;
    // plain BPTT keeps per-step values of every gate, [36, 8] a dozen times. xs, targets and θ are kept by both.
    const bytesOf = (r: typeof plain, shape: string) =>
      r.residuals.filter((x) => x.text === shape).reduce((n, x) => n + x.bytes, 0)
    expect(bytesOf(chunked, 'f64[6,8]')).toBe((T / 6) * 2 * 8 * 8)
    expect(bytesOf(chunked, 'f64[36,8]')).toBe(0)
    expect(bytesOf(plain, 'f64[36,8]')).toBeGreaterThanOrEqual(T * 2 * 8 * 8)
    expect(chunked.bytes).toBeLessThan(plain.bytes / 4)
    expect(bytesOf(one, 'f64[36,8]')).toBe(0)
    console.log(
      `bptt residual bytes at T = ${T} (LSTM, H = 8): ${plain.bytes} plain, ${chunked.bytes} with checkpointEvery 6`,
    )
  })
})
