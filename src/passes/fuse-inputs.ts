/**
 * Fused stepwise inputs: a scan's xs that is elementwise work on stacked
 * values (the residual 1 − h² that a backward loop reads, computed after the
 * forward loop from its states) is computed in the loop instead, at each
 * step from that step's slices of those values: there it is part of the
 * step's kernels (a product's epilogue), where outside the loop it is a
 * pass of its own over all the steps. The stacked values it reads become xs
 * of the loop (their runs of T steps), what it broadcasts over the steps
 * becomes consts. At most MAX_STEPWISE_LEAVES stacked values per xs. It
 * sees through slices of any axes: the gate activations that an LSTM's
 * backward loop reads are elementwise work on column blocks of the stacked
 * pre-activations, and are computed in the loop from each step's row of
 * them.
 *
 * Preserves: every output's value, exactly: step t of the fused xs is the
 * same elementwise primitives applied to the same elements (an elementwise
 * function commutes with taking step t; a slice from step s is read at step
 * t + s, and its other axes are sliced within the step as they were; a
 * value broadcast over the steps is the same at every step). Scans with
 * scans in their bodies are left as they are.
 */
import * as lax from '../core/lax.ts'
import { isElementwise, type Params } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { stage } from '../core/staging.ts'
import { evalProgram } from '../core/interpret.ts'
import { Literal, Var, closeProgram, type Atom, type Eqn, type Program } from '../ir/program.ts'
import type { Tensor } from '../tensor.ts'
import { producersOf, restage, steps, unique, type ScanParams } from './shared.ts'

/** The identity the fusion rests on, as a table so that the law suite can plant a wrong one. */
export const fuseIdentities = {
  /** The step of a value that step t of its slice from step `start` reads: t + start. */
  throughSlice(t: number, start: number): number {
    return t + start
  },
  /** What a slice keeps of one step: the same run of each axis after the steps' axis. */
  withinStep(starts: readonly number[], limits: readonly number[]): { starts: number[]; limits: number[] } {
    return { starts: starts.slice(1), limits: limits.slice(1) }
  },
}

/** Stacked values a fused xs may read: each is one more buffer that the loop's kernels bind. */
const MAX_STEPWISE_LEAVES = 2

/** An xs operand of a scan that is elementwise work on stacked values: what it reads, at each step t. */
interface Stepwise {
  /** Stacked values, read at step t + offset. */
  readonly stacked: readonly { readonly v: Var; readonly offset: number }[]
  /** Values that are the same at every step (broadcast over the steps). */
  readonly fixed: readonly Atom[]
}

/**
 * Each scan's xs that are elementwise work on stacked values (the residual 1 − h² of a tanh RNN, computed after the
 * forward loop from the states it stacked) are computed in the loop instead, step by step, from slices of those
 * values: there they are part of a step's kernels (a product's epilogue) where outside the loop they are a pass of
 * their own over all the steps.
 */
export function fuseStepwiseInputs(program: Program): Program {
  const producer = producersOf(program)
  const fusions = new Map<Eqn, (Stepwise | null)[]>()
  for (const e of program.eqns) {
    if (e.prim !== 'scan') continue
    const { numConsts, numCarry, length, body } = e.params as ScanParams
    if (body.eqns.some((q) => q.prim === 'scan')) continue
    const fused = e.inputs.slice(numConsts + numCarry).map((a) => stepwiseOf(producer, a, length))
    if (fused.some((f) => f !== null)) fusions.set(e, fused)
  }
  if (fusions.size === 0) return program
  return restage('fused scan inputs', program, (eqn, args, read) => {
    const fused = fusions.get(eqn)
    return fused === undefined ? null : fusedScan(eqn as Eqn<'scan'>, fused, producer, args, read)
  })
}

/**
 * Whether `a` ([length, ...]) is, at each step, elementwise work on slices of stacked values and on values broadcast
 * over the steps, with at least one elementwise equation (a slice alone is read in place already). Else null.
 */
