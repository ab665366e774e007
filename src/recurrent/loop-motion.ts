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
 *    step is computed again there, batched;
 *  - rotation: where the carry enters a step only through elementwise work
 *    P that feeds a product Q (the backward step of an RNN: δ = c ⊙ v,
 *    c′ = δ·Whᵀ), the loop carries D = P(c, xₜ) instead: D′ = P(Q(D, xₜ),
 *    xₜ₊₁) over T − 1 steps, one product whose epilogue is P, with P once
 *    before the loop and Q once after it (reversed loops alike, t − 1);
 *  - fused inputs: an xs that is elementwise work on stacked values (the
 *    residual 1 − h² that a backward loop reads, computed after the forward
 *    loop from its states) is computed in the loop instead, from each
 *    step's slices of those values, as part of that step's kernels;
 *  - split products: a product over the steps whose factors are
 *    concatenations along them (the incoming states, the init in front; δ,
 *    its first step computed before the loop) is a sum of products over the
 *    runs of steps where each factor is one value, read in place; a run
 *    where a factor is zero (a zero init) is left out.
 *
 * The rewritten Program computes the same values (up to the order of a
 * float sum); a scan this cannot shrink is left as it is, and so is a scan
 * with scans in its body, whose body is rewritten instead (truncated bptt's
 * scan over chunks: each chunk's loops). It runs before a backend
 * compiles: the rules that make scans (jvp, transpose, vmap) stay simple,
 * and a program printed before compiling shows what the user wrote.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { stage } from '../ir/partial-eval.ts'
import {
  Literal,
  Program,
  Var,
  closeProgram,
  deadCodeElimination,
  evalProgram,
  type Atom,
  type Eqn,
} from '../ir/program.ts'
import { vmap } from '../transforms.ts'
import { ConcreteTensor, sizeOf, zerosLike, type Tensor } from '../tensor.ts'

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
  // A scan whose body holds scans (truncated bptt's scan over chunks) is left as it is, and its body is moved.
  const bodies = new Map<Eqn, Program>()
  for (const e of program.eqns) {
    const body = e.prim === 'scan' ? (e.params as ScanParams).body : null
    const moved = body !== null && body.eqns.some((q) => q.prim === 'scan') ? moveLoopInvariants(body) : body
    if (moved !== body) bodies.set(e, moved as Program)
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
  return splitProducts(fuseStepwiseInputs(moved))
}

/**
 * `program` staged again, each equation bound as it is unless `replace` computes its outputs (from its arguments;
 * `read` gives any variable computed before it); dead code removed.
 */
function restage(
  name: string,
  program: Program,
  replace: (eqn: Eqn, args: Tensor[], read: (a: Atom) => Tensor) => Tensor[] | null,
): Program {
  const { program: out } = stage(
    name,
    program.inputs.map((v) => v.aval),
    (inputs) => {
      const env = new Map<Var, Tensor>()
      program.constVars.forEach((v, i) => env.set(v, program.constValues[i]))
      program.inputs.forEach((v, i) => env.set(v, inputs[i]))
      const read = (a: Atom) => (a instanceof Literal ? a.value : (env.get(a) as Tensor))
      for (const eqn of program.eqns) {
        const args = eqn.inputs.map(read)
        const outs = replace(eqn, args, read) ?? bind(eqn.prim, args, eqn.params)
        eqn.outputs.forEach((v, i) => env.set(v, outs[i]))
      }
      return { outputs: program.outputs.map(read), result: null }
    },
  )
  return deadCodeElimination(out)
}

/** The equation that computes each variable of `program`. */
function producersOf(program: Program): Map<Var, Eqn> {
  const producer = new Map<Var, Eqn>()
  for (const e of program.eqns) for (const v of e.outputs) producer.set(v, e)
  return producer
}

/** Rows of a product's operand along the contraction: blocks of a concatenation, null for a block of zeros. */
type Block = { readonly v: Atom | null; readonly rows: number }

/**
 * The rows of `a` ([R, N], or the [..., N] value a reshape to [R, N] reads) as the blocks of concatenations along
 * its leading axis; one block where it is none.
 */
function blocksOf(producer: ReadonlyMap<Var, Eqn>, a: Atom): Block[] {
  const rows = sizeOf(a.aval.shape.slice(0, -1))
  const e = a instanceof Var ? producer.get(a) : undefined
  if (
    e?.prim === 'reshape' &&
    e.inputs[0].aval.shape.length >= 2 &&
    e.inputs[0].aval.shape.at(-1) === a.aval.shape.at(-1)
  )
    return blocksOf(producer, e.inputs[0])
  if (e?.prim === 'concat' && (e.params as Params<'concat'>).axis === 0)
    return e.inputs.flatMap((x) => blocksOf(producer, x))
  if (
    e?.prim === 'broadcast' &&
    e.inputs[0] instanceof Literal &&
    e.inputs[0].value.toConcrete().values.every((x) => x === 0)
  )
    return [{ v: null, rows }]
  return [{ v: a, rows }]
}

/**
 * Products over the steps whose factors are concatenations along the steps (the stacked states with the init in
 * front, δ with its first step behind), each a sum of products over the runs where both factors are one value,
 * without the runs where either is zero: Σ_r aᵣᵀbᵣ split where the blocks of a or of b begin. The runs are read in
 * place, and the concatenations are not written out.
 */
function splitProducts(program: Program): Program {
  const producer = producersOf(program)
  const splits = new Map<Eqn, { a: Block[]; b: Block[]; runs: [number, number][] }>()
  for (const e of program.eqns) {
    if (e.prim !== 'matmul' || e.inputs.some((x) => x.aval.shape.length !== 2)) continue
    const [x, y] = e.inputs
    const t = x instanceof Var ? producer.get(x) : undefined
    if (t?.prim !== 'transpose' || (t.params as Params<'transpose'>).perm[0] !== 1) continue
    const a = blocksOf(producer, t.inputs[0])
    const b = blocksOf(producer, y)
    if (a.length === 1 && b.length === 1) continue
    const runs = motion.runs(
      a.map((q) => q.rows),
      b.map((q) => q.rows),
    )
    // Every run must be whole steps of both blocks it lies in.
    const ok = runs.every((r) => [a, b].every((blocks) => pieceOf(blocks, r) !== undefined))
    if (ok) splits.set(e, { a, b, runs })
  }
  if (splits.size === 0) return program
  return restage('split products', program, (eqn, _, read) => {
    const split = splits.get(eqn)
    if (split === undefined) return null
    const [M, N] = eqn.outputs[0].aval.shape
    let total: Tensor | null = null
    for (const r of split.runs) {
      const pa = pieceOf(split.a, r) as Piece
      const pb = pieceOf(split.b, r) as Piece
      if (pa === null || pb === null) continue
      const part = lax.matmul(lax.transpose(piece(read(pa.v), pa, r, M), [1, 0]), piece(read(pb.v), pb, r, N))
      total = total === null ? part : lax.add(total, part)
    }
    return [total ?? zerosLike(eqn.outputs[0])]
  })
}

/** Where run [from, to) of the rows lies: in a block of zeros (null), or in block v from row `start` of it. */
type Piece = { readonly v: Atom; readonly start: number } | null

/** The piece of `blocks` that holds rows [from, to), if one block holds them all in whole steps; else undefined. */
function pieceOf(blocks: readonly Block[], [from, to]: readonly [number, number]): Piece | undefined {
  let at = 0
  for (const q of blocks) {
    if (from >= at && to <= at + q.rows) {
      if (q.v === null) return null
      const shape = q.v.aval.shape
      const step = sizeOf(shape.slice(1, -1))
      return (from - at) % step === 0 && (to - at) % step === 0 ? { v: q.v, start: from - at } : undefined
    }
    at += q.rows
  }
  return undefined
}

/** Rows [from, to) of a run, from the block's value x: a slice of its leading axis, as a [rows, n] matrix. */
function piece(x: Tensor, p: NonNullable<Piece>, [from, to]: readonly [number, number], n: number): Tensor {
  const shape = x.aval.shape
  const step = sizeOf(shape.slice(1, -1))
  const [first, last] = [p.start / step, (p.start + to - from) / step]
  const run = first === 0 && last === shape[0] ? x : steps(x, first, last)
  return lax.reshape(run, [to - from, n])
}

const ELEMENTWISE = new Set([
  'neg',
  'exp',
  'log',
  'tanh',
  'logistic',
  'sin',
  'cos',
  'sqrt',
  'abs',
  'sign',
  'convert',
  'stopGradient',
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'max',
  'compare',
  'select',
])
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
    if (e !== undefined && ELEMENTWISE.has(e.prim)) {
      work++
      return e.inputs.every((y) => visit(y, offset))
    }
    const run = e?.prim === 'slice' ? leadingRun(e) : null
    if (run !== null) return visit((e as Eqn).inputs[0], motion.throughSlice(offset, run))
    if (e?.prim === 'broadcast' && overSteps(e)) {
      fixed.add(broadcastSource(producer, e))
      return true
    }
    if (x.aval.shape.length === 0 || x.aval.shape[0] < offset + length) return false
    if (!stacked.some((l) => l.v === x && l.offset === offset)) stacked.push({ v: x, offset })
    return true
  }
  return visit(a, 0) && work > 0 && stacked.length <= MAX_STEPWISE_LEAVES ? { stacked, fixed: [...fixed] } : null
}

