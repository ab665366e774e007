/**
 * The laws catch wrong rules. Each case plants a plausible bug in one entry
 * of the rule table, checks that the named laws fail while it is there (and,
 * where it teaches something, that other laws cannot see it), then restores
 * the entry and checks that the same laws pass again.
 */
import { describe, expect, it } from 'vitest'
import * as lax from '../src/core/lax.ts'
import { isUndefined, type BatchDim } from '../src/core/primitive.ts'
import { rules, type Primitive, type PrimitiveRule, type Tensor } from '../src/index.ts'
import { lawRuns, primitiveLaws, type LawName, type LawReport } from '../laws/index.ts'

// The rule table is readonly in its type; these tests swap entries and put them back.
type AnyRule = PrimitiveRule<any>
const table = rules as unknown as Record<Primitive, AnyRule>

interface Mutant {
  readonly bug: string
  readonly primitive: Primitive
  readonly wrong: (original: AnyRule) => AnyRule
  /** Laws that must fail while the bug is planted. */
  readonly caughtBy: readonly LawName[]
  /** Laws that cannot see this bug: they must still hold while it is planted. */
  readonly blindSpots?: readonly LawName[]
}

const one = (x: Tensor) => lax.fullLike(x, 1)

const mutants: readonly Mutant[] = [
  {
    bug: 'tanh JVP uses 1 + tanh² instead of 1 − tanh²',
    primitive: 'tanh',
    wrong: (r) => ({
      ...r,
      jvp: ([x]: Tensor[], [t]: Tensor[]) => {
        const y = lax.tanh(x)
        return [[y], [lax.mul(t, lax.add(one(y), lax.mul(y, y)))]]
      },
    }),
    caughtBy: ['finiteDifferences', 'secondOrder'],
    // vjp is the transpose of the same wrong jvp, so the two modes still agree.
    blindSpots: ['adjoint', 'jacobians', 'linearity'],
  },
  {
    bug: 'tanh JVP builds 1 − tanh² from a gradient-stopped tanh (first derivative right, second wrong)',
    primitive: 'tanh',
    wrong: (r) => ({
      ...r,
      jvp: ([x]: Tensor[], [t]: Tensor[]) => {
        const y = lax.tanh(x)
        const frozen = lax.stopGradient(y)
        return [[y], [lax.mul(t, lax.sub(one(y), lax.mul(frozen, frozen)))]]
      },
    }),
    caughtBy: ['secondOrder'],
    blindSpots: ['finiteDifferences', 'adjoint'],
  },
  {
    bug: 'sin JVP multiplies by sin instead of cos',
    primitive: 'sin',
    wrong: (r) => ({ ...r, jvp: ([x]: Tensor[], [t]: Tensor[]) => [[lax.sin(x)], [lax.mul(t, lax.sin(x))]] }),
    caughtBy: ['finiteDifferences', 'secondOrder'],
  },
  {
    bug: 'matmul transpose forgets to transpose b (ct·b instead of ct·bᵀ)',
    primitive: 'matmul',
    wrong: (r) => ({
      ...r,
      transpose: ([ct]: readonly Tensor[], [a, b]: readonly unknown[]) =>
        isUndefined(a) ? [lax.matmul(ct, b as Tensor), null] : [null, lax.matmul(lax.swapLast(a as Tensor), ct)],
    }),
    // Non-square draws make the product ill-shaped (reported, not crashed); square ones give wrong values.
    caughtBy: ['adjoint', 'transpose', 'jacobians'],
    blindSpots: ['finiteDifferences'],
  },
  {
    bug: 'mul transpose hands the cotangent to the other operand',
    primitive: 'mul',
    wrong: (r) => ({
      ...r,
      transpose: ([ct]: readonly Tensor[], [a, b]: readonly unknown[]) =>
        isUndefined(a) ? [null, lax.mul(ct, b as Tensor)] : [lax.mul(a as Tensor, ct), null],
    }),
    caughtBy: ['adjoint', 'transpose', 'jacobians'],
  },
  {
    bug: 'sum transpose scales the broadcast cotangent by 2',
    primitive: 'sum',
    wrong: (r) => ({
      ...r,
      transpose: ([ct]: readonly Tensor[], [x]: readonly unknown[], { axes }: { axes: readonly number[] }) => {
        const shape = (x as { aval: { shape: readonly number[] } }).aval.shape
        return [
          lax.scale(
            lax.broadcast(
              lax.reshape(
                ct,
                shape.map((d, i) => (axes.includes(i) ? 1 : d)),
              ),
              shape,
            ),
            2,
          ),
        ]
      },
    }),
    caughtBy: ['adjoint', 'transpose', 'jacobians'],
    blindSpots: ['finiteDifferences'],
  },
  {
    bug: 'neg transpose forgets the sign',
    primitive: 'neg',
    wrong: (r) => ({ ...r, transpose: ([ct]: Tensor[]) => [ct] }),
    caughtBy: ['adjoint', 'transpose'],
    blindSpots: ['finiteDifferences'],
  },
  {
    bug: 'broadcast transpose forgets to sum over the broadcast axes',
    primitive: 'broadcast',
    wrong: (r) => ({ ...r, transpose: ([ct]: Tensor[]) => [ct] }),
    caughtBy: ['adjoint', 'transpose'],
  },
  {
    bug: 'gather transpose scatters into the next index (off by one)',
    primitive: 'gather',
    wrong: (r) => ({
      ...r,
      transpose: ([ct]: readonly Tensor[], [x, indices]: readonly unknown[], { axis }: { axis: number }) => {
        const zeros = lax.fullLike(x as Tensor, 0)
        const idx = indices as Tensor
        const next = lax.add(idx, lax.fullLike(idx, 1))
        const wrapped = lax.select(
          lax.compare(next, lax.fullLike(next, (x as Tensor).aval.shape[axis]), 'lt'),
          next,
          lax.fullLike(next, 0),
        )
        return [lax.scatterAdd(zeros, wrapped, ct, axis), null]
      },
    }),
    caughtBy: ['adjoint', 'transpose'],
  },
  {
    bug: 'tanh batch rule reports batch axis 0 wherever the axis is',
    primitive: 'tanh',
    wrong: (r) => ({ ...r, batch: ([x]: Tensor[]) => [[lax.tanh(x)], [0]] }),
    caughtBy: ['vmap'],
  },
  {
    bug: 'reduceMax batch rule shifts the axes but does not move the batch axis to the front',
    primitive: 'reduceMax',
    wrong: (r) => ({
      ...r,
      batch: ([x]: Tensor[], _d: BatchDim[], { axes }: { axes: readonly number[] }) => [
        [
          lax.reduceMax(
            x,
            axes.map((a) => a + 1),
          ),
        ],
        [0],
      ],
    }),
    caughtBy: ['vmap'],
  },
  {
    bug: 'reduceMax JVP forgets to reduce the tangent (wrong tangent shape)',
    primitive: 'reduceMax',
    wrong: (r) => ({
      ...r,
      jvp: ([x]: Tensor[], [t]: Tensor[], { axes }: { axes: readonly number[] }) => {
        const y = lax.reduceMax(x, axes)
        const kept = x.aval.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        const at = lax.convert(lax.compare(x, lax.broadcast(lax.reshape(y, kept), x.aval.shape), 'eq'), x.aval.dtype)
        return [[y], [lax.mul(t, at)]]
      },
    }),
    caughtBy: ['shape', 'finiteDifferences', 'adjoint'],
  },
  {
    bug: 'cond JVP takes its tangents from the other branch (the index flipped)',
    primitive: 'cond',
    wrong: (r) => ({
      ...r,
      jvp: ([i, ...ops]: Tensor[], tangents: Tensor[], params: unknown) => {
        const flipped = lax.select(lax.compare(i, lax.fullLike(i, 1), 'ge'), lax.fullLike(i, 0), lax.fullLike(i, 1))
        return r
          .jvp([flipped, ...ops], tangents, params)
          .map((part: Tensor[], k: number) => (k === 0 ? r.jvp([i, ...ops], tangents, params)[0] : part)) as [
          Tensor[],
          Tensor[],
        ]
      },
    }),
    caughtBy: ['finiteDifferences'],
  },
  {
    bug: 'whileLoop JVP drops the tangent of the body constants (w treated as a constant)',
    primitive: 'whileLoop',
    wrong: (r) => ({
      ...r,
      jvp: (primals: Tensor[], tangents: Tensor[], params: { condConsts: number; bodyConsts: number }) =>
        r.jvp(
          primals,
          tangents.map((t, k) =>
            k >= params.condConsts && k < params.condConsts + params.bodyConsts ? lax.fullLike(t, 0) : t,
          ),
          params,
        ),
    }),
    caughtBy: ['finiteDifferences'],
  },
]

