/**
 * Loop motion: every scan of a Program rewritten so that its loop keeps only
 * the recurrence, the work that must run one step after another. For a
 * device where each step costs dispatches (WebGPU), work moved out of the
 * loop runs as a few large kernels over all T steps at once.
 *
 * With body (cₜ₊₁, yₜ) = f(consts, cₜ, xₜ):
 *  - accumulators: a carry whose next value is c + u, c read nowhere else,
 *    is a sum over the steps (the gradient of a tied parameter, seed 000,
 *    "Parameter Tying"): c_T = c₀ + Σₜ uₜ. It leaves the loop; u is computed
 *    for all steps after it, and where u is a product aₜ·bₜ the sum is one
 *    product over all steps, Σₜ aₜ·bₜ = [a₀ … a_{T−1}]·[b₀; …; b_{T−1}];
 *  - hoisting: what the carries need but no carry feeds (x·W of an RNN's
 *    input) is computed before the loop, batched over t (vmap), and enters
 *    the loop as new xs; a value of the consts alone, once, as a new const;
 *  - sinking: the ys (and the accumulators' terms) are computed after the
 *    loop, batched over t, from the stacked carries: each step's incoming
 *    carry (the init, then the previous step's result) and the carries it
 *    computes, which the loop returns as ys. What they need from inside the
 *    step is computed again there, batched.
 *
 * The rewritten Program computes the same values (up to the order of a
 * float sum); a scan with a scan in its body, or one this cannot shrink, is
 * left as it is. It runs before a backend compiles: the rules that make
 * scans (jvp, transpose, vmap) stay simple, and a program printed before
 * compiling shows what the user wrote.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { stage } from '../ir/partial-eval.ts'
import { Literal, Program, Var, deadCodeElimination, evalProgram, type Atom, type Eqn } from '../ir/program.ts'
import { vmap } from '../transforms.ts'
import type { Tensor } from '../tensor.ts'

type ScanParams = Params<'scan'>

/** Primitives worth computing once for all steps even when they read only consts: the ones a backend runs as kernels. */
const HEAVY = new Set(['matmul', 'sum', 'reduceMax', 'scatterAdd'])

/** The Program with each top-level scan rewritten; the same Program when no scan changes. */
export function moveLoopInvariants(program: Program): Program {
  const plans = new Map<Eqn, Plan>()
  for (const e of program.eqns) {
    const p = e.prim === 'scan' ? plan(e as Eqn<'scan'>) : null
    if (p !== null) plans.set(e, p)
  }
  if (plans.size === 0) return program
  const { program: moved } = stage('loop motion', program.inputs.map((v) => v.aval), (inputs) => {
    const env = new Map<Var, Tensor>()
    program.constVars.forEach((v, i) => env.set(v, program.constValues[i]))
    program.inputs.forEach((v, i) => env.set(v, inputs[i]))
    const read = (a: Atom) => (a instanceof Literal ? a.value : (env.get(a) as Tensor))
    for (const eqn of program.eqns) {
      const args = eqn.inputs.map(read)
      const p = plans.get(eqn)
      const outs = p === undefined ? bind(eqn.prim, args, eqn.params) : rewrite(p, args)
      eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
    }
    return { outputs: program.outputs.map(read), result: null }
  })
  return moved
}

/** How one scan is split: which carries are sums, which work is hoisted, what the sunk part computes. */
interface Plan {
  readonly p: ScanParams
  /** Carries that stay in the loop (indices into the carries). */
  readonly kept: number[]
  /** Per accumulated carry: its index, and the term added at each step. */
  readonly sums: { readonly k: number; readonly term: Atom }[]
  /** The loop body: inputs consts, invariant boundary values, kept carries, xs, varying boundary values. */
  readonly loop: Program
  /** Hoisted, once: consts → invariant boundary values. */
  readonly invariant: Program | null
  /** Hoisted, per step: consts, xs → varying boundary values. */
  readonly varying: Program | null
  /** Sunk, per step: consts, incoming kept carries, `sunkInputs`, xs → ys, then the terms (or their factors). */
  readonly sunk: Program | null
  /** Per kept carry: whether the sunk part reads its incoming value. */
  readonly needsIn: boolean[]
  /** What the sunk part reads that is computed already: a value the loop stacks as a y, or a hoisted one. */
  readonly sunkInputs: readonly Source[]
  /** The loop's ys: values of its body stacked over the steps (outgoing carries, products the sunk part reads). */
  readonly loopYs: readonly Var[]
  /** Per sum: the sunk outputs that give its term: one, or the two factors of a product. */
  readonly termOutputs: (readonly [number] | readonly [number, number, boolean])[]
}