/** Where a slice keeps all but the leading axis whole: the first step it keeps; else null. */
function leadingRun(e: Eqn): number | null {
  const { starts, limits } = e.params as Params<'slice'>
  const shape = e.inputs[0].aval.shape
  return starts.every((s, i) => i === 0 || s === 0) && limits.every((l, i) => i === 0 || l === shape[i])
    ? starts[0]
    : null
}

/** What a broadcast that only adds leading axes broadcasts: through such broadcasts of broadcasts, the first operand. */
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
 * Each scan's xs that are elementwise work on stacked values (the residual 1 − h² of a tanh RNN, computed after the
 * forward loop from the states it stacked) are computed in the loop instead, step by step, from slices of those
 * values: there they are part of a step's kernels (a product's epilogue) where outside the loop they are a pass of
 * their own over all the steps.
 */
function fuseStepwiseInputs(program: Program): Program {
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
    const broadcastStep = (x: Atom, shape: readonly number[]) =>
      lax.broadcast(x instanceof Var ? fixedIn[fixed.indexOf(x)] : x.value, shape)
    const memo = new Map<Var, Map<number, Tensor>>()
    const value = (a: Atom, offset: number): Tensor => {
      if (a instanceof Literal) return a.value
      const seen = memo.get(a)?.get(offset)
      if (seen !== undefined) return seen
      const leaf = stacked.findIndex((l) => l.v === a && l.offset === offset)
      const e = producer.get(a)
      const y =
        leaf >= 0
          ? leafIn[leaf]
          : e?.prim === 'slice'
            ? value(e.inputs[0], motion.throughSlice(offset, leadingRun(e) as number))
            : e?.prim === 'broadcast'
              ? broadcastStep(broadcastSource(producer, e), a.aval.shape.slice(1))
              : bind(
                  (e as Eqn).prim,
                  (e as Eqn).inputs.map((b) => value(b, offset)),
                  (e as Eqn).params,
                )[0]
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
  /** The loop rotated (see the header): P and Q, each with the loop's inputs but the carries (P) or D (Q) in their place. */
  readonly rotation: Rotation | null
  /** Per sum: the sunk outputs that give its term: one, or the two factors of a product. */
  readonly termOutputs: (readonly [number] | readonly [number, number, boolean])[]
}

function plan(eqn: Eqn<'scan'>): Plan | null {
  const p = eqn.params
  const { numConsts: nC, numCarry: nK } = p
  if (p.body.eqns.some((e) => e.prim === 'scan') || p.length === 0) return null
  const body = reassociate(p.body, p.body.inputs.slice(nC, nC + nK))
  const consts = body.inputs.slice(0, nC)
  const carryIn = body.inputs.slice(nC, nC + nK)
  const xs = body.inputs.slice(nC + nK)
  const outs = body.outputs
  const producer = producersOf(body)
  const reads = new Map<Atom, number>()
  for (const a of [...body.eqns.flatMap((e) => e.inputs), ...outs]) reads.set(a, (reads.get(a) ?? 0) + 1)

  // Accumulators: c′ = c + u (either order), c read only there, c′ used only as the carry; floats only.
  const sums: { k: number; term: Atom; add: Eqn }[] = []
  carryIn.forEach((c, k) => {
    const o = outs[k]
    const e = o instanceof Var ? producer.get(o) : undefined
    if (
      e === undefined ||
      e.prim !== 'add' ||
      reads.get(c) !== 1 ||
      reads.get(o) !== 1 ||
      !c.aval.dtype.startsWith('f')
    )
      return
    const term = e.inputs[0] === c ? e.inputs[1] : e.inputs[1] === c ? e.inputs[0] : null
    if (term !== null && term !== c) sums.push({ k, term, add: e })
  })
  const summed = new Set(sums.map((s) => s.k))
  const kept = carryIn.map((_, k) => k).filter((k) => !summed.has(k))

  // The loop computes the kept carries; what of that reads no carry is hoisted.
  const loopFull = deadCodeElimination(
    new Program(
      body.inputs,
      [],
      [],
      body.eqns,
      kept.map((k) => outs[k]),
    ),
  )
  const fromCarry = flowsFrom(
    loopFull.eqns,
    kept.map((k) => carryIn[k]),
  )
  const fromXs = flowsFrom(loopFull.eqns, xs)
  const hoisted = new Set(
    loopFull.eqns.filter(
      (e) => !e.outputs.some((v) => fromCarry.has(v)) && (e.outputs.some((v) => fromXs.has(v)) || HEAVY.has(e.prim)),
    ),
  )
  const stays = loopFull.eqns.filter((e) => !hoisted.has(e))
  const hoistedOut = new Set([...hoisted].flatMap((e) => e.outputs))
  const boundary = unique(
    [...stays.flatMap((e) => e.inputs), ...kept.map((k) => outs[k])].filter(
      (a): a is Var => a instanceof Var && hoistedOut.has(a),
    ),
  )
  const invariantVars = boundary.filter((v) => !fromXs.has(v))
  const varyingVars = boundary.filter((v) => fromXs.has(v))
  const loop = deadCodeElimination(
    new Program(
      [...consts, ...invariantVars, ...kept.map((k) => carryIn[k]), ...xs, ...varyingVars],
      [],
      [],
      stays,
      kept.map((k) => outs[k]),
    ),
  )
  const rotation = rotate(loop, nC + invariantVars.length, kept.length)

  // The sunk part: the ys and the sums' terms (a product's factors), from the stacked carries. What is computed
  // already is not computed again: the outgoing carries and the products of the loop (stacked by it as ys), and
  // the hoisted values; the rest of a step is, batched.
  const candidates = new Map<Var, Source>()
  kept.forEach((k) => {
    const o = outs[k]
    if (o instanceof Var && producer.has(o)) candidates.set(o, { kind: 'loop', v: o })
  })
  for (const e of loop.eqns)
    if (HEAVY.has(e.prim)) for (const v of e.outputs) if (!candidates.has(v)) candidates.set(v, { kind: 'loop', v })
  // A rotated loop carries D: stacking it costs nothing.
  for (const v of rotation?.D ?? []) if (producer.has(v)) candidates.set(v, { kind: 'loop', v })
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
      termOutputs.push([
        sunkOutputs.push(ta ? (producer.get(a as Var) as Eqn).inputs[0] : a) - 1,
        sunkOutputs.push(b) - 1,
        ta,
      ])
    } else termOutputs.push([sunkOutputs.push(s.term) - 1])
  }
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

  // Worth it only if something leaves the loop, or the loop rotates.
  if (sums.length === 0 && hoisted.size === 0 && nK === outs.length && rotation === null) return null
  const invariant =
    invariantVars.length === 0 ? null : deadCodeElimination(new Program(consts, [], [], body.eqns, invariantVars))
  const varying =
    varyingVars.length === 0
      ? null
      : deadCodeElimination(new Program([...consts, ...xs], [], [], body.eqns, varyingVars))
  const sunkInputs = read.map((v) => candidates.get(v) as Source)
  return {
    p,
    kept,
    sums: sums.map(({ k, term }) => ({ k, term })),
    loop,
    invariant,
    varying,
    sunk,
    needsIn,
    sunkInputs,
    loopYs,
    termOutputs,
    rotation,
  }
}

