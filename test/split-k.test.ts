/**
 * splitLongContractions (src/passes/split-k.ts): a product Xᵀ·B of few
 * outputs over a long contraction becomes partial products over runs of the
 * rows and their sum. The rewritten Program gives the original's values (f64,
 * to rounding), leaves short or wide products alone, and a planted wrong
 * identity (B's runs not X's) is caught by the same comparison.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { makeProgram, ops, random, runProgram, type Program, type Tensor } from '../src/index.ts'
import { identities, splitLongContractions } from '../src/passes/index.ts'
import { MAX_OUTPUTS, MIN_K } from '../src/passes/split-k.ts'

const weightGradient = (x: Tensor, b: Tensor) => ops.mul(ops.matmul(ops.transpose(x), b), 0.5)

function problem(k: number, m: number, n: number, seed = 0) {
  const [kx, kb] = random.split(random.key(seed), 2)
  const x = random.normal(kx, [k, m], { dtype: 'f64' }) as Tensor
  const b = random.normal(kb, [k, n], { dtype: 'f64' }) as Tensor
  return { x, b, program: makeProgram(weightGradient)(x, b) }
}

async function discrepancy(original: Program, rewritten: Program, args: Tensor[]): Promise<number> {
  const [want] = await runProgram(original, args)
  const [got] = await runProgram(rewritten, args)
  const w = await want.data()
  const g = await got.data()
  let worst = 0
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - g[i]) / (1 + Math.abs(w[i])))
  return worst
}

describe('splitLongContractions', () => {
  const original = { ...identities.splitK }
  afterEach(() => Object.assign(identities.splitK, original))

  it('splits a long contraction of few outputs into runs, and keeps its values', async () => {
    const { x, b, program } = problem(6144, 9, 16)
    const split = splitLongContractions(program)
    expect(split).not.toBe(program)
    // 6144 = 12 runs of 512: one batched product of [12, 9, 512] by [12, 512, 16], summed over the runs.
    expect(split.counts()).toMatchObject({ matmul: 1, sum: 1 })
    expect(split.toString()).toMatch(/f64\[12,9,16\] = matmul/)
    expect(split.toString()).toMatch(/f64\[9,16\] = sum\[axes=\[0\]\]/)
    expect(await discrepancy(program, split, [x, b])).toBeLessThan(1e-12)
  })

  it('leaves short contractions, wide outputs and products of untransposed operands as they are', () => {
    const short = problem(MIN_K - 4, 4, 4)
    expect(splitLongContractions(short.program)).toBe(short.program)
    const wide = problem(MIN_K, 128, MAX_OUTPUTS / 128 + 1)
    expect(splitLongContractions(wide.program)).toBe(wide.program)
    const x = random.normal(random.key(3), [8, MIN_K * 2])
    const b = random.normal(random.key(4), [MIN_K * 2, 8])
    const plain = makeProgram((u: Tensor, v: Tensor) => ops.matmul(u, v))(x, b)
    expect(splitLongContractions(plain)).toBe(plain)
    // A length with no divisor giving runs of 512 rows or more is not split either.
    expect(splitLongContractions(problem(4099, 2, 2).program).counts().sum).toBeUndefined()
  })

  it("catches a planted wrong identity: B's runs that are not X's", async () => {
    const { x, b, program } = problem(4096, 3, 5, 1)
    identities.splitK.runsOfB = (v: Tensor, s: number) =>
      ops.transpose(ops.reshape(v, [v.aval.shape[0] / s, s, v.aval.shape[1]]), [1, 0, 2]) as Tensor
    expect(await discrepancy(program, splitLongContractions(program), [x, b])).toBeGreaterThan(1e-3)
  })
})
