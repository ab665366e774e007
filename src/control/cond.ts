/**
 * cond: one of several closed Programs (the branches), chosen by an i32
 * index clamped to [0, n − 1], applied to the same operands; inputs
 * [index, ...operands]. `cond(pred, …)` is the two-branch case with the
 * index pred ? 1 : 0, `switchCase` the general one.
 *
 * - jvp: the primal outputs from the cond itself; the tangents from a cond
 *   of the branches' JVPs (which recompute their primal parts), so that under
 *   linearize the primal cond runs now and only the tangent cond is staged.
 * - transpose: a cond of the branches' transposes, with the same index.
 * - batch: with an unbatched index, a cond of the batched branches; with a
 *   batched index, every branch runs on the whole batch and each member's
 *   outputs are selected by its index.
 * - dce: outputs no one reads leave every branch, and operands no branch
 *   reads leave the cond.
 */
import { broadcast, compare, convert, fullLike, max, moveAxis, neg, reshape, select } from '../core/lax.ts'
import { isUndefined, type PrimitiveRule } from '../core/primitive.ts'
import { bind } from '../core/trace.ts'
import { deadCodeElimination } from '../core/dce.ts'
import { evalProgram } from '../core/interpret.ts'
import { isFloat } from '../dtype.ts'
import { Program, type Atom } from '../ir/program.ts'
import { foldZeros } from '../passes/simplify.ts'
import { type Aval, formatAval, isKnownZero, sameShape, type Tensor, zerosLike } from '../tensor.ts'
import { batchSize } from '../primitives/elementwise.ts'
import { evalBatched, jvpOfProgram, stageBranches, transposeOf } from './branches.ts'

const sameAval = (a: Aval, b: Aval) => a.dtype === b.dtype && sameShape(a.shape, b.shape)
const pick = <T>(list: readonly T[], mask: readonly boolean[], want = true): T[] =>
  list.filter((_, i) => mask[i] === want)

/** The index clamped to [0, n − 1] (an i32 scalar, possibly traced). */
export function clampIndex(index: Tensor, n: number): Tensor {
  const lo = max(index, fullLike(index, 0))
  return neg(max(neg(lo), fullLike(lo, -(n - 1))))
}

/**
 * The outputs of `branches` on `operands`, each member of the batch taking
 * the branch its index names: every branch is evaluated on the whole batch
 * (leading axis `size`) and the outputs are selected, the last branch first.
 */
function selectBranches(branches: readonly Program[], index: Tensor, operands: readonly Tensor[]): Tensor[] {
  const outs = branches.map((b) => evalProgram(b, operands))
  const i = clampIndex(index, branches.length)
  return outs[0].map((_, j) => {
    let result = outs[0][j]
    for (let b = 1; b < branches.length; b++) {
      const shape = result.aval.shape
      const hit = compare(i, fullLike(i, b), 'eq')
      const mask = broadcast(reshape(hit, [shape[0], ...shape.slice(1).map(() => 1)]), shape)
      result = select(mask, outs[b][j], result)
    }
    return result
  })
}