function plan(eqn: Eqn<'scan'>): Plan | null {
  const p = eqn.params
  const { body, numConsts: nC, numCarry: nK } = p
  if (body.eqns.some((e) => e.prim === 'scan') || p.length === 0) return null
  const consts = body.inputs.slice(0, nC)
  const carryIn = body.inputs.slice(nC, nC + nK)
  const xs = body.inputs.slice(nC + nK)
  const outs = body.outputs
  const producer = new Map<Var, Eqn>()
  for (const e of body.eqns) for (const v of e.outputs) producer.set(v, e)
  const reads = new Map<Atom, number>()
  for (const a of [...body.eqns.flatMap((e) => e.inputs), ...outs]) reads.set(a, (reads.get(a) ?? 0) + 1)

  // Accumulators: c′ = c + u (either order), c read only there, c′ used only as the carry; floats only.
  const sums: { k: number; term: Atom; add: Eqn }[] = []
  carryIn.forEach((c, k) => {
    const o = outs[k]
    const e = o instanceof Var ? producer.get(o) : undefined
    if (e === undefined || e.prim !== 'add' || reads.get(c) !== 1 || reads.get(o) !== 1 || !c.aval.dtype.startsWith('f')) return
    const term = e.inputs[0] === c ? e.inputs[1] : e.inputs[1] === c ? e.inputs[0] : null
    if (term !== null && term !== c) sums.push({ k, term, add: e })
  })
  const summed = new Set(sums.map((s) => s.k))
  const kept = carryIn.map((_, k) => k).filter((k) => !summed.has(k))

  // The loop computes the kept carries; what of that reads no carry is hoisted.
  const loopFull = deadCodeElimination(new Program(body.inputs, [], [], body.eqns, kept.map((k) => outs[k])))
  const fromCarry = flowsFrom(loopFull.eqns, kept.map((k) => carryIn[k]))
  const fromXs = flowsFrom(loopFull.eqns, xs)
  const hoisted = new Set(loopFull.eqns.filter((e) => !e.outputs.some((v) => fromCarry.has(v)) && (e.outputs.some((v) => fromXs.has(v)) || HEAVY.has(e.prim))))
  const stays = loopFull.eqns.filter((e) => !hoisted.has(e))
  const boundary = unique([...stays.flatMap((e) => e.inputs), ...kept.map((k) => outs[k])].filter((a): a is Var => a instanceof Var && [...hoisted].some((e) => e.outputs.includes(a))))
  const invariantVars = boundary.filter((v) => !fromXs.has(v))
  const varyingVars = boundary.filter((v) => fromXs.has(v))
  const loop = deadCodeElimination(new Program([...consts, ...invariantVars, ...kept.map((k) => carryIn[k]), ...xs, ...varyingVars], [], [], stays, kept.map((k) => outs[k])))

  // The sunk part: the ys and the sums' terms (a product's factors), from the stacked carries. What is computed
  // already is not computed again: the outgoing carries and the products of the loop (stacked by it as ys), and
  // the hoisted values; the rest of a step is, batched.
  const candidates = new Map<Var, Source>()
  kept.forEach((k) => {
    const o = outs[k]
    if (o instanceof Var && producer.has(o)) candidates.set(o, { kind: 'loop', v: o })
  })
  for (const e of loop.eqns) if (HEAVY.has(e.prim)) for (const v of e.outputs) if (!candidates.has(v)) candidates.set(v, { kind: 'loop', v })
  invariantVars.forEach((v, i) => candidates.set(v, { kind: 'invariant', i }))
  varyingVars.forEach((v, i) => candidates.set(v, { kind: 'varying', i }))
  const cut = new Set([...candidates.keys()].map((v) => producer.get(v) as Eqn))
  const termOutputs: Plan['termOutputs'] = []
  const sunkOutputs: Atom[] = [...outs.slice(nK)]
  for (const s of sums) {
    const e = s.term instanceof Var ? producer.get(s.term) : undefined
    if (e?.prim === 'matmul' && e.inputs.every((a) => a.aval.shape.length === 2) && !cut.has(e)) {
      // A factor that is a transpose is stacked untransposed: the product over all steps then reads it as it is.
      const [a, b] = e.inputs
      const ta = a instanceof Var && producer.get(a)?.prim === 'transpose' && !cut.has(producer.get(a) as Eqn)
      termOutputs.push([sunkOutputs.push(ta ? (producer.get(a as Var) as Eqn).inputs[0] : a) - 1, sunkOutputs.push(b) - 1, ta])
    } else termOutputs.push([sunkOutputs.push(s.term) - 1])
  }
  const given = [...candidates.keys()]
  const pruned = sunkOutputs.length === 0 ? null : deadCodeElimination(new Program(
    [...consts, ...kept.map((k) => carryIn[k]), ...given, ...xs], [], [], body.eqns.filter((e) => !cut.has(e) && !sums.some((s) => s.add === e)), sunkOutputs))
  const sunkReads = pruned === null ? new Set<Atom>() : new Set<Atom>([...pruned.eqns.flatMap((e) => e.inputs), ...pruned.outputs])
  const read = given.filter((v) => sunkReads.has(v))
  const sunk = pruned === null ? null : new Program([...consts, ...kept.map((k) => carryIn[k]), ...read, ...xs], [], [], pruned.eqns, pruned.outputs)
  const needsIn = kept.map((k) => sunkReads.has(carryIn[k]))
  // The loop stacks what the sunk part reads of it, and the outgoing carries whose incoming values it reads.
  const loopYs = unique([
    ...read.flatMap((v) => (candidates.get(v)?.kind === 'loop' ? [v] : [])),
    ...kept.flatMap((k, j) => (needsIn[j] && outs[k] instanceof Var ? [outs[k] as Var] : [])),
  ])
  if (kept.some((k, j) => needsIn[j] && !(outs[k] instanceof Var))) return null

  // Worth it only if something leaves the loop.
  if (sums.length === 0 && hoisted.size === 0 && nK === outs.length) return null
  const invariant = invariantVars.length === 0 ? null : deadCodeElimination(new Program(consts, [], [], body.eqns, invariantVars))
  const varying = varyingVars.length === 0 ? null : deadCodeElimination(new Program([...consts, ...xs], [], [], body.eqns, varyingVars))
  const sunkInputs = read.map((v) => candidates.get(v) as Source)
  return { p, kept, sums: sums.map(({ k, term }) => ({ k, term })), loop, invariant, varying, sunk, needsIn, sunkInputs, loopYs, termOutputs }
}