interface Rotation {
  /** What P computes from the carries, and the rotated loop carries. */
  readonly D: readonly Var[]
  /** The loop's inputs → D. */
  readonly P: Program
  /** The loop's inputs with D in the carries' place → the carries' next values. */
  readonly Q: Program
}

/**
 * The rotation of a loop (inputs: `fixed` consts, then `nCarry` carries,
 * then per-step inputs), where it pays: every equation that reads a carry is
 * elementwise or structural (P is what is reachable from the carries that
 * way), and a product reads what P computes. Else null.
 */
function rotate(loop: Program, fixed: number, nCarry: number): Rotation | null {
  const carries = loop.inputs.slice(fixed, fixed + nCarry)
  const fromCarries = flowsFrom(loop.eqns, carries)
  // P: elementwise and structural work on the carries and on P's own values; Q (the rest) must not read a carry.
  const inP = new Set<Var>(carries)
  const P: Eqn[] = []
  for (const e of loop.eqns) {
    const dependent = e.inputs.filter((a): a is Var => a instanceof Var && fromCarries.has(a))
    if (dependent.length === 0) continue
    if (!HEAVY.has(e.prim) && dependent.every((a) => inP.has(a))) {
      P.push(e)
      for (const v of e.outputs) inP.add(v)
    } else if (dependent.some((a) => carries.includes(a))) return null
  }
  if (loop.outputs.some((a) => a instanceof Var && carries.includes(a))) return null
  const rest = loop.eqns.filter((e) => !P.includes(e))
  const readOutside = new Set<Atom>([...rest.flatMap((e) => e.inputs), ...loop.outputs])
  const D = unique(P.flatMap((e) => e.outputs).filter((v) => readOutside.has(v)))
  if (!rest.some((e) => HEAVY.has(e.prim) && e.inputs.some((a) => a instanceof Var && D.includes(a)))) return null
  const others = [...loop.inputs.slice(0, fixed), ...loop.inputs.slice(fixed + nCarry)]
  if (others.some((v) => D.includes(v))) return null
  return {
    D,
    // What reads no carry may be needed on either side: each keeps what it needs of it.
    P: deadCodeElimination(
      new Program(
        loop.inputs,
        [],
        [],
        loop.eqns.filter((e) => P.includes(e) || !e.outputs.some((v) => fromCarries.has(v))),
        D,
      ),
    ),
    Q: deadCodeElimination(
      new Program(
        [...loop.inputs.slice(0, fixed), ...D, ...loop.inputs.slice(fixed + nCarry)],
        [],
        [],
        rest,
        loop.outputs,
      ),
    ),
  }
}

