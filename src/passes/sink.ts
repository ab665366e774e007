/**
 * Sinking, a stage of loop motion (loop-motion.ts): a scan's ys, and the
 * accumulators' terms (or their factors), are computed after the loop,
 * batched over t, from the stacked carries: each step's incoming carry (the
 * init, then the previous step's result) and the carries it computes, which
 * the loop returns as ys. What is computed already is not computed again:
 * the outgoing carries and the products of the loop (stacked by it as ys),
 * a rotated loop's D, and the hoisted values; the rest of a step is, batched.
 * Where a value the loop computes anyway (an LSTM's pre-activations
 * x·W + b + h·Wh) stacks no more elements than what it is computed from (h·Wh),
 * the loop stacks it instead, and it is not computed again.
 *
 * Preserves: every output's value, exactly: step t of a sunk value is the
 * same primitives on the same values as in the loop, the incoming carries
 * being the loop's own values, stacked.
 */
import * as lax from '../core/lax.ts'
import { isHeavy } from '../core/primitive.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { Program, Var, type Atom, type Eqn } from '../ir/program.ts'
import { sizeOf, type Tensor } from '../tensor.ts'
import { termOutputs, type Accumulator, type TermOutputs } from './accumulate.ts'
import type { Hoisting } from './hoist.ts'
import type { Rotation } from './rotate.ts'
import { everyStep, steps, unique } from './shared.ts'

/** The identity the sinking rests on, as a table so that the law suite can plant a wrong one. */
export const sinkIdentities = {
  /**
   * Each step's incoming carry [T, ...] from the stacked outgoing ones: the
   * init at the first step to run (t = 0, or t = T − 1 reversed), else what
   * the step before it computed (t − 1, or t + 1 reversed).
   */
  incoming(outgoing: Tensor, init: Tensor, reverse: boolean): Tensor {
    const shape = outgoing.aval.shape
    const T = shape[0]
    const first = lax.reshape(init, [1, ...init.aval.shape])
    if (T === 1) return first
    return reverse ? lax.concat([steps(outgoing, 1, T), first], 0) : lax.concat([first, steps(outgoing, 0, T - 1)], 0)
  },
}

/** Where a value the sunk part reads comes from: the loop's stacked ys, or the hoisted values (once, or per step). */
export type Source =
  | { readonly kind: 'loop'; readonly v: Var }
  | { readonly kind: 'invariant' | 'varying'; readonly i: number }

/** What is computed after the loop, and what the loop stacks for it. */
export interface Sinking {
  /** Per step: consts, incoming kept carries, `sunkInputs`, xs → ys, then the terms (or their factors). */
  readonly sunk: Program | null
  /** Per kept carry: whether the sunk part reads its incoming value. */
  readonly needsIn: readonly boolean[]
  /** What the sunk part reads that is computed already: a value the loop stacks as a y, or a hoisted one. */
  readonly sunkInputs: readonly Source[]
  /** The loop's ys: values of its body stacked over the steps (outgoing carries, products the sunk part reads). */
  readonly loopYs: readonly Var[]
  /** Per sum: the sunk outputs that give its term: one, or the two factors of a product. */
  readonly termOutputs: readonly TermOutputs[]
}

/**
 * The sunk part of a scan body (inputs: `nC` consts, `nK` carries, xs): its ys and the sums' terms, from the
 * stacked carries, given what stays in the loop (`kept` carries, `hoist.loop`, possibly rotated) and what leaves
 * it. Null where a carry whose incoming value it reads is not a variable of the body (the loop cannot stack it).
 */
export function sinking(
  body: Program,
  nC: number,
  nK: number,
  producer: ReadonlyMap<Var, Eqn>,
  kept: readonly number[],
  sums: readonly Accumulator[],
  hoist: Hoisting,
  rotation: Rotation | null,
): Sinking | null {
  const outs = body.outputs
  const candidates = new Map<Var, Source>()
  kept.forEach((k) => {
    const o = outs[k]
    if (o instanceof Var && producer.has(o)) candidates.set(o, { kind: 'loop', v: o })
  })
  for (const e of hoist.loop.eqns)
    if (isHeavy(e.prim)) for (const v of e.outputs) if (!candidates.has(v)) candidates.set(v, { kind: 'loop', v })
  // A rotated loop carries D: stacking it costs nothing.
  for (const v of rotation?.D ?? []) if (producer.has(v)) candidates.set(v, { kind: 'loop', v })
  hoist.invariantVars.forEach((v, i) => candidates.set(v, { kind: 'invariant', i }))
  hoist.varyingVars.forEach((v, i) => candidates.set(v, { kind: 'varying', i }))
  const frame: Frame = { body, nC, nK, producer, kept, sums }
  const split = (given: ReadonlyMap<Var, Source>) => sunkPart(frame, given)
  let best = split(candidates)
  if (best === null || rotation !== null) return best
  // A value the loop computes anyway is stacked in place of what it is computed from, where that stacks no more
  // elements: the sunk part then reads it instead of recomputing it (an LSTM's pre-activations x·W + b + h·Wh, stacked
  // in place of h·Wh, are one read per gate after the loop where they were three).
  for (const e of [...hoist.loop.eqns].reverse()) {
    const v = e.outputs[0]
    if (e.outputs.length !== 1 || isHeavy(e.prim) || candidates.has(v) || !producer.has(v) || !best.sunkReads.has(v))
      continue
    const tried = new Map(candidates).set(v, { kind: 'loop', v })
    const next = split(tried)
    if (next === null || stackedElements(next.loopYs) > stackedElements(best.loopYs)) continue
    if (next.sunk !== null && best.sunk !== null && next.sunk.eqns.length >= best.sunk.eqns.length) continue
    candidates.set(v, { kind: 'loop', v })
    best = next
  }
  return best
}

