/**
 * The laws catch wrong scan rules. Each case plants a plausible bug in the
 * scan entry of the rule table, runs the laws of scan's spec row while it is
 * there (the named ones must fail, the blind spots must still hold), then
 * restores the entry and checks that the laws hold again.
 */
import { describe, expect, it } from 'vitest'
import { zerosLike } from '../src/tensor.ts'
import { rules, type PrimitiveRule, type Tensor } from '../src/index.ts'
import { lawRuns, primitiveLaws, type LawName, type LawReport } from '../laws/index.ts'

type ScanRule = PrimitiveRule<'scan'>
const table = rules as unknown as { scan: ScanRule }

interface Mutant {
  readonly bug: string
  readonly wrong: (original: ScanRule) => ScanRule
  readonly caughtBy: readonly LawName[]
  readonly blindSpots?: readonly LawName[]
}

const mutants: readonly Mutant[] = [
  {
    bug: 'transpose runs the backward scan in the same direction as the forward one',
    wrong: (r) => ({
      ...r,
      transpose: (cts, inputs, p) =>
        (r.transpose as NonNullable<ScanRule['transpose']>)(cts, inputs, { ...p, reverse: !p.reverse }),
    }),
    caughtBy: ['adjoint', 'jacobians'],
    // Forward mode does not use the transpose.
    blindSpots: ['finiteDifferences', 'vmap'],
  },
  {
    bug: 'jvp drops the tangent of the initial carry (the carried tangent starts at zero)',
    wrong: (r) => ({
      ...r,
      jvp: (primals, tangents, p) =>
        r.jvp(
          primals,
          tangents.map((t: Tensor, i: number) => (i >= p.numConsts && i < p.numConsts + p.numCarry ? zerosLike(t) : t)),
          p,
        ),
    }),
    caughtBy: ['finiteDifferences'],
    // Reverse mode transposes the same wrong linearisation, so the two modes still agree.
    blindSpots: ['adjoint', 'jacobians'],
  },
  {
    bug: 'batch reports the ys batched on axis 0, where time is, instead of axis 1',
    wrong: (r) => ({
      ...r,
      batch: (inputs, dims, p) => {
        const [outs, outDims] = r.batch(inputs, dims, p)
        return [outs, outDims.map((d, i) => (i >= p.numCarry && d === 1 ? 0 : d))]
      },
    }),
    caughtBy: ['vmap'],
  },
]

const lawOf = (law: LawName) => {
  const check = primitiveLaws('scan').find((c) => c.law === law)
  if (check === undefined) throw new Error(`scan has no ${law} law in its spec row`)
  return check
}

function planted<T>(m: Mutant, body: () => T): T {
  const original = table.scan
  table.scan = m.wrong(original)
  try {
    return body()
  } finally {
    table.scan = original
  }
}

const hunt = { numRuns: Math.max(100, lawRuns()), endOnFailure: true }

describe('planted bugs in the scan rules are caught by the laws', () => {
  for (const m of mutants) {
    it(m.bug, () => {
      const caught: LawReport[] = planted(m, () => m.caughtBy.map((law) => lawOf(law).check(hunt)))
      for (const r of caught) {
        expect(r.ok, `${r.law} should fail`).toBe(false)
        expect(r.message).toMatch(new RegExp(`${r.law} law failed`))
      }
      const blind = planted(m, () => (m.blindSpots ?? []).map((law) => lawOf(law).check()))
      for (const r of blind) expect(r.ok, `${r.law} cannot see this bug, so it holds:\n${r.message}`).toBe(true)
      for (const law of m.caughtBy) {
        const r = lawOf(law).check()
        expect(r.ok, `after restoring, ${law} holds:\n${r.message}`).toBe(true)
      }
    })
  }
})