/** Where a value the sunk part reads comes from: the loop's stacked ys, or the hoisted values (once, or per step). */
type Source =
  | { readonly kind: 'loop'; readonly v: Var }
  | { readonly kind: 'invariant' | 'varying'; readonly i: number }

/**
 * The body with sums regrouped so that the terms no carry feeds are added
 * first: (a + b) + c with a and c carry-independent and b not becomes
 * (a + c) + b, so that a + c (x·W + bias) can leave the loop. The outputs
 * are the same variables.
 */
function reassociate(body: Program, carries: readonly Var[]): Program {
  let eqns = [...body.eqns]
  for (let changed = true; changed; ) {
    changed = false
    const dependent = flowsFrom(eqns, carries)
    const free = (a: Atom) => !(a instanceof Var && dependent.has(a))
    const uses = new Map<Atom, number>()
    for (const a of [...eqns.flatMap((e) => e.inputs), ...body.outputs]) uses.set(a, (uses.get(a) ?? 0) + 1)
    for (const [at, e] of eqns.entries()) {
      if (e.prim !== 'add' || free(e.outputs[0])) continue
      const inner = e.inputs.find(
        (y) => !free(y) && uses.get(y) === 1 && eqns.some((f) => f.prim === 'add' && f.outputs[0] === y),
      )
      const c = e.inputs.find((x) => x !== inner && free(x))
      if (inner === undefined || c === undefined) continue
      const f = eqns.find((q) => q.outputs[0] === inner) as Eqn
      const a = f.inputs.find(free)
      const b = f.inputs.find((x) => !free(x))
      if (a === undefined || b === undefined) continue
      const t = new Var(a.aval)
      const grouped: Eqn = { prim: 'add', inputs: [a, c], params: {}, outputs: [t] }
      const rest: Eqn = { prim: 'add', inputs: [t, b], params: {}, outputs: e.outputs }
      eqns = [...eqns.slice(0, at).filter((q) => q !== f), grouped, rest, ...eqns.slice(at + 1)]
      changed = true
      break
    }
  }
  return eqns.length === body.eqns.length && eqns.every((e, i) => e === body.eqns[i])
    ? body
    : new Program(body.inputs, [], [], eqns, body.outputs)
}

