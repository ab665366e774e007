/**
 * Functions with derivative rules of their own, and rematerialisation. Each
 * holds its function as a closed Program `fun` (evaluated as it is; a
 * compiled backend inlines it), with the user's rule beside it:
 *
 * - customJvp: inputs [...funConsts, ...ruleConsts, ...operands]; `rule`
 *   takes [...ruleConsts, ...operands, ...operand tangents] and returns
 *   [...outputs, ...output tangents]. Its jvp evaluates the rule (so under
 *   linearize its primal part runs now and its tangent part is staged).
 * - customVjp: inputs [...funConsts, ...fwdConsts, ...bwdConsts, ...operands];
 *   `fwd` returns [...outputs, ...residuals], `bwd` takes [...bwdConsts,
 *   ...residuals, ...output cotangents] and returns one cotangent per
 *   operand. Its jvp runs fwd and leaves the tangents to `customVjpLin`, a
 *   linear primitive whose transpose is bwd: reverse mode uses the rule,
 *   forward mode is refused (there is no rule for it).
 * - checkpoint: inputs = `fun`'s inputs. Its jvp is a checkpoint of the
 *   primal function beside a checkpoint of the tangent function, which
 *   recomputes the primal values it needs: under linearize the primal runs
 *   now and the tangent part keeps only the inputs as residuals, so grad
 *   recomputes f's forward pass instead of storing its intermediates. Its
 *   transpose is again one checkpoint equation, which no pass merges with
 *   the forward computation it repeats.
 *
 * Values the functions read from their closure are constants of the call:
 * for customJvp and customVjp they must not be differentiated (an error says
 * so; pass them as arguments), for checkpoint they are ordinary inputs.
 */
import { isUndefined, type PrimitiveRule } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { isFloat } from '../dtype.ts'
import { jvpFlat } from '../ad/jvp.ts'
import { Program, type Atom } from '../ir/program.ts'
import { foldZeros } from '../passes/simplify.ts'
import { type Aval, filled, formatAval, isKnownZero, sameShape, type Tensor, zerosLike } from '../tensor.ts'
import { batchSize } from '../primitives/elementwise.ts'
import { batchedInputs, batchedProgram, jvpOfProgram, stageClosed, transposeOf } from './branches.ts'

const sameAval = (a: Aval, b: Aval) => a.dtype === b.dtype && sameShape(a.shape, b.shape)
const pick = <T>(list: readonly T[], mask: readonly boolean[], want = true): T[] =>
  list.filter((_, i) => mask[i] === want)

function checkOperands(prim: string, program: Program, inputs: readonly Aval[]) {
  if (program.inputs.length !== inputs.length)
    throw new Error(`${prim}: the function takes ${program.inputs.length} operands, got ${inputs.length}`)
  program.inputs.forEach((v, i) => {
    if (!sameAval(v.aval, inputs[i]))
      throw new Error(
        `${prim}: operand ${i} is ${formatAval(inputs[i])}, but the function expects ${formatAval(v.aval)}`,
      )
  })
}

/** Refuses a derivative with respect to a value the function read from its closure. */
function checkClosure(prim: string, tangents: readonly Tensor[]) {
  if (tangents.some((t) => !isKnownZero(t)))
    throw new Error(
      `${prim}: the function reads a value that is being differentiated from its closure; ` +
        'pass it as an argument instead, so that the custom rule sees its tangent',
    )
}

/** Zero tangents made concrete zeros of their primal's aval (a rule is called with every tangent). */
const instantiate = (t: Tensor, primal: Tensor) => (isKnownZero(t) ? zerosLike(primal) : t)

