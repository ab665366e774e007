/**
 * Random bits from keys: the Threefry-2×32 counter-based generator (Salmon,
 * Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * 2011), 20 rounds. A key is a pair of 32-bit words held as i32[2]; a batch
 * of keys is i32[..., 2].
 *
 * `randomBits(key, offset)` with parameters `{ shape, stream, dtype }` gives,
 * for each key, a tensor of `shape` whose element at flat position i is:
 * - dtype i32: word (i mod 2) of threefry(key, (stream, offset + ⌊i/2⌋)), the
 *   32 bits as a signed integer;
 * - dtype f64: both words of threefry(key, (stream, offset + i)), 53 bits
 *   scaled by 2⁻⁵³, uniform on [0, 1);
 * - dtype f32: the top 24 bits of the first of those words scaled by 2⁻²⁴,
 *   uniform on [0, 1) and exact in f32: the f64 draw rounded down to 24
 *   bits, so a key gives the same numbers at either precision.
 * Every bit is a function of the key and the position alone, so the
 * backends agree bit for bit. The output is a constant of the inputs (keys
 * are not differentiable): its derivative is zero.
 */
import { fullLike } from '../core/lax.ts'
import type { PrimitiveRule } from '../core/primitive.ts'
import { bind1 } from '../core/trace.ts'
import { allocate } from '../dtype.ts'
import { checkShape, concrete, formatAval, formatShape, sizeOf, type Tensor } from '../tensor.ts'
import { atFront, batchSize } from './elementwise.ts'

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0
/** The rotation constants of Threefry-2×32, alternating groups of four rounds. */
export const THREEFRY_ROTATIONS = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
] as const

/** Threefry-2×32 with 20 rounds: two 32-bit words (as unsigned numbers) from a key and a counter. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0]
  let x0 = (c0 + ks[0]) >>> 0
  let x1 = (c1 + ks[1]) >>> 0
  for (let i = 0; i < 5; i++) {
    for (const r of THREEFRY_ROTATIONS[i % 2]) {
      x0 = (x0 + x1) >>> 0
      x1 = (rotl(x1, r) ^ x0) >>> 0
    }
    x0 = (x0 + ks[(i + 1) % 3]) >>> 0
    x1 = (x1 + ks[(i + 2) % 3] + i + 1) >>> 0
  }
  return [x0, x1]
}

/** The dtypes `randomBits` produces: raw bits, or uniform floats. */
export type RandomDType = 'i32' | 'f32' | 'f64'

const bindBits = (
  key: Tensor,
  offset: Tensor,
  params: { shape: readonly number[]; stream: number; dtype: RandomDType },
) => bind1('randomBits', [key, offset], params)

export const randomBits: PrimitiveRule<'randomBits'> = {
  abstractEval([key, offset], { shape, stream, dtype }) {
    if (key.dtype !== 'i32' || key.shape.length === 0 || key.shape[key.shape.length - 1] !== 2)
      throw new Error(`randomBits: expected a key i32[2] (or a batch of keys i32[..., 2]), got ${formatAval(key)}`)
    const batch = key.shape.slice(0, -1)
    if (offset.dtype !== 'i32' || formatShape(offset.shape) !== formatShape(batch))
      throw new Error(`randomBits: expected a counter offset i32${formatShape(batch)}, got ${formatAval(offset)}`)
    checkShape('randomBits', shape)
    if (!Number.isInteger(stream) || stream < 0 || stream >= 2 ** 32)
      throw new Error(`randomBits: stream must be a 32-bit unsigned integer, got ${stream}`)
    if (dtype !== 'i32' && dtype !== 'f32' && dtype !== 'f64')
      throw new Error(`randomBits: dtype must be i32, f32 or f64, got ${String(dtype)}`)
    return [{ shape: [...batch, ...shape], dtype }]
  },
  cpu([key, offset], { shape, stream, dtype }, [out]) {
    const n = sizeOf(shape)
    const keys = sizeOf(offset.aval.shape)
    const values = allocate(dtype, keys * n)
    for (let b = 0; b < keys; b++) {
      const [k0, k1, base] = [key.values[2 * b], key.values[2 * b + 1], offset.values[b]]
      const at = b * n
      if (dtype === 'i32') {
        for (let i = 0; i < n; i += 2) {
          const words = threefry2x32(k0, k1, stream, (base + (i >>> 1)) >>> 0)
          values[at + i] = words[0] | 0
          if (i + 1 < n) values[at + i + 1] = words[1] | 0
        }
        continue
      }
      for (let i = 0; i < n; i++) {
        const [w0, w1] = threefry2x32(k0, k1, stream, (base + i) >>> 0)
        values[at + i] =
          dtype === 'f64' ? ((w0 >>> 5) * 67108864 + (w1 >>> 6)) / 9007199254740992 : (w0 >>> 8) * 2 ** -24
      }
    }
    return [concrete(out.shape, dtype, values)]
  },
  jvp([key, offset], _tangents, params) {
    const y = bindBits(key, offset, params)
    return [[y], [fullLike(y, 0)]]
  },
  batch([key, offset], dims, params) {
    const size = batchSize([key, offset], dims)
    return [[bindBits(atFront(key, dims[0], size), atFront(offset, dims[1], size), params)], [0]]
  },
}
