/**
 * The index folder (gpu/lower/affine.ts): a folded expression has the
 * original's value at every index its ranges allow, it folds what a store
 * of a matmul needs folded (which block an element is in, the offset within
 * it), and it leaves alone what its ranges do not decide.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ExprBuilder, type Expr } from '../../gpu/kernel.ts'
import { foldIndices } from '../../gpu/lower/affine.ts'

/** The value of an index expression (i32 arithmetic with WGSL's truncating / and %, comparisons, selects). */
function evaluate(e: Expr, at: Readonly<Record<string, number>>): number {
  const go = (x: Expr) => evaluate(x, at)
  switch (e.k) {
    case 'idx':
      return at[e.name]
    case 'lit':
      return e.value
    case 'bin': {
      const [a, b] = [go(e.a), go(e.b)]
      const v = {
        add: a + b,
        sub: a - b,
        mul: a * b,
        div: b === 0 ? 0 : Math.trunc(a / b),
        mod: b === 0 ? 0 : a % b,
        max: Math.max(a, b),
        min: Math.min(a, b),
        pow: a ** b,
      }[e.op]
      return v | 0
    }
    case 'cmp': {
      const [a, b] = [go(e.a), go(e.b)]
      return Number({ lt: a < b, le: a <= b, gt: a > b, ge: a >= b, eq: a === b, ne: a !== b }[e.op])
    }
    case 'sel':
      return go(e.c) ? go(e.a) : go(e.b)
    default:
      throw new Error(`not an index expression: ${e.k}`)
  }
}

const size = (e: Expr): number =>
  e.k === 'bin' || e.k === 'cmp' ? 1 + size(e.a) + size(e.b) : e.k === 'sel' ? 1 + size(e.c) + size(e.a) + size(e.b) : 1

