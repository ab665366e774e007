/**
 * Random numbers from explicit keys: no hidden global state. A key is split
 * into independent keys (`split`), and each draw consumes one key, as in
 * JAX. Bits come from the Threefry-2x32 counter-based generator (Salmon et
 * al., 2011): bits = threefry(key, counter) for counters 0, 1, 2, …
 */
import type { DType } from './dtype.ts'
import { allocate } from './dtype.ts'
import type { Tensor } from './tensor.ts'
import { concrete, formatShape, sizeOf } from './tensor.ts'

export class Key {
  private constructor(
    readonly hi: number,
    readonly lo: number,
  ) {
    Object.freeze(this)
  }
  static of(hi: number, lo: number): Key {
    return new Key(hi >>> 0, lo >>> 0)
  }
  toString(): string {
    return `Key(${this.hi}, ${this.lo})`
  }
}

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0
const ROTATIONS = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
]

/** Threefry-2x32 with 20 rounds. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0]
  let x0 = (c0 + ks[0]) >>> 0
  let x1 = (c1 + ks[1]) >>> 0
  for (let i = 0; i < 5; i++) {
    for (const r of ROTATIONS[i % 2]) {
      x0 = (x0 + x1) >>> 0
      x1 = (rotl(x1, r) ^ x0) >>> 0
    }
    x0 = (x0 + ks[(i + 1) % 3]) >>> 0
    x1 = (x1 + ks[(i + 2) % 3] + i + 1) >>> 0
  }
  return [x0, x1]
}

/** A key from an integer seed. */
export const key = (seed: number): Key => {
  if (!Number.isSafeInteger(seed)) throw new Error(`random.key: the seed must be a safe integer, got ${seed}`)
  return Key.of(Math.floor(seed / 2 ** 32), seed % 2 ** 32)
}

/** `n` independent keys from one (default 2). */
export function split(k: Key, n = 2): Key[] {
  return Array.from({ length: n }, (_, i) => {
    const [a, b] = threefry2x32(k.hi, k.lo, 0, i)
    return Key.of(a, b)
  })
}

/** A key derived from `k` and an integer, e.g. a step number. */
export const foldIn = (k: Key, data: number): Key => {
  const [a, b] = threefry2x32(k.hi, k.lo, 1, data >>> 0)
  return Key.of(a, b)
}

/** n uniformly random 32-bit words. */
export function bits(k: Key, n: number): Uint32Array {
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry2x32(k.hi, k.lo, 2, i >>> 1)
    out[i] = a
    if (i + 1 < n) out[i + 1] = b
  }
  return out
}

const checkShape = (name: string, shape: readonly number[]) => {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new Error(`random.${name}: shape must be non-negative integers, got ${formatShape(shape)}`)
}

/** Uniform on [lo, hi). */
export function uniform<const S extends readonly number[], D extends DType = 'f32'>(
  k: Key,
  shape: S,
  opts: { lo?: number; hi?: number; dtype?: D } = {},
): Tensor<S, D> {
  checkShape('uniform', shape)
  const { lo = 0, hi = 1 } = opts
  const dtype = opts.dtype ?? 'f32'
  const n = sizeOf(shape)
  const words = bits(k, 2 * n)
  const values = allocate(dtype, n)
  for (let i = 0; i < n; i++) {
    // 53 random bits → [0, 1)
    const u = ((words[2 * i] >>> 5) * 67108864 + (words[2 * i + 1] >>> 6)) / 9007199254740992
    values[i] = lo + (hi - lo) * u
  }
  // f32 rounding can reach hi; keep the interval half-open.
  if (dtype === 'f32')
    for (let i = 0; i < n; i++) if (values[i] >= hi) values[i] = Math.fround(hi - (hi - lo) * 2 ** -24)
  return concrete(shape, dtype, values) as unknown as Tensor<S, D>
}

/** Standard normal (Box–Muller), scaled by `stddev` and shifted by `mean`. */
export function normal<const S extends readonly number[], D extends DType = 'f32'>(
  k: Key,
  shape: S,
  opts: { mean?: number; stddev?: number; dtype?: D } = {},
): Tensor<S, D> {
  checkShape('normal', shape)
  const { mean = 0, stddev = 1 } = opts
  const dtype = opts.dtype ?? 'f32'
  const n = sizeOf(shape)
  const u = uniform(k, [n + (n % 2)], { dtype: 'f64' }).dataSync()
  const values = allocate(dtype, n)
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]))
    const theta = 2 * Math.PI * u[i + 1]
    values[i] = mean + stddev * r * Math.cos(theta)
    if (i + 1 < n) values[i + 1] = mean + stddev * r * Math.sin(theta)
  }
  return concrete(shape, dtype, values) as unknown as Tensor<S, D>
}

/** A random permutation of 0..n−1 (Fisher–Yates driven by the key). */
export function permutation(k: Key, n: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i)
  const u = uniform(k, [n], { dtype: 'f64' }).dataSync()
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1))
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}