/** The variables that depend on `from` through `eqns` (those included). */
function flowsFrom(eqns: readonly Eqn[], from: readonly Var[]): Set<Var> {
  const dep = new Set<Var>(from)
  for (const e of eqns) if (e.inputs.some((a) => a instanceof Var && dep.has(a))) for (const v of e.outputs) dep.add(v)
  return dep
}

const unique = <T>(xs: readonly T[]): T[] => [...new Set(xs)]
/** Steps from … to − 1 of a stacked [T, ...] value. */
const steps = (x: Tensor, from: number, to: number) =>
  lax.slice(
    x,
    x.aval.shape.map((_, i) => (i === 0 ? from : 0)),
    x.aval.shape.map((d, i) => (i === 0 ? to : d)),
  )
const isZero = (x: Tensor): boolean => x instanceof ConcreteTensor && x.values.every((v) => v === 0)

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
  const varyings =
    varying === null
      ? []
      : everyStep(varying, [...consts, ...xs], [...consts.map(() => false), ...xs.map(() => true)], T)
  // The loop stacks, as ys, the values of its body that the sunk part reads.
  const { loopYs } = plan
  const fixed = [...consts, ...invariants]
  const perStep = [...xs, ...varyings]
  let finals: Tensor[]
  let stackedOf: Map<Var, Tensor>
  if (kept.length === 0 && loopYs.length === 0) {
    // Every carry was a sum: nothing runs step by step.
    finals = []
    stackedOf = new Map()
  } else if (plan.rotation === null) {
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
    stackedOf = new Map(loopYs.map((v, i) => [v, loopOuts[kept.length + i]]))
  } else
    [finals, stackedOf] = rotated(
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
  if (sunk !== null) {
    // A carry the sunk part does not read enters as its init, the same at every step.
    const given = plan.sunkInputs.map((s) =>
      s.kind === 'loop' ? (stackedOf.get(s.v) as Tensor) : s.kind === 'invariant' ? invariants[s.i] : varyings[s.i],
    )
    const args = [
      ...consts,
      ...kept.map((k, j) =>
        plan.needsIn[j]
          ? motion.incoming(stackedOf.get(p.body.outputs[k] as Var) as Tensor, init[k], reverse)
          : init[k],
      ),
      ...given,
      ...xs,
    ]
    const steppedArgs = [
      ...consts.map(() => false),
      ...plan.needsIn,
      ...plan.sunkInputs.map((s) => s.kind !== 'invariant'),
      ...xs.map(() => true),
    ]
    const sunkOuts = everyStep(sunk, args, steppedArgs, T)
    ys = sunkOuts.slice(0, p.body.outputs.length - nK)
    sums.forEach(({ k }, i) => {
      const at = plan.termOutputs[i]
      const total =
        at.length === 1
          ? lax.sum(sunkOuts[at[0]], [0])
          : motion.productOverSteps(sunkOuts[at[0]], sunkOuts[at[1]], at[2])
      // A sum that starts from zero (as a transposed loop's cotangent sums do) needs no addition.
      carryOut[k] = isZero(init[k]) ? total : lax.add(init[k], total)
    })
  }
  return [...carryOut, ...ys]
}

