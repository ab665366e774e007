/**
 * Loop motion (src/passes/loop-motion.ts): a Program with its scans
 * rewritten computes what the Program computes (f64, CPU interpreter), on
 *
 *  - random cells (Elman, LSTM, GRU, a stack), random sizes and lengths:
 *    bptt's gradient programs for step and final-state losses, their vmap
 *    over a batch of sequences, rtrl's forward-sensitivity program;
 *  - the spec table's scan (forwards and reversed) and its pullback;
 *  - carries that are integers, pass through, or are sums of a literal;
 *
 * and the loops that remain are the recurrence alone: an RNN's forward loop
 * does one product per step (x·Wx left it), its backward loop one, rotated
 * to carry δ (the weight gradients are one product over all T·B rows each).
 * Each pass alone (a stage of the scan rewrite with the stages it needs, or
 * fused inputs and split products on the program they see) computes what
 * its input computes: exactly where its header says it is exact. The
 * comparison catches a planted bug in each identity the rewrite rests on.
 */
import * as fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { grad, makeProgram, ops, random, scan, tensor, tree, vjp, vmap, type Tensor } from '../src/index.ts'
import { bptt, elman, rtrl } from '../src/recurrent/index.ts'
import {
  fuseStepwiseInputs,
  identities,
  moveLoopInvariants,
  splitProducts,
  type LoopMotionOptions,
} from '../src/passes/index.ts'
import * as lax from '../src/core/lax.ts'
import { evalProgram } from '../src/core/interpret.ts'
import type { Program } from '../src/ir/program.ts'
import { arb, specs } from '../laws/index.ts'
import { kinds, makeCell } from './lib/cells.ts'
import { assertProperty, runs } from './lib/property.ts'

/** Standard normal draws in f64. */
const normal64 = (key: random.Key, shape: number[]) => ops.astype(random.normal(key, shape), 'f64') as Tensor

/** The largest difference between two programs' outputs on `args`, relative to the largest magnitude (at least 1). */
function gap(program: Program, moved: Program, args: readonly Tensor[]): number {
  const want = evalProgram(program, args).map((t) => t.dataSync())
  const got = evalProgram(moved, args).map((t) => t.dataSync())
  let scale = 1
  for (const w of want) for (const v of w) scale = Math.max(scale, Math.abs(v))
  let worst = 0
  want.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(got[i][j] - v)))))
  return worst / scale
}
/** How far loop motion's rewrite of `program` is from it on `args`. */
const discrepancy = (program: Program, args: readonly Tensor[]) => gap(program, moveLoopInvariants(program), args)

const programOf = (f: (...args: any[]) => unknown, args: unknown[]) => ({
  program: makeProgram(f)(...args),
  leaves: tree.flatten(args)[0],
})
const scans = (p: Program) => p.eqns.filter((e) => e.prim === 'scan')
const bodyOf = (e: Program['eqns'][number]) => (e.params as { body: Program }).body

const problem = fc.record({
  kind: fc.constantFrom(...kinds),
  I: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 4 }),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 5 }),
  final: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1000 }),
})

type Problem = typeof problem extends fc.Arbitrary<infer R> ? R : never
function draw({ kind, I, H, B, T, seed }: Problem) {
  const cell = makeCell(kind, I, H)
  const keys = random.split(random.key(seed), 4)
  const params = tree.treeMap(cell.init(keys[0]) as tree.Tree, (p) =>
    ops.add(p, ops.mul(normal64(keys[1], p.shape as number[]), 0.2)),
  )
  const xs = normal64(keys[2], [T, B, I])
  const targets = normal64(keys[3], [T, B, cell.outputSize])
  return { cell, params, h0: cell.initialState(B), xs, targets }
}

const stepLoss = (y: Tensor, t: Tensor) => ops.mul(ops.sum(ops.square(ops.sub(y, t))), 0.5) as Tensor<[]>
const finalLoss = {
  final: (state: unknown) =>
    tree
      .flatten(state)[0]
      .map((h) => ops.sum(ops.square(h)))
      .reduce((a, b) => ops.add(a, b)) as Tensor<[]>,
}

