/**
 * scan: a loop over the leading axis of the xs with a carried state,
 *
 *   c₀ = init,   (cₜ₊₁, yₜ) = body(consts, cₜ, xsₜ),   ys = [y₀, …, y_{T−1}],
 *
 * t running backwards when `reverse`. The body is a closed Program, staged
 * once whatever T; every rule transforms the body once and emits one scan.
 * So scan's rules are built from the transforms themselves (jvp, transpose,
 * vmap, staging), which is why control flow sits above src/ad and src/batch
 * while the elementary primitives (src/primitives) sit below them.
 *
 * - jvp: a scan of the body's JVP, whose carry holds primal and tangent
 *   carries. Inputs whose tangent is a constant zero get no tangent; a carry
 *   tangent is kept where the init's is nonzero or the body makes it so
 *   (a fixpoint over the carries).
 * - partialEval: the known part of the body runs now as its own scan and
 *   stacks, as extra ys, the per-step values the unknown part needs
 *   (residuals); loop-invariant residuals are computed once, outside.
 * - transpose: backprop through time (D. Barber, Neural Nets, "Backprop Through Time"): a scan in the opposite
 *   direction of the transposed body, carrying the carry cotangents. A linear
 *   const is used at every step, a tied parameter, so its cotangent is the sum
 *   over the steps of the per-step cotangents (D. Barber, Neural Nets,
 *   "Parameter Tying");
 *   the sum is accumulated in the carry.
 * - batch: a scan of the batched body; a batched xs is batched on axis 1
 *   (axis 0 is time), a carry is batched where its init is or the body makes
 *   it so (a fixpoint, as for tangents).
 * - dce: unused ys go, and so do carries that no used output reads (a
 *   fixpoint again), with the work only they needed.
 */
import { add, moveAxis } from '../core/lax.ts'
import { isUndefined, type Params, type PartialValue, type PrimitiveRule } from '../core/primitive.ts'
import { bind, fullRaise, withMain } from '../core/trace.ts'
import { allocate, isFloat } from '../dtype.ts'
import { transposeProgram } from '../ad/transpose.ts'
import { BatchTrace, BatchTracer, moveBatchAxis } from '../batch/vmap.ts'
import { stage, StagingTracer } from '../core/staging.ts'
import { Program, type Var, closeProgram, dependsOn, type Atom } from '../ir/program.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { foldZeros } from '../passes/simplify.ts'
import {
  type ConcreteTensor,
  concrete,
  filled,
  isKnownZero,
  formatAval,
  sameShape,
  sizeOf,
  zerosLike,
  type Aval,
  type Tensor,
} from '../tensor.ts'
import { batchSize } from '../primitives/elementwise.ts'
import { jvpOfProgram, stageClosed } from './branches.ts'

type ScanParams = Params<'scan'>

const sameAval = (a: Aval, b: Aval) => a.dtype === b.dtype && sameShape(a.shape, b.shape)
const sliceAval = (a: Aval): Aval => ({ shape: a.shape.slice(1), dtype: a.dtype })
const stackAval = (a: Aval, length: number): Aval => ({ shape: [length, ...a.shape], dtype: a.dtype })
const batchAval = (a: Aval, size: number): Aval => ({ shape: [size, ...a.shape], dtype: a.dtype })
const known = (x: Tensor): PartialValue => ({ aval: x.aval, known: x })

/** Splits a list laid out as the scan's inputs (or the body's) into consts, carry and xs. */
function groups<T>(list: readonly T[], p: ScanParams): { consts: T[]; carry: T[]; xs: T[] } {
  const k = p.numConsts + p.numCarry
  return { consts: list.slice(0, p.numConsts), carry: list.slice(p.numConsts, k), xs: list.slice(k) }
}

/** A tangent that is a constant zero (what a value from outside a JVP gets): it need not enter the loop. */

/**
 * The input mask with every carry marked whose next value depends on a marked
 * input: iterated until no carry changes, since a carry marked at one step
 * marks what it feeds at the next. `allowed` restricts which carries may be marked.
 */
function carryFixpoint(
  p: ScanParams,
  marked: readonly boolean[],
  allowed: (k: number) => boolean = () => true,
): boolean[] {
  const mask = [...marked]
  for (;;) {
    const out = dependsOn(p.body, mask)
    let changed = false
    for (let k = 0; k < p.numCarry; k++)
      if (out[k] && !mask[p.numConsts + k] && allowed(k)) {
        mask[p.numConsts + k] = true
        changed = true
      }
    if (!changed) return mask
  }
}

