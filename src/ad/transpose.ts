/**
 * Transposition of a linear Program: the backward pass. Cotangents flow from
 * the outputs to the inputs through each equation's `transpose` rule, in
 * reverse order; where a variable is used twice its cotangents are summed
 * (the fan-out's transpose is a sum: parameter tying, D. Barber, Neural Nets, "Parameter Tying").
 */
import { UndefinedPrimal } from '../core/primitive.ts'
import { add } from '../core/lax.ts'
import { bind } from '../core/trace.ts'
import { ruleOf } from '../core/registry.ts'
import { Literal, Var, type Atom, type Program } from '../ir/program.ts'
import { filled, formatAval, sameShape, type Tensor } from '../tensor.ts'

/**
 * The cotangents of a linear Program's inputs, given cotangents `cts` for its outputs: the
 * backward pass, each equation's transpose rule applied in reverse order, with the cotangents of
 * a variable used twice summed.
 */
export function transposeProgram(program: Program, cts: readonly Tensor[]): Tensor[] {
  if (cts.length !== program.outputs.length)
    throw new Error(`transpose: expected ${program.outputs.length} cotangents, got ${cts.length}`)
  const linear = new Set<Var>(program.inputs)
  for (const eqn of program.eqns)
    if (eqn.inputs.some((a) => a instanceof Var && linear.has(a))) for (const v of eqn.outputs) linear.add(v)

  // Non-linear equations (functions of constants alone) are evaluated forward.
  const values = new Map<Var, Tensor>()
  program.constVars.forEach((v, i) => values.set(v, program.constValues[i]))
  const read = (a: Atom): Tensor => (a instanceof Literal ? a.value : (values.get(a) as Tensor))
  for (const eqn of program.eqns) {
    if (eqn.outputs.some((v) => linear.has(v))) continue
    bind(eqn.prim, eqn.inputs.map(read), eqn.params).forEach((y, i) => values.set(eqn.outputs[i], y))
  }

  const ct = new Map<Var, Tensor>()
  const accumulate = (v: Var, x: Tensor) => {
    if (!sameShape(x.aval.shape, v.aval.shape))
      throw new Error(`transpose: a cotangent ${formatAval(x.aval)} was produced for a variable ${formatAval(v.aval)}`)
    const prev = ct.get(v)
    ct.set(v, prev === undefined ? x : add(prev, x))
  }
  program.outputs.forEach((a, i) => {
    if (!(a instanceof Var && linear.has(a))) return
    if (!sameShape(cts[i].aval.shape, a.aval.shape) || cts[i].aval.dtype !== a.aval.dtype)
      throw new Error(`transpose: cotangent ${i} must be ${formatAval(a.aval)}, got ${formatAval(cts[i].aval)}`)
    accumulate(a, cts[i])
  })

  for (let n = program.eqns.length - 1; n >= 0; n--) {
    const eqn = program.eqns[n]
    if (!eqn.outputs.some((v) => linear.has(v))) continue
    if (!eqn.outputs.some((v) => ct.has(v))) continue
    const rule = ruleOf(eqn.prim).transpose as
      | ((cts: readonly Tensor[], inputs: readonly (Tensor | UndefinedPrimal)[], params: unknown) => (Tensor | null)[])
      | undefined
    if (rule === undefined)
      throw new Error(
        `transpose: '${eqn.prim}' has no transpose rule: it is not linear, so it cannot act on a tangent ` +
          `(the program being transposed is not linear in its inputs)`,
      )
    const ctsOut = eqn.outputs.map((v) => ct.get(v) ?? filled(v.aval.shape, v.aval.dtype, 0))
    const inputs = eqn.inputs.map((a) => (a instanceof Var && linear.has(a) ? new UndefinedPrimal(a.aval) : read(a)))
    const ctsIn = rule(ctsOut, inputs, eqn.params)
    eqn.inputs.forEach((a, i) => {
      const c = ctsIn[i]
      if (a instanceof Var && linear.has(a) && c !== null && c !== undefined) accumulate(a, c)
    })
  }
  return program.inputs.map((v) => ct.get(v) ?? filled(v.aval.shape, v.aval.dtype, 0))
}