/** Elements a step of these ys stacks, all together. */
const stackedElements = (ys: readonly Var[]): number => ys.reduce((n, v) => n + sizeOf(v.aval.shape), 0)

/** A sunk part, and what it reads. */
type SunkPart = Sinking & { readonly sunkReads: ReadonlySet<Atom> }

/** The scan body and what of it stays in the loop, as `sinking` takes them. */
interface Frame {
  readonly body: Program
  readonly nC: number
  readonly nK: number
  readonly producer: ReadonlyMap<Var, Eqn>
  readonly kept: readonly number[]
  readonly sums: readonly Accumulator[]
}

/** The sunk part with `candidates` the values it may read as computed already (see `sinking`). */
function sunkPart(frame: Frame, candidates: ReadonlyMap<Var, Source>): SunkPart | null {
  const { body, nC, nK, producer, kept, sums } = frame
  const consts = body.inputs.slice(0, nC)
  const carryIn = body.inputs.slice(nC, nC + nK)
  const xs = body.inputs.slice(nC + nK)
  const outs = body.outputs
  const cut = new Set([...candidates.keys()].map((v) => producer.get(v) as Eqn))
  const sunkOutputs: Atom[] = [...outs.slice(nK)]
  const terms = termOutputs(sums, producer, cut, sunkOutputs)
  const given = [...candidates.keys()]
  const pruned =
    sunkOutputs.length === 0
      ? null
      : deadCodeElimination(
          new Program(
            [...consts, ...kept.map((k) => carryIn[k]), ...given, ...xs],
            [],
            [],
            body.eqns.filter((e) => !cut.has(e) && !sums.some((s) => s.add === e)),
            sunkOutputs,
          ),
        )
  const sunkReads =
    pruned === null ? new Set<Atom>() : new Set<Atom>([...pruned.eqns.flatMap((e) => e.inputs), ...pruned.outputs])
  const read = given.filter((v) => sunkReads.has(v))
  const sunk =
    pruned === null
      ? null
      : new Program([...consts, ...kept.map((k) => carryIn[k]), ...read, ...xs], [], [], pruned.eqns, pruned.outputs)
  const needsIn = kept.map((k) => sunkReads.has(carryIn[k]))
  // The loop stacks what the sunk part reads of it, and the outgoing carries whose incoming values it reads.
  const loopYs = unique([
    ...read.flatMap((v) => (candidates.get(v)?.kind === 'loop' ? [v] : [])),
    ...kept.flatMap((k, j) => (needsIn[j] && outs[k] instanceof Var ? [outs[k] as Var] : [])),
  ])
  if (kept.some((k, j) => needsIn[j] && !(outs[k] instanceof Var))) return null
  const sunkInputs = read.map((v) => candidates.get(v) as Source)
  return { sunk, needsIn, sunkInputs, loopYs, termOutputs: terms, sunkReads }
}

/**
 * The sunk part's outputs stacked over the steps, [T, ...] each, run after the loop: `stacked` holds the loop's
 * stacked ys, `invariants` and `varyings` the hoisted values, `outs` the body's outputs (the kept carries' next
 * values among them). A carry the sunk part does not read enters as its init, the same at every step.
 */
export function sunkValues(
  s: Sinking & { readonly sunk: Program },
  kept: readonly number[],
  outs: readonly Atom[],
  values: {
    readonly consts: readonly Tensor[]
    readonly init: readonly Tensor[]
    readonly xs: readonly Tensor[]
    readonly invariants: readonly Tensor[]
    readonly varyings: readonly Tensor[]
    readonly stacked: ReadonlyMap<Var, Tensor>
  },
  T: number,
  reverse: boolean,
): Tensor[] {
  const { consts, init, xs, invariants, varyings, stacked } = values
  const given = s.sunkInputs.map((q) =>
    q.kind === 'loop' ? (stacked.get(q.v) as Tensor) : q.kind === 'invariant' ? invariants[q.i] : varyings[q.i],
  )
  const args = [
    ...consts,
    ...kept.map((k, j) =>
      s.needsIn[j] ? sinkIdentities.incoming(stacked.get(outs[k] as Var) as Tensor, init[k], reverse) : init[k],
    ),
    ...given,
    ...xs,
  ]
  const stepped = [
    ...consts.map(() => false),
    ...s.needsIn,
    ...s.sunkInputs.map((q) => q.kind !== 'invariant'),
    ...xs.map(() => true),
  ]
  return everyStep(s.sunk, args, stepped, T)
}
