/**
 * Lowerings that give the CPU interpreter's numbers where ONNX's operators
 * part from them (NaN through max, i32 conversion, log1p, expm1 and erf in
 * f64) or lack them (Threefry-2×32 random bits, in uint32 arithmetic).
 */
import { isFloat } from '../dtype.ts'
import { sizeOf } from '../tensor.ts'
import type { DType } from '../dtype.ts'
import { THREEFRY_ROTATIONS } from '../primitives/random-bits.ts'
import { attr } from './proto.ts'
import { cast, type Graph, inAval, type OnnxType, outAval, type Rule, where } from './graph.ts'

export function maxOf(g: Graph, a: string, b: string, dtype: DType): string {
  const m = g.op1('Max', [a, b])
  if (!isFloat(dtype)) return m
  // a + b is NaN where either is, and the larger zero (+0) where both are zeros, as Math.max gives.
  const zero = g.scalar(dtype as OnnxType, 0)
  const both = g.op1('And', [g.op1('Equal', [a, zero]), g.op1('Equal', [b, zero])])
  const nan = g.op1('Or', [g.op1('Or', [g.op1('IsNaN', [a]), g.op1('IsNaN', [b])]), both])
  return where(g, nan, g.op1('Add', [a, b]), m)
}

/**
 * log1p by Kahan's form: u = 1 + x; x where u = 1, u where u = +∞, else
 * log(u)·x/(u − 1). The general form is computed from u with those points
 * replaced by 2, so that it is finite where it is not taken, and its
 * derivative too (a Where's unselected branch gets a zero cotangent, and 0
 * times an infinite partial is NaN): a model that differentiates the
 * exported form (an importer, ONNX Runtime's training) gets no NaN.
 */
export function log1p(g: Graph, x: string, dtype: DType): string {
  const f = dtype as OnnxType
  const one = g.scalar(f, 1)
  const u = g.op1('Add', [x, one])
  const atOne = g.op1('Equal', [u, one])
  const atInf = g.op1('IsInf', [u], [attr.int('detect_negative', 0)])
  const safe = where(g, g.op1('Or', [atOne, atInf]), g.scalar(f, 2), u)
  const general = g.op1('Mul', [g.op1('Log', [safe]), g.op1('Div', [x, g.op1('Sub', [safe, one])])])
  return where(g, atOne, x, where(g, atInf, u, general))
}

/**
 * expm1 by Kahan's form: u = eˣ; x where u = 1, −1 where u − 1 = −1, ∞
 * where u = ∞, else (u − 1)·x/log u, computed from u with those points
 * replaced by 2 (finite where not taken, as for log1p).
 */
export function expm1(g: Graph, x: string, dtype: DType): string {
  const f = dtype as OnnxType
  const one = g.scalar(f, 1)
  const u = g.op1('Exp', [x])
  const um1 = g.op1('Sub', [u, one])
  const atOne = g.op1('Equal', [u, one])
  const atInf = g.op1('IsInf', [u])
  const low = g.op1('Equal', [um1, g.scalar(f, -1)])
  const safe = where(g, g.op1('Or', [g.op1('Or', [atOne, atInf]), low]), g.scalar(f, 2), u)
  const general = g.op1('Mul', [g.op1('Sub', [safe, one]), g.op1('Div', [x, g.op1('Log', [safe])])])
  return where(g, atOne, x, where(g, low, um1, where(g, atInf, u, general)))
}

/**
 * erf in f64, which ONNX Runtime's Erf lacks, as the interpreter computes it
 * (erf(x) = P(½, x²)), unrolled: 48 terms of the series of P(½, z) below
 * z = x² = 6 and 30 steps of the continued fraction of Q(½, z) = erfc(x)
 * above, within 2e-15 of the interpreter's (tested). ±1 beyond, NaN kept.
 */
export function erf64(g: Graph, x: string): string {
  const c = (v: number) => g.scalar('f64', v)
  const [add, sub, mul, div] = (['Add', 'Sub', 'Mul', 'Div'] as const).map(
    (op) => (a: string, b: string) => g.op1(op, [a, b]),
  )
  const logGammaHalf = 0.5 * Math.log(Math.PI)
  const z = mul(x, x)
  let term = c(2)
  let sum = c(2)
  for (let n = 1; n < 48; n++) {
    term = mul(term, div(z, c(0.5 + n)))
    sum = add(sum, term)
  }
  // sign(x)·P(½, z) = Σ · e^{−z} · sign(x)·z^{½} / Γ(½) = Σ · e^{−z} · x / √π: no log, smooth through 0.
  const series = mul(mul(sum, g.op1('Exp', [g.op1('Neg', [z])])), mul(x, c(1 / Math.sqrt(Math.PI))))
  // The continued fraction from z clamped to [6, 1e300]: finite, and so is its derivative, where it is not taken.
  const zc = g.op1('Min', [g.op1('Max', [z, c(6)]), c(1e300)])
  let b = add(zc, c(0.5))
  let cc = c(1e300)
  let d = div(c(1), b)
  let h = d
  for (let i = 1; i < 30; i++) {
    const an = c(-i * (i - 0.5))
    b = add(b, c(2))
    d = add(mul(an, d), b)
    cc = add(b, div(an, cc))
    d = div(c(1), d)
    h = mul(h, mul(d, cc))
  }
  // e^{−z} z^{½} / Γ(½)
  const prefactor = g.op1('Exp', [sub(sub(mul(c(0.5), g.op1('Log', [zc])), zc), c(logGammaHalf))])
  const fraction = sub(c(1), mul(prefactor, h))
  const tail = mul(g.op1('Sign', [x]), where(g, g.op1('IsInf', [z]), c(1), fraction))
  return where(g, g.op1('IsNaN', [x]), x, where(g, g.op1('Less', [z, c(6)]), series, tail))
}

