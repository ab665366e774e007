/**
 * Differential fuzzing of the compiler: random well-typed programs
 * (test/lib/fuzz.ts) compiled for WebGPU give the CPU interpreter's values,
 * NaN and infinities where it has them, within f32 rounding. A failure
 * prints the shrunk program in its steps' notation, the compiled Program,
 * and the seed. ADJOINT_FUZZ_RUNS runs more programs (default 150 on each
 * adapter). A wrong WGSL rule for one primitive is caught within the
 * default run.
 *
 * The inputs include NaN and values whose products overflow to ±∞. WGSL
 * lets a compiler assume that neither occurs, and Mesa's does (it folds
 * x − x, x + (−x) and x·0 to 0); the kernels test the bits where such a
 * fold would lose a NaN. ADJOINT_FUZZ_SPECIALS=inf adds ±∞ themselves to
 * the inputs: that run still finds a sum whose +∞ and −∞ terms an adapter
 * reassociates to cancel (the CPU gives NaN), which WGSL permits and the
 * README states.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jit, type Tensor } from '../../src/index.ts'
import { UNARY_WGSL } from '../../gpu/wgsl/render.ts'
import type { Closeness } from '../lib/close.ts'
import { randomProgram, type RandomProgram, type Specials, disagreement } from '../lib/fuzz.ts'
import { gpu } from './setup.ts'

const backend = gpu.backend
const runs = Number(process.env.ADJOINT_FUZZ_RUNS ?? 150)
const specials: Specials = process.env.ADJOINT_FUZZ_SPECIALS === 'inf' ? 'inf' : 'nan'
/** f32 rounding relative to the largest magnitude (at least 1); NaN and ±∞ must match exactly. */
const tolerance: Closeness = { largest: 2e-3, floor: 1, nonFinite: 'match' }

const compare = (p: RandomProgram) =>
  disagreement(p, 'WebGPU', (f, xs) => jit(f, { backend: backend! })(...xs), tolerance)

/**
 * Programs the fuzzer found failing, shrunk, each kept after its fix:
 * a gather from a broadcast (whose inlined expression drops the index load)
 * left a binding the shader did not use, which WebGPU rejects; Mesa folded
 * x − x and x·0 to 0 for a NaN x; the CPU's product skipped a zero of A
 * whatever B held (0·NaN is NaN); min(x, x) − x, which Mesa also folds.
 */
const FOUND: RandomProgram[] = [
  {
    shape: [4],
    inputs: 1,
    steps: [
      { kind: 'along', op: 'sum', x: 0, axis: 0 },
      { kind: 'gather', x: 1, axis: 0, indices: [0, 0, 0, 1] },
    ],
    values: [0.5, 1, 2, 3],
  },
  {
    shape: [3],
    inputs: 2,
    steps: [
      { kind: 'binary', op: 'sub', x: 0, y: 0 },
      { kind: 'binary', op: 'mul', x: 1, y: 2 },
    ],
    values: [Number.NaN, 1, 2, 1, 1, 1],
  },
  {
    shape: [2, 2],
    inputs: 1,
    steps: [{ kind: 'matmul', x: 0, y: 0 }],
    values: [0, 0, Number.NaN, 0],
  },
  {
    shape: [3],
    inputs: 1,
    steps: [
      { kind: 'binary', op: 'minimum', x: 0, y: 0 },
      { kind: 'binary', op: 'sub', x: 1, y: 0 },
    ],
    values: [Number.NaN, 1, 2],
  },
]

const check = (numRuns: number) =>
  fc.check(
    fc.asyncProperty(randomProgram(specials), async (p) => {
      const why = await compare(p)
      if (why !== null) throw new Error(why)
    }),
    { numRuns, seed: 2026 },
  )

describe.skipIf(backend === null)(`random programs, compiled for ${backend?.name ?? 'no adapter'}`, () => {
  it(`${runs} programs: the CPU interpreter's values`, async () => {
    const result = await check(runs)
    if (result.failed)
      throw new Error(
        `${(result.errorInstance as Error | undefined)?.message ?? fc.defaultReportMessage(result)}\n` +
          `(replay with seed ${result.seed}, path ${JSON.stringify(result.counterexamplePath)})`,
      )
  })

  it('the programs it found that failed are kept, and pass', async () => {
    for (const p of FOUND) expect(await compare(p)).toBeNull()
  })

  it('a wrong WGSL rule for one primitive (tanh off by 1 %) is caught within the default run', async () => {
    const right = UNARY_WGSL.tanh
    UNARY_WGSL.tanh = (a: string) => `(1.01f * tanh_(${a}))`
    try {
      const result = await check(runs)
      expect(result.failed).toBe(true)
    } finally {
      UNARY_WGSL.tanh = right
    }
  })
})

export type { Tensor }