function stepwiseOf(producer: ReadonlyMap<Var, Eqn>, a: Atom, length: number): Stepwise | null {
  const stacked: { v: Var; offset: number }[] = []
  const fixed = new Set<Atom>()
  let work = 0
  const visit = (x: Atom, offset: number): boolean => {
    if (x instanceof Literal) return false
    const e = producer.get(x)
    if (e !== undefined && isElementwise(e.prim)) {
      work++
      return e.inputs.every((y) => visit(y, offset))
    }
    if (e?.prim === 'slice') return visit(e.inputs[0], fuseIdentities.throughSlice(offset, firstStep(e)))
    if (e?.prim === 'broadcast' && overSteps(e)) {
      fixed.add(broadcastSource(producer, e))
      return true
    }
    const undone = e === undefined ? null : roundTrip(producer, e)
    if (undone !== null) return visit(undone, offset)
    if (e !== undefined && isLookup(e)) {
      work++
      fixed.add(e.inputs[0])
      return visit(e.inputs[1], offset)
    }
    if (x.aval.shape.length === 0 || x.aval.shape[0] < offset + length) return false
    if (!stacked.some((l) => l.v === x && l.offset === offset)) stacked.push({ v: x, offset })
    return true
  }
  return visit(a, 0) && work > 0 && stacked.length <= MAX_STEPWISE_LEAVES ? { stacked, fixed: [...fixed] } : null
}

/**
 * Whether `e` gathers rows of a table by indices whose leading axis is the steps' (an embedding lookup): step t is the
 * rows that step t of the indices names. The table must be the same at every step: a value, not a stacked one.
 */
function isLookup(e: Eqn): boolean {
  if (e.prim !== 'gather') return false
  const { axis, batchDims } = e.params as Params<'gather'>
  const [table, indices] = e.inputs
  return axis === 0 && batchDims === 0 && table instanceof Var && indices.aval.shape.length >= 1
}

/** What a reshape of a reshape gives back unchanged (a product's rows [T·B, N] reshaped to [T, B, N] again), else null. */
function roundTrip(producer: ReadonlyMap<Var, Eqn>, e: Eqn): Atom | null {
  const x = e.inputs[0]
  const inner = e.prim === 'reshape' && x instanceof Var ? producer.get(x) : undefined
  if (inner?.prim !== 'reshape') return null
  const y = inner.inputs[0]
  const shape = e.outputs[0].aval.shape
  return y.aval.shape.length === shape.length && y.aval.shape.every((d, i) => d === shape[i]) ? y : null
}

/** The first step a slice keeps. */
const firstStep = (e: Eqn): number => (e.params as Params<'slice'>).starts[0]

/** One step of a slice, from the same step of what it slices: its other axes sliced as the slice slices them. */
function sliceWithinStep(e: Eqn, step: Tensor): Tensor {
  const { starts, limits } = e.params as Params<'slice'>
  const whole =
    starts.every((s, i) => i === 0 || s === 0) && limits.every((l, i) => i === 0 || l === e.inputs[0].aval.shape[i])
  if (whole) return step
  const within = fuseIdentities.withinStep(starts, limits)
  return lax.slice(step, within.starts, within.limits)
}

/** What a broadcast that only adds leading axes broadcasts: through such broadcasts of broadcasts, the first input. */
function broadcastSource(producer: ReadonlyMap<Var, Eqn>, e: Eqn): Atom {
  const x = e.inputs[0]
  const inner = x instanceof Var ? producer.get(x) : undefined
  return inner?.prim === 'broadcast' && overSteps(inner) ? broadcastSource(producer, inner) : x
}

/** Whether a broadcast only adds leading axes, the first of them the steps: each step sees its operand broadcast. */
function overSteps(e: Eqn): boolean {
  const from = e.inputs[0].aval.shape
  const to = e.outputs[0].aval.shape
  return from.length < to.length && from.every((d, i) => d === to[to.length - from.length + i])
}

/**
 * The scan `eqn` with each fused xs computed in its body: the stacked values it reads become xs (their runs of T
 * steps from their offsets), what it broadcasts over the steps becomes consts.
 */
