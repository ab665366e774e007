/**
 * Argument reduction for WGSL's sin and cos, which are accurate (2⁻¹¹
 * absolute) only on [−π, π]. `reduce_angle(x)` returns r ∈ [−π, π] with
 * r ≡ x (mod 2π) for every finite f32 x, to about one unit in the last
 * place of r (below 2⁻²¹ absolute); NaN and ±∞ give NaN.
 *
 * Payne–Hanek reduction in integer arithmetic: with |x| = m·2ᵉ (m a 24-bit
 * integer), the bits of 1/(2π) at places 2⁻¹ … 2⁻ᵉ contribute only whole
 * turns m·2ᵉ⁻ᵏ, so frac(x/(2π)) = frac(m·D) where D is the window of the
 * bits of 1/(2π) from place 2⁻ᵉ⁻¹ on. Three words of D (96 bits; the rest
 * moves the product by less than m·2⁻⁹⁶ < 2⁻⁷²) times m give the turn's
 * fraction f to 64 bits. WGSL has no u64, so each 32×32-bit product is
 * built from 16-bit halves. Then r = 2π·f (or 2π·(f − 1) past half a turn),
 * the fraction normalised to two 24-bit parts and 2π split into two f32s so
 * that only the last roundings are lost.
 *
 * `reduceAngle` is the same algorithm in JavaScript, for the CPU tests.
 */

/**
 * 1/(2π) = 0.28BE60DB 9391054A … (hexadecimal), the first 7 words of its
 * fraction: the well-known digits of 2/π, A2F9836E 4E441529 …, shifted
 * right by two bits. test/gpu/angle.test.ts checks them against π by
 * Machin's formula. Every f32 is below 2¹²⁸, so e ≤ 104 and the window
 * ends at the bit at 2⁻²⁰⁰, in the 7th word.
 */
export const INV_TWO_PI_WORDS: readonly number[] = [
  0x28be60db, 0x9391054a, 0x7f09d5f4, 0x7d4d3770, 0x36d8a566, 0x4f10e410, 0x7f9458ea,
]

/** 2π as an unevaluated sum of two f32s: 2π − TWO_PI_HI − TWO_PI_LO is about 2⁻⁴⁸. */
const TWO_PI_HI = Math.fround(2 * Math.PI)
const TWO_PI_LO = Math.fround(2 * Math.PI - TWO_PI_HI)
/** The bits of the f32 nearest π (just above it): smaller magnitudes lie in (−π, π) already. */
const PI_BITS = 0x40490fdb
/**
 * The window starts at bit s = E − 118 of the table (E the biased exponent
 * of |x|): a zero word before 1/(2π) keeps s ≥ 0 for every |x| ≥ π (E ≥ 128).
 */
const TABLE = [0, ...INV_TWO_PI_WORDS]

const f32Literal = (v: number) => (v < 0 ? `(${v}f)` : `${v}f`)
const hex = (w: number) => `0x${w.toString(16).padStart(8, '0')}u`

