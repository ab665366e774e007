/**
 * Split products: a product over the steps aᵀb (a, b: [R, N] rows, the steps
 * times the rows of each step) whose factors are concatenations along the
 * steps (the incoming states, the init in front; δ, its first step computed
 * before a rotated loop) is a sum of products over the runs of rows where
 * each factor is one value: Σᵣ aᵣᵀbᵣ, split wherever a block of a or of b
 * begins. Each run is read in place (a slice of the value whose block it
 * is), so the concatenations are no longer written out; a run where either
 * factor is a block of zeros (a zero init) is left out.
 *
 * Preserves: every output's value, up to floating-point reassociation of
 * the contraction's sum over the rows (the runs' partial sums are added in
 * row order), and except that a run left out because one factor is zero
 * there would have contributed NaN where the other holds ∞ or NaN (0·∞).
 * Every other equation is bound as it is.
 */
import * as lax from '../core/lax.ts'
import type { Params } from '../core/primitive.ts'
import { Literal, Var, type Atom, type Eqn, type Program } from '../ir/program.ts'
import { isKnownZero, sizeOf, zerosLike, type Tensor } from '../tensor.ts'
import { producersOf, readsOf, restage, steps, unique } from './shared.ts'

/** The identity the split rests on, as a table so that the law suite can plant a wrong one. */
export const splitIdentities = {
  /**
   * The runs [from, to) of the contraction's rows that two factors' blocks (their row counts, in order) cut it
   * into: split wherever a block of either begins.
   */
  runs(a: readonly number[], b: readonly number[]): [number, number][] {
    const ends = (rows: readonly number[]) => rows.map((_, i) => rows.slice(0, i + 1).reduce((n, r) => n + r, 0))
    const cuts = unique([0, ...ends(a), ...ends(b)]).sort((p, q) => p - q)
    return cuts.slice(1).map((to, i) => [cuts[i], to])
  },
}

/** Rows of a product's operand along the contraction: blocks of a concatenation, null for a block of zeros. */
type Block = { readonly v: Atom | null; readonly rows: number }

/**
 * The rows of `a` ([R, N], or the [..., N] value a reshape to [R, N] reads) as the blocks of concatenations along
 * its leading axis; one block where it is none, or where it is a concatenation that something else reads too (it is
 * written out anyway, and one product over it is one pass where its blocks would be one each).
 */
function blocksOf(producer: ReadonlyMap<Var, Eqn>, uses: ReadonlyMap<Atom, number>, a: Atom): Block[] {
  const rows = sizeOf(a.aval.shape.slice(0, -1))
  const e = a instanceof Var ? producer.get(a) : undefined
  if (
    e?.prim === 'reshape' &&
    e.inputs[0].aval.shape.length >= 2 &&
    e.inputs[0].aval.shape.at(-1) === a.aval.shape.at(-1)
  )
    return blocksOf(producer, uses, e.inputs[0])
  if (e?.prim === 'concat' && (e.params as Params<'concat'>).axis === 0 && (uses.get(a) ?? 0) <= 1)
    return e.inputs.flatMap((x) => blocksOf(producer, uses, x))
  if (e?.prim === 'broadcast' && e.inputs[0] instanceof Literal && isKnownZero(e.inputs[0].value))
    return [{ v: null, rows }]
  return [{ v: a, rows }]
}

/**
 * Products over the steps whose factors are concatenations along the steps (the stacked states with the init in
 * front, δ with its first step behind), each a sum of products over the runs where both factors are one value,
 * without the runs where either is zero: Σ_r aᵣᵀbᵣ split where the blocks of a or of b begin. The runs are read in
 * place, and the concatenations are not written out.
 */
export function splitProducts(program: Program): Program {
  const producer = producersOf(program)
  const uses = readsOf(program.eqns, program.outputs)
  const splits = new Map<Eqn, { a: Block[]; b: Block[]; runs: [number, number][] }>()
  for (const e of program.eqns) {
    if (e.prim !== 'matmul' || e.inputs.some((x) => x.aval.shape.length !== 2)) continue
    const [x, y] = e.inputs
    const t = x instanceof Var ? producer.get(x) : undefined
    if (t?.prim !== 'transpose' || (t.params as Params<'transpose'>).perm[0] !== 1) continue
    const a = blocksOf(producer, uses, t.inputs[0])
    const b = blocksOf(producer, uses, y)
    if (a.length === 1 && b.length === 1) continue
    const runs = splitIdentities.runs(
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