function fusedScan(
  eqn: Eqn<'scan'>,
  fused: readonly (Stepwise | null)[],
  producer: ReadonlyMap<Var, Eqn>,
  args: readonly Tensor[],
  read: (a: Atom) => Tensor,
): Tensor[] {
  const p = eqn.params
  const { numConsts: nC, numCarry: nK, length: T } = p
  const xsAtoms = eqn.inputs.slice(nC + nK)
  const fixed = unique(fused.flatMap((f) => f?.fixed ?? []).filter((a): a is Var => a instanceof Var))
  const stacked = fused
    .flatMap((f) => f?.stacked ?? [])
    .filter((l, i, all) => all.findIndex((m) => m.v === l.v && m.offset === l.offset) === i)
  const kept = xsAtoms.flatMap((_, j) => (fused[j] === null ? [j] : []))
  const keptXs = kept.map((j) => args[nC + nK + j])
  const leaves = stacked.map(({ v, offset }) => {
    const x = read(v)
    return offset === 0 && x.aval.shape[0] === T ? x : steps(x, offset, offset + T)
  })
  const perStep = (x: Tensor) => ({ ...x.aval, shape: x.aval.shape.slice(1) })
  const avals = [
    ...args.slice(0, nC).map((x) => x.aval),
    ...fixed.map((v) => v.aval),
    ...args.slice(nC, nC + nK).map((x) => x.aval),
    ...keptXs.map(perStep),
    ...leaves.map(perStep),
  ]
  const { program: body } = stage('fused scan body', avals, (ins) => {
    let at = 0
    const take = (n: number) => ins.slice(at, (at += n))
    const consts = take(nC)
    const fixedIn = take(fixed.length)
    const carries = take(nK)
    const keptIn = take(kept.length)
    const leafIn = take(leaves.length)
    // One step of a fused xs: its equations on the leaves' slices, each value once per offset.
    const fixedValue = (x: Var) => fixedIn[fixed.indexOf(x)]
    const broadcastStep = (x: Atom, shape: readonly number[]) =>
      lax.broadcast(x instanceof Var ? fixedValue(x) : x.value, shape)
    const computed = (a: Var, offset: number): Tensor => {
      const leaf = stacked.findIndex((l) => l.v === a && l.offset === offset)
      if (leaf >= 0) return leafIn[leaf]
      const e = producer.get(a) as Eqn
      const undone = roundTrip(producer, e)
      if (undone !== null) return value(undone, offset)
      if (e.prim === 'slice')
        return sliceWithinStep(e, value(e.inputs[0], fuseIdentities.throughSlice(offset, firstStep(e))))
      if (e.prim === 'broadcast') return broadcastStep(broadcastSource(producer, e), a.aval.shape.slice(1))
      if (isLookup(e)) return bind('gather', [fixedValue(e.inputs[0] as Var), value(e.inputs[1], offset)], e.params)[0]
      return bind(
        e.prim,
        e.inputs.map((b) => value(b, offset)),
        e.params,
      )[0]
    }
    const memo = new Map<Var, Map<number, Tensor>>()
    const value = (a: Atom, offset: number): Tensor => {
      if (a instanceof Literal) return a.value
      const seen = memo.get(a)?.get(offset)
      if (seen !== undefined) return seen
      const y = computed(a, offset)
      if (!memo.has(a)) memo.set(a, new Map())
      ;(memo.get(a) as Map<number, Tensor>).set(offset, y)
      return y
    }
    const xs = xsAtoms.map((a, j) => (fused[j] === null ? keptIn[kept.indexOf(j)] : value(a, 0)))
    return { outputs: evalProgram(p.body, [...consts, ...carries, ...xs]), result: null }
  })
  const closed = closeProgram(body)
  return bind(
    'scan',
    [...closed.consts, ...args.slice(0, nC), ...fixed.map(read), ...args.slice(nC, nC + nK), ...keptXs, ...leaves],
    {
      ...p,
      numConsts: closed.consts.length + nC + fixed.length,
      body: closed.program,
    },
  )
}