describe('loop motion computes what the program computes', () => {
  it('bptt of random cells, step and final-state losses', () => {
    assertProperty(
      fc.property(problem, (pr) => {
        const { cell, params, h0, xs, targets } = draw(pr)
        const f = (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
          bptt(cell, pr.final ? finalLoss : stepLoss)(p as never, h as never, x as never, t)
        const { program, leaves } = programOf(f, [params, h0, xs, targets])
        expect(discrepancy(program, leaves)).toBeLessThan(1e-12)
        // The parameters' gradients are sums over the steps: they always leave the backward loop.
        expect(moveLoopInvariants(program)).not.toBe(program)
      }),
      runs(10),
    )
  })

  it('truncated bptt (scans inside a scan over chunks): the loops in the body are moved', () => {
    assertProperty(
      fc.property(problem, fc.integer({ min: 1, max: 4 }), (pr, truncate) => {
        const { cell, params, h0, xs, targets } = draw(pr)
        const f = (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
          bptt(cell, pr.final ? finalLoss : stepLoss, { truncate })(p as never, h as never, x as never, t)
        const { program, leaves } = programOf(f, [params, h0, xs, targets])
        expect(discrepancy(program, leaves)).toBeLessThan(1e-12)
      }),
      runs(10),
    )
    // An Elman cell over 6 steps in chunks of 3: each chunk's loops keep one product per step, as at the top level.
    const { cell, params, h0, xs, targets } = draw({ kind: 'elman', I: 2, H: 3, B: 2, T: 6, final: false, seed: 3 })
    const { program } = programOf(
      (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
        bptt(cell, stepLoss, { truncate: 3 })(p as never, h as never, x as never, t),
      [params, h0, xs, targets],
    )
    const inner = (p: Program) => scans(p).flatMap((e) => scans(bodyOf(e)))
    const products = (p: Program) => inner(p).map((e) => bodyOf(e).eqns.filter((q) => q.prim === 'matmul').length)
    expect(products(program)).toEqual([2, 3])
    expect(products(moveLoopInvariants(program))).toEqual([1, 1])
  })

  it('vmap of bptt over sequences; rtrl', () => {
    assertProperty(
      fc.property(problem, (pr) => {
        const { cell, params, xs, targets } = draw(pr)
        const one = cell.initialState()
        const perSequence = (x: Tensor, t: Tensor) =>
          bptt(cell, stepLoss)(params as never, one as never, x as never, t).grad
        const batched = programOf(vmap(perSequence, 1), [xs, targets])
        expect(discrepancy(batched.program, batched.leaves)).toBeLessThan(1e-12)
        const online = programOf(
          (x: Tensor, t: Tensor) => rtrl(cell, stepLoss)(params as never, one as never, x as never, t),
          [
            ops.reshape(ops.slice(xs, [0, 0, 0], [pr.T, 1, pr.I]), [pr.T, pr.I]),
            ops.reshape(ops.slice(targets, [0, 0, 0], [pr.T, 1, cell.outputSize]), [pr.T, cell.outputSize]),
          ],
        )
        expect(discrepancy(online.program, online.leaves)).toBeLessThan(1e-12)
      }),
      runs(20),
    )
  })

  it("the spec table's scan and its pullback", () => {
    const spec = specs.scan
    assertProperty(
      fc.property(spec.instance, fc.integer({ min: 0, max: 1000 }), (instance, seed) => {
        const inputs = instance.inputs.map(
          (s, j) =>
            fc.sample(arb.tensor(s.shape, { domain: s.domain, dtype: 'f64' }), { numRuns: 1, seed: seed + j })[0],
        )
        const forward = programOf(instance.fn, inputs)
        expect(discrepancy(forward.program, forward.leaves)).toBeLessThan(1e-12)
        const out = instance.fn(...inputs)
        const ct = normal64(random.key(seed), out.shape as number[])
        const pullback = programOf((...xs: Tensor[]) => vjp(instance.fn, ...xs)[1](ct), inputs)
        expect(discrepancy(pullback.program, pullback.leaves)).toBeLessThan(1e-12)
      }),
      runs(5),
    )
  })

  it('integer carries, carries that pass through, sums of a literal, ys of the consts alone', () => {
    const f = (w: Tensor, xs: Tensor) =>
      scan(
        (c: { n: Tensor; k: Tensor; h: Tensor; keep: Tensor }, x: Tensor) =>
          [
            {
              n: ops.add(c.n, tensor(1, { dtype: 'i32' })),
              k: ops.add(c.k, 1),
              h: ops.tanh(ops.add(ops.matmul(x, w), c.h)),
              keep: c.keep,
            },
            { w: ops.sum(w), n: c.n },
          ] as const,
        {
          n: tensor(0, { dtype: 'i32' }) as Tensor,
          k: tensor(0, { dtype: 'f64' }) as Tensor,
          h: ops.zeros([2], 'f64') as Tensor,
          keep: ops.ones([3], 'f64') as Tensor,
        },
        xs,
      )
    for (const T of [1, 4]) {
      const { program, leaves } = programOf(f, [normal64(random.key(1), [3, 2]), normal64(random.key(2), [T, 3])])
      expect(discrepancy(program, leaves)).toBe(0)
      expect(scans(moveLoopInvariants(program))).toHaveLength(1)
    }
  })
})

/** Loop motion with only the named stages and passes (sinking, the frame of a scan's rewrite, always runs). */
const only = (...on: (keyof LoopMotionOptions)[]): LoopMotionOptions => ({
  accumulate: on.includes('accumulate'),
  hoist: on.includes('hoist'),
  rotate: on.includes('rotate'),
  fuseInputs: on.includes('fuseInputs'),
  splitProducts: on.includes('splitProducts'),
})
/** bptt's gradient program for a drawn problem, and its inputs. */
function bpttProgram(pr: Problem) {
  const { cell, params, h0, xs, targets } = draw(pr)
  return programOf(
    (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
      bptt(cell, pr.final ? finalLoss : stepLoss)(p as never, h as never, x as never, t),
    [params, h0, xs, targets],
  )
}
const carriesInLoops = (p: Program) => scans(p).reduce((n, e) => n + (e.params as { numCarry: number }).numCarry, 0)
const productsInLoops = (p: Program) =>
  scans(p).reduce((n, e) => n + bodyOf(e).eqns.filter((q) => q.prim === 'matmul').length, 0)
const elmanProblem = { kind: 'elman', I: 2, H: 3, B: 2, T: 4, final: false, seed: 1 } as const
/** Checks `law` on random problems. */
const forEveryProblem = (law: (pr: Problem) => void) => assertProperty(fc.property(problem, law), runs(10))

describe('each pass alone computes what its input computes (bptt of random cells)', () => {
  it('sink, the frame of every scan rewrite: exactly', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      expect(gap(program, moveLoopInvariants(program, only()), leaves)).toBe(0)
    })
    const { program } = bpttProgram(elmanProblem)
    expect(moveLoopInvariants(program, only())).not.toBe(program)
  })

  it('accumulate: up to the order of the sums over the steps', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      expect(gap(program, moveLoopInvariants(program, only('accumulate')), leaves)).toBeLessThan(1e-12)
    })
    // The weight gradients leave the backward loop.
    const { program } = bpttProgram(elmanProblem)
    expect(carriesInLoops(moveLoopInvariants(program, only('accumulate')))).toBeLessThan(
      carriesInLoops(moveLoopInvariants(program, only())),
    )
  })

  it('hoist: up to the order of the regrouped sums', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      expect(gap(program, moveLoopInvariants(program, only('hoist')), leaves)).toBeLessThan(1e-12)
    })
    // x·Wx leaves the forward loop.
    const { program } = bpttProgram(elmanProblem)
    expect(productsInLoops(moveLoopInvariants(program, only('hoist')))).toBeLessThan(
      productsInLoops(moveLoopInvariants(program, only())),
    )
  })

  it('rotate (on the sums left by accumulate, which it needs): exactly', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      const summed = moveLoopInvariants(program, only('accumulate'))
      expect(gap(summed, moveLoopInvariants(program, only('accumulate', 'rotate')), leaves)).toBe(0)
    })
    const lengths = (p: Program) => scans(p).map((e) => (e.params as { length: number }).length)
    const { program } = bpttProgram(elmanProblem)
    expect(lengths(moveLoopInvariants(program, only('accumulate', 'rotate')))).toContain(elmanProblem.T - 1)
    expect(lengths(moveLoopInvariants(program, only('accumulate')))).not.toContain(elmanProblem.T - 1)
  })

  it('fuse inputs, on the program the scan rewrite leaves: exactly', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      const moved = moveLoopInvariants(program, { fuseInputs: false, splitProducts: false })
      expect(gap(moved, fuseStepwiseInputs(moved), leaves)).toBe(0)
    })
    const moved = moveLoopInvariants(bpttProgram(elmanProblem).program, { fuseInputs: false, splitProducts: false })
    expect(fuseStepwiseInputs(moved)).not.toBe(moved)
  })

  it('split products, on the program the rest of loop motion leaves: up to the order of the split sums', () => {
    forEveryProblem((pr) => {
      const { program, leaves } = bpttProgram(pr)
      const moved = moveLoopInvariants(program, { splitProducts: false })
      expect(gap(moved, splitProducts(moved), leaves)).toBeLessThan(1e-12)
    })
    const moved = moveLoopInvariants(bpttProgram(elmanProblem).program, { splitProducts: false })
    expect(splitProducts(moved)).not.toBe(moved)
  })
})

