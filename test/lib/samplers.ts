/**
 * Statistical checks of the samplers, shared by the CPU and WebGPU suites:
 * each draws a large sample from a fixed key through `draw` (eagerly, or in
 * a compiled program) and tests it against the distribution it claims, at a
 * fixed significance (α = 0.001) with a fixed seed, so that the outcome is
 * deterministic and a true sampler fails with probability 0.001 per seed.
 */
import { expect } from 'vitest'
import { ops, random, vmap, type Tensor } from '../../src/index.ts'
import { chiSquare, chiSquareCritical, ksCritical, ksDistance, meanOf, normalCdf, varianceOf } from './stats.ts'

/** Runs a sampler of one key and returns its values. */
export type Draw = (sampler: (key: random.Key) => Tensor, key: random.Key) => Promise<ArrayLike<number>>

const N = 20000

export interface SamplerCheck {
  readonly name: string
  readonly check: (draw: Draw) => Promise<void>
}

const ksCheck = (values: ArrayLike<number>, cdf: (x: number) => number, what: string) => {
  const d = ksDistance(values, cdf)
  expect(d, `${what}: Kolmogorov–Smirnov distance ${d} (critical ${ksCritical(values.length, 0.001)})`).toBeLessThan(
    ksCritical(values.length, 0.001),
  )
}

/** |mean − μ| within 4 standard errors. */
const meanCheck = (values: ArrayLike<number>, mu: number, variance: number, what: string) => {
  const m = meanOf(values)
  expect(Math.abs(m - mu), `${what}: mean ${m}, expected ${mu}`).toBeLessThan(4 * Math.sqrt(variance / values.length))
}

