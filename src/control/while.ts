/**
 * whileLoop: carry = init; while cond(condConsts, carry): carry = body(bodyConsts, carry).
 * Inputs [...condConsts, ...bodyConsts, ...init]; `cond` is a closed Program
 * returning a bool scalar, `body` one returning the next carry. With
 * `maxIterations`, the loop also stops after that many iterations (the bound
 * a device needs to keep the loop in one submission; the CPU honours it too,
 * so that both give the same values).
 *
 * - jvp: the primal outputs from the loop itself; the tangents from a loop
 *   of the body's JVP, carrying primal and tangent carries (a carry gets a
 *   tangent where its init has one or the body gives it one: a fixpoint).
 * - transpose: refused. The trip count is known only at run time, so there
 *   is no reverse loop to run; `foriLoop` with static bounds (a scan) and
 *   `scan` are differentiable in reverse mode.
 * - batch: with an unbatched predicate, a loop of the batched body; with a
 *   batched one, the loop runs while any member's predicate holds, and a
 *   member whose predicate fails keeps its carry.
 */
import { broadcast, compare, convert, fullLike, moveAxis, reduceMax, reshape, select } from '../core/lax.ts'
import type { Params, PrimitiveRule } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { evalProgram } from '../core/interpret.ts'
import { isFloat } from '../dtype.ts'
import { moveBatchAxis } from '../batch/vmap.ts'
import { dependsOn } from '../ir/program.ts'
import { foldZeros } from '../passes/simplify.ts'
import { type Aval, formatAval, isKnownZero, sameShape, type Tensor, zerosLike } from '../tensor.ts'
import { batchSize } from '../primitives/elementwise.ts'
import { evalBatched, jvpOfProgram, stageClosed } from './branches.ts'

type WhileParams = Params<'whileLoop'>

const sameAval = (a: Aval, b: Aval) => a.dtype === b.dtype && sameShape(a.shape, b.shape)

/** The error of reverse mode through a loop whose trip count is known only at run time. */
export const WHILE_TRANSPOSE_ERROR =
  'whileLoop: reverse-mode differentiation (grad, vjp) through a whileLoop is not supported: its trip count is ' +
  'known only at run time, so there is no reverse loop to run. Write the loop as foriLoop with static (number) ' +
  'bounds, which is a scan, or as scan; both are differentiable in reverse mode. Forward mode (jvp, jacfwd) works.'

/** The carries marked where the init is marked or the body makes them depend on a marked value. */
function carryFixpoint(p: WhileParams, constsMarked: readonly boolean[], carryMarked: readonly boolean[]): boolean[] {
  const mask = [...carryMarked]
  for (;;) {
    const out = dependsOn(p.body, [...constsMarked, ...mask])
    const next = mask.map((m, k) => m || out[k])
    if (next.every((m, k) => m === mask[k])) return mask
    mask.splice(0, mask.length, ...next)
  }
}

function groups<T>(list: readonly T[], p: WhileParams) {
  return {
    condConsts: list.slice(0, p.condConsts),
    bodyConsts: list.slice(p.condConsts, p.condConsts + p.bodyConsts),
    carry: list.slice(p.condConsts + p.bodyConsts),
  }
}

