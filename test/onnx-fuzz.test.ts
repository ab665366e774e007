/**
 * Differential fuzzing of the ONNX exporter: random well-typed programs
 * (test/lib/fuzz.ts, with NaN and ±∞ among their inputs, gathers and
 * scatter-adds with indices out of range, scans, integer round trips)
 * exported and run by ONNX Runtime give the CPU interpreter's values, NaN
 * and infinities where it has them. ADJOINT_FUZZ_RUNS runs more programs
 * (default 150). A wrong lowering of one primitive (tanh off by 1 %) is
 * caught within the default run.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jit } from '../src/index.ts'
import { onnxruntimeBackend } from '../src/onnx/backend.ts'
import { rules } from '../src/onnx/export.ts'
import type { Closeness } from './lib/close.ts'
import { disagreement, randomProgram, type RandomProgram } from './lib/fuzz.ts'

const backend = await onnxruntimeBackend().catch(() => null)
const runs = Number(process.env.ADJOINT_FUZZ_RUNS ?? 150)
/** f32 rounding relative to the largest magnitude (at least 1); NaN and ±∞ must match exactly. */
const tolerance: Closeness = { largest: 1e-4, floor: 1, nonFinite: 'match' }

const compare = (p: RandomProgram) =>
  disagreement(p, 'ONNX Runtime', (f, xs) => jit(f, { backend: backend! })(...xs), tolerance)

const check = (numRuns: number) =>
  fc.check(
    fc.asyncProperty(randomProgram('inf'), async (p) => {
      const why = await compare(p)
      if (why !== null) throw new Error(why)
    }),
    { numRuns, seed: 2026 },
  )

describe.skipIf(backend === null)('random programs, exported and run by ONNX Runtime', () => {
  it(`${runs} programs: the CPU interpreter's values`, async () => {
    const result = await check(runs)
    if (result.failed)
      throw new Error(
        `${(result.errorInstance as Error | undefined)?.message ?? fc.defaultReportMessage(result)}\n` +
          `(replay with seed ${result.seed}, path ${JSON.stringify(result.counterexamplePath)})`,
      )
  })

  it('a wrong lowering of one primitive (tanh off by 1 %) is caught within the default run', async () => {
    const table = rules as { -readonly [P in keyof typeof rules]: (typeof rules)[P] }
    const right = table.tanh
    table.tanh = (l, [x]) => [l.g.op1('Mul', [l.g.op1('Tanh', [x]), l.g.scalar('f32', 1.01)])]
    try {
      const result = await check(runs)
      expect(result.failed).toBe(true)
    } finally {
      table.tanh = right
    }
  })
})
