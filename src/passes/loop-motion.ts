/**
 * Loop motion: every scan of a Program rewritten so that its loop keeps only
 * the recurrence, the work that must run one step after another. For a
 * device where each step costs dispatches (WebGPU), work moved out of the
 * loop runs as a few large kernels over all T steps at once.
 *
 * With body (cₜ₊₁, yₜ) = f(consts, cₜ, xₜ), each scan is rewritten once, by a
 * plan that its stages build in turn:
 *  - accumulate (accumulate.ts): carries that are sums over the steps leave;
 *  - hoist (hoist.ts): what the carries need but no carry feeds is computed
 *    before the loop, once or for all steps at once;
 *  - rotate (rotate.ts): a loop whose carries enter through elementwise work
 *    feeding a product carries that work's result instead;
 *  - sink (sink.ts): the ys and the sums' terms are computed after the loop
 *    from the stacked carries (the frame of the rewrite: always on).
 * Then, over the whole Program, passes of their own:
 *  - gather products (gather-products.ts): a product of rows looked up in a
 *    smaller table (x·W hoisted from an embedding's loop) is the lookup of
 *    the table's product, which the loop can then read row by row;
 *  - fuse inputs (fuse-inputs.ts): xs that are elementwise work on stacked
 *    values are computed in the loop from those values' slices;
 *  - split products (split-products.ts): a product over the steps whose
 *    factors are concatenations is a sum of products over runs of steps.
 *
 * A scan this cannot shrink is left as it is, and so is a scan with scans in
 * its body, whose body is rewritten instead (truncated bptt's scan over
 * chunks: each chunk's loops). It runs before a backend compiles: the rules
 * that make scans (jvp, transpose, vmap) stay simple, and a program printed
 * before compiling shows what the user wrote.
 *
 * Preserves: every output's value, up to floating-point reassociation of
 * sums: the sums over the steps (accumulate), regrouped additions
 * (hoist), a product's contraction split into runs (split products); see
 * each stage's header. Sinking, rotation, gather products and fused inputs
 * are exact.
 */
import { bind } from '../core/trace.ts'
import { Program, closeProgram, type Eqn, type Var } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { accumulators, finalSum, type Accumulator } from './accumulate.ts'
import { fuseStepwiseInputs } from './fuse-inputs.ts'
import { gatherProducts } from './gather-products.ts'
import { hoistedPrograms, hoistedValues, hoisting, reassociate, type Hoisting } from './hoist.ts'
import { rotate, rotated, type Rotation } from './rotate.ts'
import { producersOf, restage, type ScanParams } from './shared.ts'
import { sinking, sunkValues, type Sinking } from './sink.ts'
import { splitProducts } from './split-products.ts'

/** Which stages and passes of loop motion run (all by default); sinking, the frame of a scan's rewrite, always does. */
export interface LoopMotionOptions {
  /** Carries that are sums over the steps leave the loop. */
  readonly accumulate?: boolean
  /** Work that no carry feeds leaves the loop, before it. */
  readonly hoist?: boolean
  /** A loop whose carries enter through elementwise work that feeds a product carries that work's result. */
  readonly rotate?: boolean
  /** Products of rows gathered from a smaller table are gathers of the table's product. */
  readonly gatherProducts?: boolean
  /** Xs that are elementwise work on stacked values are computed in the loop. */
  readonly fuseInputs?: boolean
  /** Products over the steps of concatenations are sums of products over runs. */
  readonly splitProducts?: boolean
}

type Stages = Required<LoopMotionOptions>

/** The Program with each top-level scan rewritten; the same Program when no scan changes. */
export function moveLoopInvariants(program: Program, options: LoopMotionOptions = {}): Program {
  const on: Stages = {
    accumulate: true,
    hoist: true,
    rotate: true,
    gatherProducts: true,
    fuseInputs: true,
    splitProducts: true,
    ...options,
  }
  const plans = new Map<Eqn, Plan>()
  for (const e of program.eqns) {
    const p = e.prim === 'scan' ? plan(e as Eqn<'scan'>, on) : null
    if (p !== null) plans.set(e, p)
  }
  // A scan whose body holds scans (truncated bptt's scan over chunks) is left as it is, and its body is moved.
  const bodies = new Map<Eqn, Program>()
  for (const e of program.eqns) {
    const body = e.prim === 'scan' ? (e.params as ScanParams).body : null
    if (!body?.eqns.some((q) => q.prim === 'scan')) continue
    const moved = moveLoopInvariants(body, on)
    if (moved !== body) bodies.set(e, moved)
  }
  const moved =
    plans.size === 0 && bodies.size === 0
      ? program
      : restage('loop motion', program, (eqn, args) => {
          const p = plans.get(eqn)
          if (p !== undefined) return rewrite(p, args)
          const body = bodies.get(eqn)
          if (body === undefined) return null
          // What the moved body captured becomes the scan's first consts: a body is closed.
          const closed = closeProgram(body)
          const q = eqn.params as ScanParams
          return bind('scan', [...closed.consts, ...args], {
            ...q,
            numConsts: closed.consts.length + q.numConsts,
            body: closed.program,
          })
        })
  const gathered = on.gatherProducts ? gatherProducts(moved) : moved
  const fused = on.fuseInputs ? fuseStepwiseInputs(gathered) : gathered
  return on.splitProducts ? splitProducts(fused) : fused
}