describe('what stays in the loop', () => {
  it('nothing, where every carry is a sum over the steps', () => {
    const f = (w: Tensor, xs: Tensor) =>
      scan(
        (c: Tensor, x: Tensor) => [ops.add(c, ops.matmul(x, w)), null] as const,
        ops.zeros([2], 'f64') as Tensor,
        xs,
      )[0]
    const { program, leaves } = programOf(f, [normal64(random.key(1), [3, 2]), normal64(random.key(2), [5, 3])])
    expect(discrepancy(program, leaves)).toBeLessThan(1e-12)
    expect(scans(moveLoopInvariants(program))).toHaveLength(0)
  })

  it("an RNN's gradient: one product per step forwards, one backwards; the weight gradients are products over all T·B rows", () => {
    const [T, B, I, H] = [7, 3, 2, 5]
    const cell = elman(I, H, { dtype: 'f64' })
    const params = cell.init(random.key(0))
    const xs = normal64(random.key(1), [T, B, I])
    const loss = (p: typeof params, x: Tensor) => {
      const [last] = scan(
        (h: Tensor, xt: Tensor) => [cell.step(p, h as never, xt as never)[0], null] as const,
        cell.initialState(B) as Tensor,
        x,
      )
      return ops.sum(ops.square(last))
    }
    const program = makeProgram(grad(loss))(params, xs)
    const moved = moveLoopInvariants(program)
    const loops = scans(moved)
    expect(loops).toHaveLength(2)
    for (const e of loops) expect(bodyOf(e).eqns.filter((q) => q.prim === 'matmul')).toHaveLength(1)
    // The backward loop is rotated: it carries δ = c ⊙ (1 − h²) over T − 1 steps, so its body is the product and its
    // epilogue.
    expect(loops.map((e) => (e.params as { length: number }).length)).toEqual([T, T - 1])
    expect(
      bodyOf(loops[1]).eqns.every((q) => q.prim === 'matmul' || ['mul', 'sub', 'add', 'broadcast'].includes(q.prim)),
    ).toBe(true)
    // Whᵀ, which the backward product reads, is transposed once before the loop, not at every step.
    expect(bodyOf(loops[1]).eqns.some((q) => q.prim === 'transpose')).toBe(false)
    expect(moved.eqns.some((e) => e.prim === 'transpose' && e.outputs[0].aval.shape.join() === [H, H].join())).toBe(
      true,
    )
    // Outside the loops: x·Wx over all T·B rows, and each weight gradient as one product over the steps. δ is the
    // loop's T − 1 steps and the first step before it, a concatenation that other equations read whole too, so that it
    // is written out anyway and each product reads it as one factor; the states that multiply δ are the zero init and
    // then h₀ … h_{T−2}, so the init's product is not computed.
    const outside = moved.eqns.filter((e) => e.prim === 'matmul').map((e) => e.inputs[0].aval.shape)
    expect(outside).toContainEqual([T * B, I])
    expect(outside).toContainEqual([I, T * B])
    expect(outside).toContainEqual([H, (T - 1) * B])
    expect(outside).toHaveLength(3)
    expect(moved.eqns.filter((e) => e.prim === 'concat')).toHaveLength(1)
    // Before: three products in the backward body (the state's cotangent and two weight gradients).
    expect(bodyOf(scans(program)[1]).eqns.filter((q) => q.prim === 'matmul')).toHaveLength(3)
    // The backward loop reads the forward loop's states and computes 1 − h² itself: no pass over all steps does.
    expect(loops[1].inputs).toContainEqual(
      expect.objectContaining({ aval: expect.objectContaining({ shape: [T - 1, B, H] }) }),
    )
    expect(bodyOf(loops[1]).eqns.filter((q) => q.prim === 'mul')).toHaveLength(2)
    const [states] = loops[1].inputs.flatMap((a) =>
      moved.eqns.filter((e) => e.outputs.includes(a as never) && e.prim === 'slice'),
    )
    expect(loops[0].outputs).toContain(states.inputs[0])
  })

  it("an LSTM's forward loop stacks its pre-activations x·W + b + h·Wh, which the sunk part reads instead of their terms", () => {
    const pr = { kind: 'lstm', I: 2, H: 3, B: 2, T: 4, final: false, seed: 3 } as const
    const { program, leaves } = bpttProgram(pr)
    const moved = moveLoopInvariants(program)
    expect(gap(program, moved, leaves)).toBeLessThan(1e-12)
    const forward = scans(moved).find((e) => !(e.params as { reverse: boolean }).reverse) as Program['eqns'][number]
    const body = bodyOf(forward)
    const numCarry = (forward.params as { numCarry: number }).numCarry
    const producer = (v: unknown) => body.eqns.find((e) => e.outputs.includes(v as never))?.prim
    // Its ys: the states, and the pre-activations [B, 4H] (a sum, where h·Wh alone was stacked before), no product.
    const ys = body.outputs.slice(numCarry)
    expect(ys.filter((y) => y.aval.shape.join() === [pr.B, 4 * pr.H].join()).map(producer)).toEqual(['add'])
    expect(ys.map(producer)).not.toContain('matmul')
    // After the loop, nothing adds over all the steps' [T, B, 4H] gates: x·W + b + h·Wh is read as stacked.
    const gates = [pr.T, pr.B, 4 * pr.H].join()
    expect(moved.eqns.filter((e) => e.prim === 'add' && e.outputs[0].aval.shape.join() === gates)).toHaveLength(0)
  })

  it('a scan that has nothing to move is left as it is', () => {
    const f = (w: Tensor, h: Tensor, xs: Tensor) =>
      scan((c: Tensor, x: Tensor) => [ops.tanh(ops.mul(ops.matmul(c, w), x)), null] as const, h, xs)[0]
    const program = makeProgram(f)(
      random.normal(random.key(0), [2, 2]),
      random.normal(random.key(1), [1, 2]),
      random.normal(random.key(2), [3, 1, 2]),
    )
    expect(moveLoopInvariants(program)).toBe(program)
  })
})

