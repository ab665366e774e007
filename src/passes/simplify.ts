/**
 * Zero folding for staged derivative bodies. A value that is zero by
 * construction (a broadcast 0, a product with a zero, a sum of zeros) is
 * replaced by one broadcast 0, and x + 0 by x, so that a tangent or cotangent
 * that cannot flow (the tangent of the data, say) costs nothing inside a loop
 * body instead of a matmul and a stacked residual per step.
 *
 * This is the symbolic zero of JAX's JVP, applied after staging. Equations
 * that compute the `exact` outputs (the primal values of a JVP body) are
 * left as they are.
 *
 * Preserves: every output's value, but that it assumes 0·x = 0 and 0/x = 0
 * (a product, matmul or quotient with a zero operand is folded to zero),
 * which fail where x is ±∞ or NaN (or 0/0); and x + 0 = x, x − 0 = x and
 * 0 − x = −x, which can differ in the sign of a zero result. Everything else
 * it folds is exact.
 */
import { deadCodeElimination } from '../core/dce.ts'
import { type Atom, type Eqn, Literal, Program, Var } from '../ir/program.ts'
import { isKnownZero, scalarOf } from '../tensor.ts'

const isZeroLiteral = (a: Atom): boolean => a instanceof Literal && isKnownZero(a.value)

/** Primitives linear in their first input alone: zero in, zero out. */
const ZERO_PRESERVING = new Set([
  'broadcast',
  'reshape',
  'transpose',
  'slice',
  'pad',
  'sum',
  'neg',
  'stopGradient',
  'convert',
  'gather',
])

/** The identities the folding rests on, as a table so that the law suite can plant a wrong one. */
export const foldIdentities = {
  /** Whether an equation's output is zero, given which of its inputs are (0·x = 0 assumed). */
  isZero(prim: string, z: readonly boolean[]): boolean {
    return (
      (ZERO_PRESERVING.has(prim) && z[0]) ||
      ((prim === 'mul' || prim === 'matmul') && (z[0] || z[1])) ||
      (prim === 'div' && z[0]) ||
      (prim === 'select' && z[1] && z[2]) ||
      (prim === 'concat' && z.every(Boolean)) ||
      (prim === 'scatterAdd' && z[0] && z[2]) ||
      ((prim === 'add' || prim === 'sub') && z[0] && z[1])
    )
  },
}

/**
 * The Program with values that are zero by construction folded: each computed by one broadcast 0 (a scalar zero
 * literal), x + 0 and x − 0 read as x, 0 − x as −x; the equations that compute the `exact` outputs kept as they are.
 */
export function foldZeros(program: Program, exact: readonly boolean[] = []): Program {
  const kept = new Set<Var>()
  program.outputs.forEach((a, i) => exact[i] && a instanceof Var && kept.add(a))
  for (let i = program.eqns.length - 1; i >= 0; i--) {
    const e = program.eqns[i]
    if (e.outputs.some((v) => kept.has(v))) for (const a of e.inputs) if (a instanceof Var) kept.add(a)
  }

  const zero = new Set<Var>()
  const alias = new Map<Var, Atom>()
  const sub = (a: Atom): Atom => (a instanceof Var ? (alias.get(a) ?? a) : a)
  const isZero = (a: Atom) => isZeroLiteral(a) || (a instanceof Var && zero.has(a))
  const eqns: Eqn[] = []
  const makeZero = (v: Var) => {
    zero.add(v)
    const scalar = new Literal(scalarOf(0, v.aval.dtype))
    if (v.aval.shape.length === 0) alias.set(v, scalar)
    else eqns.push({ prim: 'broadcast', inputs: [scalar], params: { shape: v.aval.shape }, outputs: [v] })
  }

  for (const e0 of program.eqns) {
    const e: Eqn = { ...e0, inputs: e0.inputs.map(sub) }
    const z = e.inputs.map(isZero)
    const [out] = e.outputs
    if (e.outputs.some((v) => kept.has(v))) {
      if (e.prim === 'broadcast' && z[0]) zero.add(out)
      eqns.push(e)
      continue
    }
    if (e.outputs.length !== 1) {
      eqns.push(e)
      continue
    }
    if (foldIdentities.isZero(e.prim, z)) makeZero(out)
    else if (e.prim === 'add' && (z[0] || z[1])) alias.set(out, z[0] ? e.inputs[1] : e.inputs[0])
    else if (e.prim === 'sub' && z[1]) alias.set(out, e.inputs[0])
    else if (e.prim === 'sub' && z[0]) eqns.push({ prim: 'neg', inputs: [e.inputs[1]], params: {}, outputs: [out] })
    else eqns.push(e)
  }
  return deadCodeElimination(
    new Program(program.inputs, program.constVars, program.constValues, eqns, program.outputs.map(sub)),
  )
}