/** How one scan is split: which carries are sums, which work is hoisted, what the sunk part computes. */
interface Plan {
  readonly p: ScanParams
  /** Carries that stay in the loop (indices into the carries). */
  readonly kept: readonly number[]
  /** The accumulated carries. */
  readonly sums: readonly Accumulator[]
  /** What stays in the loop (`hoist.loop`, its body) and the hoisted values it reads. */
  readonly hoist: Hoisting
  /** Hoisted, once: consts → invariant values. */
  readonly invariant: Program | null
  /** Hoisted, per step: consts, xs → varying values. */
  readonly varying: Program | null
  /** The loop rotated: P and Q, each with the loop's inputs but the carries (P) or D (Q) in their place. */
  readonly rotation: Rotation | null
  /** What is computed after the loop, and what the loop stacks for it. */
  readonly sink: Sinking
}

function plan(eqn: Eqn<'scan'>, on: Stages): Plan | null {
  const p = eqn.params
  const { numConsts: nC, numCarry: nK } = p
  if (p.body.eqns.some((e) => e.prim === 'scan') || p.length === 0) return null
  const body = on.hoist ? reassociate(p.body, p.body.inputs.slice(nC, nC + nK)) : p.body
  const { sums, kept } = on.accumulate
    ? accumulators(body, nC, nK)
    : { sums: [], kept: body.inputs.slice(nC, nC + nK).map((_, k) => k) }
  // The loop computes the kept carries; what of that reads no carry is hoisted.
  const hoist = hoisting(body, nC, nK, kept, on.hoist)
  const rotation = on.rotate ? rotate(hoist.loop, nC + hoist.invariantVars.length, kept.length) : null
  const sink = sinking(body, nC, nK, producersOf(body), kept, sums, hoist, rotation)
  if (sink === null) return null
  // Worth it only if something leaves the loop, or the loop rotates.
  if (sums.length === 0 && hoist.hoisted.size === 0 && nK === body.outputs.length && rotation === null) return null
  return { p, kept, sums, hoist, ...hoistedPrograms(body, nC, nK, hoist), rotation, sink }
}

function rewrite(plan: Plan, operands: readonly Tensor[]): Tensor[] {
  const { p, kept, sums, hoist, sink } = plan
  const { numConsts: nC, numCarry: nK, length: T, reverse } = p
  const consts = operands.slice(0, nC)
  const init = operands.slice(nC, nC + nK)
  const xs = operands.slice(nC + nK)

  const { invariants, varyings } = hoistedValues(plan.invariant, plan.varying, consts, xs, T)
  // The loop stacks, as ys, the values of its body that the sunk part reads.
  const { loopYs } = sink
  const fixed = [...consts, ...invariants]
  const perStep = [...xs, ...varyings]
  let finals: Tensor[]
  let stacked: Map<Var, Tensor>
  if (kept.length === 0 && loopYs.length === 0) {
    // Every carry was a sum: nothing runs step by step.
    finals = []
    stacked = new Map()
  } else if (plan.rotation === null) {
    const { loop } = hoist
    const loopBody =
      loopYs.length === 0 ? loop : new Program(loop.inputs, [], [], loop.eqns, [...loop.outputs, ...loopYs])
    const loopOuts = bind('scan', [...fixed, ...kept.map((k) => init[k]), ...perStep], {
      length: T,
      reverse,
      numConsts: fixed.length,
      numCarry: kept.length,
      body: loopBody,
    })
    finals = loopOuts.slice(0, kept.length)
    stacked = new Map(loopYs.map((v, i) => [v, loopOuts[kept.length + i]]))
  } else
    [finals, stacked] = rotated(
      plan.rotation,
      loopYs,
      fixed,
      kept.map((k) => init[k]),
      perStep,
      T,
      reverse,
    )

  const carryOut: Tensor[] = new Array(nK)
  kept.forEach((k, j) => (carryOut[k] = finals[j]))
  let ys: Tensor[] = []
  if (sink.sunk !== null) {
    const values = { consts, init, xs, invariants, varyings, stacked }
    const sunkOuts = sunkValues({ ...sink, sunk: sink.sunk }, kept, p.body.outputs, values, T, reverse)
    ys = sunkOuts.slice(0, p.body.outputs.length - nK)
    sums.forEach(({ k }, i) => (carryOut[k] = finalSum(sink.termOutputs[i], sunkOuts, init[k])))
  }
  return [...carryOut, ...ys]
}
