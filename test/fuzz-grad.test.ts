/**
 * The fuzzer's programs (test/lib/fuzz.ts) differentiated: the jvp of each
 * random program, in f64 on the CPU interpreter, agrees with central
 * differences of its values (the finite-difference law), and reverse mode
 * agrees with forward mode (the adjoint law). Inputs are drawn away from 0,
 * where relu, abs and sign have their kinks, and of one scale.
 * ADJOINT_FUZZ_RUNS runs more.
 */
import * as fc from 'fast-check'
import { describe, it } from 'vitest'
import { ops, type Tensor } from '../src/index.ts'
import { adjoint, finiteDifferences } from '../laws/index.ts'
import { withIndexMode } from '../src/primitives/gather.ts'
import { describeProgram, inputsOf, programOf, randomProgram } from './lib/fuzz.ts'
import { assertProperty } from './lib/property.ts'

const runs = Number(process.env.ADJOINT_FUZZ_RUNS ?? 150)

describe('random programs, differentiated', () => {
  it(`${runs} programs: jvp against central differences, vjp against jvp`, () => {
    assertProperty(
      fc.property(randomProgram('none', true), fc.integer(), (p, seed) => {
        // Away from the kinks: every input at least 0.05 from 0, no two equal (a maximum of two tied values has
        // a kink), all of one scale so that the central difference's step (relative to the largest) suits them.
        const moved = {
          ...p,
          values: p.values.map((v, i) => {
            const w = Math.abs(v) < 0.05 ? 0.5 : Math.abs(v) > 4 ? Math.sign(v) * 2 : v
            return w + 0.0137 * (i + 1) * Math.sign(w)
          }),
        }
        const xs = inputsOf(moved).map((x) => ops.astype(x, 'f64') as Tensor)
        const f = programOf(moved)
        const v = xs.map((x, i) => ops.astype(ops.sin(ops.add(ops.mul(x, 1.7), (seed % 97) + i)), 'f64') as Tensor)
        const u = withIndexMode('clamp', () => f(...xs)).map((y, i) => ops.cos(ops.add(y, i + (seed % 13))))
        // Evaluated as compiled programs are: indices out of range clamped (a gather) or dropped (a scatter).
        const laws = withIndexMode('clamp', () => [
          ['finiteDifferences', finiteDifferences(f, xs, v, { tol: { rtol: 1e-4, atol: 1e-6 } })] as const,
          ['adjoint', adjoint(f, xs, v, u)] as const,
        ])
        for (const [law, r] of laws) if (!r.ok) throw new Error(`${law}: ${r.detail}\n${describeProgram(moved)}`)
      }),
      { numRuns: runs, seed: 2027 },
    )
  })
})