/**
 * A rotated loop (see the header): P on the first step's inputs, T − 1 steps
 * of D′ = P(Q(D, xₜ), xₜ₊₁) (t − 1 reversed), Q on the last step's. The
 * carries' final values, and each of `ys` (a variable of P or of Q) stacked
 * over all T steps in time order.
 */
function rotated(
  r: Rotation,
  ys: readonly Var[],
  fixed: readonly Tensor[],
  init: readonly Tensor[],
  perStep: readonly Tensor[],
  T: number,
  reverse: boolean,
): [Tensor[], Map<Var, Tensor>] {
  const at = (t: number) => perStep.map((x) => lax.reshape(steps(x, t, t + 1), x.aval.shape.slice(1)))
  const [first, last] = reverse ? [T - 1, 0] : [0, T - 1]
  const qYs = ys.filter((v) => !r.D.includes(v))
  const dYs = ys.filter((v) => r.D.includes(v))
  const Q = new Program(r.Q.inputs, [], [], r.Q.eqns, [...r.Q.outputs, ...qYs])
  const d0 = evalProgram(r.P, [...fixed, ...init, ...at(first)])
  let dLast = d0
  let qStacks: Tensor[] = []
  let dStacks: Tensor[] = []
  if (T > 1) {
    const nF = fixed.length
    const nX = perStep.length
    const nD = r.D.length
    const { program } = stage(
      'rotated loop body',
      [...fixed, ...d0, ...perStep, ...perStep].map((x, i) =>
        i < nF + nD ? x.aval : { ...x.aval, shape: x.aval.shape.slice(1) },
      ),
      (ins) => {
        const f = ins.slice(0, nF)
        const d = ins.slice(nF, nF + nD)
        const xq = ins.slice(nF + nD, nF + nD + nX)
        const xp = ins.slice(nF + nD + nX)
        const q = evalProgram(Q, [...f, ...d, ...xq])
        const next = evalProgram(r.P, [...f, ...q.slice(0, Q.outputs.length - qYs.length), ...xp])
        return {
          outputs: [...next, ...q.slice(Q.outputs.length - qYs.length), ...dYs.map((v) => next[r.D.indexOf(v)])],
          result: null,
        }
      },
    )
    const closed = closeProgram(program)
    const { q: xq, p: xp } = motion.rotatedInputs(perStep, reverse)
    const outs = bind('scan', [...closed.consts, ...fixed, ...d0, ...xq, ...xp], {
      length: T - 1,
      reverse,
      numConsts: closed.consts.length + nF,
      numCarry: nD,
      body: closed.program,
    })
    dLast = outs.slice(0, nD)
    qStacks = outs.slice(nD, nD + qYs.length)
    dStacks = outs.slice(nD + qYs.length)
  }
  const q = evalProgram(Q, [...fixed, ...dLast, ...at(last)])
  const nOut = Q.outputs.length - qYs.length
  const one = (x: Tensor) => lax.reshape(x, [1, ...x.aval.shape])
  const stacked = new Map<Var, Tensor>()
  // Q's values run over steps 0 … T − 2 in the loop (1 … T − 1 reversed), the last one after it; D's over 1 … T − 1 (0 … T − 2), the first before it.
  qYs.forEach((v, i) =>
    stacked.set(
      v,
      T === 1
        ? one(q[nOut + i])
        : lax.concat(reverse ? [one(q[nOut + i]), qStacks[i]] : [qStacks[i], one(q[nOut + i])], 0),
    ),
  )
  dYs.forEach((v, i) => {
    const d = one(d0[r.D.indexOf(v)])
    stacked.set(v, T === 1 ? d : lax.concat(reverse ? [dStacks[i], d] : [d, dStacks[i]], 0))
  })
  return [q.slice(0, nOut), stacked]
}