export const samplerChecks: readonly SamplerCheck[] = [
  {
    name: 'uniform on [0, 1): Kolmogorov–Smirnov, mean, and the range',
    check: async (draw) => {
      const u = await draw((k) => random.uniform(k, [N]), random.key(101))
      expect(Array.from(u).every((v) => v >= 0 && v < 1)).toBe(true)
      ksCheck(u, (x) => Math.min(1, Math.max(0, x)), 'uniform')
      meanCheck(u, 0.5, 1 / 12, 'uniform')
    },
  },
  {
    name: 'uniform on [−2, 3)',
    check: async (draw) => {
      const u = await draw((k) => random.uniform(k, [N], { lo: -2, hi: 3 }), random.key(102))
      expect(Array.from(u).every((v) => v >= -2 && v < 3)).toBe(true)
      ksCheck(u, (x) => Math.min(1, Math.max(0, (x + 2) / 5)), 'uniform[−2, 3)')
    },
  },
  {
    name: 'normal: Kolmogorov–Smirnov against Φ, mean and variance',
    check: async (draw) => {
      const z = await draw((k) => random.normal(k, [N]), random.key(103))
      ksCheck(z, normalCdf, 'normal')
      meanCheck(z, 0, 1, 'normal')
      // The sample variance has standard error √(2/(n − 1)) for a normal sample.
      const v = varianceOf(z)
      expect(Math.abs(v - 1), `normal: variance ${v}`).toBeLessThan(4 * Math.sqrt(2 / (N - 1)))
    },
  },
  {
    name: 'normal with mean 3 and standard deviation 0.5, in an odd count',
    check: async (draw) => {
      const z = await draw((k) => random.normal(k, [N + 1], { mean: 3, stddev: 0.5 }), random.key(104))
      expect(z.length).toBe(N + 1)
      ksCheck(z, (x) => normalCdf((x - 3) / 0.5), 'normal(3, 0.5²)')
    },
  },
  {
    name: 'bernoulli(0.3): the frequency of true',
    check: async (draw) => {
      const b = await draw((k) => ops.astype(random.bernoulli(k, 0.3, [N]), 'f32'), random.key(105))
      const ones = Array.from(b).reduce((a, v) => a + v, 0)
      const stat = chiSquare([ones, N - ones], [0.3 * N, 0.7 * N])
      expect(stat, `bernoulli: ${ones} of ${N} true`).toBeLessThan(chiSquareCritical(1))
    },
  },
  {
    name: 'bits: every bit position is fair and the low and high bytes are uniform (χ²)',
    check: async (draw) => {
      const words = await draw((k) => random.bits(k, [N]), random.key(106))
      const low = new Array<number>(256).fill(0)
      const high = new Array<number>(256).fill(0)
      const perBit = new Array<number>(32).fill(0)
      for (const w of Array.from(words)) {
        const u = w >>> 0
        low[u & 255]++
        high[u >>> 24]++
        for (let b = 0; b < 32; b++) perBit[b] += (u >>> b) & 1
      }
      const flat = new Array<number>(256).fill(N / 256)
      expect(chiSquare(low, flat), 'low byte').toBeLessThan(chiSquareCritical(255))
      expect(chiSquare(high, flat), 'high byte').toBeLessThan(chiSquareCritical(255))
      // Each bit: Binomial(N, 1/2), within 4.5 standard deviations (32 positions at once).
      for (const [b, ones] of perBit.entries())
        expect(Math.abs(ones - N / 2), `bit ${b}: ${ones} ones`).toBeLessThan(4.5 * Math.sqrt(N / 4))
    },
  },
  {
    name: 'truncatedNormal on [−1, 2]: Kolmogorov–Smirnov against the truncated Φ',
    check: async (draw) => {
      const z = await draw((k) => random.truncatedNormal(k, [N], { lower: -1, upper: 2 }), random.key(108))
      expect(Array.from(z).every((v) => v >= -1 && v <= 2)).toBe(true)
      const [a, b] = [normalCdf(-1), normalCdf(2)]
      ksCheck(z, (x) => Math.min(1, Math.max(0, (normalCdf(x) - a) / (b - a))), 'truncatedNormal')
    },
  },
  {
    name: 'categorical: the frequencies of softmax(logits) (χ²), a batch of two distributions',
    check: async (draw) => {
      const logits = [
        [0, 1, 2, -1, 0.5],
        [3, 0, 0, 0, -2],
      ]
      const samples = await draw(
        (k) => random.categorical(k, ops.tensor(logits), { shape: [N / 2, 2] }),
        random.key(109),
      )
      for (const [row, l] of logits.entries()) {
        const z = l.reduce((s, v) => s + Math.exp(v), 0)
        const counts = new Array<number>(l.length).fill(0)
        for (let i = row; i < samples.length; i += 2) counts[samples[i]]++
        const expected = l.map((v) => (Math.exp(v) / z) * (N / 2))
        expect(chiSquare(counts, expected), `row ${row}: counts ${counts}`).toBeLessThan(
          chiSquareCritical(l.length - 1),
        )
      }
    },
  },
  {
    name: 'permutation: a permutation every time, each position uniform (χ² over 2,000 keys)',
    check: async (draw) => {
      const n = 7
      const keys = ops.stack(random.split(random.key(110), 2000))
      // A batch of keys stands in for the one key: the sampler maps over it.
      const perms = await draw(
        (ks) => vmap((k: random.Key) => random.permutation(k, n))(ks),
        keys as unknown as random.Key,
      )
      const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0))
      for (let s = 0; s < 2000; s++) {
        const p = Array.from(perms).slice(s * n, (s + 1) * n)
        expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6])
        p.forEach((v, position) => counts[position][v]++)
      }
      for (const [position, c] of counts.entries())
        expect(chiSquare(c, new Array<number>(n).fill(2000 / n)), `position ${position}: ${c}`).toBeLessThan(
          chiSquareCritical(n - 1),
        )
    },
  },
  {
    name: 'split keys draw uncorrelated streams',
    check: async (draw) => {
      const [a, b] = random.split(random.key(107))
      const [x, y] = [await draw((k) => random.normal(k, [N]), a), await draw((k) => random.normal(k, [N]), b)]
      let r = 0
      for (let i = 0; i < N; i++) r += x[i] * y[i]
      r /= N
      expect(Math.abs(r), `correlation ${r}`).toBeLessThan(4 / Math.sqrt(N))
    },
  },
]