/** WGSL for `fn reduce_angle(x: f32) -> f32`; it calls the prelude's `f32_bits`. */
export const REDUCE_ANGLE_WGSL = `
// The 64-bit product a·b as (high, low) words, from 16-bit halves: no partial sum passes 2³².
fn reduce_angle_mul_(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let mid = al * bh + (ll >> 16u);
  let mid2 = (mid & 0xffffu) + ah * bl;
  return vec2<u32>(ah * bh + (mid >> 16u) + (mid2 >> 16u), (mid2 << 16u) | (ll & 0xffffu));
}
// x − 2πk in [−π, π] for every finite f32 x, by Payne–Hanek reduction (gpu/wgsl/angle.ts).
fn reduce_angle(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  let abits = bits & 0x7fffffffu;
  if (abits >= 0x7f800000u) { return f32_bits(0x7fc00000u); }
  if (abits < ${hex(PI_BITS)}) { return x; }
  var table = array<u32, ${TABLE.length}>(${TABLE.map(hex).join(', ')});
  let m = (abits & 0x7fffffu) | 0x800000u;
  let s = (abits >> 23u) - 118u;
  let i = s >> 5u;
  let b = s & 31u;
  // Shifting by 32 − b = 32 would shift by 0 in WGSL: the select drops it.
  let d0 = (table[i] << b) | select(table[i + 1u] >> (32u - b), 0u, b == 0u);
  let d1 = (table[i + 1u] << b) | select(table[i + 2u] >> (32u - b), 0u, b == 0u);
  let d2 = (table[i + 2u] << b) | select(table[i + 3u] >> (32u - b), 0u, b == 0u);
  // The fraction of m·(d0, d1, d2)/2⁹⁶, its top 64 bits; m·d0 counts in its low word only.
  let p2 = reduce_angle_mul_(m, d2);
  let p1 = reduce_angle_mul_(m, d1);
  let lo = p2.x + p1.y;
  let hi = p1.x + m * d0 + select(0u, 1u, lo < p2.x);
  // Past half a turn, the distance to the next whole turn (the 64-bit two's complement), negated.
  let flip = hi >= 0x80000000u;
  var a = select(hi, ~hi + select(0u, 1u, lo == 0u), flip);
  var c = select(lo, 0u - lo, flip);
  var k = 0u;
  if (a == 0u) { a = c; c = 0u; k = 32u; }
  if (a == 0u) { return 0.0f; }
  let n = countLeadingZeros(a);
  a = (a << n) | select(c >> (32u - n), 0u, n == 0u);
  c = c << n;
  k = k + n;
  // |f| = (a, c)·2⁻⁶⁴⁻ᵏ as two 24-bit parts, each exact in f32.
  let fh = ldexp(f32(a >> 8u), -i32(24u + k));
  let fl = ldexp(f32(((a & 0xffu) << 16u) | (c >> 16u)), -i32(48u + k));
  let r = fh * ${f32Literal(TWO_PI_HI)} + (fh * ${f32Literal(TWO_PI_LO)} + fl * ${f32Literal(TWO_PI_HI)});
  return select(r, -r, flip != (bits >= 0x80000000u));
}
`

const scratch = new DataView(new ArrayBuffer(4))

/** The 64-bit product of two u32 as [high, low], as `reduce_angle_mul_` computes it. */
function mulWide(a: number, b: number): [number, number] {
  const al = a & 0xffff
  const ah = a >>> 16
  const bl = b & 0xffff
  const bh = b >>> 16
  const ll = al * bl
  const mid = al * bh + (ll >>> 16)
  const mid2 = (mid & 0xffff) + ah * bl
  return [(ah * bh + (mid >>> 16) + (mid2 >>> 16)) >>> 0, ((mid2 << 16) | (ll & 0xffff)) >>> 0]
}

/** The bits of the table from bit 32·word + b on, as `reduce_angle` reads them. */
const windowWord = (word: number, b: number) =>
  ((TABLE[word] << b) | (b === 0 ? 0 : TABLE[word + 1] >>> (32 - b))) >>> 0

/**
 * What `reduce_angle` computes for the f32 nearest x, step for step (its
 * integer arithmetic exactly, its last few f32 operations rounded to
 * nearest): r ∈ [−π, π] with r ≡ x (mod 2π); NaN for NaN and ±∞.
 */
export function reduceAngle(x: number): number {
  scratch.setFloat32(0, x)
  const bits = scratch.getUint32(0)
  const abits = bits & 0x7fffffff
  if (abits >= 0x7f800000) return Number.NaN
  if (abits < PI_BITS) return Math.fround(x)
  const m = (abits & 0x7fffff) | 0x800000
  const s = (abits >>> 23) - 118
  const i = s >>> 5
  const b = s & 31
  const d0 = windowWord(i, b)
  const d1 = windowWord(i + 1, b)
  const d2 = windowWord(i + 2, b)
  const p2 = mulWide(m, d2)
  const p1 = mulWide(m, d1)
  const lo = (p2[0] + p1[1]) >>> 0
  const hi = (p1[0] + Math.imul(m, d0) + (lo < p2[0] ? 1 : 0)) >>> 0
  const flip = hi >= 0x80000000
  let a = flip ? (~hi + (lo === 0 ? 1 : 0)) >>> 0 : hi
  let c = flip ? (0 - lo) >>> 0 : lo
  let k = 0
  if (a === 0) [a, c, k] = [c, 0, 32]
  if (a === 0) return 0
  const n = Math.clz32(a)
  a = ((a << n) | (n === 0 ? 0 : c >>> (32 - n))) >>> 0
  c = (c << n) >>> 0
  k += n
  const fh = (a >>> 8) * 2 ** -(24 + k)
  const fl = ((((a & 0xff) << 16) | (c >>> 16)) >>> 0) * 2 ** -(48 + k)
  const f32 = Math.fround
  const r = f32(f32(fh * TWO_PI_HI) + f32(f32(fh * TWO_PI_LO) + f32(fl * TWO_PI_HI)))
  return flip !== bits >= 0x80000000 ? -r : r
}