/** Stages `fn` as a closed body; constants it captured come back as values for extra leading consts. */
function stageBody(
  name: string,
  avals: readonly Aval[],
  fn: (inputs: Tensor[]) => Tensor[],
): { body: Program; extra: Tensor[] } {
  const { program, extra } = stageClosed(name, avals, fn)
  return { body: program, extra }
}

/** One slice along the leading axis of a concrete tensor. */
function row(x: ConcreteTensor, t: number): ConcreteTensor {
  const n = sizeOf(x.aval.shape.slice(1))
  return concrete(x.aval.shape.slice(1), x.aval.dtype, x.values.slice(t * n, (t + 1) * n))
}

const pick = <T>(list: readonly T[], mask: readonly boolean[], want = true): T[] =>
  list.filter((_, i) => mask[i] === want)

export const scan: PrimitiveRule<'scan'> = {
  abstractEval(inputs, p) {
    const { body, length, numConsts: nC, numCarry: nK } = p
    if (!Number.isInteger(length) || length < 0)
      throw new Error(`scan: length must be a non-negative integer, got ${length}`)
    if (body.constVars.length > 0)
      throw new Error('scan: the body must be closed (its captured values passed as consts)')
    const nX = body.inputs.length - nC - nK
    if (nX < 0 || body.outputs.length < nK)
      throw new Error(
        `scan: a body with ${body.inputs.length} inputs and ${body.outputs.length} outputs cannot have ${nC} consts and ${nK} carries`,
      )
    if (inputs.length !== body.inputs.length)
      throw new Error(
        `scan: the body takes ${nC} consts, ${nK} carries and ${nX} xs (${body.inputs.length} operands), got ${inputs.length} operands`,
      )
    const b = groups(
      body.inputs.map((v) => v.aval),
      p,
    )
    const given = groups(inputs, p)
    given.consts.forEach((a, i) => {
      if (!sameAval(a, b.consts[i]))
        throw new Error(`scan: const ${i} is ${formatAval(a)}, but the body expects ${formatAval(b.consts[i])}`)
    })
    given.carry.forEach((a, k) => {
      const out = body.outputs[k].aval
      if (!sameAval(out, b.carry[k]))
        throw new Error(
          `scan: the body changes carry ${k}: it comes in as ${formatAval(b.carry[k])} and goes out as ${formatAval(out)}; ` +
            'a carry must keep its shape and dtype',
        )
      if (!sameAval(a, b.carry[k]))
        throw new Error(`scan: init ${k} is ${formatAval(a)}, but the body's carry ${k} is ${formatAval(b.carry[k])}`)
    })
    given.xs.forEach((a, j) => {
      if (a.shape.length === 0 || a.shape[0] !== length)
        throw new Error(
          `scan: xs ${j} is ${formatAval(a)}; every xs must have a leading axis of the scan's length ${length}`,
        )
      if (!sameAval(sliceAval(a), b.xs[j]))
        throw new Error(
          `scan: a slice of xs ${j} is ${formatAval(sliceAval(a))}, but the body expects ${formatAval(b.xs[j])}`,
        )
    })
    return [...b.carry, ...body.outputs.slice(nK).map((y) => stackAval(y.aval, length))]
  },

  cpu(inputs, p, outs) {
    const { consts, carry: init, xs } = groups(inputs, p)
    const nK = p.numCarry
    const yAvals = outs.slice(nK)
    const ys = yAvals.map((a) => allocate(a.dtype, sizeOf(a.shape)))
    let carry: Tensor[] = init
    for (let step = 0; step < p.length; step++) {
      const t = p.reverse ? p.length - 1 - step : step
      const out = evalProgram(p.body, [...consts, ...carry, ...xs.map((x) => row(x, t))])
      carry = out.slice(0, nK)
      out.slice(nK).forEach((y, j) => ys[j].set(y.toConcrete().values, t * sizeOf(yAvals[j].shape.slice(1))))
    }
    return [...carry.map((c) => c.toConcrete()), ...ys.map((v, j) => concrete(yAvals[j].shape, yAvals[j].dtype, v))]
  },

  jvp(primals, tangents, p) {
    const { body, numConsts: nC, numCarry: nK } = p
    const moving = tangents.map((t, i) => isFloat(primals[i].aval.dtype) && !isKnownZero(t))
    if (!moving.some(Boolean)) {
      const outs = bind('scan', primals, p)
      return [outs, outs.map((y) => zerosLike(y))]
    }
    const mask = carryFixpoint(p, moving, (k) => isFloat(body.inputs[nC + k].aval.dtype))
    const carryMoving = mask.slice(nC, nC + nK)
    const outMoving = dependsOn(body, mask).map((d, i) =>
      i < nK ? carryMoving[i] : d && isFloat(body.outputs[i].aval.dtype),
    )
    const ysMoving = outMoving.slice(nK)
    const inAvals = body.inputs.map((v) => v.aval)
    const g = groups(inAvals, p)
    const gm = groups(mask, p)
    const avals = [
      ...g.consts,
      ...pick(g.consts, gm.consts),
      ...g.carry,
      ...pick(g.carry, gm.carry),
      ...g.xs,
      ...pick(g.xs, gm.xs),
    ]
    const active = mask.flatMap((m, i) => (m ? [i] : []))
    const { body: jbody, extra } = stageBody('jvp of a scan body', avals, (ins) => {
      let at = 0
      const take = (n: number) => ins.slice(at, (at += n))
      const count = (m: readonly boolean[]) => m.filter(Boolean).length
      const [constsP, constsT] = [take(nC), take(count(gm.consts))]
      const [carryP, carryT] = [take(nK), take(count(gm.carry))]
      const [xsP, xsT] = [take(gm.xs.length), take(count(gm.xs))]
      const primalIns = [...constsP, ...carryP, ...xsP]
      const [po, to] = jvpOfProgram(body, primalIns, active, [...constsT, ...carryT, ...xsT])
      return [
        ...po.slice(0, nK),
        ...pick(to.slice(0, nK), carryMoving),
        ...po.slice(nK),
        ...pick(to.slice(nK), ysMoving),
      ]
    })
    const nKT = carryMoving.filter(Boolean).length
    const nY = body.outputs.length - nK
    // The primal outputs are computed as written; only the tangent part is folded.
    const exact = jbody.outputs.map((_, i) => i < nK || (i >= nK + nKT && i < nK + nKT + nY))
    const folded = foldZeros(jbody, exact)
    const t = groups(tangents, p)
    const pr = groups(primals, p)
    const operands = [
      ...extra,
      ...pr.consts,
      ...pick(t.consts, gm.consts),
      ...pr.carry,
      ...pick(t.carry, gm.carry),
      ...pr.xs,
      ...pick(t.xs, gm.xs),
    ]
    const params: ScanParams = {
      length: p.length,
      reverse: p.reverse,
      numConsts: extra.length + nC + gm.consts.filter(Boolean).length,
      numCarry: nK + nKT,
      body: folded,
    }
    const outs = bind('scan', operands, params)
    const carryOut = outs.slice(0, nK)
    const carryTangents = outs.slice(nK, nK + nKT)
    const ysOut = outs.slice(nK + nKT, nK + nKT + nY)
    const ysTangents = outs.slice(nK + nKT + nY)
    const primalOut = [...carryOut, ...ysOut]
    let kt = 0
    let yt = 0
    const tangentOut = primalOut.map((y, i) => {
      if (i < nK) return carryMoving[i] ? carryTangents[kt++] : zerosLike(y)
      return ysMoving[i - nK] ? ysTangents[yt++] : zerosLike(y)
    })
    return [primalOut, tangentOut]
  },

  partialEval(inputs, p, emit) {
    const { body, numConsts: nC, numCarry: nK } = p
    const inAvals = body.inputs.map((v) => v.aval)
    const kind = (i: number) => (i < nC ? 'const' : i < nC + nK ? 'carry' : 'xs')
    type Residual = { readonly v: Var; readonly as: 'const' | 'xs' | 'stacked'; value?: Tensor; from?: number }
    type Split =
      | { readonly grown: boolean[] }
      | { readonly unknownPart: Program; readonly residuals: Residual[]; readonly ysKnown: boolean[] }

    // Trace the body twice over: the known part into the outer Program, the unknown part into the inner one.
    // The inner Program's captured values are the residuals: values of the known part that the unknown part reads.
    // A carry is unknown where its init is or the traced body makes it so; the body is traced again until no
    // carry changes (the data flow alone would overestimate: a scan in the body may compute some outputs now).
    const split = (unknown: readonly boolean[]) => {
      const carryUnknown = unknown.slice(nC, nC + nK)
      const knownIdx = unknown.flatMap((u, i) => (u ? [] : [i]))
      const unknownIdx = unknown.flatMap((u, i) => (u ? [i] : []))
      const outer = stage<Split>(
        'known part of a scan body',
        knownIdx.map((i) => inAvals[i]),
        (kIns) => {
          const inner = stage(
            'unknown part of a scan body',
            unknownIdx.map((i) => inAvals[i]),
            (uIns) => {
              const all: Tensor[] = new Array(inAvals.length)
              knownIdx.forEach((i, j) => (all[i] = kIns[j]))
              unknownIdx.forEach((i, j) => (all[i] = uIns[j]))
              return { outputs: evalProgram(body, all), result: null }
            },
          )
          const outKnown = inner.known.map((k) => k !== null)
          const grown = carryUnknown.map((u, k) => u || !outKnown[k])
          if (grown.some((g, k) => g !== carryUnknown[k])) return { outputs: [], result: { grown } }
          const ysKnown = outKnown.slice(nK)
          const u = inner.program
          const unknownOutputs = u.outputs.filter((_, i) => (i < nK ? carryUnknown[i] : !ysKnown[i - nK]))
          const unknownPart = deadCodeElimination(
            new Program(u.inputs, u.constVars, u.constValues, u.eqns, unknownOutputs),
          )
          const stacked: Tensor[] = []
          const residuals: Residual[] = unknownPart.constVars.map((v, r) => {
            const value = unknownPart.constValues[r]
            const computed = value instanceof StagingTracer && value.known === null
            const j = computed ? kIns.findIndex((x) => (x as StagingTracer).variable === value.variable) : -1
            if (j >= 0 && kind(knownIdx[j]) !== 'carry')
              return { v, as: kind(knownIdx[j]) as 'const' | 'xs', value: inputs[knownIdx[j]].known as Tensor }
            if (!computed)
              return { v, as: 'const', value: value instanceof StagingTracer ? (value.known as Tensor) : value }
            stacked.push(value)
            return { v, as: 'stacked', from: stacked.length - 1 }
          })
          const knownCarry = inner.known.slice(0, nK).filter((_, k) => !carryUnknown[k]) as Tensor[]
          const knownYs = inner.known.slice(nK).filter((x): x is Tensor => x !== null)
          return { outputs: [...knownCarry, ...knownYs, ...stacked], result: { unknownPart, residuals, ysKnown } }
        },
      )
      return { ...outer, carryUnknown, knownIdx, unknownIdx }
    }
    let unknown = inputs.map((x) => x.known === null)
    let outer = split(unknown)
    while ('grown' in outer.result) {
      const { grown } = outer.result
      unknown = unknown.map((u, i) => (i >= nC && i < nC + nK ? grown[i - nC] : u))
      outer = split(unknown)
    }
    const { carryUnknown, knownIdx, unknownIdx } = outer
    const { unknownPart, residuals, ysKnown } = outer.result

    // The known scan; residuals that depend on no carry and no xs are computed once, outside the loop.
    const closed = closeProgram(outer.program)
    const kBody = closed.program
    const nKC = knownIdx.filter((i) => kind(i) === 'const').length + closed.consts.length
    const nKK = knownIdx.filter((i) => kind(i) === 'carry').length
    const nKY = ysKnown.filter(Boolean).length
    const constValues = [
      ...closed.consts,
      ...knownIdx.filter((i) => kind(i) === 'const').map((i) => inputs[i].known as Tensor),
    ]
    const perStep = dependsOn(
      kBody,
      kBody.inputs.map((_, i) => i >= nKC),
    )
    const stackedAt = (r: Residual) => nKK + nKY + (r.from as number)
    const invariant = residuals.filter((r) => r.as === 'stacked' && !perStep[stackedAt(r)])
    if (invariant.length > 0) {
      const hoist = deadCodeElimination(
        new Program(
          kBody.inputs.slice(0, nKC),
          [],
          [],
          kBody.eqns,
          invariant.map((r) => kBody.outputs[stackedAt(r)]),
        ),
      )
      const values = evalProgram(hoist, constValues)
      invariant.forEach((r, i) => Object.assign(r, { as: 'const', value: values[i] }))
    }
    const stillStacked = new Set(residuals.filter((r) => r.as === 'stacked').map(stackedAt))
    const kOutputs = kBody.outputs.filter((_, i) => i < nKK + nKY || stillStacked.has(i))
    let kOuts: Tensor[] = []
    if (kOutputs.length > 0) {
      const knownBody = deadCodeElimination(new Program(kBody.inputs, [], [], kBody.eqns, kOutputs))
      const operands = [
        ...constValues,
        ...knownIdx.filter((i) => kind(i) !== 'const').map((i) => inputs[i].known as Tensor),
      ]
      kOuts = bind('scan', operands, {
        length: p.length,
        reverse: p.reverse,
        numConsts: nKC,
        numCarry: nKK,
        body: knownBody,
      })
    }
    const stackedOut = new Map<Residual, Tensor>()
    residuals.filter((r) => r.as === 'stacked').forEach((r, i) => stackedOut.set(r, kOuts[nKK + nKY + i]))

    // The unknown scan: residuals enter as consts (invariant) or as xs (one slice per step).
    const outs: PartialValue[] = new Array(body.outputs.length)
    let kc = 0
    let ky = 0
    for (let i = 0; i < body.outputs.length; i++) {
      if (i < nK ? !carryUnknown[i] : ysKnown[i - nK]) outs[i] = known(kOuts[i < nK ? kc++ : nKK + ky++])
    }
    if (unknownPart.outputs.length > 0) {
      const uIdx = (k: 'const' | 'carry' | 'xs') => unknownIdx.filter((i) => kind(i) === k)
      const byKind = (k: Residual['as']) => residuals.filter((r) => r.as === k)
      const resConsts = byKind('const')
      const resXs = [...byKind('xs'), ...byKind('stacked')]
      const uInputs = unknownPart.inputs
      const pos = (i: number) => unknownIdx.indexOf(i)
      const uBody = new Program(
        [
          ...resConsts.map((r) => r.v),
          ...uIdx('const').map((i) => uInputs[pos(i)]),
          ...uIdx('carry').map((i) => uInputs[pos(i)]),
          ...uIdx('xs').map((i) => uInputs[pos(i)]),
          ...resXs.map((r) => r.v),
        ],
        [],
        [],
        unknownPart.eqns,
        unknownPart.outputs,
      )
      const operands: PartialValue[] = [
        ...resConsts.map((r) => known(r.value as Tensor)),
        ...uIdx('const').map((i) => inputs[i]),
        ...uIdx('carry').map((i) => inputs[i]),
        ...uIdx('xs').map((i) => inputs[i]),
        ...resXs.map((r) => known(r.as === 'xs' ? (r.value as Tensor) : (stackedOut.get(r) as Tensor))),
      ]
      const nUK = carryUnknown.filter(Boolean).length
      const uOuts = emit('scan', operands, {
        length: p.length,
        reverse: p.reverse,
        numConsts: resConsts.length + uIdx('const').length,
        numCarry: nUK,
        body: uBody,
      })
      let uc = 0
      let uy = 0
      for (let i = 0; i < body.outputs.length; i++)
        if (outs[i] === undefined) outs[i] = uOuts[i < nK ? uc++ : nUK + uy++]
    }
    return outs
  },

  transpose(cts, inputs, p) {
    const { body, numCarry: nK } = p
    const g = groups(inputs, p)
    const linC = g.consts.map(isUndefined)
    const linX = g.xs.map(isUndefined)
    const bv = groups(body.inputs, p)
    const ctCarry = cts.slice(0, nK)
    const ctYs = cts.slice(nK)
    // A y whose cotangent is a constant zero contributes nothing: it is left out of the transposed body.
    const ysLive = ctYs.map((c) => !isKnownZero(c))
    const resConsts = pick(g.consts, linC, false) as Tensor[]
    const resXs = pick(g.xs, linX, false) as Tensor[]
    const linConstVars = pick(bv.consts, linC)
    const nLC = linConstVars.length
    const linVars = [...linConstVars, ...bv.carry, ...pick(bv.xs, linX)]
    const resVars = [...pick(bv.consts, linC, false), ...pick(bv.xs, linX, false)]
    const liveYs = pick(body.outputs.slice(nK), ysLive)
    const avals = [
      ...resConsts.map((x) => x.aval),
      ...linConstVars.map((v) => v.aval),
      ...bv.carry.map((v) => v.aval),
      ...pick(bv.xs, linX, false).map((v) => v.aval),
      ...liveYs.map((y) => y.aval),
    ]
    const { body: tbody, extra } = stageBody('transpose of a scan body', avals, (ins) => {
      let at = 0
      const take = (n: number) => ins.slice(at, (at += n))
      const rc = take(resConsts.length)
      const acc = take(nLC)
      const ck = take(nK)
      const rx = take(resXs.length)
      const cy = take(liveYs.length)
      const linear = new Program(linVars, resVars, [...rc, ...rx], body.eqns, [...body.outputs.slice(0, nK), ...liveYs])
      const ctIn = transposeProgram(linear, [...ck, ...cy])
      return [...acc.map((a, i) => add(a, ctIn[i])), ...ctIn.slice(nLC, nLC + nK), ...ctIn.slice(nLC + nK)]
    })
    const params: ScanParams = {
      length: p.length,
      reverse: !p.reverse,
      numConsts: extra.length + resConsts.length,
      numCarry: nLC + nK,
      body: foldZeros(tbody),
    }
    const zeros = linConstVars.map((v) => filled(v.aval.shape, v.aval.dtype, 0))
    const outs = bind('scan', [...extra, ...resConsts, ...zeros, ...ctCarry, ...resXs, ...pick(ctYs, ysLive)], params)
    let c = 0
    let x = nLC + nK
    return [
      ...linC.map((l) => (l ? outs[c++] : null)),
      ...g.carry.map((v, k) => (isUndefined(v) ? outs[nLC + k] : null)),
      ...linX.map((l) => (l ? outs[x++] : null)),
    ]
  },

  batch(inputs, dims, p) {
    const { body, numConsts: nC, numCarry: nK } = p
    const size = batchSize(inputs, dims)
    const mask = carryFixpoint(
      p,
      dims.map((d) => d !== null),
    )
    const ysBatched = dependsOn(body, mask).slice(nK)
    const operands = inputs.map((x, i) => {
      if (!mask[i]) return x
      if (i < nC) return moveAxis(x, dims[i] as number, 0)
      if (i < nC + nK) return moveBatchAxis(x, dims[i], 0, size)
      return moveAxis(x, dims[i] as number, 1)
    })
    const avals = body.inputs.map((v, i) => (mask[i] ? batchAval(v.aval, size) : v.aval))
    const { body: bbody, extra } = stageBody('vmap of a scan body', avals, (ins) =>
      withMain(
        'vmap',
        (m) => new BatchTrace(m),
        (trace) => {
          const args = ins.map((x, i) => (mask[i] ? new BatchTracer(trace as BatchTrace, x, 0) : x))
          return evalProgram(body, args).map((o, i) => {
            const y = fullRaise(trace, o) as BatchTracer
            if (i < nK ? mask[nC + i] : ysBatched[i - nK]) return moveBatchAxis(y.value, y.dim, 0, size)
            if (y.dim !== null)
              throw new Error(`scan: output ${i} of the body came out batched where the data flow says it cannot be`)
            return y.value
          })
        },
      ),
    )
    const outs = bind('scan', [...extra, ...operands], { ...p, numConsts: extra.length + nC, body: bbody })
    return [outs, outs.map((_, i) => (i < nK ? (mask[nC + i] ? 0 : null) : ysBatched[i - nK] ? 1 : null))]
  },

  dce(p, used) {
    const { body, numConsts: nC, numCarry: nK } = p
    const usedYs = used.slice(nK)
    let live = used.slice(0, nK)
    let pruned: Program
    let read: Set<Atom>
    for (;;) {
      const outputs = body.outputs.filter((_, i) => (i < nK ? live[i] : usedYs[i - nK]))
      pruned = deadCodeElimination(new Program(body.inputs, [], [], body.eqns, outputs))
      read = new Set<Atom>([...pruned.eqns.flatMap((e) => e.inputs), ...pruned.outputs])
      const next = live.map((l, k) => l || read.has(body.inputs[nC + k]))
      if (next.every((l, k) => l === live[k])) break
      live = next
    }
    const keepInputs = body.inputs.map((v, i) => (i >= nC && i < nC + nK ? live[i - nC] : read.has(v)))
    const keepOutputs = [...live, ...usedYs]
    const same = pruned.eqns.length === body.eqns.length && pruned.eqns.every((e, i) => e === body.eqns[i])
    if (same && keepInputs.every(Boolean) && keepOutputs.every(Boolean)) return null
    const smaller = new Program(pick(body.inputs, keepInputs), [], [], pruned.eqns, pruned.outputs)
    return {
      params: {
        ...p,
        numConsts: keepInputs.slice(0, nC).filter(Boolean).length,
        numCarry: live.filter(Boolean).length,
        body: smaller,
      },
      keepInputs,
      keepOutputs,
    }
  },
}
