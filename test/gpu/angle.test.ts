/**
 * Argument reduction for sin and cos (gpu/wgsl/angle.ts). On the CPU, its
 * JavaScript model against x mod 2π computed exactly with BigInts (from π
 * by Machin's formula, as are the stored words of 1/(2π)). On WebGPU, sin
 * and cos of every f32, 1e8 and 3.4e38 among them, agree with the CPU
 * interpreter's within WGSL's accuracy on [−π, π] (2⁻¹¹, here 2⁻¹⁰); NaN
 * and ±∞ give NaN.
 */
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { INV_TWO_PI_WORDS, reduceAngle } from '../../gpu/wgsl/angle.ts'
import { jit, ops, tensor, type Tensor } from '../../src/index.ts'
import { assertProperty } from '../lib/property.ts'
import { gpu } from './setup.ts'

/** Fixed point with 640 fraction bits: far more than the 24 + 128 + 64 that frac(x/(2π)) needs for an f32 x. */
const BITS = 640n
const ONE = 1n << BITS

/** arctan(1/n)·2^BITS by its Taylor series (each term truncated: a few hundred units of error at most). */
function arctanInverse(n: bigint): bigint {
  let sum = 0n
  let power = ONE / n
  for (let k = 1n, sign = 1n; power !== 0n; k += 2n, sign = -sign, power /= n * n) sum += (sign * power) / k
  return sum
}

/** π·2^BITS by Machin's formula π/4 = 4·arctan(1/5) − arctan(1/239). */
const PI = 4n * (4n * arctanInverse(5n) - arctanInverse(239n))
/** 1/(2π)·2^BITS. */
const INV_TWO_PI = (ONE * ONE) / (2n * PI)

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
function bitsOf(x: number): number {
  f32[0] = x
  return u32[0]
}
function fromBits(b: number): number {
  u32[0] = b
  return f32[0]
}

/**
 * x − 2πk in [−π, π] for the f32 x, exactly up to f64 rounding: with
 * |x| = m·2ᵉ, frac(|x|/(2π)) = frac(m·2ᵉ·INV_TWO_PI/2^BITS), taken past half
 * a turn as the (negative) distance to the next turn.
 */
function exactReduction(x: number): number {
  const bits = bitsOf(x)
  const biased = (bits >>> 23) & 0xff
  const m = BigInt(biased === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000)
  const e = BigInt(Math.max(biased, 1) - 150)
  const turns = e >= 0n ? (m * INV_TWO_PI) << e : (m * INV_TWO_PI) >> -e
  const fraction = turns & (ONE - 1n)
  const signed = fraction >= ONE / 2n ? fraction - ONE : fraction
  const r = (Number(signed >> (BITS - 64n)) / 2 ** 64) * 2 * Math.PI
  return bits >>> 31 === 1 ? -r : r
}

/** The distance of the model's r from the exact one, as angles (r = π and r = −π are the same angle). */
function reductionError(x: number): number {
  const d = Math.abs(reduceAngle(x) - exactReduction(x))
  return Math.min(d, Math.abs(d - 2 * Math.PI))
}

/** The f32 `ulps` steps away from x (toward larger magnitudes for ulps > 0). */
const stepped = (x: number, ulps: number) => fromBits(bitsOf(x) + ulps)

const finite = fc.float({ noNaN: true, noDefaultInfinity: true })
const signed = (a: fc.Arbitrary<number>) => fc.tuple(a, fc.boolean()).map(([v, negative]) => (negative ? -v : v))
/** f32s within a few steps of kπ/2, the arguments where reduction cancels most. */
const nearHalfTurns = signed(
  fc
    .tuple(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: -3, max: 3 }))
    .map(([k, ulps]) => stepped(Math.fround((k * Math.PI) / 2), ulps)),
)
const large = signed(fc.float({ min: 1e4, max: 3.4028234663852886e38, noNaN: true }))
const subnormal = fc.float({ min: -fromBits(0x7fffff), max: fromBits(0x7fffff), noNaN: true })
const CHOSEN = [
  0,
  -0,
  1e-45,
  1,
  Math.fround(Math.PI),
  stepped(Math.fround(Math.PI), -1),
  Math.fround(2 * Math.PI),
  12345.678,
  1e5 * Math.PI,
  1e8,
  -1e8,
  1e20,
  -1e20,
  3.4e38,
  -3.4e38,
  3.4028234663852886e38,
].map(Math.fround)

