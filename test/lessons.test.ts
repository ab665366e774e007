/**
 * Two lessons about derivatives, as their examples state them:
 *
 *  - the chain rule (examples/chain-rule.ts; A. Martins, Deep Learning: A
 *    Shallow Tutorial, NLPL Winter School 2018, "Recap: Chain Rule"): for
 *    r = u·v, u = t², v = 3t + 1, jvp and grad give dr/dt = 9t² + 2t to
 *    10⁻¹² in f64, and the reverse-mode program is the sum over the two
 *    paths; a derivative that follows one path only fails the same check;
 *  - finite differences against backpropagation
 *    (examples/finite-differences.ts; *Multi-level networks* (lecture
 *    notes), "Computing the gradient"): a finite-difference gradient runs the
 *    network W + 1 times, backprop twice; counted operations grow as W² and
 *    W, and so, within wide bounds, does the time; the two gradients agree,
 *    and a finite-difference estimate with the wrong denominator does not.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cpuBackend, grad, jit, jvp, makeProgram, ops, tensor, type Tensor } from '../src/index.ts'
import {
  deepNet,
  finiteDifferences,
  gradientPrograms,
  logLogSlope,
  loopRuns,
  netData,
  operationCount,
  relativeDistance,
  timeGradients,
} from '../examples/lib/gradient-cost.ts'
import { assertProperty } from './lib/property.ts'

const f64 = (v: number) => tensor(v, { dtype: 'f64' })

// ---------------------------------------------------------------- the chain rule

const r = (t: Tensor<[], 'f64'>) => {
  const u = ops.mul(t, t)
  const v = ops.add(ops.mul(t, 3), 1)
  return ops.mul(u, v)
}
const closedForm = (t: number) => 9 * t * t + 2 * t

/** Whether `derivative` gives 9t² + 2t at t to 10⁻¹², relative. */
const matchesClosedForm = (derivative: (t: number) => number, t: number) =>
  Math.abs(derivative(t) - closedForm(t)) <= 1e-12 * Math.max(1, Math.abs(closedForm(t)))

describe('the chain rule: r = u·v, u = t², v = 3t + 1', () => {
  const byGrad = (t: number) => grad(r)(f64(t)).item()
  const byJvp = (t: number) => jvp(r, [f64(t)], [f64(1)])[1].item()

  it('grad and jvp give dr/dt = 9t² + 2t to 1e-12 (f64)', () => {
    assertProperty(
      fc.property(fc.double({ min: -1e3, max: 1e3, noNaN: true }), (t) => {
        expect(matchesClosedForm(byGrad, t)).toBe(true)
        expect(matchesClosedForm(byJvp, t)).toBe(true)
      }),
      { numRuns: 100 },
    )
    for (const t of [-1 / 3, 0, -2 / 9, 1]) {
      expect(matchesClosedForm(byGrad, t)).toBe(true)
      expect(matchesClosedForm(byJvp, t)).toBe(true)
    }
  })

  it('a derivative along one path only (2t·v, or 3u) fails the same check', () => {
    const throughU = (t: number) => 2 * t * (3 * t + 1)
    const throughV = (t: number) => 3 * t * t
    for (const t of [-2, -0.5, 0.5, 1, 3]) {
      expect(matchesClosedForm(throughU, t)).toBe(false)
      expect(matchesClosedForm(throughV, t)).toBe(false)
    }
  })

  it("grad's program: multiplications and additions, the path through v a multiplication by dv/dt = 3", () => {
    const program = makeProgram(grad(r))(f64(2))
    const text = program.toString()
    const primitives = new Set(
      text
        .split('\n')
        .map((line) => /= (\w+) /.exec(line)?.[1])
        .filter((p) => p !== undefined),
    )
    expect(primitives).toEqual(new Set(['mul', 'add']))
    expect(program.counts()).toEqual({ mul: 7, add: 3 })
    // The forward part (u = t·t, v = 3t + 1), then cotangents scaled by 3 (v's path) and by t (u's, twice).
    expect(text).toMatch(/= mul a a\n/)
    expect(text).toMatch(/= mul \w+ 3:f64\n[\s\S]*= mul \w+ 3:f64\n/)
    // The output is a sum: the program ends with an add of the paths' terms.
    const last = text.trim().split('\n').at(-2) ?? ''
    expect(last).toMatch(/= add \w+ \w+$/)
  })
})

