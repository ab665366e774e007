/**
 * The passes of src/passes that are not loop motion (whose laws are in
 * test/loop-motion.test.ts), and the entry a backend calls.
 *
 *  - common-subexpression elimination and zero folding: on random
 *    straight-line programs over three [3, 3] inputs and a zero constant,
 *    with repeated equations and zeros, the rewritten program computes
 *    exactly what the program computes (f64, CPU interpreter), and the
 *    comparison catches a planted bug in each pass's identity;
 *  - `optimize` runs the passes it is asked for, in order, and no other.
 */
import * as fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { makeProgram, ops, random, scan, type Tensor } from '../src/index.ts'
import * as lax from '../src/core/lax.ts'
import { evalProgram } from '../src/core/interpret.ts'
import type { Program } from '../src/ir/program.ts'
import { commonSubexpressions, foldZeros, identities, moveLoopInvariants, optimize } from '../src/passes/index.ts'
import { lawRuns } from '../laws/index.ts'
import { assertProperty } from './lib/property.ts'

const N = 3
const OPS = ['add', 'sub', 'mul', 'neg', 'tanh', 'matmul', 'transpose', 'sumRows', 'sumColumns'] as const
type Op = (typeof OPS)[number]
type Step = { readonly op: Op; readonly i: number; readonly j: number }

const apply = (op: Op, x: Tensor, y: Tensor): Tensor => {
  const spread = (v: Tensor) => lax.broadcast(v, [N, N])
  switch (op) {
    case 'add':
      return lax.add(x, y)
    case 'sub':
      return lax.sub(x, y)
    case 'mul':
      return lax.mul(x, y)
    case 'neg':
      return lax.neg(x)
    case 'tanh':
      return lax.tanh(x)
    case 'matmul':
      return lax.matmul(x, y)
    case 'transpose':
      return lax.transpose(x, [1, 0])
    // Two equations that differ only in their parameters: the same primitive on the same input.
    case 'sumRows':
      return spread(lax.sum(x, [0]))
    case 'sumColumns':
      return spread(lax.sum(x, [1]))
  }
}

const inputs = (seed: number) =>
  random.split(random.key(seed), 3).map((k) => ops.astype(random.normal(k, [N, N]), 'f64') as Tensor)

const example = inputs(0) as [Tensor, Tensor, Tensor]
/**
 * The program of a recipe: a pool of values (the inputs a, b, c and a constant zero) to which each step adds `op`
 * of two earlier values; its outputs are the values the steps compute. Small pools repeat equations often.
 */
const programOf = (recipe: readonly Step[]): Program =>
  makeProgram((a: Tensor, b: Tensor, c: Tensor) => {
    const pool: Tensor[] = [a, b, c, ops.zeros([N, N], 'f64') as Tensor]
    for (const { op, i, j } of recipe) pool.push(apply(op, pool[i % pool.length], pool[j % pool.length]))
    return pool.slice(4)
  })(...example)

const recipe = fc.array(fc.record({ op: fc.constantFrom(...OPS), i: fc.nat({ max: 12 }), j: fc.nat({ max: 12 }) }), {
  minLength: 1,
  maxLength: 10,
})
/** Checks a law on random recipes. */
const holds = (law: fc.IProperty<any>) => assertProperty(law, { numRuns: lawRuns() })

/** The largest difference between the two programs' outputs (f64) on the inputs of `seed`. */
function gap(program: Program, rewritten: Program, seed: number): number {
  const args = inputs(seed)
  const want = evalProgram(program, args).map((t) => t.dataSync())
  const got = evalProgram(rewritten, args).map((t) => t.dataSync())
  let worst = 0
  want.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(got[i][j] - v)))))
  return worst
}

const eqnCount = (p: Program) => p.eqns.length

/** Common-subexpression elimination computes exactly what the program computes. */
const cseLaw = fc.property(recipe, fc.nat(1000), (r, seed) => {
  const program = programOf(r)
  expect(gap(program, commonSubexpressions(program), seed)).toBe(0)
})

/** Zero folding computes exactly what the program computes (its inputs are finite), whichever outputs are exact. */
const foldLaw = fc.property(recipe, fc.nat(1000), fc.array(fc.boolean(), { maxLength: 10 }), (r, seed, exact) => {
  const program = programOf(r)
  expect(gap(program, foldZeros(program, exact), seed)).toBe(0)
})

describe('the passes compute what the program computes', () => {
  it('common subexpressions: exactly', () => {
    holds(cseLaw)
    // Two equal equations are one.
    const twice = programOf([
      { op: 'add', i: 0, j: 1 },
      { op: 'add', i: 0, j: 1 },
    ])
    expect(eqnCount(commonSubexpressions(twice))).toBeLessThan(eqnCount(twice))
  })

  it('zero folding: exactly, on finite inputs', () => {
    holds(foldLaw)
    // a·0 + b is b.
    const folded = programOf([
      { op: 'mul', i: 0, j: 3 },
      { op: 'add', i: 4, j: 1 },
    ])
    expect(foldZeros(folded).eqns.map((e) => e.prim)).not.toContain('add')
  })
})

describe('the comparison catches a planted bug', () => {
  const { cse, foldZeros: fold } = identities
  const original = { cse: { ...cse }, fold: { ...fold } }
  afterEach(() => {
    Object.assign(cse, original.cse)
    Object.assign(fold, original.fold)
  })
  const caught = (law: fc.IProperty<any>) => fc.check(law, { numRuns: 200, seed: 1 }).failed

  it('the planted rules are the ones in use', () => {
    expect(caught(cseLaw)).toBe(false)
    expect(caught(foldLaw)).toBe(false)
  })
  it('common subexpressions: equations merged whose parameters differ (a sum over rows and one over columns)', () => {
    cse.key = (prim, _params, inputs) => original.cse.key(prim, {}, inputs)
    expect(caught(cseLaw)).toBe(true)
  })
  it('zero folding: x + y folded to zero where only x is known zero', () => {
    fold.isZero = (prim, z) => (prim === 'add' ? z[0] || z[1] : original.fold.isZero(prim, z))
    expect(caught(foldLaw)).toBe(true)
  })
})

describe('optimize, the entry a backend calls', () => {
  // A sum over the steps (it leaves the loop) and a value computed twice.
  const program = makeProgram((w: Tensor, xs: Tensor) => {
    const zero = ops.zeros([2], 'f64') as Tensor
    const [total] = scan((c: Tensor, x: Tensor) => [ops.add(c, ops.matmul(x, w)), null] as const, zero, xs)
    return [total, ops.sum(w), ops.sum(w)]
  })(ops.ones([3, 2], 'f64'), ops.ones([4, 3], 'f64'))
  it('runs no pass unless asked', () => {
    expect(optimize(program, {})).toBe(program)
    expect(optimize(program, { cse: false, loopMotion: false })).toBe(program)
  })
  it('merges common subexpressions, then moves loop invariants', () => {
    expect(eqnCount(optimize(program, { cse: true }))).toBeLessThan(eqnCount(program))
    expect(optimize(program, { loopMotion: true })).not.toBe(program)
    expect(optimize(program, { cse: true }).toString()).toBe(commonSubexpressions(program).toString())
    expect(optimize(program, { loopMotion: true }).toString()).toBe(moveLoopInvariants(program).toString())
    expect(optimize(program, { cse: true, loopMotion: { rotate: false } }).toString()).toBe(
      moveLoopInvariants(commonSubexpressions(program), { rotate: false }).toString(),
    )
  })
})