export const customJvp: PrimitiveRule<'customJvp'> = {
  abstractEval(inputs, { fun, funConsts, ruleConsts }) {
    const operands = inputs.slice(funConsts + ruleConsts)
    checkOperands('customJvp', fun, [...inputs.slice(0, funConsts), ...operands])
    return fun.outputs.map((o) => o.aval)
  },
  cpu(inputs, { fun, funConsts, ruleConsts }) {
    return evalProgram(fun, [...inputs.slice(0, funConsts), ...inputs.slice(funConsts + ruleConsts)]).map((y) =>
      y.toConcrete(),
    )
  },
  jvp(primals, tangents, { rule, funConsts, ruleConsts }) {
    const k = funConsts + ruleConsts
    checkClosure('customJvp', tangents.slice(0, k))
    const operands = primals.slice(k)
    const ts = tangents.slice(k).map((t, i) => instantiate(t, operands[i]))
    const outs = evalProgram(rule, [...primals.slice(funConsts, k), ...operands, ...ts])
    const n = outs.length / 2
    return [outs.slice(0, n), outs.slice(n)]
  },
  batch(inputs, dims, p) {
    const size = batchSize(inputs, dims)
    const { moved, mask } = batchedInputs(inputs, dims)
    const k = p.funConsts + p.ruleConsts
    const funIns = [...moved.slice(0, p.funConsts), ...moved.slice(k)]
    const funMask = [...mask.slice(0, p.funConsts), ...mask.slice(k)]
    const fun = batchedProgram('vmap of a customJvp function', p.fun, funIns, funMask, size)
    // The rule's tangents are batched where their operands are.
    const operands = moved.slice(k)
    const ruleIns = [...moved.slice(p.funConsts, k), ...operands, ...operands]
    const ruleMask = [...mask.slice(p.funConsts, k), ...mask.slice(k), ...mask.slice(k)]
    const rule = batchedProgram('vmap of a customJvp rule', p.rule, ruleIns, ruleMask, size)
    const outs = bind(
      'customJvp',
      [...fun.extra, ...moved.slice(0, p.funConsts), ...rule.extra, ...moved.slice(p.funConsts)],
      {
        fun: fun.program,
        rule: rule.program,
        funConsts: fun.extra.length + p.funConsts,
        ruleConsts: rule.extra.length + p.ruleConsts,
      },
    )
    return [outs, outs.map(() => 0)]
  },
}

/** The error of forward mode through a function whose only rule is a VJP. */
export const CUSTOM_VJP_FORWARD_ERROR =
  'customVjp: forward-mode differentiation (jvp, jacfwd, linearize evaluated forwards) of a function with a ' +
  'custom VJP is not defined: it has a rule for reverse mode only. Give it a customJvp rule for forward mode'