// ---------------------------------------------------------------- finite differences against backprop

describe('finite differences against backpropagation', () => {
  const backend = cpuBackend()
  const WIDTH = 8
  const BATCH = 256
  // W = 72L + 9: 369, 1521, 6129, each a little more than 4 times the last.
  const DEPTHS = [5, 21, 85]

  it('runs the network W + 1 times by finite differences and twice by backprop; operations grow as W² and W', () => {
    const Ws: number[] = []
    const fdOps: number[] = []
    const bpOps: number[] = []
    for (const L of DEPTHS) {
      const net = deepNet(WIDTH, L)
      const p = gradientPrograms(net, BATCH)
      expect(loopRuns(p.fd, L)).toBe(net.W + 1)
      expect(loopRuns(p.backprop, L)).toBe(2)
      expect(loopRuns(p.loss, L)).toBe(1)
      Ws.push(net.W)
      fdOps.push(operationCount(p.fd))
      bpOps.push(operationCount(p.backprop))
    }
    const fdSlope = logLogSlope(Ws, fdOps)
    const bpSlope = logLogSlope(Ws, bpOps)
    expect(fdSlope).toBeGreaterThan(1.9)
    expect(fdSlope).toBeLessThan(2.1)
    expect(bpSlope).toBeGreaterThan(0.9)
    expect(bpSlope).toBeLessThan(1.1)
  })

  it('the time of one gradient grows as W² by finite differences and as W by backprop (wide bounds)', async () => {
    const times = []
    for (const L of DEPTHS) times.push(await timeGradients(deepNet(WIDTH, L), BATCH, backend, { coordinates: 8 }))
    const Ws = times.map((t) => t.W)
    // Process CPU time, the least of 5 repeats after a warm-up call: other processes on the machine do not count.
    const fdSlope = logLogSlope(
      Ws,
      times.map((t) => t.fd.cpu),
    )
    const bpSlope = logLogSlope(
      Ws,
      times.map((t) => t.backprop.cpu),
    )
    expect(fdSlope, `finite-difference time slope ${fdSlope}`).toBeGreaterThan(1.6)
    expect(fdSlope, `finite-difference time slope ${fdSlope}`).toBeLessThan(2.4)
    expect(bpSlope, `backprop time slope ${bpSlope}`).toBeGreaterThan(0.6)
    expect(bpSlope, `backprop time slope ${bpSlope}`).toBeLessThan(1.4)
  })

  it('the finite-difference gradient agrees with backprop; with the wrong denominator it does not', async () => {
    const net = deepNet(WIDTH, 3)
    const { theta, x, y } = netData(net, 32, 1)
    const all = ops.arange(0, net.W, 1, 'i32')
    const exact = (await jit(grad(net.loss), { backend })(theta, x, y)).dataSync()
    const relativeError = (g: ArrayLike<number>) => relativeDistance(g, exact)
    const estimate = async (scheme: 'forward' | 'central', delta: number) =>
      (await jit(finiteDifferences(net, scheme, delta), { backend })(theta, x, y, all)).dataSync()
    expect(relativeError(await estimate('central', 1e-5))).toBeLessThan(1e-7)
    expect(relativeError(await estimate('forward', 1e-6))).toBeLessThan(1e-4)
    // Central differences divided by Δ instead of 2Δ: twice the gradient.
    const doubled = Array.from(await estimate('central', 1e-5), (g) => 2 * g)
    expect(relativeError(doubled)).toBeGreaterThan(0.5)
  })
})