function lawOf(primitive: Primitive, law: LawName) {
  const check = primitiveLaws(primitive).find((c) => c.law === law)
  if (check === undefined) throw new Error(`${primitive} has no ${law} law in its spec row`)
  return check
}

function planted<T>(m: Mutant, body: () => T): T {
  const original = table[m.primitive]
  table[m.primitive] = m.wrong(original)
  try {
    return body()
  } finally {
    table[m.primitive] = original
  }
}

// Enough runs that a bug visible on a fraction of the draws is found; stop at the first failure.
const hunt = { numRuns: Math.max(100, lawRuns()), endOnFailure: true }

describe('planted bugs are caught by the laws', () => {
  for (const m of mutants) {
    it(`${m.primitive}: ${m.bug}`, () => {
      const caught: LawReport[] = planted(m, () => m.caughtBy.map((law) => lawOf(m.primitive, law).check(hunt)))
      for (const r of caught) {
        expect(r.ok, `${r.law} should fail`).toBe(false)
        expect(r.message).toMatch(new RegExp(`${r.law} law failed`))
        expect(r.message).toMatch(/replay with \{ seed: -?\d+, path: "[\d:]*" \}/)
      }
      const blind = planted(m, () => (m.blindSpots ?? []).map((law) => lawOf(m.primitive, law).check()))
      for (const r of blind) expect(r.ok, `${r.law} cannot see this bug, so it holds:\n${r.message}`).toBe(true)
      for (const law of m.caughtBy) {
        const r = lawOf(m.primitive, law).check()
        expect(r.ok, `after restoring, ${law} holds:\n${r.message}`).toBe(true)
      }
    })
  }

  it('a failure replays from the reported seed and path', () => {
    const m = mutants[0]
    const first = planted(m, () => lawOf(m.primitive, 'finiteDifferences').check(hunt))
    expect(first.ok).toBe(false)
    const again = planted(m, () =>
      lawOf(m.primitive, 'finiteDifferences').check({
        seed: first.seed,
        path: first.path ?? undefined,
        endOnFailure: true,
      }),
    )
    expect(again.ok).toBe(false)
    expect(again.message).toContain('finiteDifferences law failed')
  })

  it('the rule table is restored after every plant', () => {
    for (const law of ['finiteDifferences', 'adjoint', 'vmap'] as const)
      expect(lawOf('tanh', law).check().ok).toBe(true)
  })
})
