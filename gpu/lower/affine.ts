/**
 * Index arithmetic with known ranges: an expression rebuilt with its i32
 * index arithmetic in a canonical affine form (Σ cᵢ·xᵢ + c, terms in a fixed
 * order), and what the ranges of its index variables decide folded away:
 * a division or remainder by a constant whose numerator stays within one
 * multiple of it, and a comparison whose sides never cross. Rewriting a map
 * at the indices of another kernel (a matmul's epilogue evaluated at
 * o = s·u + j, with j < u) turns its tests of which block an element is in,
 * and the offsets inside the block, into constants and plain sums, and two
 * offsets that are equal become one expression.
 */
import type { CompareOp } from '../../src/core/index.ts'
import type { Expr, ExprBuilder } from '../kernel.ts'

/** Inclusive bounds of an index variable, by name. */
export type IndexRanges = ReadonlyMap<string, readonly [number, number]>

/** Σ coefficient·atom + constant over atoms: index variables, or i32 expressions that are not affine. */
interface Affine {
  readonly terms: ReadonlyMap<Expr, number>
  readonly c: number
}

const constant = (c: number): Affine => ({ terms: new Map(), c })

function combine(a: Affine, b: Affine, scale: number): Affine {
  const terms = new Map(a.terms)
  for (const [x, k] of b.terms) {
    const sum = (terms.get(x) ?? 0) + scale * k
    if (sum === 0) terms.delete(x)
    else terms.set(x, sum)
  }
  return { terms, c: a.c + scale * b.c }
}

// (`+ 0` keeps −0 out of the constants: 0 · −3 is −0 in JavaScript.)
const scaled = (a: Affine, k: number): Affine =>
  k === 0 ? constant(0) : { terms: new Map([...a.terms].map(([x, m]) => [x, m * k])), c: a.c * k + 0 }

/** Whether a comparison of x with 0 holds for every x in [lo, hi], fails for every one, or depends. */
function decide(op: CompareOp, lo: number, hi: number): boolean | undefined {
  switch (op) {
    case 'lt':
      return hi < 0 ? true : lo >= 0 ? false : undefined
    case 'le':
      return hi <= 0 ? true : lo > 0 ? false : undefined
    case 'gt':
      return lo > 0 ? true : hi <= 0 ? false : undefined
    case 'ge':
      return lo >= 0 ? true : hi < 0 ? false : undefined
    case 'eq':
      return lo === 0 && hi === 0 ? true : lo > 0 || hi < 0 ? false : undefined
    case 'ne':
      return lo === 0 && hi === 0 ? false : lo > 0 || hi < 0 ? true : undefined
    default:
      return op satisfies never
  }
}

/** `e` with its index arithmetic canonical and folded where `ranges` decide it (see the module's comment). */
export function foldIndices(b: ExprBuilder, e: Expr, ranges: IndexRanges): Expr {
  const affine = new Map<number, Affine>()
  const rebuilt = new Map<number, Expr>()

  const range = (a: Affine): readonly [number, number] | undefined => {
    let [lo, hi] = [a.c, a.c]
    for (const [x, k] of a.terms) {
      const r = x.k === 'idx' ? ranges.get(x.name) : undefined
      if (r === undefined) return undefined
      lo += Math.min(k * r[0], k * r[1])
      hi += Math.max(k * r[0], k * r[1])
    }
    return [lo, hi]
  }
  // The canonical expression of an affine form: its terms in the order of their atoms' ids, then the constant.
  const build = (a: Affine): Expr =>
    b.bin(
      'add',
      [...a.terms]
        .sort(([x], [y]) => x.id - y.id)
        .reduce<Expr>(
          (acc, [x, k]) => b.bin('add', acc, k === 1 ? x : b.bin('mul', x, b.lit(k, 'i32'))),
          b.lit(0, 'i32'),
        ),
      b.lit(a.c + 0, 'i32'),
    )

  // The affine form of an i32 expression (an atom where it is not affine).
  const form = (x: Expr): Affine => {
    const known = affine.get(x.id)
    if (known !== undefined) return known
    let out: Affine | undefined
    if (x.k === 'lit') out = constant(x.value)
    else if (x.k === 'idx') out = { terms: new Map([[x, 1]]), c: 0 }
    else if (x.k === 'bin' && x.t === 'i32') {
      const [p, q] = [form(x.a), form(x.b)]
      if (x.op === 'add') out = combine(p, q, 1)
      else if (x.op === 'sub') out = combine(p, q, -1)
      else if (x.op === 'mul' && q.terms.size === 0) out = scaled(p, q.c)
      else if (x.op === 'mul' && p.terms.size === 0) out = scaled(q, p.c)
      else if ((x.op === 'div' || x.op === 'mod') && q.terms.size === 0 && q.c > 0) out = quotient(x.op, p, q.c)
    }
    if (out === undefined) out = { terms: new Map([[fold(x, true), 1]]), c: 0 }
    affine.set(x.id, out)
    return out
  }
  // For a numerator that is never negative (where truncation is the floor): with n = q·d + r, r the terms whose
  // coefficients d does not divide and the constant, n / d = q + k and n % d = r − k·d when r stays in [k·d, k·d + d).
  const quotient = (op: 'div' | 'mod', n: Affine, d: number): Affine | undefined => {
    const whole = range(n)
    if (whole === undefined || whole[0] < 0) return undefined
    const q = new Map<Expr, number>()
    const r = new Map<Expr, number>()
    for (const [x, k] of n.terms) (k % d === 0 ? q : r).set(x, k)
    const rest = range({ terms: r, c: n.c })
    if (rest === undefined) return undefined
    const k = Math.floor(rest[0] / d)
    if (Math.floor(rest[1] / d) !== k) return undefined
    return op === 'div' ? { terms: new Map([...q].map(([x, m]) => [x, m / d])), c: k } : { terms: r, c: n.c - k * d }
  }

  // `x` rebuilt from its folded children; `atom`: as the atom of an affine form (its own arithmetic not re-read).
  function fold(x: Expr, atom = false): Expr {
    if (!atom && x.t === 'i32' && (x.k === 'bin' || x.k === 'idx' || x.k === 'lit')) return build(form(x))
    const known = rebuilt.get(x.id)
    if (known !== undefined) return known
    let out: Expr
    if (x.k === 'cmp' && x.a.t === 'i32' && x.b.t === 'i32') {
      const r = range(combine(form(x.a), form(x.b), -1))
      const decided = r === undefined ? undefined : decide(x.op, r[0], r[1])
      out = decided === undefined ? b.cmp(x.op, fold(x.a), fold(x.b)) : b.lit(decided ? 1 : 0, 'bool')
    } else out = b.withChildren(x, (y) => fold(y))
    rebuilt.set(x.id, out)
    return out
  }
  return fold(e)
}