/** Where a value the sunk part reads comes from: the loop's stacked ys, or the hoisted values (once, or per step). */
type Source = { readonly kind: 'loop'; readonly v: Var } | { readonly kind: 'invariant' | 'varying'; readonly i: number }

/** The variables that depend on `from` through `eqns` (those included). */
function flowsFrom(eqns: readonly Eqn[], from: readonly Var[]): Set<Var> {
  const dep = new Set<Var>(from)
  for (const e of eqns) if (e.inputs.some((a) => a instanceof Var && dep.has(a))) for (const v of e.outputs) dep.add(v)
  return dep
}

const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)]

/** Runs `program` at every step t: the `stepped` arguments [T, ...] are sliced along their leading axis, the others are the same at every step. */
function everyStep(program: Program, args: readonly Tensor[], stepped: readonly boolean[], length: number): Tensor[] {
  if (!stepped.some(Boolean)) return evalProgram(program, args).map((y) => lax.broadcast(y, [length, ...y.aval.shape]))
  const axes = stepped.map((s) => (s ? 0 : null))
  return vmap((...xs: Tensor[]) => evalProgram(program, xs), axes as never, 0)(...args) as Tensor[]
}

function rewrite(plan: Plan, operands: readonly Tensor[]): Tensor[] {
  const { p, kept, sums, loop, invariant, varying, sunk } = plan
  const { numConsts: nC, numCarry: nK, length: T, reverse } = p
  const consts = operands.slice(0, nC)
  const init = operands.slice(nC, nC + nK)
  const xs = operands.slice(nC + nK)

  const invariants = invariant === null ? [] : evalProgram(invariant, consts)
  const varyings = varying === null ? [] : everyStep(varying, [...consts, ...xs], [...consts.map(() => false), ...xs.map(() => true)], T)
  // The loop stacks, as ys, the values of its body that the sunk part reads.
  const { loopYs } = plan
  const loopBody = loopYs.length === 0 ? loop : new Program(loop.inputs, [], [], loop.eqns, [...loop.outputs, ...loopYs])
  const loopOuts = bind('scan', [...consts, ...invariants, ...kept.map((k) => init[k]), ...xs, ...varyings], {
    length: T, reverse, numConsts: nC + invariants.length, numCarry: kept.length, body: loopBody,
  })
  const finals = loopOuts.slice(0, kept.length)
  const stackedOf = new Map(loopYs.map((v, i) => [v, loopOuts[kept.length + i]]))

  const carryOut: Tensor[] = new Array(nK)
  kept.forEach((k, j) => (carryOut[k] = finals[j]))
  let ys: Tensor[] = []
  if (sunk !== null) {
    // A carry the sunk part does not read enters as its init, the same at every step.
    const given = plan.sunkInputs.map((s) => (s.kind === 'loop' ? (stackedOf.get(s.v) as Tensor) : s.kind === 'invariant' ? invariants[s.i] : varyings[s.i]))
    const args = [
      ...consts,
      ...kept.map((k, j) => (plan.needsIn[j] ? motion.incoming(stackedOf.get(p.body.outputs[k] as Var) as Tensor, init[k], reverse) : init[k])),
      ...given,
      ...xs,
    ]
    const steppedArgs = [...consts.map(() => false), ...plan.needsIn, ...plan.sunkInputs.map((s) => s.kind !== 'invariant'), ...xs.map(() => true)]
    const sunkOuts = everyStep(sunk, args, steppedArgs, T)
    ys = sunkOuts.slice(0, p.body.outputs.length - nK)
    sums.forEach(({ k }, i) => {
      const at = plan.termOutputs[i]
      carryOut[k] = lax.add(init[k], at.length === 1 ? lax.sum(sunkOuts[at[0]], [0]) : motion.productOverSteps(sunkOuts[at[0]], sunkOuts[at[1]], at[2]))
    })
  }
  return [...carryOut, ...ys]
}

/**
 * The two identities the rewrite rests on, as a table so that the law suite
 * can plant a wrong one and see the comparison with the original fail.
 */
export const motion = {
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
    const steps = (from: number, to: number) => lax.slice(outgoing, shape.map((_, i) => (i === 0 ? from : 0)), shape.map((d, i) => (i === 0 ? to : d)))
    return reverse ? lax.concat([steps(1, T), first], 0) : lax.concat([first, steps(0, T - 1)], 0)
  },
  /**
   * Σₜ aₜ·bₜ for stacked factors a [T, M, K] (or, `transposed`, aᵀ stacked
   * [T, K, M]) and b [T, K, N], as one product over the T·K terms.
   */
  productOverSteps(a: Tensor, b: Tensor, transposed: boolean): Tensor {
    const [T, K, N] = b.aval.shape
    const rows = lax.reshape(b, [T * K, N])
    if (transposed) {
      const M = a.aval.shape[2]
      return lax.matmul(lax.transpose(lax.reshape(a, [T * K, M]), [1, 0]), rows)
    }
    const M = a.aval.shape[1]
    return lax.matmul(lax.reshape(lax.transpose(a, [1, 0, 2]), [M, T * K]), rows)
  },
}