/** Into i32 as the interpreter converts: toward zero, saturated, NaN to 0. */
export function toI32(g: Graph, x: string, from: DType): string {
  const f = from as OnnxType
  const clean = where(g, g.op1('IsNaN', [x]), g.scalar(f, 0), x)
  // The largest value below 2³¹ in the source type; at or above 2³¹ saturates to 2³¹ − 1.
  const top = from === 'f32' ? 2147483520 : 2147483647
  const clipped = g.op1('Clip', [clean, g.scalar(f, -2147483648), g.scalar(f, top)])
  const converted = cast(g, clipped, 'i32')
  return where(g, g.op1('GreaterOrEqual', [x, g.scalar(f, 2147483648)]), g.scalar('i32', 2147483647), converted)
}

/** Indices clamped to [0, n − 1] (a gather's rule for an index out of range). */
// ---------------------------------------------------------------- Threefry-2×32 in uint32 arithmetic

export function threefry(g: Graph, k0: string, k1: string, c0: string, c1: string): [string, string] {
  const u = (v: number) => g.scalar('u32', v)
  const add = (a: string, b: string) => g.op1('Add', [a, b])
  const rotl = (x: string, r: number) =>
    g.op1('BitwiseOr', [
      g.op1('BitShift', [x, u(r)], [attr.string('direction', 'LEFT')]),
      g.op1('BitShift', [x, u(32 - r)], [attr.string('direction', 'RIGHT')]),
    ])
  const ks = [k0, k1, g.op1('BitwiseXor', [g.op1('BitwiseXor', [k0, k1]), u(0x1bd11bda)])]
  let x0 = add(c0, ks[0])
  let x1 = add(c1, ks[1])
  for (let i = 0; i < 5; i++) {
    for (const r of THREEFRY_ROTATIONS[i % 2]) {
      x0 = add(x0, x1)
      x1 = g.op1('BitwiseXor', [rotl(x1, r), x0])
    }
    x0 = add(x0, ks[(i + 1) % 3])
    x1 = add(add(x1, ks[(i + 2) % 3]), u(i + 1))
  }
  return [x0, x1]
}

export const randomBitsRule: Rule<'randomBits'> = ({ g }, [key, offset], eqn) => {
  const { shape, stream, dtype } = eqn.params
  const batch = inAval(eqn, 1).shape
  const n = sizeOf(shape)
  const out = outAval(eqn).shape
  if (sizeOf(out) === 0) return [g.constant(dtype, out, [])]
  const nb = batch.length
  const ones = shape.map(() => 1)
  // The key's words and the offset, each [...batch, 1, ..., 1], as uint32.
  const word = (j: number) =>
    g.op1(
      'Reshape',
      [cast(g, g.op1('Gather', [key, g.scalar('i64', j)], [attr.int('axis', nb)]), 'u32'), g.i64([...batch, ...ones])],
      [attr.int('allowzero', 1)],
    )
  const base = g.op1('Reshape', [cast(g, offset, 'u32'), g.i64([...batch, ...ones])], [attr.int('allowzero', 1)])
  const [k0, k1] = [word(0), word(1)]
  const c0 = g.scalar('u32', stream)
  const counters = (count: number) =>
    g.op1('Add', [
      base,
      g.constant(
        'u32',
        count === n ? shape : [count],
        Array.from({ length: count }, (_, i) => i),
      ),
    ])
  if (dtype === 'i32') {
    // Element i is word (i mod 2) of the block ⌊i/2⌋.
    const blocks = Math.ceil(n / 2)
    const counter = g.op1('Add', [
      g.op1('Reshape', [cast(g, offset, 'u32'), g.i64([...batch, 1])], [attr.int('allowzero', 1)]),
      g.constant(
        'u32',
        [blocks],
        Array.from({ length: blocks }, (_, i) => i),
      ),
    ])
    const key1 = (j: number) =>
      g.op1(
        'Reshape',
        [cast(g, g.op1('Gather', [key, g.scalar('i64', j)], [attr.int('axis', nb)]), 'u32'), g.i64([...batch, 1])],
        [attr.int('allowzero', 1)],
      )
    const [w0, w1] = threefry(g, key1(0), key1(1), c0, counter)
    const pairs = g.op1(
      'Concat',
      [g.op1('Unsqueeze', [w0, g.i64([-1])]), g.op1('Unsqueeze', [w1, g.i64([-1])])],
      [attr.int('axis', -1)],
    )
    const flat = g.op1('Reshape', [pairs, g.i64([...batch, 2 * blocks])], [attr.int('allowzero', 1)])
    const cut = g.op1('Slice', [flat, g.i64([0]), g.i64([n]), g.i64([nb])])
    return [cast(g, g.op1('Reshape', [cut, g.i64(out)], [attr.int('allowzero', 1)]), 'i32')]
  }
  const [w0, w1] = threefry(g, k0, k1, c0, counters(n))
  if (dtype === 'f32') {
    const top = cast(g, g.op1('BitShift', [w0, g.scalar('u32', 8)], [attr.string('direction', 'RIGHT')]), 'f32')
    return [g.op1('Mul', [top, g.scalar('f32', 2 ** -24)])]
  }
  const hi = cast(g, g.op1('BitShift', [w0, g.scalar('u32', 5)], [attr.string('direction', 'RIGHT')]), 'f64')
  const lo = cast(g, g.op1('BitShift', [w1, g.scalar('u32', 6)], [attr.string('direction', 'RIGHT')]), 'f64')
  const bits53 = g.op1('Add', [g.op1('Mul', [hi, g.scalar('f64', 67108864)]), lo])
  return [g.op1('Mul', [bits53, g.scalar('f64', 2 ** -53)])]
}