describe('the comparison catches a planted bug', () => {
  const { accumulate, hoist, sink, rotate, fuseInputs, splitProducts: split } = identities
  const original = {
    accumulate: { ...accumulate },
    hoist: { ...hoist },
    sink: { ...sink },
    rotate: { ...rotate },
    fuseInputs: { ...fuseInputs },
    split: { ...split },
  }
  afterEach(() => {
    Object.assign(accumulate, original.accumulate)
    Object.assign(hoist, original.hoist)
    Object.assign(sink, original.sink)
    Object.assign(rotate, original.rotate)
    Object.assign(fuseInputs, original.fuseInputs)
    Object.assign(split, original.split)
  })

  const bpttProblems = [
    { kind: 'elman', I: 2, H: 3, B: 2, T: 4, final: false, seed: 1 },
    { kind: 'lstm', I: 1, H: 2, B: 1, T: 3, final: true, seed: 2 },
  ] as const
  const worst = () =>
    Math.max(
      ...bpttProblems.map((pr) => {
        const { cell, params, h0, xs, targets } = draw(pr)
        const { program, leaves } = programOf(
          (p: unknown, h: unknown, x: Tensor, t: Tensor) =>
            bptt(cell, pr.final ? finalLoss : stepLoss)(p as never, h as never, x as never, t),
          [params, h0, xs, targets],
        )
        return discrepancy(program, leaves)
      }),
    )

  it('the planted rules are the ones in use', () => {
    expect(worst()).toBeLessThan(1e-12)
  })
  it('sink: incoming carries shifted the wrong way for a reversed loop', () => {
    sink.incoming = (outgoing, init, reverse) => original.sink.incoming(outgoing, init, !reverse)
    expect(worst()).toBeGreaterThan(1e-3)
  })
  it('rotate: a rotated loop whose two halves read the same step', () => {
    rotate.rotatedInputs = (perStep, reverse) => {
      const { q } = original.rotate.rotatedInputs(perStep, reverse)
      return { q, p: q }
    }
    expect(worst()).toBeGreaterThan(1e-3)
  })
  it('fuse inputs: a fused input that reads the step where its slice starts', () => {
    // xs = exp(x)[1:]: the loop reads x from step 1 and takes exp itself.
    const f = (h: Tensor, x: Tensor) =>
      scan((c: Tensor, xt: Tensor) => [ops.add(c, ops.mul(c, xt)), c] as const, h, ops.slice(ops.exp(x), [1, 0]))
    const args = [normal64(random.key(0), [2]), normal64(random.key(1), [5, 2])] as const
    const program = makeProgram(f)(...args)
    expect(bodyOf(scans(moveLoopInvariants(program))[0]).eqns.map((q) => q.prim)).toContain('exp')
    expect(discrepancy(program, args)).toBeLessThan(1e-12)
    fuseInputs.throughSlice = (t) => t
    expect(discrepancy(program, args)).toBeGreaterThan(1e-3)
  })
  it('fuse inputs: a fused input that slices the columns of each step one column along', () => {
    // xs = tanh(x[:, 1:3]): the loop reads x's steps whole and takes their columns 1 and 2 itself.
    const f = (h: Tensor, x: Tensor) =>
      scan(
        (c: Tensor, xt: Tensor) => [ops.add(c, ops.mul(c, xt)), c] as const,
        h,
        ops.tanh(ops.slice(x, [0, 1], [5, 2])),
      )
    const args = [normal64(random.key(0), [2]), normal64(random.key(1), [5, 4])] as const
    const program = makeProgram(f)(...args)
    const body = bodyOf(scans(moveLoopInvariants(program))[0]).eqns.map((q) => q.prim)
    expect(body).toContain('tanh')
    expect(body).toContain('slice')
    expect(discrepancy(program, args)).toBeLessThan(1e-12)
    fuseInputs.withinStep = (starts, limits) => {
      const within = original.fuseInputs.withinStep(starts, limits)
      return { starts: within.starts.map((s) => s + 1), limits: within.limits.map((l) => l + 1) }
    }
    expect(discrepancy(program, args)).toBeGreaterThan(1e-3)
  })
  it('split products: a split product that leaves out its last run', () => {
    split.runs = (a, b) => original.split.runs(a, b).slice(0, -1)
    expect(worst()).toBeGreaterThan(1e-3)
  })
  it('accumulate: a product over the steps with a factor read untransposed', () => {
    accumulate.productOverSteps = (a, b, transposed) =>
      a.aval.shape[1] === a.aval.shape[2]
        ? original.accumulate.productOverSteps(a, b, !transposed)
        : original.accumulate.productOverSteps(a, b, transposed)
    // Square factors only (the planted version must still type-check in shape): the recurrent weights' gradient.
    expect(worst()).toBeGreaterThan(1e-3)
  })
  it("hoist: values hoisted for all steps computed from the next step's xs", () => {
    // Step t reads xsₜ₊₁ (the last step xs₀): the batched values are rolled one step along the steps.
    const next = (x: Tensor) => {
      const [T, ...rest] = x.aval.shape
      const at = (from: number, to: number) => lax.slice(x, [from, ...rest.map(() => 0)], [to, ...rest])
      return T === 1 ? x : lax.concat([at(1, T), at(0, 1)], 0)
    }
    hoist.atEveryStep = (program, consts, xs, T) => original.hoist.atEveryStep(program, consts, xs.map(next), T)
    expect(worst()).toBeGreaterThan(1e-3)
  })
})