export const cond: PrimitiveRule<'cond'> = {
  abstractEval([index, ...operands], { branches }) {
    if (branches.length === 0) throw new Error('cond: expected at least one branch')
    if (index.dtype !== 'i32' || index.shape.length !== 0)
      throw new Error(`cond: the index must be an i32 scalar, got ${formatAval(index)}`)
    const outs = branches[0].outputs.map((o) => o.aval)
    branches.forEach((b, n) => {
      if (b.constVars.length > 0)
        throw new Error('cond: the branches must be closed (their captured values passed as operands)')
      if (b.inputs.length !== operands.length || b.inputs.some((v, i) => !sameAval(v.aval, operands[i])))
        throw new Error(
          `cond: branch ${n} takes (${b.inputs.map((v) => formatAval(v.aval)).join(', ')}), ` +
            `but the operands are (${operands.map(formatAval).join(', ')})`,
        )
      if (b.outputs.length !== outs.length || b.outputs.some((o, i) => !sameAval(o.aval, outs[i])))
        throw new Error(
          `cond: every branch must return the same shapes and dtypes: branch 0 returns (${outs.map(formatAval).join(', ')}), ` +
            `branch ${n} returns (${b.outputs.map((o) => formatAval(o.aval)).join(', ')})`,
        )
    })
    return outs
  },

  cpu([index, ...operands], { branches }) {
    const i = Math.min(Math.max(index.values[0], 0), branches.length - 1)
    return evalProgram(branches[i], operands).map((y) => y.toConcrete())
  },

  jvp(primals, tangents, { branches }) {
    const [index, ...operands] = primals
    const opTangents = tangents.slice(1)
    const moving = opTangents.map((t, i) => isFloat(operands[i].aval.dtype) && !isKnownZero(t))
    const outs = bind('cond', primals, { branches })
    if (!moving.some(Boolean)) return [outs, outs.map((y) => zerosLike(y))]
    const active = moving.flatMap((m, i) => (m ? [i] : []))
    const floatOut = outs.map((y) => isFloat(y.aval.dtype))
    const movingTangents = pick(opTangents, moving)
    const avals = [...operands.map((x) => x.aval), ...movingTangents.map((t) => t.aval)]
    const { branches: jvps, extra } = stageBranches(
      'jvp of a cond branch',
      avals,
      branches.map((branch) => (ins) => {
        const [, to] = jvpOfProgram(branch, ins.slice(0, operands.length), active, ins.slice(operands.length))
        return pick(to, floatOut)
      }),
    )
    const ts = bind('cond', [index, ...extra, ...operands, ...movingTangents], {
      branches: jvps.map((b) => foldZeros(b)),
    })
    let k = 0
    return [outs, outs.map((y, j) => (floatOut[j] ? ts[k++] : zerosLike(y)))]
  },

  transpose(cts, [index, ...operands], { branches }) {
    if (isUndefined(index)) throw new Error('cond: the index is not linear; it cannot be transposed')
    const linear = operands.map(isUndefined)
    const residuals = pick(operands, linear, false) as Tensor[]
    const live = cts.map((c) => !isKnownZero(c))
    const liveCts = pick(cts, live)
    const avals = [...residuals.map((r) => r.aval), ...liveCts.map((c) => c.aval)]
    const { branches: transposes, extra } = stageBranches(
      'transpose of a cond branch',
      avals,
      branches.map(
        (branch) => (ins) =>
          transposeOf(branch, linear, live, ins.slice(0, residuals.length), ins.slice(residuals.length)),
      ),
    )
    const ctIn = bind('cond', [index as Tensor, ...extra, ...residuals, ...liveCts], {
      branches: transposes.map((b) => foldZeros(b)),
    })
    let k = 0
    return [null, ...linear.map((l) => (l ? ctIn[k++] : null))]
  },

  batch(inputs, dims, { branches }) {
    const size = batchSize(inputs, dims)
    const [index, ...operands] = inputs
    const mask = dims.slice(1).map((d) => d !== null)
    const moved = operands.map((x, i) => (mask[i] ? moveAxis(x, dims[i + 1] as number, 0) : x))
    const { branches: batched, extra } = stageBranches(
      'vmap of a cond branch',
      moved.map((x) => x.aval),
      branches.map((branch) => (ins) => evalBatched(branch, ins, mask, size)),
    )
    if (dims[0] === null) {
      const outs = bind('cond', [index, ...extra, ...moved], { branches: batched })
      return [outs, outs.map(() => 0)]
    }
    const outs = selectBranches(batched, convert(moveAxis(index, dims[0], 0), 'i32'), [...extra, ...moved])
    return [outs, outs.map(() => 0)]
  },

  dce({ branches }, used) {
    if (used.every(Boolean)) return null
    const pruned = branches.map((b) =>
      deadCodeElimination(new Program(b.inputs, [], [], b.eqns, pick(b.outputs, used))),
    )
    const read = pruned.map((b) => new Set<Atom>([...b.eqns.flatMap((e) => e.inputs), ...b.outputs]))
    const keep = branches[0].inputs.map((_, i) => pruned.some((b, n) => read[n].has(b.inputs[i])))
    return {
      params: { branches: pruned.map((b) => new Program(pick(b.inputs, keep), [], [], b.eqns, b.outputs)) },
      keepInputs: [true, ...keep],
      keepOutputs: [...used],
    }
  },
}