describe('reduceAngle, the model of reduce_angle, against x mod 2π computed exactly', () => {
  it('the stored words of 1/(2π) are those of π by Machin’s formula', () => {
    const words = INV_TWO_PI_WORDS.map((_, i) => Number((INV_TWO_PI >> (BITS - 32n * BigInt(i + 1))) & 0xffffffffn))
    expect(INV_TWO_PI_WORDS).toEqual(words)
    expect(words[0].toString(16)).toBe('28be60db')
  })

  it('every exponent, both signs, mantissas at the ends and between: within 2⁻²¹, in [−π, π]', () => {
    const mantissas = [0, 1, 0x2aaaaa, 0x490fdb, 0x555555, 0x7ffffe, 0x7fffff]
    let worst = { error: 0, x: 0 }
    for (let biased = 0; biased < 255; biased++)
      for (const mantissa of mantissas)
        for (const sign of [0, 1]) {
          const x = fromBits((sign << 31) | (biased << 23) | mantissa)
          const error = reductionError(x)
          if (error > worst.error) worst = { error, x }
          expect(Math.abs(reduceAngle(x))).toBeLessThanOrEqual(Math.fround(Math.PI))
        }
    expect(worst.error, `at x = ${worst.x}`).toBeLessThanOrEqual(2 ** -21)
  })

  it('drawn f32s (any, large, near kπ/2, subnormal, chosen): within 2⁻²⁰', () => {
    assertProperty(
      fc.property(fc.oneof(finite, large, nearHalfTurns, subnormal, fc.constantFrom(...CHOSEN)), (x) => {
        expect(reductionError(x), `at x = ${x}`).toBeLessThanOrEqual(2 ** -20)
      }),
      { numRuns: 3000 },
    )
  })

  it('sin of the reduced 1e8 is the CPU’s sin(1e8), 0.9316…', () => {
    expect(Math.sin(reduceAngle(1e8))).toBeCloseTo(Math.sin(1e8), 6)
    expect(Math.sin(1e8)).toBeCloseTo(0.9316, 4)
  })

  it('NaN and ±∞ give NaN', () => {
    for (const x of [Number.NaN, Infinity, -Infinity]) expect(reduceAngle(x)).toBeNaN()
  })
})

const backend = gpu.backend

describe.skipIf(backend === null)(`sin and cos on ${backend?.name ?? 'no adapter'}: the CPU's values`, () => {
  const drawn = fc.sample(fc.oneof(finite, large, nearHalfTurns), { numRuns: 4096, seed: 2718 })
  const xs = [...CHOSEN, ...drawn]
  const x = tensor(xs)
  const cases: [string, (v: Tensor) => Tensor][] = [
    ['sin', (v) => ops.sin(v)],
    ['cos', (v) => ops.cos(v)],
  ]
  for (const [name, f] of cases) {
    it(`${name} of 1e8, 3.4e38 and ${drawn.length} drawn f32s: within 2⁻¹⁰`, async () => {
      const want = f(x).dataSync()
      const got = await (await jit(f, { backend: backend! })(x)).data()
      let worst = { error: 0, i: 0 }
      xs.forEach((_, i) => {
        const error = Math.abs(got[i] - want[i])
        if (!(error <= worst.error)) worst = { error, i }
      })
      const { error, i } = worst
      expect(error, `${name}(${xs[i]}): WebGPU ${got[i]}, CPU ${want[i]}`).toBeLessThanOrEqual(2 ** -10)
    })

    it(`${name} of NaN and ±∞ is NaN`, async () => {
      const special = tensor([Number.NaN, Infinity, -Infinity, 1e8])
      const got = Array.from(await (await jit(f, { backend: backend! })(special)).data())
      expect(got.slice(0, 3).map(Number.isNaN)).toEqual([true, true, true])
    })
  }

  it('the sum of sin over the chosen arguments (a reduction kernel): within 2⁻¹⁰ per term', async () => {
    const chosen = tensor(CHOSEN)
    const f = (v: Tensor) => ops.sum(ops.sin(v))
    const got = (await (await jit(f, { backend: backend! })(chosen)).data())[0]
    expect(Math.abs(got - f(chosen).dataSync()[0])).toBeLessThanOrEqual(CHOSEN.length * 2 ** -10)
  })
})
