/**
 * Products of gathered rows: x·W where the rows of x are gathered from a
 * table T that has fewer rows than x (an embedding lookup followed by a
 * layer's input projection) is the rows of T·W, gathered the same way:
 * gather(T, i)·W = gather(T·W, i). The product then runs over the table's
 * rows once instead of over every lookup, and the gather copies rows of
 * the product.
 *
 * Preserves: every output's value, exactly: row r of gather(T, i)·W is
 * T[i′]·W with i′ the index clamped as a gather clamps it, which is row i′
 * of T·W, each element the same sum in the same order. Every other equation
 * is bound as it is; the gather of T is left to dead-code elimination where
 * nothing else reads it.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { Var, type Atom, type Eqn, type Program } from '../ir/program.ts'
import { producersOf, restage } from './shared.ts'

/** The identity the rewrite rests on, as a table so that a test can plant a wrong one. */
export const gatherProductIdentities = {
  /** The rows of the table that a gather along axis 0 takes, as the rows of the product's result. */
  rowsOf: lax.gather,
}

/** A gather along the leading axis of a matrix [V, E], the rows it takes being x (a reshape of it to [R, E]). */
interface Lookup {
  readonly table: Atom
  readonly indices: Atom
}

/** The lookup whose rows `x` ([R, E]) is, if the table has fewer rows than R. */
function lookupOf(producer: ReadonlyMap<Var, Eqn>, x: Atom): Lookup | null {
  let e = x instanceof Var ? producer.get(x) : undefined
  // A reshape that only merges the leading axes of the gathered rows.
  if (e?.prim === 'reshape' && e.inputs[0].aval.shape.at(-1) === x.aval.shape.at(-1)) {
    const y = e.inputs[0]
    e = y instanceof Var ? producer.get(y) : undefined
  }
  if (e?.prim !== 'gather') return null
  const { axis, batchDims } = e.params as Params<'gather'>
  const [table, indices] = e.inputs
  if (axis !== 0 || batchDims !== 0 || table.aval.shape.length !== 2) return null
  return table.aval.shape[0] < x.aval.shape[0] ? { table, indices } : null
}

/** `program` with every product of gathered rows rewritten (see the header); the program itself when there is none. */
export function gatherProducts(program: Program): Program {
  const producer = producersOf(program)
  const rewrites = new Map<Eqn, Lookup>()
  for (const e of program.eqns) {
    if (e.prim !== 'matmul' || e.inputs.some((a) => a.aval.shape.length !== 2)) continue
    const lookup = lookupOf(producer, e.inputs[0])
    if (lookup !== null) rewrites.set(e, lookup)
  }
  if (rewrites.size === 0) return program
  return restage('gather products', program, (eqn, args, read) => {
    const lookup = rewrites.get(eqn)
    if (lookup === undefined) return null
    const product = lax.matmul(read(lookup.table), args[1])
    const rows = gatherProductIdentities.rowsOf(product, read(lookup.indices), 0)
    return [lax.reshape(rows, eqn.outputs[0].aval.shape as number[])]
  })
}