/**
 * The identities the rewrite rests on, as a table so that the law suite can
 * plant a wrong one and see the comparison with the original fail.
 */
export const motion = {
  /**
   * The runs [from, to) of the contraction's rows that two factors' blocks (their row counts, in order) cut it
   * into: split wherever a block of either begins.
   */
  runs(a: readonly number[], b: readonly number[]): [number, number][] {
    const ends = (rows: readonly number[]) => rows.map((_, i) => rows.slice(0, i + 1).reduce((n, r) => n + r, 0))
    const cuts = unique([0, ...ends(a), ...ends(b)]).sort((p, q) => p - q)
    return cuts.slice(1).map((to, i) => [cuts[i], to])
  },
  /** The step of a value that step t of its slice from step `start` reads: t + start. */
  throughSlice(t: number, start: number): number {
    return t + start
  },
  /**
   * A rotated loop's per-step inputs [T, ...] for its T − 1 steps: Q reads
   * step t and P step t + 1; reversed (t = T − 2 … 0), Q step t + 1 and P t.
   */
  rotatedInputs(perStep: readonly Tensor[], reverse: boolean): { q: Tensor[]; p: Tensor[] } {
    const [q, p] = reverse ? [1, 0] : [0, 1]
    const from = (x: Tensor, start: number) => steps(x, start, start + x.aval.shape[0] - 1)
    return { q: perStep.map((x) => from(x, q)), p: perStep.map((x) => from(x, p)) }
  },
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