export const customVjp: PrimitiveRule<'customVjp'> = {
  abstractEval(inputs, { fun, funConsts, fwdConsts, bwdConsts }) {
    const operands = inputs.slice(funConsts + fwdConsts + bwdConsts)
    checkOperands('customVjp', fun, [...inputs.slice(0, funConsts), ...operands])
    return fun.outputs.map((o) => o.aval)
  },
  cpu(inputs, { fun, funConsts, fwdConsts, bwdConsts }) {
    return evalProgram(fun, [...inputs.slice(0, funConsts), ...inputs.slice(funConsts + fwdConsts + bwdConsts)]).map(
      (y) => y.toConcrete(),
    )
  },
  jvp(primals, tangents, p) {
    const k = p.funConsts + p.fwdConsts + p.bwdConsts
    checkClosure('customVjp', tangents.slice(0, k))
    const operands = primals.slice(k)
    const fwdOut = evalProgram(p.fwd, [...primals.slice(p.funConsts, p.funConsts + p.fwdConsts), ...operands])
    const nOut = p.fun.outputs.length
    const outs = fwdOut.slice(0, nOut)
    const residuals = fwdOut.slice(nOut)
    const floatIn = operands.map((x) => isFloat(x.aval.dtype))
    const floatOut = outs.map((y) => isFloat(y.aval.dtype))
    const opTangents = tangents.slice(k)
    if (!opTangents.some((t, i) => floatIn[i] && !isKnownZero(t))) return [outs, outs.map((y) => zerosLike(y))]
    const lin = bind(
      'customVjpLin',
      [
        ...primals.slice(p.funConsts + p.fwdConsts, k),
        ...residuals,
        ...pick(opTangents, floatIn).map((t, i) => instantiate(t, pick(operands, floatIn)[i])),
      ],
      {
        bwd: p.bwd,
        bwdConsts: p.bwdConsts,
        numResiduals: residuals.length,
        floatIn,
        outAvals: pick(outs, floatOut).map((y) => y.aval),
        allOutAvals: outs.map((y) => y.aval),
      },
    )
    let j = 0
    return [outs, outs.map((y, i) => (floatOut[i] ? lin[j++] : zerosLike(y)))]
  },
  batch(inputs, dims, p) {
    const size = batchSize(inputs, dims)
    const { moved, mask } = batchedInputs(inputs, dims)
    const [fc, wc, bc] = [p.funConsts, p.fwdConsts, p.bwdConsts]
    const k = fc + wc + bc
    const operands = moved.slice(k)
    const opMask = mask.slice(k)
    // Everything the rules see is batched: the residuals and cotangents then are too.
    const all = (xs: readonly Tensor[]) => xs.map(() => true)
    const inst = (xs: readonly Tensor[], m: readonly boolean[]) =>
      xs.map((x, i) => (m[i] ? x : bind('broadcast', [x], { shape: [size, ...x.aval.shape] })[0]))
    const ops = inst(operands, opMask)
    const fConsts = inst(moved.slice(0, fc), mask.slice(0, fc))
    const wConsts = inst(moved.slice(fc, fc + wc), mask.slice(fc, fc + wc))
    const bConsts = inst(moved.slice(fc + wc, k), mask.slice(fc + wc, k))
    const fun = batchedProgram(
      'vmap of a customVjp function',
      p.fun,
      [...fConsts, ...ops],
      all([...fConsts, ...ops]),
      size,
    )
    const fwd = batchedProgram(
      'vmap of a customVjp forward rule',
      p.fwd,
      [...wConsts, ...ops],
      all([...wConsts, ...ops]),
      size,
    )
    const resAvals = p.fwd.outputs.slice(p.fun.outputs.length).map((o) => o.aval)
    const outAvals = p.fun.outputs.map((o) => o.aval)
    const bwdIns = [...bConsts, ...[...resAvals, ...outAvals].map((a) => filled([size, ...a.shape], a.dtype, 0))]
    const bwd = batchedProgram('vmap of a customVjp backward rule', p.bwd, bwdIns, all(bwdIns), size)
    const outs = bind(
      'customVjp',
      [...fun.extra, ...fConsts, ...fwd.extra, ...wConsts, ...bwd.extra, ...bConsts, ...ops],
      {
        fun: fun.program,
        fwd: fwd.program,
        bwd: bwd.program,
        funConsts: fun.extra.length + fc,
        fwdConsts: fwd.extra.length + wc,
        bwdConsts: bwd.extra.length + bc,
      },
    )
    return [outs, outs.map(() => 0)]
  },
}

export const customVjpLin: PrimitiveRule<'customVjpLin'> = {
  abstractEval: (_inputs, { outAvals }) => [...outAvals],
  cpu() {
    throw new Error(CUSTOM_VJP_FORWARD_ERROR)
  },
  jvp() {
    throw new Error(CUSTOM_VJP_FORWARD_ERROR)
  },
  transpose(cts, inputs, p) {
    const fixed = p.bwdConsts + p.numResiduals
    const known = inputs.slice(0, fixed)
    if (known.some(isUndefined))
      throw new Error('customVjpLin: its residuals are not linear; they cannot be transposed')
    // The cotangents of every output: the float ones given, zeros for the rest.
    let j = 0
    const floatOut = p.allOutAvals.map((a) => isFloat(a.dtype))
    const allCts = p.allOutAvals.map((a, i) => (floatOut[i] ? cts[j++] : zerosLike({ aval: a })))
    const ctIn = evalProgram(p.bwd, [...(known as Tensor[]), ...allCts])
    if (ctIn.length !== p.floatIn.length)
      throw new Error(
        `customVjp: the backward rule returned ${ctIn.length} cotangents for ${p.floatIn.length} operands`,
      )
    return [...known.map(() => null), ...pick(ctIn, p.floatIn)]
  },
  batch() {
    throw new Error('customVjpLin: a linearized customVjp is batched through its customVjp (vmap before grad)')
  },
}