describe('foldIndices', () => {
  const ranges = new Map<string, readonly [number, number]>([
    ['sr', [0, 31]],
    ['sj', [0, 255]],
  ])

  it("folds a concatenation's block test and offset at o = s·256 + j, j < 256", () => {
    const b = new ExprBuilder()
    const [sr, sj] = [b.idx('sr'), b.idx('sj')]
    for (let s = 0; s < 4; s++) {
      const o1 = b.bin('add', sj, b.lit(256 * s, 'i32'))
      // Block 3 of four: o1 − 768 in [0, 256).
      const inBlock = b.bin('sub', o1, b.lit(768, 'i32'))
      const test = b.sel(
        b.cmp('ge', inBlock, b.lit(0, 'i32')),
        b.cmp('lt', inBlock, b.lit(256, 'i32')),
        b.lit(0, 'bool'),
      )
      const offset = b.bin('add', b.bin('mul', sr, b.lit(256, 'i32')), inBlock)
      const folded = foldIndices(b, b.sel(test, offset, b.lit(-1, 'i32')), ranges)
      if (s === 3)
        expect(folded).toBe(
          foldIndices(
            b,
            b.affine([
              [sr, 256],
              [sj, 1],
            ]),
            ranges,
          ),
        )
      else expect(folded).toEqual(b.lit(-1, 'i32'))
    }
  })

  it('divides and takes remainders of a flat index within one multiple, and equal offsets become one expression', () => {
    const b = new ExprBuilder()
    const [sr, sj] = [b.idx('sr'), b.idx('sj')]
    const flat = b.affine([
      [sr, 1024],
      [sj, 1],
      [b.lit(1, 'i32'), 512],
    ])
    const row = foldIndices(b, b.bin('div', flat, b.lit(1024, 'i32')), ranges)
    const col = foldIndices(b, b.bin('mod', flat, b.lit(1024, 'i32')), ranges)
    expect(row).toBe(sr)
    expect(col).toBe(foldIndices(b, b.bin('add', b.lit(512, 'i32'), sj), ranges))
    const again = b.bin('add', b.bin('mul', row, b.lit(1024, 'i32')), col)
    expect(foldIndices(b, again, ranges)).toBe(foldIndices(b, flat, ranges))
  })

  it('leaves what the ranges do not decide: a quotient that crosses a multiple, a negative numerator, an unknown index', () => {
    const b = new ExprBuilder()
    const [sj, x] = [b.idx('sj'), b.idx('x')]
    const crossing = b.bin('div', b.bin('add', sj, b.lit(100, 'i32')), b.lit(256, 'i32'))
    expect(foldIndices(b, crossing, ranges).k).toBe('bin')
    const negative = b.bin('div', b.bin('sub', sj, b.lit(300, 'i32')), b.lit(512, 'i32'))
    expect(foldIndices(b, negative, ranges).k).toBe('bin')
    expect(foldIndices(b, b.cmp('lt', x, b.lit(4, 'i32')), ranges).k).toBe('cmp')
  })

  it('keeps the value of random index expressions at every point of their ranges', () => {
    type Tree = { op: string; kids: readonly Tree[]; n: number }
    const leaf = fc.oneof(
      fc.record({ op: fc.constant('sr'), kids: fc.constant([]), n: fc.constant(0) }),
      fc.record({ op: fc.constant('sj'), kids: fc.constant([]), n: fc.constant(0) }),
      fc.record({ op: fc.constant('lit'), kids: fc.constant([]), n: fc.integer({ min: -600, max: 1100 }) }),
    )
    const { tree } = fc.letrec<{ tree: Tree }>((t) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.record({
          op: fc.constantFrom('add', 'sub', 'mulc', 'divc', 'modc', 'lt', 'ge', 'eq', 'sel', 'max'),
          kids: fc.tuple(t('tree'), t('tree'), t('tree')),
          n: fc.integer({ min: 1, max: 1100 }),
        }),
      ),
    }))
    const build = (b: ExprBuilder, t: Tree): Expr => {
      const [p, q, r] = t.kids
      const i32 = (x: Expr) => (x.t === 'bool' ? b.sel(x, b.lit(1, 'i32'), b.lit(0, 'i32')) : x)
      const sub = (x: Tree) => i32(build(b, x))
      switch (t.op) {
        case 'sr':
        case 'sj':
          return b.idx(t.op)
        case 'lit':
          return b.lit(t.n, 'i32')
        case 'mulc':
          return b.bin('mul', sub(p), b.lit(t.n - 550, 'i32'))
        case 'divc':
          return b.bin('div', sub(p), b.lit(t.n, 'i32'))
        case 'modc':
          return b.bin('mod', sub(p), b.lit(t.n, 'i32'))
        case 'lt':
        case 'ge':
        case 'eq':
          return b.cmp(t.op, sub(p), sub(q))
        case 'sel':
          return b.sel(b.cmp('lt', sub(p), sub(q)), sub(q), sub(r))
        default:
          return b.bin(t.op as 'add' | 'sub' | 'max', sub(p), sub(q))
      }
    }
    let folds = 0
    fc.assert(
      fc.property(tree, fc.array(fc.tuple(fc.nat(31), fc.nat(255)), { minLength: 8, maxLength: 8 }), (t, points) => {
        const b = new ExprBuilder()
        const e = build(b, t)
        const folded = foldIndices(b, e, ranges)
        if (size(folded) < size(e)) folds++
        for (const [sr, sj] of [[0, 0], [31, 255], [0, 255], [31, 0], ...points])
          expect(evaluate(folded, { sr, sj }), `at sr = ${sr}, sj = ${sj}`).toBe(evaluate(e, { sr, sj }))
      }),
      { numRuns: 400, seed: 17 },
    )
    // The property saw folds happen, not only expressions passed through.
    expect(folds).toBeGreaterThan(50)
  })

  it('the property catches a planted fold: a remainder taken as if its numerator stayed within one multiple', () => {
    const b = new ExprBuilder()
    const sj = b.idx('sj')
    const e = b.bin('mod', b.bin('add', sj, b.lit(100, 'i32')), b.lit(256, 'i32'))
    // What a folder that ignored the crossing would give: sj + 100.
    const wrong = b.bin('add', sj, b.lit(100, 'i32'))
    const folded = foldIndices(b, e, ranges)
    const differs = (x: Expr) =>
      [0, 155, 156, 255].some((j) => evaluate(x, { sr: 0, sj: j }) !== evaluate(e, { sr: 0, sj: j }))
    expect(differs(wrong)).toBe(true)
    expect(differs(folded)).toBe(false)
  })
})

describe('ExprBuilder literals', () => {
  it('keeps an f32 −0 apart from 0 (1/−0 is −∞), and gives an integer one zero', () => {
    const b = new ExprBuilder()
    expect(b.lit(-0, 'f32')).not.toBe(b.lit(0, 'f32'))
    expect(Object.is((b.lit(-0, 'f32') as { value: number }).value, -0)).toBe(true)
    expect(b.lit(-0, 'i32')).toBe(b.lit(0, 'i32'))
    expect(Object.is((b.bin('div', b.lit(-1, 'i32'), b.lit(2, 'i32')) as { value: number }).value, 0)).toBe(true)
  })
})
