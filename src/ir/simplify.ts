/**
 * Zero folding for staged derivative bodies. A value that is zero by
 * construction (a broadcast 0, a product with a zero, a sum of zeros) is
 * replaced by one broadcast 0, and x + 0 by x, so that a tangent or cotangent
 * that cannot flow (the tangent of the data, say) costs nothing inside a loop
 * body instead of a matmul and a stacked residual per step.
 *
 * This is the symbolic zero of JAX's JVP, applied after staging: it assumes
 * 0·x = 0, which fails only for x = ±∞ or NaN. Equations that compute the
 * `exact` outputs (the primal values of a JVP body) are left as they are.
 */
import { ConcreteTensor, scalarOf } from '../tensor.ts'
import { Literal, Program, Var, deadCodeElimination, type Atom, type Eqn } from './program.ts'

const isZeroLiteral = (a: Atom): boolean =>
  a instanceof Literal && a.value instanceof ConcreteTensor && a.value.values.every((v) => v === 0)

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
    if (ZERO_PRESERVING.has(e.prim) && z[0]) makeZero(out)
    else if ((e.prim === 'mul' || e.prim === 'matmul') && (z[0] || z[1])) makeZero(out)
    else if (e.prim === 'div' && z[0]) makeZero(out)
    else if (
      (e.prim === 'select' && z[1] && z[2]) ||
      (e.prim === 'concat' && z.every(Boolean)) ||
      (e.prim === 'scatterAdd' && z[0] && z[2])
    )
      makeZero(out)
    else if (e.prim === 'add' && (z[0] || z[1])) {
      if (z[0] && z[1]) makeZero(out)
      else alias.set(out, z[0] ? e.inputs[1] : e.inputs[0])
    } else if (e.prim === 'sub' && (z[0] || z[1])) {
      if (z[0] && z[1]) makeZero(out)
      else if (z[1]) alias.set(out, e.inputs[0])
      else eqns.push({ prim: 'neg', inputs: [e.inputs[1]], params: {}, outputs: [out] })
    } else eqns.push(e)
  }
  return deadCodeElimination(
    new Program(program.inputs, program.constVars, program.constValues, eqns, program.outputs.map(sub)),
  )
}