export const checkpoint: PrimitiveRule<'checkpoint'> = {
  abstractEval(inputs, { fun }) {
    checkOperands('checkpoint', fun, inputs)
    return fun.outputs.map((o) => o.aval)
  },
  cpu: (inputs, { fun }) => evalProgram(fun, inputs).map((y) => y.toConcrete()),
  jvp(primals, tangents, { fun }) {
    const outs = bind('checkpoint', primals, { fun })
    const moving = tangents.map((t, i) => isFloat(primals[i].aval.dtype) && !isKnownZero(t))
    if (!moving.some(Boolean)) return [outs, outs.map((y) => zerosLike(y))]
    const active = moving.flatMap((m, i) => (m ? [i] : []))
    const floatOut = outs.map((y) => isFloat(y.aval.dtype))
    const movingTangents = pick(tangents, moving)
    const { program, extra } = stageClosed(
      'tangent of a checkpoint',
      [...primals.map((x) => x.aval), ...movingTangents.map((t) => t.aval)],
      (ins) => pick(jvpOfProgram(fun, ins.slice(0, primals.length), active, ins.slice(primals.length))[1], floatOut),
    )
    const ts = bind('checkpoint', [...extra, ...primals, ...movingTangents], { fun: foldZeros(program) })
    let k = 0
    return [outs, outs.map((y, i) => (floatOut[i] ? ts[k++] : zerosLike(y)))]
  },
  transpose(cts, inputs, { fun }) {
    const linear = inputs.map(isUndefined)
    const residuals = pick(inputs, linear, false) as Tensor[]
    const live = cts.map((c) => !isKnownZero(c))
    const liveCts = pick(cts, live)
    const { program, extra } = stageClosed(
      'transpose of a checkpoint',
      [...residuals.map((r) => r.aval), ...liveCts.map((c) => c.aval)],
      (ins) => transposeOf(fun, linear, live, ins.slice(0, residuals.length), ins.slice(residuals.length)),
    )
    const ctIn = bind('checkpoint', [...extra, ...residuals, ...liveCts], { fun: foldZeros(program) })
    let k = 0
    return linear.map((l) => (l ? ctIn[k++] : null))
  },
  batch(inputs, dims, { fun }) {
    const size = batchSize(inputs, dims)
    const { moved, mask } = batchedInputs(inputs, dims)
    const batched = batchedProgram('vmap of a checkpoint', fun, moved, mask, size)
    const outs = bind('checkpoint', [...batched.extra, ...moved], { fun: batched.program })
    return [outs, outs.map(() => 0)]
  },
  dce({ fun }, used) {
    if (used.every(Boolean)) return null
    const pruned = deadCodeElimination(new Program(fun.inputs, [], [], fun.eqns, pick(fun.outputs, used)))
    const read = new Set<Atom>([...pruned.eqns.flatMap((e) => e.inputs), ...pruned.outputs])
    const keep = fun.inputs.map((v) => read.has(v))
    return {
      params: { fun: new Program(pick(fun.inputs, keep), [], [], pruned.eqns, pruned.outputs) },
      keepInputs: keep,
      keepOutputs: [...used],
    }
  },
}

/**
 * A jitted function called inside a transform: `fun` applied to the inputs
 * (its captured values leading). Forward mode differentiates through the
 * Program's equations (so reverse mode sees them as written, with no
 * recomputation); vmap batches the Program once and keeps the call.
 */
export const jitCall: PrimitiveRule<'jitCall'> = {
  abstractEval(inputs, { fun }) {
    checkOperands('jitCall', fun, inputs)
    return fun.outputs.map((o) => o.aval)
  },
  cpu: (inputs, { fun }) => evalProgram(fun, inputs).map((y) => y.toConcrete()),
  jvp: (primals, tangents, { fun }) =>
    jvpFlat(
      (xs) => evalProgram(fun, xs),
      primals,
      tangents.map((t, i) => instantiate(t, primals[i])),
    ),
  batch(inputs, dims, { fun, name }) {
    const size = batchSize(inputs, dims)
    const { moved, mask } = batchedInputs(inputs, dims)
    const batched = batchedProgram(`vmap of ${name}`, fun, moved, mask, size)
    const outs = bind('jitCall', [...batched.extra, ...moved], { fun: batched.program, name })
    return [outs, outs.map(() => 0)]
  },
  dce: (params, used) => {
    const smaller = checkpoint.dce?.({ fun: params.fun }, used)
    return smaller ? { ...smaller, params: { fun: smaller.params.fun, name: params.name } } : null
  },
}