export const whileLoop: PrimitiveRule<'whileLoop'> = {
  abstractEval(inputs, p) {
    const { cond, body, maxIterations } = p
    if (maxIterations !== null && !(Number.isInteger(maxIterations) && maxIterations >= 0))
      throw new Error(`whileLoop: maxIterations must be a non-negative integer, got ${maxIterations}`)
    const g = groups(inputs, p)
    if (cond.inputs.length !== p.condConsts + g.carry.length || body.inputs.length !== p.bodyConsts + g.carry.length)
      throw new Error('whileLoop: the cond and body Programs do not take the consts and carries given')
    if (cond.outputs.length !== 1 || cond.outputs[0].aval.dtype !== 'bool' || cond.outputs[0].aval.shape.length !== 0)
      throw new Error(
        `whileLoop: the predicate must return one bool scalar, got (${cond.outputs.map((o) => formatAval(o.aval)).join(', ')})`,
      )
    g.carry.forEach((a, k) => {
      const out = body.outputs[k]?.aval
      if (out === undefined || !sameAval(out, a) || !sameAval(body.inputs[p.bodyConsts + k].aval, a))
        throw new Error(
          `whileLoop: the body changes carry ${k}: it comes in as ${formatAval(a)} and goes out as ${out === undefined ? 'nothing' : formatAval(out)}; a carry must keep its shape and dtype`,
        )
    })
    if (body.outputs.length !== g.carry.length)
      throw new Error(`whileLoop: the body returns ${body.outputs.length} values for ${g.carry.length} carries`)
    return g.carry
  },

  cpu(inputs, p) {
    const g = groups(inputs, p)
    let carry: Tensor[] = g.carry
    for (let i = 0; p.maxIterations === null || i < p.maxIterations; i++) {
      const [go] = evalProgram(p.cond, [...g.condConsts, ...carry])
      if (!go.toConcrete().values[0]) break
      carry = evalProgram(p.body, [...g.bodyConsts, ...carry])
    }
    return carry.map((c) => c.toConcrete())
  },

  jvp(primals, tangents, p) {
    const outs = bind('whileLoop', primals, p)
    const g = groups(primals, p)
    const t = groups(tangents, p)
    const moving = (list: readonly Tensor[], ts: readonly Tensor[]) =>
      ts.map((x, i) => isFloat(list[i].aval.dtype) && !isKnownZero(x))
    const constsMoving = moving(g.bodyConsts, t.bodyConsts)
    const carryMoving = carryFixpoint(p, constsMoving, moving(g.carry, t.carry)).map(
      (m, k) => m && isFloat(g.carry[k].aval.dtype),
    )
    if (!carryMoving.some(Boolean)) return [outs, outs.map((y) => zerosLike(y))]
    const nB = p.bodyConsts
    const nK = g.carry.length
    const activeConsts = constsMoving.flatMap((m, i) => (m ? [i] : []))
    const activeCarry = carryMoving.flatMap((m, k) => (m ? [k] : []))
    // The joint body: [bodyConsts, const tangents; carry, carry tangents] → [carry, carry tangents].
    const bodyAvals = [
      ...g.bodyConsts.map((x) => x.aval),
      ...activeConsts.map((i) => g.bodyConsts[i].aval),
      ...g.carry.map((x) => x.aval),
      ...activeCarry.map((k) => g.carry[k].aval),
    ]
    const nCT = activeConsts.length
    const { program: jbody, extra: bodyExtra } = stageClosed('jvp of a whileLoop body', bodyAvals, (ins) => {
      const consts = ins.slice(0, nB)
      const constT = ins.slice(nB, nB + nCT)
      const carry = ins.slice(nB + nCT, nB + nCT + nK)
      const carryT = ins.slice(nB + nCT + nK)
      const primalIns = [...consts, ...carry]
      const active = [...activeConsts, ...activeCarry.map((k) => nB + k)]
      const [po, to] = jvpOfProgram(p.body, primalIns, active, [...constT, ...carryT])
      return [...po, ...activeCarry.map((k) => to[k])]
    })
    // The joint predicate reads the primal carries only.
    const condAvals = [
      ...g.condConsts.map((x) => x.aval),
      ...g.carry.map((x) => x.aval),
      ...activeCarry.map((k) => g.carry[k].aval),
    ]
    const { program: jcond, extra: condExtra } = stageClosed('predicate of a jvp whileLoop', condAvals, (ins) =>
      evalProgram(p.cond, ins.slice(0, g.condConsts.length + nK)),
    )
    const joint = bind(
      'whileLoop',
      [
        ...condExtra,
        ...g.condConsts,
        ...bodyExtra,
        ...g.bodyConsts,
        ...activeConsts.map((i) => t.bodyConsts[i]),
        ...g.carry,
        ...activeCarry.map((k) => t.carry[k]),
      ],
      {
        cond: jcond,
        body: foldZeros(
          jbody,
          jbody.outputs.map((_, i) => i < nK),
        ),
        condConsts: condExtra.length + g.condConsts.length,
        bodyConsts: bodyExtra.length + nB + nCT,
        maxIterations: p.maxIterations,
      },
    )
    let k = 0
    return [outs, outs.map((y, j) => (carryMoving[j] ? joint[nK + k++] : zerosLike(y)))]
  },

  transpose() {
    throw new Error(WHILE_TRANSPOSE_ERROR)
  },

  batch(inputs, dims, p) {
    const size = batchSize(inputs, dims)
    const marked = dims.map((d) => d !== null)
    const g = groups(marked, p)
    let carryMask = carryFixpoint(p, g.bodyConsts, g.carry)
    const predBatched = dependsOn(p.cond, [...g.condConsts, ...carryMask])[0]
    // A batched predicate lets members stop at different iterations: every carry is then batched.
    if (predBatched) carryMask = carryMask.map(() => true)
    const moved = inputs.map((x, i) => {
      const nConsts = p.condConsts + p.bodyConsts
      if (i >= nConsts) return carryMask[i - nConsts] ? moveBatchAxis(x, dims[i], 0, size) : x
      return marked[i] ? moveAxis(x, dims[i] as number, 0) : x
    })
    const mg = groups(moved, p)
    const condMask = [...g.condConsts, ...carryMask]
    const bodyMask = [...g.bodyConsts, ...carryMask]
    const carryAvals = mg.carry.map((x) => x.aval)
    const { program: bcond, extra: condExtra } = stageClosed(
      'vmap of a whileLoop predicate',
      [...mg.condConsts.map((x) => x.aval), ...carryAvals],
      (ins) => {
        const [pred] = evalBatched(p.cond, ins, condMask, size, true)
        if (!predBatched) return [pred]
        // Any member still running keeps the loop going.
        const running = reduceMax(convert(pred, 'i32'), [0])
        return [compare(running, fullLike(running, 0), 'gt')]
      },
    )
    const { program: bbody, extra: bodyExtra } = stageClosed(
      'vmap of a whileLoop body',
      [...mg.condConsts.map((x) => x.aval), ...mg.bodyConsts.map((x) => x.aval), ...carryAvals],
      (ins) => {
        const cc = ins.slice(0, mg.condConsts.length)
        const bc = ins.slice(mg.condConsts.length, mg.condConsts.length + mg.bodyConsts.length)
        const carry = ins.slice(mg.condConsts.length + mg.bodyConsts.length)
        const next = evalBatched(p.body, [...bc, ...carry], bodyMask, size, true).map((y, k) =>
          carryMask[k] ? moveBatchAxis(y, y.aval.shape.length === carry[k].aval.shape.length ? 0 : null, 0, size) : y,
        )
        if (!predBatched) return next
        const [pred] = evalBatched(p.cond, [...cc, ...carry], condMask, size, true)
        return next.map((y, k) => {
          const shape = y.aval.shape
          const mask = broadcast(reshape(pred, [size, ...shape.slice(1).map(() => 1)]), shape)
          return select(mask, y, carry[k])
        })
      },
    )
    const outs = bind(
      'whileLoop',
      [...condExtra, ...mg.condConsts, ...bodyExtra, ...mg.condConsts, ...mg.bodyConsts, ...mg.carry],
      {
        cond: bcond,
        body: bbody,
        condConsts: condExtra.length + mg.condConsts.length,
        bodyConsts: bodyExtra.length + mg.condConsts.length + mg.bodyConsts.length,
        maxIterations: p.maxIterations,
      },
    )
    return [outs, carryMask.map((m) => (m ? 0 : null))]
  },
}
